/* queue.c: posthorn flush and posthorn queue (show, delete, list).
 * PLACEHOLDER created by the ops engineer only to keep bin/posthorn
 * linking; the queue engineer owns this file and replaces it. */
#include <stdio.h>
#include "posthorn.h"

int cmd_flush(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "posthorn: flush: not yet implemented\n");
	return 1;
}

int cmd_queue(const struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "posthorn: queue: not yet implemented\n");
	return 1;
}
