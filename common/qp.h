/* qp: 8-bit message -> 7-bit MIME conversion, as RFC 6152 expects of a
 * relay whose next hop does not offer 8BITMIME.  Streaming and line based
 * (remote feeds the queued message one line at a time, never all of it):
 * every leaf part whose Content-Transfer-Encoding is 8bit, 7bit or absent
 * is re-encoded as quoted-printable and its header field rewritten;
 * multipart bodies are followed through their boundaries (nested up to
 * QP_DEPTH_MAX), message/rfc822 parts are converted as their own message.
 * A message without MIME-Version gets "MIME-Version: 1.0" and, unless it
 * has one, "Content-Type: text/plain; charset=unknown-8bit" (RFC 1428's
 * label for text whose charset nobody knows), as Postfix does in spirit.
 * Parts already base64 or quoted-printable, and "binary" ones, pass as
 * they are.  Used by delivery/remote (body.c), tests/unit/test_qp.c. */
#ifndef POSTHORN_QP_H
#define POSTHORN_QP_H

#include <stddef.h>
#include "buf.h"

#define QP_DEPTH_MAX 16
#define QP_HEADER_MAX (256 * 1024)	/* one part's header; longer: passed as is */
#define QP_BOUNDARY_MAX 70		/* RFC 2046 */

struct qp_conv {
	int state;		/* in a header, a body to encode, a body to copy */
	int top;		/* the message's own header (not a part's) */
	struct buf header;	/* the current part's header lines so far */
	int depth;
	char bounds[QP_DEPTH_MAX][QP_BOUNDARY_MAX + 1];
	int overflow;		/* header too long: passed through unconverted */
};

void qp_init(struct qp_conv *q);
void qp_free(struct qp_conv *q);
/* One line of the message, without its LF; converted lines (each ending in
 * LF) are appended to out. */
void qp_line(struct qp_conv *q, const char *line, size_t len, struct buf *out);
/* End of message: whatever header is still held is flushed. */
void qp_finish(struct qp_conv *q, struct buf *out);
/* Quoted-printable of one line (RFC 2045 6.7): soft breaks keep lines at
 * most 76 characters, trailing white space encoded. Appends with LF. */
void qp_encode_line(const char *s, size_t len, struct buf *out);

#endif
