/* Unit tests for common/tls.c: the context policy (TLS 1.1 and non-ECDHE
 * TLS 1.2 suites refused, no compression), the io transport (pipelined
 * lines in one record, bytes buffered before the handshake discarded), the
 * handshake failure reasons (plain text, peer gone, timeout), the client
 * side with verification, and key loading from POSTHORN_TLS_FDS.  The
 * server runs in a forked child on one end of a socketpair and reports
 * through a pipe; the client is plain OpenSSL or tls_client_*. */
#include "config.h"
#include "io.h"
#include "tls.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static char dir[] = "/tmp/posthorn-unit-tls.XXXXXX";
static struct config cfg;

/* ---- a self-signed certificate for "localhost" ------------------------ */

static void add_ext(X509 *x, int nid, const char *v)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, v);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

static void path_of(const char *name, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "%s/%s", dir, name);
	buf_cstr(out);
}

static int make_cert(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	add_ext(x, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(x, NID_subject_alt_name, "DNS:localhost");
	X509_sign(x, k, EVP_sha256());
	struct buf p = BUF_INIT;
	path_of("cert.pem", &p);
	FILE *f = fopen(p.s, "w");
	int ok = f && PEM_write_X509(f, x) == 1;
	if (f)
		fclose(f);
	path_of("key.pem", &p);
	f = fopen(p.s, "w");
	ok = ok && f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
	if (f)
		fclose(f);
	path_of("t.conf", &p);
	f = fopen(p.s, "w");
	ok = ok && f && fprintf(f, "tls_cert = cert.pem\ntls_key = %s/key.pem\n", dir) > 0;
	if (f)
		fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
	struct buf err = BUF_INIT;
	ok = ok && config_load(&cfg, p.s, &err) == 0;
	buf_free(&err);
	buf_free(&p);
	return ok;
}

/* ---- the server child ------------------------------------------------- */

enum srv_mode { SRV_ECHO, SRV_TWO_LINES, SRV_PREBUFFERED };

struct srv {
	pid_t pid;
	int sock;	/* the client's end */
	int result;	/* read end: the child's one-line report */
};

static void child_report(int fd, const char *fmt, const char *arg)
{
	struct buf r = BUF_INIT;
	buf_printf(&r, fmt, arg);
	write_all(fd, r.s, r.len);
	buf_free(&r);
}

/* The child: a handshake on io, then one of the modes; reports "ok ..." or
 * "fail REASON" on res. */
static void serve(int fd, int res, enum srv_mode mode, int timeout_ms)
{
	struct tls_server *ts;
	struct buf err = BUF_INIT, line = BUF_INIT, d = BUF_INIT;
	struct io io;
	io_init(&io, fd, fd, 5000);
	if (tls_server_new(&ts, &cfg, &err) < 0) {
		child_report(res, "fail load %s", buf_cstr(&err));
		_exit(1);
	}
	if (mode == SRV_PREBUFFERED) {
		io_fill(&io);	/* the "RSET" the client sent in clear */
		write_all(res, "R", 1);	/* now the client may start */
	}
	if (tls_server_start(&io, ts, timeout_ms, &err) < 0) {
		child_report(res, "fail %s", buf_cstr(&err));
		_exit(1);
	}
	tls_describe(&io, &d);
	int n = mode == SRV_TWO_LINES ? 2 : 1;
	for (int i = 0; i < n; i++) {
		if (io_getline(&io, &line, 100) != LINE_OK)
			_exit(2);
		io_puts(&io, "got ");
		io_write(&io, line.s, line.len);
	}
	io_flush(&io);
	tls_end(&io);
	child_report(res, "ok %s", buf_cstr(&d));
	tls_server_free(ts);
	_exit(0);
}

static struct srv srv_start(enum srv_mode mode, int timeout_ms)
{
	int sv[2], rp[2];
	struct srv s = {-1, -1, -1};
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || pipe(rp) < 0)
		return s;
	s.pid = fork();
	if (s.pid == 0) {
		close(sv[0]);
		close(rp[0]);
		serve(sv[1], rp[1], mode, timeout_ms);
	}
	close(sv[1]);
	close(rp[1]);
	s.sock = sv[0];
	s.result = rp[0];
	return s;
}

/* Closes the client end, reaps the child, returns its report. */
static void srv_finish(struct srv *s, struct buf *report)
{
	char tmp[512];
	ssize_t n;
	buf_reset(report);
	if (s->sock >= 0)
		close(s->sock);
	while ((n = read(s->result, tmp, sizeof tmp)) > 0)
		buf_append(report, tmp, (size_t)n);
	close(s->result);
	waitpid(s->pid, NULL, 0);
	buf_cstr(report);
}

