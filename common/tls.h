/* tls: TLS (OpenSSL) under struct io, the same way for every program:
 * server side for smtpd (STARTTLS, implicit TLS on 465), pop3d and imapd
 * (STLS/STARTTLS, 995/993), client side for remote delivery.  Once a
 * handshake succeeds, io->tr points at the TLS transport and io_getline,
 * io_write and io_flush work unchanged.
 *
 * Policy (both sides): TLS 1.2 minimum, 1.3 preferred; no compression, no
 * renegotiation; server cipher preference; TLS 1.2 suites ECDHE with AEAD
 * only.  Certificates and keys are PEM files named by the config (relative
 * paths are in the config directory); tls_sni_dir may hold HOST.pem files
 * (chain + key) chosen by SNI.  Each server process loads the files when it
 * starts, so a renewed certificate is used by the next connection without
 * a restart.  The key file is read before the process drops privileges
 * (doc/design.md, "TLS keys"). */
#ifndef POSTHORN_TLS_H
#define POSTHORN_TLS_H

#include "buf.h"
#include "config.h"
#include "io.h"

struct tls_server;	/* certificates and context, made once per process */
struct tls_client;

/* Loads tls_cert/tls_key (and SNI files) from the config: 0 ok, -1 with a
 * message in err.  Call while still privileged. */
int tls_server_new(struct tls_server **ts, const struct config *c, struct buf *err);
void tls_server_free(struct tls_server *ts);

/* Handshake as the server on io's fds (bounded by tls_handshake_timeout):
 * 0 ok (io now encrypted), -1 failure with a reason in err (the caller
 * logs it with the client IP and ends the connection).  Any bytes already
 * buffered in io->in are discarded first: nothing sent before the
 * handshake may be read as if it came after it (CVE-2011-0411). */
int tls_server_start(struct io *io, struct tls_server *ts, int timeout_ms, struct buf *err);

/* Client side (remote delivery).  verify: 0 = encrypt only, 1 = check the
 * chain against cafile (NULL: system store) and the name. */
int tls_client_new(struct tls_client **tc, const char *cafile, struct buf *err);
void tls_client_free(struct tls_client *tc);
int tls_client_start(struct io *io, struct tls_client *tc, const char *servername,
		     int verify, int timeout_ms, struct buf *err);

int tls_active(const struct io *io);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" (for logs
 * and Received:); empty when not encrypted. */
void tls_describe(const struct io *io, struct buf *out);
/* Sends close_notify (bounded) and frees the session; io keeps its fds. */
void tls_end(struct io *io);

/* The file named by a config key (tls_cert, tls_key, tls_ca, tls_sni_dir):
 * absolute as given, else in the config directory.  Used by master to open
 * the files for its children and by posthorn tls. */
void tls_path(const struct config *c, const char *key, struct buf *out);
/* A file name in tls_sni_dir that names a host: HOST.pem, HOST made of
 * letters, digits, '-' and '.', no "..".  master passes such files to its
 * children as POSTHORN_TLS_SNI=HOST.pem=FD,... (fds from 5 on). */
int tls_sni_file_ok(const char *name);

#endif
