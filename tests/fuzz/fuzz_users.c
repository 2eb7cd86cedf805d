/*
 * libFuzzer target for control/users (lib/priv.c): any bytes are parsed
 * or refused with a message naming the file and line; a parsed table
 * holds only valid names (1..32 of [A-Za-z0-9._-], not starting with
 * '-'), each NUL-terminated within its slot.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct priv_users u;
	struct buf err = BUF_INIT;
	if (priv_parse_users((const char *)data, size, "users", &u, &err) == 0) {
		for (int r = 0; r < PRIV_ROLES; r++) {
			size_t n = strnlen(u.user[r], sizeof u.user[r]);
			if (n == sizeof u.user[r] || (n && u.user[r][0] == '-'))
				abort();
			for (size_t i = 0; i < n; i++)
				if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
					    u.user[r][i]))
					abort();
		}
		if (err.len)
			abort();
	} else if (err.len == 0 || strncmp(buf_cstr(&err), "users:", 6) != 0) {
		abort();
	}
	buf_free(&err);
	return 0;
}
