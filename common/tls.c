/* tls: OpenSSL under struct io (see tls.h).  Server side for smtpd (and
 * later pop3d/imapd), client side for remote delivery.  The transport hooks
 * make the socket non-blocking and let io.c do the waiting, so io's timeout
 * bounds every TLS read and write exactly as it bounds plain ones. */
#include "tls.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define PEM_MAX (1024 * 1024)	/* a certificate chain plus key: far less */
#define SNI_MAX 64		/* SNI certificates loaded per process */

struct sni_entry {
	char *host;
	SSL_CTX *ctx;
};

struct tls_server {
	SSL_CTX *ctx;
	struct sni_entry sni[SNI_MAX];
	size_t nsni;
};

struct tls_client {
	SSL_CTX *ctx;
};

/* What io->tr points at while a session is encrypted. */
struct tls_conn {
	struct io_transport tr;
	SSL *ssl;
};

static ssize_t tls_read(struct io *io, void *p, size_t n);
static ssize_t tls_write(struct io *io, const void *p, size_t n);

void tls_path(const struct config *c, const char *key, struct buf *out)
{
	const char *v = config_str(c, key);
	if (!v)
		v = "";
	if (v[0] == '/') {
		buf_reset(out);
		buf_puts(out, v);
		buf_cstr(out);
	} else {
		config_file(c, v, out);
	}
}

/* The first OpenSSL error as text (or fallback), and the queue cleared. */
static void ssl_reason(struct buf *err, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	if (e) {
		char s[256];
		ERR_error_string_n(e, s, sizeof s);
		const char *r = ERR_reason_error_string(e);
		buf_puts(err, r ? r : s);
	} else {
		buf_puts(err, fallback);
	}
	ERR_clear_error();
}

/* ---- context policy ---------------------------------------------------- */

static int ctx_policy(SSL_CTX *ctx)
{
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") ||
	    !SSL_CTX_set1_groups_list(ctx, "X25519:P-256"))
		return -1;
	return 0;
}

