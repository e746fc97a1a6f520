/* schedule: qmgr's in-memory schedule.  New and due messages wait in a
 * FIFO (ready); deferred ones in a min-heap by next attempt time, so a
 * queue of thousands costs O(log n) per deferral and nothing per idle
 * second.  Both hold queue ids only: a message's file is opened when its
 * attempt starts. */
#include "qmgr.h"

#include <stdlib.h>
#include <string.h>

static struct entry *ready;
static size_t ready_head, ready_len, ready_cap;	/* ring buffer */

static struct entry *heap;
static size_t heap_len, heap_cap;

void ready_push(const char *qid)
{
	if (ready_len == ready_cap) {
		size_t ncap = ready_cap ? size_mul(ready_cap, 2) : 256;
		struct entry *n = xmalloc(size_mul(ncap, sizeof *n));
		for (size_t i = 0; i < ready_len; i++)
			n[i] = ready[(ready_head + i) % ready_cap];
		free(ready);
		ready = n;
		ready_cap = ncap;
		ready_head = 0;
	}
	struct entry *e = &ready[(ready_head + ready_len++) % ready_cap];
	memset(e, 0, sizeof *e);
	size_t n = strlen(qid);
	memcpy(e->qid, qid, n < QID_MAX ? n : QID_MAX);
}

int ready_pop(struct entry *e)
{
	if (ready_len == 0)
		return 0;
	*e = ready[ready_head];
	ready_head = (ready_head + 1) % ready_cap;
	ready_len--;
	return 1;
}

size_t ready_count(void)
{
	return ready_len;
}

static void heap_swap(size_t a, size_t b)
{
	struct entry t = heap[a];
	heap[a] = heap[b];
	heap[b] = t;
}

void deferred_push(const struct entry *e)
{
	if (heap_len == heap_cap) {
		heap_cap = heap_cap ? size_mul(heap_cap, 2) : 256;
		heap = xrealloc(heap, size_mul(heap_cap, sizeof *heap));
	}
	size_t i = heap_len++;
	heap[i] = *e;
	while (i > 0 && heap[(i - 1) / 2].next > heap[i].next) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_pop(struct entry *e)
{
	*e = heap[0];
	heap[0] = heap[--heap_len];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < heap_len && heap[l].next < heap[m].next)
			m = l;
		if (r < heap_len && heap[r].next < heap[m].next)
			m = r;
		if (m == i)
			break;
		heap_swap(i, m);
		i = m;
	}
}

void deferred_release(time_t now, int flush)
{
	struct entry e;
	while (heap_len > 0 && (flush || heap[0].next <= now)) {
		heap_pop(&e);
		ready_push(e.qid);
	}
}

long long deferred_wait(time_t now)
{
	if (heap_len == 0)
		return -1;
	return heap[0].next <= now ? 0 : (long long)(heap[0].next - now);
}
