/* peer: the client address of a one-connection program (see peer.h). */
#include "peer.h"
#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int ip_valid(const char *s)
{
	unsigned char a[16];
	return s && cidr_parse_ip(s, strlen(s), a) == 0;
}

/* The peer of fd 0 as text, IPv4-mapped addresses as plain IPv4. */
static int peer_ip(struct buf *out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char text[INET6_ADDRSTRLEN];
	if (getpeername(0, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	const char *r = NULL;
	if (ss.ss_family == AF_INET)
		r = inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text, sizeof text);
	else if (ss.ss_family == AF_INET6)
		r = inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text, sizeof text);
	if (!r)
		return -1;
	if (!strncmp(text, "::ffff:", 7) && strchr(text + 7, '.'))
		r = text + 7;
	buf_puts(out, r);
	return 0;
}

void peer_client_ip(struct buf *ip)
{
	const char *e = getenv("TCPREMOTEIP");
	if (!ip_valid(e))
		e = getenv("REMOTE_ADDR");
	if (ip_valid(e))
		buf_puts(ip, e);
	else if (peer_ip(ip) < 0)
		buf_puts(ip, "unknown");
	buf_cstr(ip);
}
