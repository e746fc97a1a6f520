/* children.c: what local's parent remembers about each delivery child
 * (common/agent.c keeps the table): the request id, so that a child that
 * crashes, is killed or cannot send still gets its request answered with
 * a temporary failure: qmgr always hears back. */
#include "local.h"
#include "agent.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void answer_for(int sock, void *data, int status)
{
	const struct buf *id = data;
	struct buf text = BUF_INIT;
	agent_child_failure(&text, status);
	buf_cstr(&text);
	log_warn("request %.*s: %s", (int)id->len, id->s ? id->s : "", text.s);
	if (sock >= 0 && reply_send(sock, id, '4', text.s, text.len) < 0)
		log_warn("cannot answer request %.*s: %s", (int)id->len,
			 id->s ? id->s : "", strerror(errno));
	buf_free(&text);
}

static void release(void *data)
{
	buf_free(data);
	free(data);
}

void children_init(size_t max)
{
	agent_children_init(max, answer_for, release);
}

void children_add(pid_t pid, const struct buf *id)
{
	struct buf *c = xcalloc(1, sizeof *c);
	*c = (struct buf)BUF_INIT;
	buf_copy(c, id);
	agent_children_add(pid, c);
}
