/* tls_init.c: the instance's certificates (doc/design.md "TLS keys").
 * posthorn init makes etc/tls/ with a CA of the instance (ca.key 0600,
 * ca.pem 0644) and a server key and certificate signed by it (key.pem 0600,
 * cert.pem 0644) naming the host name, localhost and 127.0.0.1, so clients
 * can verify with --cacert etc/tls/ca.pem.  `posthorn tls renew` issues a
 * new server certificate from the same CA; files are replaced atomically
 * and each new connection reads them, so the service keeps running. */
#include "posthorn.h"
#include "fsutil.h"
#include "privsep.h"
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define VALID_DAYS 3650

static void openssl_complain(const char *what)
{
	char s[256] = "unknown error";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, s, sizeof s);
	ERR_clear_error();
	complain("tls: %s: %s", what, s);
}

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!k)
		openssl_complain("key generation");
	return k;
}

/* 127 random bits: positive, unique enough to tell renewals apart. */
static int random_serial(X509 *x)
{
	unsigned char r[16];
	if (RAND_bytes(r, sizeof r) != 1)
		return -1;
	r[0] &= 0x7f;
	r[0] |= 0x01;	/* never leading zero: a full 16-byte serial */
	BIGNUM *bn = BN_bin2bn(r, sizeof r, NULL);
	int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	int ok = e && X509_add_ext(cert, e, -1) == 1;
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

static int set_name(X509_NAME *n, const char *cn)
{
	return X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"posthorn",
					  -1, -1, 0) == 1 &&
	       X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
					  -1, -1, 0) == 1 ? 0 : -1;
}

