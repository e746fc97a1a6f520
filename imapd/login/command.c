/* command.c: reads one IMAP command before login with its literals (RFC
 * 3501 4.3, RFC 7888), bounded: IMAP_CMD_MAX bytes in all, at most
 * IMAP_LITS_MAX literals, non-synchronising ones at most IMAP_NONSYNC_MAX.
 * A synchronising literal gets its "+" only when it fits, so an oversized
 * one is refused before the client sends it.  Used by session.c. */
#include "login.h"

#include <string.h>

int cmd_literal_suffix(const char *s, size_t n, size_t *size, int *nonsync, size_t *start)
{
	if (n < 3 || s[n - 1] != '}')
		return 0;
	size_t i = n - 1;
	*nonsync = i > 0 && s[i - 1] == '+';
	if (*nonsync)
		i--;
	size_t end = i, v = 0;
	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	if (i == end || i == 0 || s[i - 1] != '{' || end - i > 9)
		return 0;
	for (size_t k = i; k < end; k++)
		v = v * 10 + (size_t)(s[k] - '0');
	*size = v;
	*start = i - 1;
	return 1;
}

void cmd_clear(struct imap_cmd *cmd)
{
	for (size_t i = 0; i <= IMAP_LITS_MAX; i++) {
		if (cmd->line[i].s)
			explicit_bzero(cmd->line[i].s, cmd->line[i].cap);
		buf_reset(&cmd->line[i]);
		if (i < IMAP_LITS_MAX) {
			if (cmd->lit[i].s)
				explicit_bzero(cmd->lit[i].s, cmd->lit[i].cap);
			buf_reset(&cmd->lit[i]);
		}
	}
	cmd->nlit = 0;
	cmd->total = 0;
}

void cmd_free(struct imap_cmd *cmd)
{
	cmd_clear(cmd);
	for (size_t i = 0; i <= IMAP_LITS_MAX; i++) {
		buf_free(&cmd->line[i]);
		if (i < IMAP_LITS_MAX)
			buf_free(&cmd->lit[i]);
	}
}

/* One line into cmd->line[cmd->nlit], CRLF removed. */
static int read_line(struct imap_login *l, struct imap_cmd *cmd)
{
	struct buf *line = &cmd->line[cmd->nlit];
	int r = io_getline(&l->c.io, line, IMAP_CMD_MAX - cmd->total + 2);
	if (r == LINE_EOF || r == LINE_ERR)
		return CMD_EOF;
	if (r == LINE_TOOLONG)
		return CMD_TOOLONG;
	if (line->len && line->s[line->len - 1] == '\n')
		line->len--;
	if (line->len && line->s[line->len - 1] == '\r')
		line->len--;
	cmd->total += line->len;
	return CMD_OK;
}

/* The literal announced at the end of the last line: CMD_OK read (or
 * none: *more = 0), else why not. */
static int read_literal(struct imap_login *l, struct imap_cmd *cmd, int *more)
{
	const struct buf *line = &cmd->line[cmd->nlit];
	size_t n, start;
	int nonsync;
	*more = cmd_literal_suffix(line->s, line->len, &n, &nonsync, &start);
	if (!*more)
		return CMD_OK;
	if (nonsync && n > IMAP_NONSYNC_MAX)
		return CMD_NONSYNC_BIG;
	if (cmd->nlit == IMAP_LITS_MAX)
		return nonsync ? CMD_NONSYNC_BIG : CMD_LITERALS;
	if (n > IMAP_CMD_MAX - cmd->total)
		return nonsync ? CMD_NONSYNC_BIG : CMD_BIGLIT;
	if (!nonsync) {
		io_puts(&l->c.io, "+ go ahead\r\n");
		if (io_flush(&l->c.io) < 0)
			return CMD_EOF;
	}
	if (io_read_exact(&l->c.io, &cmd->lit[cmd->nlit], n) < 0)
		return CMD_EOF;
	cmd->total += n;
	cmd->nlit++;
	return CMD_OK;
}

int cmd_read(struct imap_login *l, struct imap_cmd *cmd)
{
	cmd_clear(cmd);
	for (;;) {
		int more, r = read_line(l, cmd);
		if (r == CMD_OK)
			r = read_literal(l, cmd, &more);
		if (r != CMD_OK || !more)
			return r;
	}
}