/* ---- plain OpenSSL clients -------------------------------------------- */

static SSL_CTX *client_ctx(int min, int max, const char *ciphers)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_security_level(c, 0);	/* let it offer old things */
	SSL_CTX_set_min_proto_version(c, min);
	SSL_CTX_set_max_proto_version(c, max);
	if (ciphers)
		SSL_CTX_set_cipher_list(c, ciphers);
	return c;
}

/* Handshake, send text, read one reply; 1 if the handshake worked. */
static int client_talk(int fd, SSL_CTX *c, const char *text, struct buf *reply)
{
	SSL *ssl = SSL_new(c);
	SSL_set_fd(ssl, fd);
	int ok = SSL_connect(ssl) == 1;
	if (ok && text) {
		char tmp[512];
		SSL_write(ssl, text, (int)strlen(text));
		int got = 0, n;
		while (reply && (n = SSL_read(ssl, tmp, sizeof tmp)) > 0) {
			buf_append(reply, tmp, (size_t)n);
			got += n;
		}
		(void)got;
	}
	ERR_clear_error();
	SSL_free(ssl);
	return ok;
}

static int has(const struct buf *b, const char *s)
{
	return b->s && mem_find(b->s, b->len, s, strlen(s)) != NULL;
}

static void test_policy(void)
{
	struct buf rep = BUF_INIT, reply = BUF_INIT;
	struct srv s = srv_start(SRV_ECHO, 5000);
	SSL_CTX *c = client_ctx(TLS1_VERSION, TLS1_1_VERSION, "DEFAULT@SECLEVEL=0");
	CHECK(!client_talk(s.sock, c, NULL, NULL));
	SSL_CTX_free(c);
	srv_finish(&s, &rep);
	CHECK(has(&rep, "fail") && has(&rep, "unsupported protocol"));

	s = srv_start(SRV_ECHO, 5000);
	c = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION, "AES128-GCM-SHA256:AES256-SHA");
	CHECK(!client_talk(s.sock, c, NULL, NULL));
	SSL_CTX_free(c);
	srv_finish(&s, &rep);
	CHECK(has(&rep, "fail"));

	s = srv_start(SRV_ECHO, 5000);
	c = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION, NULL);
	CHECK(client_talk(s.sock, c, "hello\r\n", &reply));
	SSL_CTX_free(c);
	srv_finish(&s, &rep);
	CHECK(has(&reply, "got hello\r\n"));
	CHECK(has(&rep, "ok TLSv1.2 with cipher ECDHE-ECDSA-"));

	buf_reset(&reply);
	s = srv_start(SRV_ECHO, 5000);
	c = client_ctx(TLS1_2_VERSION, 0, NULL);
	CHECK(client_talk(s.sock, c, "hi\r\n", &reply));
	SSL_CTX_free(c);
	srv_finish(&s, &rep);
	CHECK(has(&rep, "ok TLSv1.3 with cipher TLS_"));
	CHECK(has(&rep, "bits)"));
	buf_free(&rep);
	buf_free(&reply);
}

static void test_transport(void)
{
	struct buf rep = BUF_INIT, reply = BUF_INIT;
	/* two commands in one record: both seen without more socket data */
	struct srv s = srv_start(SRV_TWO_LINES, 5000);
	SSL_CTX *c = client_ctx(TLS1_2_VERSION, 0, NULL);
	CHECK(client_talk(s.sock, c, "NOOP\r\nQUIT\r\n", &reply));
	srv_finish(&s, &rep);
	CHECK(buf_eq(&reply, "got NOOP\r\ngot QUIT\r\n"));

	/* bytes read before the handshake are never taken as protected */
	buf_reset(&reply);
	s = srv_start(SRV_PREBUFFERED, 5000);
	write_all(s.sock, "RSET\r\n", 6);
	char ready;	/* the child has read it in clear */
	CHECK(read(s.result, &ready, 1) == 1 && ready == 'R');
	CHECK(client_talk(s.sock, c, "EHLO x\r\n", &reply));
	srv_finish(&s, &rep);
	CHECK(buf_eq(&reply, "got EHLO x\r\n"));
	SSL_CTX_free(c);
	buf_free(&rep);
	buf_free(&reply);
}

