/* config: the typed configuration file shared by every posthorn program.
 * One schema (config.c) lists every key with its type and default, so an
 * unknown key or a value of the wrong type is an error naming the line.
 * File format: "key = value" lines, '#' starts a comment line.
 * Sizes take k/M/G suffixes, times s/m/h/d, booleans yes/no. */
#ifndef POSTHORN_CONFIG_H
#define POSTHORN_CONFIG_H

#include "buf.h"

enum config_type { CT_STR, CT_INT, CT_SIZE, CT_TIME, CT_BOOL };

struct config_key {
	const char *name;
	enum config_type type;
	const char *def;	/* default, in file syntax; "" = empty */
	const char *help;
};

#define CONFIG_MAX_KEYS 96

struct config {
	char *path;		/* the file read */
	char *dir;		/* its directory: where the tables live */
	char *values[CONFIG_MAX_KEYS];	/* NULL: default */
	long long nums[CONFIG_MAX_KEYS];
};

extern const struct config_key config_schema[];

/* Loads path; on failure returns -1 and puts a message in err. */
int config_load(struct config *c, const char *path, struct buf *err);
void config_free(struct config *c);
const char *config_str(const struct config *c, const char *key);
long long config_num(const struct config *c, const char *key);
int config_bool(const struct config *c, const char *key);
/* Path of a file in the config directory (tables, certificates). */
void config_file(const struct config *c, const char *name, struct buf *out);
/* Port for a service, from port_base: base 0 gives the standard port. */
int config_port(const struct config *c, int standard_port);
/* Parses a value of the given type (also used for command-line options). */
int config_parse_num(enum config_type t, const char *s, long long *out);
/* Default config path, or $POSTHORN_CONFIG. */
const char *config_default_path(void);

#endif
