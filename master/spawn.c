/* spawn.c: starting one per-connection program (smtpd, pop3d-login,
 * imapd-login) for listen.c without copying the master.  Everything the
 * child needs (environment, descriptors, account) is prepared here, in the
 * parent; the child, made with vfork(), only resets its signals, moves
 * descriptors, drops to the service account with raw system calls and
 * execs.  A fork would copy the master's page tables only for exec to throw
 * them away again: per connection that was the master's largest cost.
 * Account lookups are cached by name (getpwnam reads /etc/passwd), so a
 * connection costs no lookup; an account changed under a running master is
 * seen after a restart.  Used by listen.c. */
#include "master.h"
#include "log.h"
#include "privsep.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ACCOUNT_CACHE 8

static struct cached {
	char *name;
	struct account a;
} cache[ACCOUNT_CACHE];

int account_cached(const char *name, struct account *a)
{
	size_t i;
	for (i = 0; i < ACCOUNT_CACHE && cache[i].name; i++)
		if (!strcmp(cache[i].name, name)) {
			*a = cache[i].a;
			return 0;
		}
	if (account_lookup(name, a) < 0)
		return -1;	/* not cached: it may be created later */
	if (i < ACCOUNT_CACHE) {
		cache[i].name = xstrdup(name);
		cache[i].a = *a;
	}
	return 0;
}

/* The child's environment: ours, minus every name sp->env sets, plus
 * sp->env ("NAME=value\0" entries). */
static char **build_env(const struct buf *add)
{
	size_t n = 0, k = 0;
	while (environ[n])
		n++;
	for (size_t off = 0; off < add->len; off += strlen(add->s + off) + 1)
		k++;
	char **env = xcalloc(size_add(size_add(n, k), 1), sizeof *env);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t nl = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
		int replaced = 0;
		for (size_t off = 0; !replaced && off < add->len; off += strlen(add->s + off) + 1)
			replaced = !strncmp(add->s + off, environ[i], nl);
		if (!replaced)
			env[m++] = environ[i];
	}
	for (size_t off = 0; off < add->len; off += strlen(add->s + off) + 1)
		env[m++] = add->s + off;
	env[m] = NULL;
	return env;
}

/* In the vfork child: only system calls, nothing that allocates or writes
 * the master's memory.  Returns only on failure. */
static void child(const struct spawn *sp, char **env, const struct account *a, int drop,
		  const struct buf *err)
{
	child_setup();	/* signals back to default, own session, stderr to the log */
	if (sp->conn >= 0 && (dup2(sp->conn, 0) < 0 || dup2(sp->conn, 1) < 0))
		return;
	for (int i = 0; i < sp->nfds; i++)
		if (dup2(sp->fds[i], 3 + i) < 0)	/* the sources sit at 100 and up */
			return;
	if (drop) {
		gid_t groups[1] = {sp->extra_gid};
		int ng = sp->extra_gid == (gid_t)-1 ? 0 : 1;
		/* raw calls: they change this task only, never the master */
		if (syscall(SYS_setgroups, ng, groups) < 0 || syscall(SYS_setgid, a->gid) < 0 ||
		    syscall(SYS_setuid, a->uid) < 0 || syscall(SYS_setuid, 0) == 0)
			return;
	}
	execve(sp->path, sp->argv, env);
	ssize_t w = write(2, err->s, err->len);
	(void)w;
}

pid_t spawn_start(const struct spawn *sp)
{
	struct account a = {0, 0};
	int drop = sp->user && priv_is_root();
	if (drop && (account_cached(sp->user, &a) < 0 || a.uid == 0)) {
		log_error("cannot run %s: no usable account %s", sp->path, sp->user);
		errno = ENOENT;
		return -1;
	}
	char **env = build_env(&sp->env);
	struct buf err = BUF_INIT;
	buf_printf(&err, "master[%ld]: error: cannot start %s as %s\n", (long)getpid(), sp->path,
		   sp->user ? sp->user : "this user");
	/* no handler of ours may run in the child before it has reset them */
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t pid = vfork();
	if (pid == 0) {
		child(sp, env, &a, drop, &err);
		_exit(111);
	}
	int e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(env);
	buf_free(&err);
	errno = e;
	return pid;
}