static SSL_CTX *ctx_new(int server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx && ctx_policy(ctx) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (ctx && server)	/* one process per session: a cache is useless */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

/* ---- loading certificates and keys ------------------------------------ */

static int fd_read_all(int fd, struct buf *dst)
{
	for (;;) {
		buf_reserve(dst, 8192);
		ssize_t r = read(fd, dst->s + dst->len, dst->cap - dst->len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		dst->len += (size_t)r;
		if (dst->len > PEM_MAX) {
			errno = EFBIG;
			return -1;
		}
	}
}

static void wipe(struct buf *b)
{
	if (b->s)
		OPENSSL_cleanse(b->s, b->cap);
	buf_free(b);
}

/* Certificate chain (leaf first) and key from PEM bytes into ctx. */
static int ctx_use_pem(SSL_CTX *ctx, const struct buf *cert, const struct buf *key,
		       struct buf *err)
{
	BIO *cb = BIO_new_mem_buf(cert->s, (int)cert->len);
	BIO *kb = BIO_new_mem_buf(key->s, (int)key->len);
	X509 *leaf = cb ? PEM_read_bio_X509_AUX(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pk = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int r = -1;
	if (!leaf)
		buf_puts(err, "no certificate in the certificate file");
	else if (!pk)
		buf_puts(err, "no private key in the key file");
	else if (SSL_CTX_use_certificate(ctx, leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, pk) != 1)
		ssl_reason(err, "certificate or key not usable");
	else if (SSL_CTX_check_private_key(ctx) != 1)
		buf_puts(err, "the private key does not match the certificate");
	else
		r = 0;
	X509 *extra;
	while (r == 0 && (extra = PEM_read_bio_X509(cb, NULL, NULL, NULL)))
		if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
			X509_free(extra);
			r = -1;
			buf_puts(err, "bad chain certificate");
		}
	ERR_clear_error();	/* the end of the chain is an error to PEM */
	X509_free(leaf);
	EVP_PKEY_free(pk);
	BIO_free(cb);
	BIO_free(kb);
	return r;
}

/* POSTHORN_TLS_FDS=certfd,keyfd (from master): the fds are read and
 * closed, the variable removed.  1 used, 0 not set, -1 error. */
static int pem_from_fds(struct buf *cert, struct buf *key, struct buf *err)
{
	const char *v = getenv("POSTHORN_TLS_FDS");
	if (!v || !*v)
		return 0;
	const char *comma = strchr(v, ',');
	unsigned long long cfd, kfd;
	int r = -1;
	if (!comma || mem_to_u64(v, (size_t)(comma - v), &cfd) < 0 ||
	    mem_to_u64(comma + 1, strlen(comma + 1), &kfd) < 0 ||
	    cfd < 3 || kfd < 3 || cfd > 1024 || kfd > 1024 || cfd == kfd) {
		buf_puts(err, "POSTHORN_TLS_FDS is malformed");
		unsetenv("POSTHORN_TLS_FDS");
		return -1;
	}
	if (fd_read_all((int)cfd, cert) < 0 || fd_read_all((int)kfd, key) < 0)
		buf_printf(err, "cannot read the certificate or key fd: %s", strerror(errno));
	else
		r = 1;
	close((int)cfd);
	close((int)kfd);
	unsetenv("POSTHORN_TLS_FDS");
	return r;
}

static int pem_from_files(const char *cpath, const char *kpath, struct buf *cert,
			  struct buf *key, struct buf *err)
{
	int r = file_read(cpath, cert, PEM_MAX);
	const char *bad = cpath;
	if (r == 0) {
		r = file_read(kpath, key, PEM_MAX);
		bad = kpath;
	}
	if (r == -2)
		buf_printf(err, "%s: file too large", bad);
	else if (r < 0)
		buf_printf(err, "%s: %s", bad, strerror(errno));
	return r < 0 ? -1 : 0;
}

/* The order of doc/design.md "TLS keys": fds from master, systemd
 * credentials, the config's files. */
static int pem_load(const struct config *c, struct buf *cert, struct buf *key, struct buf *err)
{
	int r = pem_from_fds(cert, key, err);
	if (r != 0)
		return r > 0 ? 0 : -1;
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	struct buf cp = BUF_INIT, kp = BUF_INIT;
	struct stat st;
	if (cred && *cred) {
		buf_printf(&cp, "%s/tls.crt", cred);
		buf_printf(&kp, "%s/tls.key", cred);
	}
	if (!cred || !*cred || stat(buf_cstr(&kp), &st) < 0) {
		tls_path(c, "tls_cert", &cp);
		tls_path(c, "tls_key", &kp);
	}
	r = pem_from_files(buf_cstr(&cp), buf_cstr(&kp), cert, key, err);
	buf_free(&cp);
	buf_free(&kp);
	return r;
}

int tls_sni_file_ok(const char *name)
{
	size_t n = strlen(name);
	if (n < 5 || n > 257 || strcmp(name + n - 4, ".pem") || name[0] == '.' ||
	    mem_find(name, n - 4, "..", 2))
		return 0;
	for (size_t i = 0; i < n - 4; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '.')
			return 0;
	return 1;
}

/* One HOST.pem (chain + key) as the context for SNI name HOST. */
static void sni_add(struct tls_server *ts, const char *file, size_t flen, const struct buf *pem)
{
	struct buf err = BUF_INIT;
	SSL_CTX *ctx = ts->nsni < SNI_MAX ? ctx_new(1) : NULL;
	if (ctx && ctx_use_pem(ctx, pem, pem, &err) == 0) {
		ts->sni[ts->nsni].host = xmemdup(file, flen - 4);
		mem_lower(ts->sni[ts->nsni].host, flen - 4);
		ts->sni[ts->nsni++].ctx = ctx;
		ctx = NULL;
	}
	SSL_CTX_free(ctx);
	buf_free(&err);
}

static void sni_load_file(struct tls_server *ts, const char *dir, const char *name)
{
	if (!tls_sni_file_ok(name))
		return;
	struct buf path = BUF_INIT, pem = BUF_INIT;
	buf_printf(&path, "%s/%s", dir, name);
	if (file_read(buf_cstr(&path), &pem, PEM_MAX) == 0)
		sni_add(ts, name, strlen(name), &pem);
	wipe(&pem);
	buf_free(&path);
}

/* POSTHORN_TLS_SNI=HOST.pem=FD,... from master: each fd read and closed. */
static void sni_from_fds(struct tls_server *ts, const char *v)
{
	while (*v) {
		const char *end = strchr(v, ',');
		size_t len = end ? (size_t)(end - v) : strlen(v);
		const char *eq = memchr(v, '=', len);
		unsigned long long fd;
		if (eq && mem_to_u64(eq + 1, len - (size_t)(eq - v) - 1, &fd) == 0 && fd > 4 &&
		    fd < 1024) {
			char *name = xmemdup(v, (size_t)(eq - v));
			struct buf pem = BUF_INIT;
			if (tls_sni_file_ok(name) && fd_read_all((int)fd, &pem) == 0)
				sni_add(ts, name, strlen(name), &pem);
			close((int)fd);
			wipe(&pem);
			free(name);
		}
		v += len + (end ? 1 : 0);
	}
}

/* All SNI certificates are read now, while privileged (or from master's
 * fds): a handshake later runs as the service user, which cannot read
 * the keys. */
static void sni_load(struct tls_server *ts, const struct config *c)
{
	const char *fds = getenv("POSTHORN_TLS_SNI");
	if (fds) {
		sni_from_fds(ts, fds);
		unsetenv("POSTHORN_TLS_SNI");
		return;
	}
	const char *v = config_str(c, "tls_sni_dir");
	if (!v || !*v)
		return;
	struct buf dir = BUF_INIT;
	tls_path(c, "tls_sni_dir", &dir);
	DIR *d = opendir(buf_cstr(&dir));
	struct dirent *e;
	while (d && (e = readdir(d)))
		sni_load_file(ts, dir.s, e->d_name);
	if (d)
		closedir(d);
	buf_free(&dir);
}

static int sni_callback(SSL *ssl, int *alert, void *arg)
{
	(void)alert;
	struct tls_server *ts = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (!name)
		return SSL_TLSEXT_ERR_NOACK;
	for (size_t i = 0; i < ts->nsni; i++)
		if (!strcasecmp(name, ts->sni[i].host)) {
			SSL_set_SSL_CTX(ssl, ts->sni[i].ctx);
			return SSL_TLSEXT_ERR_OK;
		}
	return SSL_TLSEXT_ERR_NOACK;	/* the default certificate */
}

int tls_server_new(struct tls_server **out, const struct config *c, struct buf *err)
{
	struct buf cert = BUF_INIT, key = BUF_INIT;
	struct tls_server *ts = xcalloc(1, sizeof *ts);
	*out = NULL;
	int r = pem_load(c, &cert, &key, err);
	if (r == 0 && !(ts->ctx = ctx_new(1))) {
		ssl_reason(err, "cannot make a TLS context");
		r = -1;
	}
	if (r == 0)
		r = ctx_use_pem(ts->ctx, &cert, &key, err);
	wipe(&key);
	buf_free(&cert);
	if (r < 0) {
		tls_server_free(ts);
		return -1;
	}
	sni_load(ts, c);
	if (ts->nsni) {
		SSL_CTX_set_tlsext_servername_callback(ts->ctx, sni_callback);
		SSL_CTX_set_tlsext_servername_arg(ts->ctx, ts);
	}
	*out = ts;
	return 0;
}

void tls_server_free(struct tls_server *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->nsni; i++) {
		free(ts->sni[i].host);
		SSL_CTX_free(ts->sni[i].ctx);
	}
	SSL_CTX_free(ts->ctx);
	free(ts);
}

int tls_client_new(struct tls_client **out, const char *cafile, struct buf *err)
{
	struct tls_client *tc = xcalloc(1, sizeof *tc);
	*out = NULL;
	tc->ctx = ctx_new(0);
	int ok = tc->ctx != NULL;
	if (ok)
		ok = cafile ? SSL_CTX_load_verify_locations(tc->ctx, cafile, NULL) == 1
			    : SSL_CTX_set_default_verify_paths(tc->ctx) == 1;
	if (!ok) {
		ssl_reason(err, "cannot load the CA file");
		tls_client_free(tc);
		return -1;
	}
	*out = tc;
	return 0;
}

void tls_client_free(struct tls_client *tc)
{
	if (!tc)
		return;
	SSL_CTX_free(tc->ctx);
	free(tc);
}

/* ---- the transport ---------------------------------------------------- */

static SSL *conn_ssl(const struct io *io)
{
	return ((const struct tls_conn *)io->tr)->ssl;
}

static int wait_one(int fd, short ev, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = ev};
	int r;
	do
		r = poll(&p, 1, timeout_ms < 0 ? -1 : timeout_ms);	/* 0: deadline passed */
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

/* An SSL_read/SSL_write result as the transport's: EAGAIN lets io.c wait
 * (with its timeout) for the direction OpenSSL asked for, when it is the
 * one io.c waits for; the other direction is waited for here. */
static ssize_t map_result(struct io *io, int ret, int reading)
{
	SSL *ssl = conn_ssl(io);
	int e = SSL_get_error(ssl, ret);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		if (reading) {
			errno = EAGAIN;
			return -1;
		}
		if (wait_one(io->rfd, POLLIN, io_wait_ms(io)) < 0)
			return -1;
		errno = EINTR;	/* io.c retries at once */
		return -1;
	case SSL_ERROR_WANT_WRITE:
		if (!reading) {
			errno = EAGAIN;
			return -1;
		}
		if (wait_one(io->wfd, POLLOUT, io_wait_ms(io)) < 0)
			return -1;
		errno = EINTR;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (ret == 0 || errno == 0)
			return 0;	/* the peer went away without close_notify */
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

/* Everything OpenSSL has decrypted goes into the caller's buffer, so that
 * a command pipelined in the same record is seen without waiting for the
 * socket (SSL_pending). */
static ssize_t tls_read(struct io *io, void *p, size_t n)
{
	SSL *ssl = conn_ssl(io);
	size_t got = 0;
	int cap = n > INT32_MAX ? INT32_MAX : (int)n;
	int r = SSL_read(ssl, p, cap);
	if (r <= 0)
		return map_result(io, r, 1);
	got = (size_t)r;
	while (got < n && SSL_pending(ssl) > 0) {
		size_t left = n - got;
		r = SSL_read(ssl, (char *)p + got, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r <= 0) {
			ERR_clear_error();
			break;
		}
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static ssize_t tls_write(struct io *io, const void *p, size_t n)
{
	int r = SSL_write(conn_ssl(io), p, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	return map_result(io, r, 0);
}

/* ---- handshakes ------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

/* A TLS connection starts with a handshake record: 0x16 0x03.  Anything
 * else on a TLS port is a client speaking plain text.  Peeking lets us say
 * so instead of OpenSSL's "wrong version number".  1 TLS, 0 not, -1 error
 * or nothing yet (timeout/EOF, reason in err). */
static int peek_tls(int fd, int timeout_ms, struct buf *err)
{
	unsigned char b[3];
	if (wait_one(fd, POLLIN, timeout_ms) < 0) {
		buf_puts(err, errno == ETIMEDOUT ? "timed out waiting for the ClientHello"
			 : "poll failed before the handshake");
		return -1;
	}
	ssize_t r;
	do
		r = recv(fd, b, sizeof b, MSG_PEEK);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == ENOTSOCK)
		return 1;	/* a pipe (tests): let OpenSSL judge */
	if (r == 0) {
		buf_puts(err, "peer closed the connection before the handshake");
		return -1;
	}
	if (r < 0)
		return 1;
	if (b[0] != 0x16 || (r > 1 && b[1] != 0x03)) {
		buf_puts(err, "plain text instead of a TLS ClientHello");
		return 0;
	}
	return 1;
}

static int handshake_wait(struct io *io, SSL *ssl, int ret, long long deadline, struct buf *err)
{
	int e = SSL_get_error(ssl, ret);
	long long left = deadline - now_ms();
	if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && left <= 0) {
		buf_puts(err, "timed out");
		return -1;
	}
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		int fd = e == SSL_ERROR_WANT_READ ? io->rfd : io->wfd;
		if (wait_one(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, (int)left) == 0)
			return 0;
		buf_puts(err, errno == ETIMEDOUT ? "timed out" : "poll failed in the handshake");
		return -1;
	}
	unsigned long code = ERR_peek_last_error();
	if ((e == SSL_ERROR_SYSCALL && !code) || e == SSL_ERROR_ZERO_RETURN ||
	    ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		ERR_clear_error();
		buf_puts(err, "peer closed the connection during the handshake");
		return -1;
	}
	ssl_reason(err, "protocol error");
	return -1;
}

/* Runs SSL_accept/SSL_connect to the end or the deadline. */
static int handshake(struct io *io, SSL *ssl, int server, int timeout_ms, struct buf *err)
{
	long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 30000);
	ERR_clear_error();
	for (;;) {
		int r = server ? SSL_accept(ssl) : SSL_connect(ssl);
		if (r == 1)
			return 0;
		if (handshake_wait(io, ssl, r, deadline, err) < 0)
			return -1;
	}
}

/* Common to both sides: flush, forget plain input, attach an SSL. */
static struct tls_conn *conn_begin(struct io *io, SSL_CTX *ctx, struct buf *err)
{
	if (io->tr) {
		buf_puts(err, "TLS is already active");
		return NULL;
	}
	if (io_flush(io) < 0) {
		buf_puts(err, "cannot send before the TLS handshake");
		return NULL;
	}
	io_discard_input(io);	/* CVE-2011-0411 */
	if (set_nonblock(io->rfd) < 0 || set_nonblock(io->wfd) < 0) {
		buf_printf(err, "fcntl: %s", strerror(errno));
		return NULL;
	}
	SSL *ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_rfd(ssl, io->rfd) || !SSL_set_wfd(ssl, io->wfd)) {
		ssl_reason(err, "cannot make a TLS session");
		SSL_free(ssl);
		return NULL;
	}
	struct tls_conn *tc = xcalloc(1, sizeof *tc);
	tc->ssl = ssl;
	tc->tr.read = tls_read;
	tc->tr.write = tls_write;
	tc->tr.ctx = tc;
	return tc;
}

