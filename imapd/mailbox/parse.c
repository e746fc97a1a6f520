/* parse.c: imapd's I/O-free command parser (RFC 3501 section 9 grammar):
 * tags, atoms, quoted strings, literals, astrings, parenthesised lists
 * (nesting bounded), numbers, sequence sets and dates, plus the date
 * output that must agree with it (strings go out through
 * common/imapfmt.h).  session.c
 * assembles a command's lines and literal bytes into one buffer first, so
 * nothing here reads or waits; tests/unit/test_imap_parse.c and
 * tests/fuzz/fuzz_imap.c call it directly. */
#include "imapd.h"
#include "mbox.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void imap_p_init(struct imap_parser *p, char *s, size_t len)
{
	p->s = s;
	p->len = len;
	p->pos = 0;
	p->depth = 0;
}

int imap_p_peek(const struct imap_parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

int imap_p_end(const struct imap_parser *p)
{
	return p->pos >= p->len;
}

int imap_p_char(struct imap_parser *p, char c)
{
	if (imap_p_peek(p) != (unsigned char)c)
		return -1;
	p->pos++;
	return 0;
}

int imap_p_sp(struct imap_parser *p)
{
	return imap_p_char(p, ' ');
}

static int is_atom_char(int c)
{
	if (c <= 0x1f || c >= 0x7f)
		return 0;
	return !strchr("(){ %*\"\\]", c);
}

static int is_astring_char(int c)
{
	return c == ']' || is_atom_char(c);
}

static int is_list_char(int c)
{
	return c == '%' || c == '*' || is_astring_char(c);
}

/* The longest run of bytes in class; -1 if empty. */
static int take_run(struct imap_parser *p, int (*cls)(int), struct imap_str *out)
{
	size_t start = p->pos;
	while (p->pos < p->len && cls((unsigned char)p->s[p->pos]))
		p->pos++;
	if (p->pos == start)
		return -1;
	out->p = p->s + start;
	out->n = p->pos - start;
	return 0;
}

static int is_tag_char(int c)
{
	return c != '+' && is_astring_char(c);
}

int imap_p_tag(struct imap_parser *p, struct imap_str *out)
{
	return take_run(p, is_tag_char, out);
}

int imap_p_atom(struct imap_parser *p, struct imap_str *out)
{
	return take_run(p, is_atom_char, out);
}

int imap_p_word(struct imap_parser *p, const char *word)
{
	size_t n = strlen(word);
	if (p->len - p->pos < n || !mem_caseeq(p->s + p->pos, n, word, n))
		return -1;
	/* a whole word: not the prefix of a longer atom ('[' ends a FETCH
	 * attribute name) */
	if (p->pos + n < p->len && p->s[p->pos + n] != '['
	    && is_atom_char((unsigned char)p->s[p->pos + n])
	    && is_atom_char((unsigned char)word[n - 1]))
		return -1;
	p->pos += n;
	return 0;
}

/* Quoted string, unescaped in place. */
static int take_quoted(struct imap_parser *p, struct imap_str *out)
{
	size_t i = p->pos + 1, w = i;
	while (i < p->len) {
		unsigned char c = (unsigned char)p->s[i];
		if (c == '"') {
			out->p = p->s + p->pos + 1;
			out->n = w - (p->pos + 1);
			p->pos = i + 1;
			return 0;
		}
		if (c == '\r' || c == '\n' || c == 0)
			return -1;
		if (c == '\\') {
			if (i + 1 >= p->len || (p->s[i + 1] != '"' && p->s[i + 1] != '\\'))
				return -1;
			c = (unsigned char)p->s[++i];
		}
		p->s[w++] = (char)c;
		i++;
	}
	return -1;
}

/* "{n}" or "{n+}", a line end, then n bytes. */
static int take_literal(struct imap_parser *p, struct imap_str *out)
{
	size_t i = p->pos + 1;
	unsigned long long n = 0;
	size_t digits = 0;
	while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') {
		if (++digits > IMAP_LITERAL_DIGITS)
			return -1;
		n = n * 10 + (unsigned long long)(p->s[i++] - '0');
	}
	if (!digits)
		return -1;
	if (i < p->len && p->s[i] == '+')
		i++;
	if (i >= p->len || p->s[i++] != '}')
		return -1;
	if (i < p->len && p->s[i] == '\r')
		i++;
	if (i >= p->len || p->s[i++] != '\n')
		return -1;
	if (n > p->len - i)
		return -1;
	out->p = p->s + i;
	out->n = (size_t)n;
	p->pos = i + (size_t)n;
	return 0;
}

