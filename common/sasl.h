/* sasl: the server side of SASL mechanisms PLAIN (RFC 4616) and LOGIN,
 * shared by smtpd (AUTH, RFC 4954), pop3d (AUTH, RFC 5034) and imapd
 * (AUTHENTICATE, RFC 3501 + SASL-IR).  Protocol-neutral: the caller moves
 * base64 lines between the client and sasl_step and sends each challenge in
 * its own syntax ("334 ...", "+ ...").  Credentials found are checked by
 * the auth daemon through common/authclient.h, never here. */
#ifndef POSTHORN_SASL_H
#define POSTHORN_SASL_H

#include <stddef.h>
#include "buf.h"

enum sasl_mech { SASL_PLAIN, SASL_LOGIN };
enum { SASL_CONTINUE = 1, SASL_DONE = 0, SASL_BAD = -1, SASL_CANCEL = -2 };

struct sasl {
	enum sasl_mech mech;
	int step;
	struct buf authzid, authcid, password;
};

/* Mechanism by name (case-insensitive): 0 ok, -1 unknown. */
int sasl_begin(struct sasl *s, const char *name, size_t len);
/* Feeds one client response (base64, or "*" = cancel; NULL = no initial
 * response).  SASL_CONTINUE: send challenge (already base64) and call
 * again; SASL_DONE: authcid/password/authzid are set; SASL_BAD: malformed;
 * SASL_CANCEL: the client gave up. */
int sasl_step(struct sasl *s, const char *resp, size_t len, struct buf *challenge);
void sasl_free(struct sasl *s);	/* wipes the password */

/* Base64 (RFC 4648): 0 ok, -1 malformed. */
int base64_decode(const char *in, size_t len, struct buf *out);
void base64_encode(const void *in, size_t len, struct buf *out);

#endif
