/*
 * classifywords - the phrase lists of classify.c, in the order they are
 * tried.  Part of classify (see classify.h); not for callers.
 *
 * Every phrase is lower case with single spaces, matched as a plain
 * substring of the normalized text (classify.c says how it is made).
 */
#ifndef MAILSHOT_CLASSIFYWORDS_H
#define MAILSHOT_CLASSIFYWORDS_H

#include <stddef.h>

#include "classify.h"

struct phrase_group {
	enum bounce_reason reason;
	int weak;		    /* tier 3: tried only after the status */
	int domain_rule;	    /* "<domain name> does not exist" is tried first */
	const char *const *phrases; /* NULL-terminated */
};

/* The groups in the order they are tried (classify.c says why). */
extern const struct phrase_group classify_groups[];
extern const size_t classify_ngroups;

/* Wording that names no cause although it holds cause words: a reporting
 * MTA's label for a status class ("unknown address error" is Amazon SES's
 * for X.1.0, put before the remote server's own reply), a retry count,
 * a product name.  Blanked out before the groups are tried. */
extern const char *const classify_wrapper_words[];

/* The reply answered the end of DATA: the recipient had been accepted. */
extern const char *const classify_after_data_words[];

#endif