/* Version, serial, validity (an hour back for clock skew), subject, key. */
static X509 *cert_base(EVP_PKEY *key, const char *cn)
{
	X509 *x = X509_new();
	if (!x || X509_set_version(x, 2) != 1 || random_serial(x) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), VALID_DAYS, 0, NULL) ||
	    set_name(X509_get_subject_name(x), cn) < 0 || X509_set_pubkey(x, key) != 1) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static X509 *make_ca(EVP_PKEY *key, const char *host)
{
	struct buf cn = BUF_INIT;
	buf_printf(&cn, "posthorn CA for %s", host);
	X509 *x = cert_base(key, buf_cstr(&cn));
	buf_free(&cn);
	if (x && (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
		  add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
		  add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
		  add_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
		  add_ext(x, x, NID_authority_key_identifier, "keyid:always") < 0 ||
		  X509_sign(x, key, EVP_sha256()) <= 0)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static X509 *make_server(EVP_PKEY *key, const char *host, X509 *ca, EVP_PKEY *cakey)
{
	struct buf san = BUF_INIT;
	buf_printf(&san, "DNS:%s", host);
	if (strcmp(host, "localhost"))
		buf_puts(&san, ",DNS:localhost");
	buf_puts(&san, ",IP:127.0.0.1");
	X509 *x = cert_base(key, host);
	if (x && (X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
		  add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
		  add_ext(x, ca, NID_key_usage, "critical,digitalSignature") < 0 ||
		  add_ext(x, ca, NID_ext_key_usage, "serverAuth") < 0 ||
		  add_ext(x, ca, NID_subject_alt_name, buf_cstr(&san)) < 0 ||
		  add_ext(x, ca, NID_subject_key_identifier, "hash") < 0 ||
		  add_ext(x, ca, NID_authority_key_identifier, "keyid:always") < 0 ||
		  X509_sign(x, cakey, EVP_sha256()) <= 0)) {
		X509_free(x);
		x = NULL;
	}
	buf_free(&san);
	return x;
}

/* PEM of a certificate or key into out (a key buffer is wiped by caller). */
static int pem_of(X509 *x, EVP_PKEY *k, struct buf *out)
{
	BIO *b = BIO_new(BIO_s_secmem());
	int ok = b && (x ? PEM_write_bio_X509(b, x) : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) == 1;
	char *p;
	long n = ok ? BIO_get_mem_data(b, &p) : 0;
	if (ok && n > 0)
		buf_set(out, p, (size_t)n);
	BIO_free(b);
	return ok && n > 0 ? 0 : -1;
}

static int write_pem(const char *path, X509 *x, EVP_PKEY *k, mode_t mode)
{
	struct buf pem = BUF_INIT;
	int r = pem_of(x, k, &pem);
	if (r < 0)
		openssl_complain(path);
	else if ((r = file_write_atomic(path, pem.s, pem.len, mode)) < 0)
		complain("tls: %s: %s", path, strerror(errno));
	if (pem.s)
		OPENSSL_cleanse(pem.s, pem.cap);
	buf_free(&pem);
	return r;
}

static const char *cert_host(const struct config *cfg, char *tmp, size_t size)
{
	const char *h = config_str(cfg, "hostname");
	if (h && *h)
		return h;
	if (gethostname(tmp, size - 1) < 0 || !tmp[0])
		return "localhost";
	tmp[size - 1] = 0;
	return tmp;
}

/* etc/tls/ca.key beside ca.pem (the config has no key for it). */
static void ca_key_path(const struct config *cfg, struct buf *out)
{
	tls_path(cfg, "tls_ca", out);
	const char *slash = strrchr(buf_cstr(out), '/');
	buf_truncate(out, slash ? (size_t)(slash - out->s) + 1 : 0);
	buf_puts(out, "ca.key");
	buf_cstr(out);
}

static void print_serial(X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	printf("new certificate serial %s\n", hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

/* A new server key and certificate from the CA: key.pem first, so that a
 * connection in between sees at worst a key without its certificate and
 * goes on without TLS, never with a wrong key. */
static int issue_server(const struct config *cfg, X509 *ca, EVP_PKEY *cakey, int verbose)
{
	char tmp[256];
	struct buf cp = BUF_INIT, kp = BUF_INIT;
	EVP_PKEY *key = new_key();
	X509 *x = key ? make_server(key, cert_host(cfg, tmp, sizeof tmp), ca, cakey) : NULL;
	int r = -1;
	tls_path(cfg, "tls_cert", &cp);
	tls_path(cfg, "tls_key", &kp);
	if (key && !x)
		openssl_complain("server certificate");
	if (x && write_pem(kp.s, NULL, key, 0600) == 0 && write_pem(cp.s, x, NULL, 0644) == 0)
		r = 0;
	if (r == 0 && verbose)
		print_serial(x);
	X509_free(x);
	EVP_PKEY_free(key);
	buf_free(&cp);
	buf_free(&kp);
	return r;
}

int tls_init_instance(const struct config *cfg)
{
	char tmp[256];
	struct buf dir = BUF_INIT, cap = BUF_INIT, ckp = BUF_INIT;
	tls_path(cfg, "tls_ca", &cap);
	ca_key_path(cfg, &ckp);
	buf_set(&dir, ckp.s, ckp.len - strlen("/ca.key"));
	int r = dir_ensure(buf_cstr(&dir), 0755, priv_is_root() ? 0 : (uid_t)-1, 0);
	if (r < 0)
		complain("tls: %s: %s", dir.s, strerror(errno));
	EVP_PKEY *cakey = r == 0 ? new_key() : NULL;
	X509 *ca = cakey ? make_ca(cakey, cert_host(cfg, tmp, sizeof tmp)) : NULL;
	if (cakey && !ca)
		openssl_complain("CA certificate");
	r = ca && write_pem(ckp.s, NULL, cakey, 0600) == 0 && write_pem(cap.s, ca, NULL, 0644) == 0 &&
	    issue_server(cfg, ca, cakey, 0) == 0 ? 0 : -1;
	X509_free(ca);
	EVP_PKEY_free(cakey);
	buf_free(&dir);
	buf_free(&cap);
	buf_free(&ckp);
	return r;
}

static int tls_renew(const struct config *cfg)
{
	struct buf cap = BUF_INIT, ckp = BUF_INIT;
	tls_path(cfg, "tls_ca", &cap);
	ca_key_path(cfg, &ckp);
	FILE *cf = fopen(cap.s, "r"), *kf = fopen(ckp.s, "r");
	X509 *ca = cf ? PEM_read_X509(cf, NULL, NULL, NULL) : NULL;
	EVP_PKEY *cakey = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
	int r = -1;
	if (!cf || !kf)
		complain("tls renew: cannot open %s: %s", !cf ? cap.s : ckp.s, strerror(errno));
	else if (!ca || !cakey)
		openssl_complain("tls renew: reading the CA");
	else if (X509_check_private_key(ca, cakey) != 1)
		complain("tls renew: %s does not match %s", ckp.s, cap.s);
	else
		r = issue_server(cfg, ca, cakey, 1);
	if (cf)
		fclose(cf);
	if (kf)
		fclose(kf);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	buf_free(&cap);
	buf_free(&ckp);
	return r;
}

int cmd_tls(const struct config *cfg, int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "renew"))
		return tls_renew(cfg) < 0 ? 1 : 0;
	complain("usage: posthorn tls renew");
	return 2;
}
