/* peer: who is on the other end of a connection on fd 0.  Every program
 * that serves one connection (smtpd, pop3d-login, later imapd-login) runs
 * under master, inetd or systemd Accept=yes and names the client the same
 * way: $TCPREMOTEIP (master, ucspi-tcp), else $REMOTE_ADDR, else
 * getpeername(2) on fd 0 (IPv4-mapped IPv6 shown as IPv4), else "unknown".
 * Values from the environment are used only if they parse as addresses. */
#ifndef POSTHORN_PEER_H
#define POSTHORN_PEER_H

#include "buf.h"

/* Appends the client's address to ip and NUL-terminates it. */
void peer_client_ip(struct buf *ip);

#endif