static int conn_finish(struct io *io, struct tls_conn *tc, int ok)
{
	if (!ok) {
		SSL_free(tc->ssl);
		free(tc);
		return -1;
	}
	io->tr = &tc->tr;
	io->eof = 0;
	io->err = IO_OK;
	return 0;
}

int tls_server_start(struct io *io, struct tls_server *ts, int timeout_ms, struct buf *err)
{
	struct tls_conn *tc = conn_begin(io, ts->ctx, err);
	if (!tc)
		return -1;
	int ok = peek_tls(io->rfd, timeout_ms, err) == 1 &&
		 handshake(io, tc->ssl, 1, timeout_ms, err) == 0;
	return conn_finish(io, tc, ok);
}

int tls_client_start(struct io *io, struct tls_client *tcl, const char *servername,
		     int verify, int timeout_ms, struct buf *err)
{
	struct tls_conn *tc = conn_begin(io, tcl->ctx, err);
	if (!tc)
		return -1;
	int ok = 1;
	if (servername && *servername)
		ok = SSL_set_tlsext_host_name(tc->ssl, servername) == 1;
	if (ok && verify) {
		SSL_set_verify(tc->ssl, SSL_VERIFY_PEER, NULL);
		ok = servername && SSL_set1_host(tc->ssl, servername) == 1;
	}
	if (!ok)
		ssl_reason(err, "cannot set the server name");
	ok = ok && handshake(io, tc->ssl, 0, timeout_ms, err) == 0;
	if (!ok && verify && SSL_get_verify_result(tc->ssl) != X509_V_OK) {
		buf_reset(err);
		buf_printf(err, "certificate verification failed: %s",
			   X509_verify_cert_error_string(SSL_get_verify_result(tc->ssl)));
	}
	return conn_finish(io, tc, ok);
}

/* ---- state ------------------------------------------------------------ */

int tls_active(const struct io *io)
{
	return io->tr && io->tr->read == tls_read;
}

void tls_describe(const struct io *io, struct buf *out)
{
	if (!tls_active(io))
		return;
	SSL *ssl = conn_ssl(io);
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int alg = 0;
	int bits = c ? SSL_CIPHER_get_bits(c, &alg) : 0;
	buf_printf(out, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
		   c ? SSL_CIPHER_get_name(c) : "unknown", bits, alg);
}

void tls_end(struct io *io)
{
	if (!tls_active(io))
		return;
	struct tls_conn *tc = (struct tls_conn *)io->tr;
	/* One close_notify attempt, waited for at most once: a peer that does
	 * not read must not keep us here. */
	int r = SSL_shutdown(tc->ssl);
	if (r < 0 && SSL_get_error(tc->ssl, r) == SSL_ERROR_WANT_WRITE &&
	    wait_one(io->wfd, POLLOUT, io->timeout_ms > 0 && io->timeout_ms < 5000 ? io->timeout_ms : 5000) == 0)
		SSL_shutdown(tc->ssl);
	ERR_clear_error();
	SSL_free(tc->ssl);
	free(tc);
	io->tr = NULL;
}
