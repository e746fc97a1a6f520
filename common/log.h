/* log: one line per event, "prog[pid]: level: text", to stderr (which the
 * master collects into log_dir/posthorn.log) or to syslog facility mail.
 * A line about a message starts with its queue id ("4F2A...: to=<...>").
 * Network bytes put in a log line go through log_safe first.  Used by all. */
#ifndef POSTHORN_LOG_H
#define POSTHORN_LOG_H

#include <stddef.h>
#include "buf.h"

void log_init(const char *progname, int use_syslog);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs and exits with code. */
void die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* Copies at most max bytes of s into out (reset first) with control and
 * non-ASCII bytes escaped as \xNN; returns out's C string. */
const char *log_safe(struct buf *out, const char *s, size_t len, size_t max);
const char *log_progname(void);

#endif