static void test_failures(void)
{
	struct buf rep = BUF_INIT;
	struct srv s = srv_start(SRV_ECHO, 5000);
	write_all(s.sock, "EHLO client.test\r\n", 18);
	srv_finish(&s, &rep);
	CHECK(has(&rep, "fail plain text instead of a TLS ClientHello"));

	s = srv_start(SRV_ECHO, 5000);
	write_all(s.sock, "\x16\x03\x01\x00\xf4\x01\x00", 7);
	srv_finish(&s, &rep);	/* closes: the peer is gone mid-handshake */
	CHECK(has(&rep, "fail peer closed the connection during the handshake"));

	s = srv_start(SRV_ECHO, 300);
	write_all(s.sock, "\x16\x03\x01\x00\xf4\x01\x00", 7);
	char tmp[16];
	struct buf got = BUF_INIT;	/* wait for the report, sock still open */
	ssize_t n;
	while ((n = read(s.result, tmp, sizeof tmp)) > 0)
		buf_append(&got, tmp, (size_t)n);
	srv_finish(&s, &rep);
	CHECK(has(&got, "fail timed out"));
	buf_free(&got);
	buf_free(&rep);
}

static void test_client(void)
{
	struct buf err = BUF_INIT, rep = BUF_INIT, line = BUF_INIT, ca = BUF_INIT;
	struct tls_client *tc;
	path_of("cert.pem", &ca);
	CHECK(tls_client_new(&tc, ca.s, &err) == 0);
	struct srv s = srv_start(SRV_ECHO, 5000);
	struct io io;
	io_init(&io, s.sock, s.sock, 5000);
	CHECK(tls_client_start(&io, tc, "localhost", 1, 5000, &err) == 0);
	CHECK(tls_active(&io));
	io_puts(&io, "verified\r\n");
	CHECK(io_flush(&io) == 0);
	CHECK(io_getline(&io, &line, 100) == LINE_OK && buf_eq(&line, "got verified\r\n"));
	tls_end(&io);
	CHECK(!tls_active(&io));
	io_free(&io);
	srv_finish(&s, &rep);
	CHECK(has(&rep, "ok TLSv1.3"));

	s = srv_start(SRV_ECHO, 5000);
	io_init(&io, s.sock, s.sock, 5000);
	buf_reset(&err);
	CHECK(tls_client_start(&io, tc, "wrong.example", 1, 5000, &err) < 0);
	CHECK(has(&err, "certificate verification failed"));
	CHECK(!tls_active(&io));
	io_free(&io);
	srv_finish(&s, &rep);
	tls_client_free(tc);
	buf_free(&err);
	buf_free(&rep);
	buf_free(&line);
	buf_free(&ca);
}

static void test_fds(void)
{
	struct buf p = BUF_INIT, err = BUF_INIT;
	struct tls_server *ts;
	path_of("cert.pem", &p);
	int c = open(p.s, O_RDONLY);
	path_of("key.pem", &p);
	int k = open(p.s, O_RDONLY);
	struct buf env = BUF_INIT;
	buf_printf(&env, "%d,%d", c, k);
	/* the configured certificate is gone: only the fds can work */
	struct buf away = BUF_INIT, cp = BUF_INIT;
	path_of("cert.pem", &cp);
	path_of("cert.away", &away);
	rename(cp.s, away.s);
	setenv("POSTHORN_TLS_FDS", buf_cstr(&env), 1);
	CHECK(tls_server_new(&ts, &cfg, &err) == 0);
	rename(away.s, cp.s);
	buf_free(&away);
	buf_free(&cp);
	CHECK(fcntl(c, F_GETFD) < 0 && errno == EBADF);
	CHECK(fcntl(k, F_GETFD) < 0 && errno == EBADF);
	CHECK(getenv("POSTHORN_TLS_FDS") == NULL);
	tls_server_free(ts);
	setenv("POSTHORN_TLS_FDS", "3;4", 1);
	CHECK(tls_server_new(&ts, &cfg, &err) < 0 && has(&err, "malformed"));
	setenv("POSTHORN_TLS_FDS", "1,2", 1);
	buf_reset(&err);
	CHECK(tls_server_new(&ts, &cfg, &err) < 0 && has(&err, "malformed"));
	unsetenv("POSTHORN_TLS_FDS");
	buf_free(&env);
	buf_free(&p);
	buf_free(&err);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	CHECK(make_cert());
	test_policy();
	test_transport();
	test_failures();
	test_client();
	test_fds();
	struct buf p = BUF_INIT;
	const char *files[] = {"cert.pem", "key.pem", "t.conf", NULL};
	for (int i = 0; files[i]; i++) {
		path_of(files[i], &p);
		unlink(p.s);
	}
	rmdir(dir);
	buf_free(&p);
	config_free(&cfg);
	return tap_done();
}
