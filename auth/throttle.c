/* throttle: failed authentications per client IP, counted in one table
 * that every connection child of the auth daemon shares (MAP_SHARED |
 * MAP_ANONYMOUS, made before the first fork), so a client gains nothing by
 * opening more connections.  The table has a fixed size: when it is full
 * the oldest entry among the probed slots is reused. */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define SLOTS 4096
#define PROBES 16
#define FAIL_WINDOW 900		/* a failure older than this is forgotten */
#define MAX_DELAY 30		/* seconds: doc/design.md */
#define IP_LEN 48

struct slot {
	char ip[IP_LEN];	/* NUL-padded; "" = free */
	unsigned count;
	time_t last;
};

struct table {
	pthread_mutex_t lock;
	struct slot slot[SLOTS];
};

static struct table *tab;

int throttle_init(void)
{
	void *p = mmap(NULL, sizeof *tab, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	tab = p;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	/* a child killed while holding the lock must not stop the others */
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	int r = pthread_mutex_init(&tab->lock, &a);
	pthread_mutexattr_destroy(&a);
	return r == 0 ? 0 : -1;
}

static void lock(void)
{
	if (pthread_mutex_lock(&tab->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&tab->lock);
}

static size_t hash(const char *s, size_t n)
{
	size_t h = 5381;
	for (size_t i = 0; i < n; i++)
		h = h * 33 ^ (unsigned char)s[i];
	return h;
}

/* The slot of ip: its own, else a free or the oldest probed one. */
static struct slot *find(const char *ip, size_t n, time_t now)
{
	size_t h = hash(ip, n);
	struct slot *victim = NULL;
	for (size_t i = 0; i < PROBES; i++) {
		struct slot *s = &tab->slot[(h + i) % SLOTS];
		if (strncmp(s->ip, ip, IP_LEN) == 0)
			return s;
		if (!victim || s->ip[0] == 0 || (victim->ip[0] && s->last < victim->last))
			victim = s;
	}
	memset(victim, 0, sizeof *victim);
	memcpy(victim->ip, ip, n);
	victim->last = now;
	return victim;
}

unsigned throttle_fail(const char *ip, size_t len, unsigned base_delay)
{
	char key[IP_LEN] = {0};
	memcpy(key, ip, len < IP_LEN - 1 ? len : IP_LEN - 1);
	time_t now = time(NULL);
	unsigned count = 1;
	if (tab) {
		lock();
		struct slot *s = find(key, strlen(key), now);
		if (now - s->last > FAIL_WINDOW)
			s->count = 0;
		if (s->count < 64)
			s->count++;
		s->last = now;
		count = s->count;
		pthread_mutex_unlock(&tab->lock);
	}
	/* base, doubled for each earlier recent failure, at most MAX_DELAY */
	unsigned long long d = base_delay;
	for (unsigned i = 1; i < count && d < MAX_DELAY; i++)
		d *= 2;
	return d > MAX_DELAY ? MAX_DELAY : (unsigned)d;
}
