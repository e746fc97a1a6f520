/* deliver.c: one recipient of one queued message into its Maildir (runs
 * in a worker process of local).  The order: users table (unknown:
 * permanent), mail loop check on our Delivered-To: headers (permanent),
 * Maildir creation, quota (temporary), then the crash-safe delivery of
 * common/maildir.c under the deterministic name that makes a repeated
 * attempt find its own earlier copy. */
#include "local.h"
#include "fsutil.h"
#include "header.h"
#include "log.h"
#include "maildir.h"
#include "resolve.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Host part of the Maildir names: stable across attempts, so the config's
 * hostname when set. */
static void local_host(const struct config *cfg, struct buf *host)
{
	const char *h = config_str(cfg, "hostname");
	char sys[256] = "";
	if (!h || !*h) {
		if (gethostname(sys, sizeof sys - 1) < 0 || !sys[0])
			memcpy(sys, "localhost", 10);
		h = sys;
	}
	buf_set(host, h, strlen(h));
	buf_cstr(host);
}

/* Users table lookup with the +extension falling back to the base user:
 * 1 found, 0 unknown, -1 table error. */
static int find_user(struct resolver *r, const struct buf *rcpt, struct buf *val)
{
	int k = resolve_user(r, rcpt->s, rcpt->len, val);
	if (k != 0)
		return k;
	const char *at = memrchr(rcpt->s, '@', rcpt->len);
	const char *plus = at ? memchr(rcpt->s, '+', (size_t)(at - rcpt->s)) : NULL;
	if (!plus || plus == rcpt->s)
		return 0;
	struct buf base = BUF_INIT;
	buf_append(&base, rcpt->s, (size_t)(plus - rcpt->s));
	buf_append(&base, at, (size_t)(rcpt->s + rcpt->len - at));
	k = resolve_user(r, base.s, base.len, val);
	buf_free(&base);
	return k;
}

/* Creates each missing directory of mailbox below mail_dir (mode 0700,
 * parent fsynced), then the Maildir's own subdirectories. */
static int make_mailbox(const char *mail_dir, const struct buf *mailbox, struct buf *path)
{
	buf_reset(path);
	buf_puts(path, mail_dir);
	size_t i = 0;
	while (i < mailbox->len) {
		const char *slash = memchr(mailbox->s + i, '/', mailbox->len - i);
		size_t end = slash ? (size_t)(slash - mailbox->s) : mailbox->len;
		if (end > i) {
			buf_putc(path, '/');
			buf_append(path, mailbox->s + i, end - i);
			if (end < mailbox->len) {
				if (mkdir(buf_cstr(path), 0700) == 0) {
					if (fsync_parent(path->s) < 0)
						return -1;
				} else if (errno != EEXIST) {
					return -1;
				}
			}
		}
		i = end + 1;
	}
	return maildir_make(buf_cstr(path));
}

/* Our Delivered-To: copies in the message header (read from the queue
 * file, at most max_header_size bytes of it). */
static int loop_count(const struct config *cfg, const struct local_request *rq, size_t *count)
{
	unsigned long long max = (unsigned long long)config_num(cfg, "max_header_size");
	size_t want = (size_t)(rq->len < max ? rq->len : max);
	struct buf h = BUF_INIT;
	buf_reserve(&h, want);
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(rq->fd, h.s + got, want - got, (off_t)(rq->off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf_free(&h);
			if (n == 0)
				errno = ENODATA;
			return -1;
		}
		got += (size_t)n;
	}
	*count = header_count_value(h.s, got, "Delivered-To", rq->rcpt.s, rq->rcpt.len);
	buf_free(&h);
	return 0;
}

static void reply_errno(struct local_reply *rp, const char *what, int e)
{
	if (e == ENOSPC)
		reply_set(rp, '4', "4.3.1 mail system full: %s: %s", what, strerror(e));
	else if (e == EDQUOT)
		reply_set(rp, '4', "4.2.2 mailbox full: %s: %s", what, strerror(e));
	else if (e == ENODATA)
		reply_set(rp, '4', "4.3.0 queue file shorter than its message");
	else
		reply_set(rp, '4', "4.2.0 %s: %s", what, strerror(e));
}

