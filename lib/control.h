/*
 * control - reading control/ settings, qmail style: one small file per
 * setting, whose first line that is neither empty nor a # comment is the
 * value.  Each setting is declared once (name, default, range, meaning)
 * by the program that uses it, validated at start and refused loudly,
 * naming file and line, when wrong.  See docs/control.md.
 */
#ifndef MAILSHOT_CONTROL_H
#define MAILSHOT_CONTROL_H

#include <stdio.h>

#include "buf.h"

struct control_setting {
	const char *name;
	int is_int;        /* 1: integer in [min, max]; 0: string */
	const char *def;   /* default, as text */
	long min, max;
	const char *doc;
};

struct control_value {
	const struct control_setting *setting;
	long number;
	char *text;
	int from_file; /* 1 when the file exists */
};

/* Reads every setting of the table (ended by a NULL name) into values.
 * Returns 0, or -1 with err set ("spool/control/x:LINE: what"): a value
 * out of range or not a number (permanent), or an unreadable file. */
int control_load(const char *root, const struct control_setting *table,
		 struct control_value *values, struct buf *err);
void control_free(const struct control_setting *table, struct control_value *values);

/*
 * Reads control/secret, the key of VERP and unsubscribe tokens (one line
 * of at least min bytes; never printed by --dump-config).  Returns 1
 * with the secret in out, 0 when the file does not exist, -1 with err
 * when it cannot be read (temporary), -2 with err when it is too short
 * (permanent).
 */
int control_read_secret(const char *root, size_t min, struct buf *out, struct buf *err);

/* Prints the settings as "name = value  (default|control/name)  # doc". */
void control_dump(FILE *out, const struct control_setting *table,
		  const struct control_value *values);

#endif
