/* children.c: what remote's parent remembers about each delivery child
 * (common/agent.c keeps the table): the request id and recipient indexes,
 * so that a child that crashes, is killed (kill -9 mid-transaction) or
 * cannot send still gets its request answered: every recipient temporary
 * (4.3.0), retried later. */
#include "remote.h"
#include "agent.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void answer_for(int sock, void *data, int status)
{
	struct remote_request *rq = data;
	struct buf text = BUF_INIT;
	agent_child_failure(&text, status);
	rcpt_set_all(rq, '4', "%.*s", (int)text.len, text.s ? text.s : "");
	buf_free(&text);
	log_warn("%s: request %s: %s", buf_cstr(&rq->qid), buf_cstr(&rq->id),
		 rq->nrcpts ? buf_cstr(&rq->rcpts[0].text) : "");
	if (sock >= 0 && reply_send(sock, rq) < 0)
		log_warn("cannot answer request %s: %s", rq->id.s, strerror(errno));
}

static void release(void *data)
{
	request_free(data);
	free(data);
}

void children_init(size_t max)
{
	agent_children_init(max, answer_for, release);
}

void children_add(pid_t pid, const struct remote_request *rq)
{
	struct remote_request *c = xcalloc(1, sizeof *c);
	request_init(c);
	buf_copy(&c->id, &rq->id);
	buf_copy(&c->qid, &rq->qid);
	c->rcpts = xcalloc(rq->nrcpts ? rq->nrcpts : 1, sizeof *c->rcpts);
	c->nrcpts = rq->nrcpts;
	for (size_t i = 0; i < rq->nrcpts; i++)
		c->rcpts[i].index = rq->rcpts[i].index;
	agent_children_add(pid, c);
}