/* Everything after the users table said where the mail goes. */
static void deliver_to(const struct config *cfg, const struct local_request *rq,
		       const char *dir, unsigned long long quota,
		       struct local_reply *rp, struct buf *name)
{
	struct buf head = BUF_INIT, host = BUF_INIT;
	buf_printf(&head, "Return-Path: <%.*s>\nDelivered-To: %.*s\n",
		   (int)rq->sender.len, rq->sender.s ? rq->sender.s : "",
		   (int)rq->rcpt.len, rq->rcpt.s);
	unsigned long long size = rq->len + head.len;
	int k = maildir_quota_check(dir, quota, size);
	if (k == 0) {
		reply_set(rp, '4', "4.2.2 mailbox full");
	} else if (k < 0) {
		reply_errno(rp, "quota check", errno);
	} else {
		local_host(cfg, &host);
		maildir_queue_name(name, rq->arrival, rq->qid.s, rq->index,
				   host.s, size);
		struct maildir_source src = {head.s, head.len, rq->fd, (off_t)rq->off, rq->len};
		k = maildir_deliver(dir, name->s, &src);
		if (k < 0) {
			reply_errno(rp, "maildir delivery", errno);
		} else {
			if (k == MD_DELIVERED && quota > 0 && maildir_quota_add(dir, (long long)size, 1) < 0)
				log_warn("%s: cannot update maildirsize: %s", rq->qid.s, strerror(errno));
			reply_set(rp, '2', "2.0.0 delivered to maildir%s",
				  k == MD_EXISTS ? " (by an earlier attempt)" : "");
		}
	}
	buf_free(&head);
	buf_free(&host);
}

static void log_result(const struct local_request *rq, const struct local_reply *rp,
		       const struct buf *name)
{
	struct buf safe = BUF_INIT;
	log_safe(&safe, rq->rcpt.s, rq->rcpt.len, 300);
	/* posthorn-log(5): "QID: to=<ADDR> status=WORD ..." like qmgr and remote */
	if (rp->status == '2')
		log_info("%s: to=<%s> status=sent maildir=%s", rq->qid.s, safe.s, name->s);
	else
		log_info("%s: to=<%s> status=%s (%.*s)", rq->qid.s, safe.s,
			 rp->status == '4' ? "deferred" : "bounced", (int)rp->text.len, rp->text.s);
	buf_free(&safe);
}

/* From the users table entry to the delivery. */
static void deliver_user(const struct config *cfg, const struct local_request *rq,
			 const struct buf *val, struct local_reply *rp, struct buf *name)
{
	struct buf mailbox = BUF_INIT, dir = BUF_INIT;
	unsigned long long quota;
	const char *mail_dir = config_str(cfg, "mail_dir");
	long long limit = config_num(cfg, "delivered_to_limit");
	size_t loops = 0;
	struct stat st;
	if (resolve_mailbox(val, &mailbox, &quota) < 0)
		reply_set(rp, '4', "4.3.5 bad mailbox in the users table");
	else if (stat(mail_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		reply_set(rp, '4', "4.3.5 mail_dir %s is missing", mail_dir);
	else if (loop_count(cfg, rq, &loops) < 0)
		reply_errno(rp, "reading the queue file", errno);
	else if (limit > 0 && loops >= (unsigned long long)limit)
		reply_set(rp, '5', "5.4.6 mail loop: message already delivered to %.*s",
			  (int)rq->rcpt.len, rq->rcpt.s);
	else if (make_mailbox(mail_dir, &mailbox, &dir) < 0)
		reply_errno(rp, "cannot create maildir", errno);
	else
		deliver_to(cfg, rq, dir.s, quota, rp, name);
	buf_free(&mailbox);
	buf_free(&dir);
}

void local_deliver(const struct config *cfg, const struct local_request *rq,
		   struct local_reply *rp)
{
	struct resolver r;
	struct buf val = BUF_INIT, name = BUF_INIT;
	if (resolver_open(&r, cfg) < 0) {
		reply_errno(rp, "cannot open the users table", errno);
	} else {
		int k = find_user(&r, &rq->rcpt, &val);
		resolver_close(&r);
		if (k < 0)
			reply_errno(rp, "users table lookup", errno);
		else if (k == 0)
			reply_set(rp, '5', "5.1.1 user unknown");
		else
			deliver_user(cfg, rq, &val, rp, &name);
	}
	log_result(rq, rp, &name);
	buf_free(&val);
	buf_free(&name);
}