int imap_p_string(struct imap_parser *p, struct imap_str *out)
{
	int c = imap_p_peek(p);
	if (c == '"')
		return take_quoted(p, out);
	if (c == '{')
		return take_literal(p, out);
	return -1;
}

int imap_p_astring(struct imap_parser *p, struct imap_str *out)
{
	if (imap_p_string(p, out) == 0)
		return 0;
	return take_run(p, is_astring_char, out);
}

int imap_p_listmbox(struct imap_parser *p, struct imap_str *out)
{
	if (imap_p_string(p, out) == 0)
		return 0;
	return take_run(p, is_list_char, out);
}

int imap_p_nstring(struct imap_parser *p, struct imap_str *out)
{
	if (imap_p_word(p, "NIL") == 0) {
		out->p = NULL;
		out->n = 0;
		return 0;
	}
	return imap_p_string(p, out);
}

int imap_p_flag(struct imap_parser *p, struct imap_str *out)
{
	size_t start = p->pos;
	if (imap_p_peek(p) == '\\')
		p->pos++;
	struct imap_str a;
	if (take_run(p, is_atom_char, &a) < 0) {
		/* "\*" only appears in PERMANENTFLAGS, never from a client */
		p->pos = start;
		return -1;
	}
	out->p = p->s + start;
	out->n = p->pos - start;
	return 0;
}

int imap_p_number(struct imap_parser *p, unsigned long long *out)
{
	size_t start = p->pos;
	unsigned long long v = 0;
	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		unsigned d = (unsigned)(p->s[p->pos] - '0');
		if (v > (0x7fffffffffffffffULL - d) / 10) {
			p->pos = start;
			return -1;
		}
		v = v * 10 + d;
		p->pos++;
	}
	if (p->pos == start)
		return -1;
	*out = v;
	return 0;
}

int imap_p_nznumber(struct imap_parser *p, unsigned long *out)
{
	size_t start = p->pos;
	unsigned long long v;
	if (imap_p_number(p, &v) < 0 || v == 0 || v > 0xffffffffULL) {
		p->pos = start;
		return -1;
	}
	*out = (unsigned long)v;
	return 0;
}

int imap_p_open(struct imap_parser *p)
{
	if (p->depth >= IMAP_DEPTH_MAX || imap_p_char(p, '(') < 0)
		return -1;
	p->depth++;
	return 0;
}

int imap_p_close(struct imap_parser *p)
{
	if (p->depth <= 0 || imap_p_char(p, ')') < 0)
		return -1;
	p->depth--;
	return 0;
}

static int seq_number(struct imap_parser *p, unsigned long *out)
{
	if (imap_p_char(p, '*') == 0) {
		*out = 0;
		return 0;
	}
	return imap_p_nznumber(p, out);
}

void imap_seqset_free(struct imap_seqset *s)
{
	free(s->r);
	s->r = NULL;
	s->n = 0;
}

int imap_p_seqset(struct imap_parser *p, struct imap_seqset *out)
{
	size_t cap = 0;
	out->r = NULL;
	out->n = 0;
	do {
		struct imap_range r;
		if (seq_number(p, &r.lo) < 0)
			goto bad;
		r.hi = r.lo;
		if (imap_p_char(p, ':') == 0 && seq_number(p, &r.hi) < 0)
			goto bad;
		if (out->n == IMAP_SEQ_MAX)
			goto bad;
		if (out->n == cap) {
			cap = cap ? size_mul(cap, 2) : 4;
			out->r = xrealloc(out->r, size_mul(cap, sizeof *out->r));
		}
		out->r[out->n++] = r;
	} while (imap_p_char(p, ',') == 0);
	return 0;
bad:
	imap_seqset_free(out);
	return -1;
}

int imap_seqset_has(const struct imap_seqset *s, unsigned long v, unsigned long star)
{
	for (size_t i = 0; i < s->n; i++) {
		unsigned long lo = s->r[i].lo ? s->r[i].lo : star;
		unsigned long hi = s->r[i].hi ? s->r[i].hi : star;
		if (lo > hi) {
			unsigned long t = lo;
			lo = hi;
			hi = t;
		}
		if (v >= lo && v <= hi)
			return 1;
	}
	return 0;
}

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static int digits(struct imap_parser *p, size_t min, size_t max, unsigned *out)
{
	size_t n = 0;
	unsigned v = 0;
	while (n < max && p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		v = v * 10 + (unsigned)(p->s[p->pos++] - '0');
		n++;
	}
	if (n < min)
		return -1;
	*out = v;
	return 0;
}

