/*
 * libFuzzer target for sched's state files (lib/queue.c).  Invariants: a
 * parsed state holds exactly `count` index entries with non-empty
 * domains and final marks from the documented set; valid_len ends at a
 * LF within the input; formatting the header and index again and parsing
 * that gives the same index; an error names the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_state st, again;
	struct buf err = BUF_INIT, out = BUF_INIT;
	if (queue_state_parse((const char *)data, size, "state", &st, &err) == 0) {
		if (st.valid_len > size || (st.valid_len > 0 && data[st.valid_len - 1] != '\n'))
			abort();
		for (size_t i = 0; i < st.count; i++) {
			if (st.domain[i] == NULL || st.domain[i][0] == '\0' || st.pos[i].length == 0)
				abort();
			if (st.final[i] != QUEUE_OPEN && st.final[i] != QUEUE_DELIVERED &&
			    st.final[i] != QUEUE_FAILED && st.final[i] != QUEUE_EXPIRED)
				abort();
		}
		queue_state_format(&st, &out);
		if (queue_state_parse(out.data, out.len, "again", &again, &err) != 0)
			abort();
		if (again.count != st.count || strcmp(again.batch, st.batch) != 0 ||
		    strcmp(again.campaign, st.campaign) != 0)
			abort();
		for (size_t i = 0; i < st.count; i++)
			if (again.pos[i].offset != st.pos[i].offset ||
			    again.pos[i].length != st.pos[i].length ||
			    strcmp(again.domain[i], st.domain[i]) != 0 || again.test[i] != st.test[i])
				abort();
		queue_state_free(&again);
		queue_state_free(&st);
	} else if (strncmp(buf_cstr(&err), "state", 5) != 0) {
		abort();
	}
	buf_free(&err);
	buf_free(&out);
	return 0;
}
