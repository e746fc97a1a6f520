/* structure.c: where a FETCH section's bytes are in a message, and the
 * ENVELOPE / BODYSTRUCTURE / BODY items: the bridge between fetch.c and
 * the MIME parser.  Until common/mime.h lands only the top level is
 * known (numbered parts are "no such part", the structures NIL). */
#include "imapd.h"
#include "header.h"

#include <string.h>

int structure_part(const char *data, size_t len, const unsigned *path, size_t n,
		   struct part_region *r)
{
	(void)path;
	memset(r, 0, sizeof *r);
	size_t hb = header_end(data, len, NULL);
	r->body_end = len;
	r->is_message = 1;
	r->msg_hdr_end = hb;
	r->msg_body = hb;
	return n ? -1 : 0;
}

int structure_item(enum mbox_cache_field f, const char *data, size_t len, struct buf *out)
{
	(void)f;
	(void)data;
	(void)len;
	(void)out;
	return -1;
}

void imap_decode_words(struct buf *v)
{
	(void)v;
}
