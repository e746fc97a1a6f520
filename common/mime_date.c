/* mime_date: RFC 5322 date-time to time_t, with the obsolete forms mail
 * still carries (RFC 5322 4.3: two- and three-digit years, zone names and
 * military zones, comments and folding anywhere, no seconds, no weekday).
 * Used by imapd for SEARCH SENTBEFORE/SENTON/SENTSINCE. */
#include "mime_int.h"

#include <string.h>
#include <time.h>

struct dlex {
	const char *p, *end;
};

/* Skips white space, commas and comments (nesting counted). */
static void dskip(struct dlex *x)
{
	while (x->p < x->end) {
		char c = *x->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',')
			x->p++;
		else if (c == '(') {
			int level = 0;
			do {
				if (*x->p == '(')
					level++;
				else if (*x->p == ')')
					level--;
				else if (*x->p == '\\' && x->p + 1 < x->end)
					x->p++;
				x->p++;
			} while (x->p < x->end && level > 0);
		} else
			return;
	}
}

/* A number of 1..max digits: its value, or -1. */
static long dnum(struct dlex *x, int max, int *digits)
{
	long v = 0;
	int n = 0;
	dskip(x);
	while (x->p < x->end && *x->p >= '0' && *x->p <= '9' && n < max) {
		v = v * 10 + (*x->p++ - '0');
		n++;
	}
	if (digits)
		*digits = n;
	return n ? v : -1;
}

/* A word of letters, lower-cased into w (at most 15 letters). */
static size_t dword(struct dlex *x, char *w)
{
	size_t n = 0;
	dskip(x);
	while (x->p < x->end && ((*x->p >= 'a' && *x->p <= 'z') || (*x->p >= 'A' && *x->p <= 'Z'))) {
		if (n < 15)
			w[n++] = (char)(*x->p | 0x20);
		x->p++;
	}
	w[n] = '\0';
	return n;
}

static int month_of(const char *w)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	if (strlen(w) < 3)
		return -1;
	for (int i = 0; i < 12; i++)
		if (memcmp(names + 3 * i, w, 3) == 0)
			return i;
	return -1;
}

/* Zone names of RFC 5322 4.3: minutes east of UTC, or 0 for the
 * unknown and military ones (whose meaning RFC 5322 says is unknown). */
static int zone_name(const char *w)
{
	static const struct { const char *n; int min; } z[] = {
		{"ut", 0}, {"utc", 0}, {"gmt", 0}, {"z", 0},
		{"edt", -4 * 60}, {"est", -5 * 60}, {"cdt", -5 * 60}, {"cst", -6 * 60},
		{"mdt", -6 * 60}, {"mst", -7 * 60}, {"pdt", -7 * 60}, {"pst", -8 * 60},
	};
	for (size_t i = 0; i < sizeof z / sizeof z[0]; i++)
		if (strcmp(w, z[i].n) == 0)
			return z[i].min;
	return 0;
}

/* The zone: "+hhmm", "-hhmm" or a name; minutes east. */
static int zone(struct dlex *x)
{
	dskip(x);
	if (x->p < x->end && (*x->p == '+' || *x->p == '-')) {
		int sign = *x->p++ == '-' ? -1 : 1, digits;
		long v = dnum(x, 4, &digits);
		if (v < 0 || digits != 4 || v % 100 > 59)
			return 0;
		return sign * (int)(v / 100 * 60 + v % 100);
	}
	char w[16];
	return dword(x, w) ? zone_name(w) : 0;
}

static long full_year(long y, int digits)
{
	if (digits == 2)
		return y < 50 ? 2000 + y : 1900 + y;
	if (digits == 3)
		return 1900 + y;
	return y;
}

/* hour ":" minute [":" second] */
static int clock_time(struct dlex *x, struct tm *tm)
{
	long h = dnum(x, 2, NULL);
	dskip(x);
	if (h < 0 || x->p >= x->end || *x->p != ':')
		return -1;
	x->p++;
	long mi = dnum(x, 2, NULL), s = 0;
	dskip(x);
	if (x->p < x->end && *x->p == ':') {
		x->p++;
		s = dnum(x, 2, NULL);
	}
	if (mi < 0 || s < 0 || h > 23 || mi > 59 || s > 60)
		return -1;
	tm->tm_hour = (int)h;
	tm->tm_min = (int)mi;
	tm->tm_sec = (int)(s == 60 ? 59 : s);
	return 0;
}

/* [weekday ","] day month year */
static int calendar_date(struct dlex *x, struct tm *tm)
{
	char w[16];
	const char *save = x->p;
	if (dword(x, w) == 0)	/* no weekday */
		x->p = save;
	int yd;
	long d = dnum(x, 2, NULL);
	int mo = dword(x, w) ? month_of(w) : -1;
	long y = dnum(x, 4, &yd);
	if (d < 1 || d > 31 || mo < 0 || y < 0 || yd < 2)
		return -1;
	tm->tm_mday = (int)d;
	tm->tm_mon = mo;
	tm->tm_year = (int)(full_year(y, yd) - 1900);
	return 0;
}

int mime_parse_date(const char *s, size_t len, time_t *t, int *tzoff)
{
	struct dlex x = {s, s + len};
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (calendar_date(&x, &tm) < 0 || clock_time(&x, &tm) < 0)
		return -1;
	int z = zone(&x);
	time_t v = timegm(&tm);
	if (v == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31))
		return -1;
	*t = v - (time_t)z * 60;
	if (tzoff)
		*tzoff = z * 60;
	return 0;
}
