/* log: event logging (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

static const char *prog = "posthorn";
static int to_syslog;

void log_init(const char *progname, int use_syslog)
{
	prog = progname;
	to_syslog = use_syslog;
	if (to_syslog)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

const char *log_progname(void)
{
	return prog;
}

static void vlog(int prio, const char *level, const char *fmt, va_list ap)
{
	struct buf line = BUF_INIT;
	buf_vprintf(&line, fmt, ap);
	/* one event, one line: never let a newline split it */
	for (size_t i = 0; i < line.len; i++)
		if (line.s[i] == '\n' || line.s[i] == '\r')
			line.s[i] = ' ';
	if (to_syslog) {
		syslog(prio, "%s: %s", level, buf_cstr(&line));
	} else {
		struct buf out = BUF_INIT;
		buf_printf(&out, "%s[%ld]: %s: ", prog, (long)getpid(), level);
		buf_append(&out, line.s, line.len);
		buf_putc(&out, '\n');
		ssize_t w = write(2, out.s, out.len);	/* one write: lines stay whole */
		(void)w;
		buf_free(&out);
	}
	buf_free(&line);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_INFO, "info", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_WARNING, "warning", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_ERR, "error", fmt, ap);
	va_end(ap);
}

void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_ERR, "fatal", fmt, ap);
	va_end(ap);
	exit(code);
}

const char *log_safe(struct buf *out, const char *s, size_t len, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	buf_reset(out);
	for (size_t i = 0; i < len && out->len < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			buf_putc(out, (char)c);
		} else {
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
			buf_append(out, e, 4);
		}
	}
	if (len && out->len >= max)
		buf_puts(out, "...");
	return buf_cstr(out);
}
