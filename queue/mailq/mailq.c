/*
 * NAME
 *     mailq - list the posthorn mail queue
 *
 * SYNOPSIS
 *     mailq [-c CONFIG]
 *
 * DESCRIPTION
 *     Prints every queued message: queue id ('*' once qmgr has taken it
 *     into active/, '!' on hold), message size, arrival time and sender,
 *     then each recipient still to do, under the reason of its last
 *     deferral (from defer/QID).  A damaged file is listed as "damaged:
 *     REASON", one written by a newer posthorn as "needs a newer posthorn".
 *     Ends with the total, or prints "Mail queue is empty".  The same
 *     listing is `sendmail -bp` and `posthorn queue list`.  Run by a user
 *     other than root or user_queue: "mailq: permission denied: ..." and
 *     exit 1.
 *
 * EXIT STATUS
 *     0 listed; 1 the queue cannot be read (message on stderr); 2 usage.
 *
 * FILES
 *     QUEUE/incoming/, QUEUE/active/, QUEUE/hold/, QUEUE/corrupt/, QUEUE/defer/
 */
#include "config.h"
#include "log.h"
#include "qfile.h"

#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *path = config_default_path();
	int c;
	while ((c = getopt(argc, argv, "c:")) != -1) {
		if (c != 'c') {
			fprintf(stderr, "usage: mailq [-c CONFIG]\n");
			return 2;
		}
		path = optarg;
	}
	struct config cfg;
	struct buf err = BUF_INIT;
	if (config_load(&cfg, path, &err) < 0) {
		fprintf(stderr, "mailq: %s\n", buf_cstr(&err));
		return 1;
	}
	int r = qlist_print(&cfg, 1, &err);
	if (r < 0)
		fprintf(stderr, "mailq: %s\n", buf_cstr(&err));
	config_free(&cfg);
	buf_free(&err);
	return r < 0 ? 1 : 0;
}