static int month(struct imap_parser *p, unsigned *out)
{
	if (p->len - p->pos < 3)
		return -1;
	for (unsigned i = 0; i < 12; i++)
		if (mem_caseeq(p->s + p->pos, 3, months[i], 3)) {
			*out = i + 1;
			p->pos += 3;
			return 0;
		}
	return -1;
}

static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* day "-" month "-" year, day given as 1 or 2 digits (or " d"). */
static int date_text(struct imap_parser *p, long long *out)
{
	unsigned d, m, y;
	if (imap_p_peek(p) == ' ')
		p->pos++;
	if (digits(p, 1, 2, &d) < 0 || imap_p_char(p, '-') < 0 || month(p, &m) < 0
	    || imap_p_char(p, '-') < 0 || digits(p, 4, 4, &y) < 0)
		return -1;
	if (d < 1 || d > mdays[m - 1])
		return -1;
	*out = days_from_civil(y, m, d) * 86400;
	return 0;
}

int imap_p_date(struct imap_parser *p, long long *out)
{
	size_t start = p->pos;
	int q = imap_p_char(p, '"') == 0;
	if (date_text(p, out) < 0 || (q && imap_p_char(p, '"') < 0)) {
		p->pos = start;
		return -1;
	}
	return 0;
}

int imap_p_datetime(struct imap_parser *p, long long *out)
{
	size_t start = p->pos;
	unsigned hh, mm, ss, zone;
	long long day;
	if (imap_p_char(p, '"') < 0 || date_text(p, &day) < 0 || imap_p_sp(p) < 0
	    || digits(p, 2, 2, &hh) < 0 || imap_p_char(p, ':') < 0 || digits(p, 2, 2, &mm) < 0
	    || imap_p_char(p, ':') < 0 || digits(p, 2, 2, &ss) < 0 || imap_p_sp(p) < 0)
		goto bad;
	int sign = imap_p_peek(p);
	if ((sign != '+' && sign != '-') || (p->pos++, digits(p, 4, 4, &zone) < 0)
	    || imap_p_char(p, '"') < 0 || hh > 23 || mm > 59 || ss > 60 || zone % 100 > 59)
		goto bad;
	long long off = (long long)(zone / 100 * 3600 + zone % 100 * 60);
	*out = day + hh * 3600 + mm * 60 + ss - (sign == '+' ? off : -off);
	return 0;
bad:
	p->pos = start;
	return -1;
}

int imap_line_literal(const char *line, size_t len, unsigned long long *n, int *sync)
{
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	if (!len || line[len - 1] != '}')
		return 0;
	size_t end = len - 1;
	*sync = 1;
	if (end && line[end - 1] == '+') {
		*sync = 0;
		end--;
	}
	size_t i = end;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
		i--;
	if (i == 0 || line[i - 1] != '{')
		return 0;
	if (i == end || end - i > IMAP_LITERAL_DIGITS)
		return -1;
	unsigned long long v = 0;
	for (size_t k = i; k < end; k++)
		v = v * 10 + (unsigned long long)(line[k] - '0');
	*n = v;
	return 1;
}

unsigned imap_sysflag(const char *p, size_t n)
{
	static const struct {
		const char *name;
		unsigned bit;
	} f[] = {{"\\Seen", MF_SEEN}, {"\\Answered", MF_ANSWERED}, {"\\Flagged", MF_FLAGGED},
		 {"\\Deleted", MF_DELETED}, {"\\Draft", MF_DRAFT}, {"\\Recent", MF_RECENT}};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (mem_caseeq(p, n, f[i].name, strlen(f[i].name)))
			return f[i].bit;
	return 0;
}

int imap_is_keyword(const char *p, size_t n)
{
	if (!n || n > MBOX_KEYWORD_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_atom_char((unsigned char)p[i]))
			return 0;
	return 1;
}

void imap_put_datetime(struct buf *out, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm))
		memset(&tm, 0, sizeof tm);
	buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
		   months[tm.tm_mon < 0 || tm.tm_mon > 11 ? 0 : tm.tm_mon], tm.tm_year + 1900,
		   tm.tm_hour, tm.tm_min, tm.tm_sec);
}
