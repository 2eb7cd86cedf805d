/*
 * libFuzzer target for the dead-host table (lib/hostdown.c), fed by the
 * hostdown/hostup records of docs/protocol.md.  The input is a script:
 * lines "d ADDR SECONDS", "u ADDR", "f ADDR", "t SECONDS" (time passes).
 * Invariants: an accepted address is canonical (inet_pton + inet_ntop
 * give it back); the table never exceeds its bound; a remaining time is
 * within 0..3600; records written parse back to accepted addresses.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostdown.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
canonical(const char *a)
{
	unsigned char bin[16];
	char back[64];
	if (inet_pton(AF_INET, a, bin) == 1)
		return inet_ntop(AF_INET, bin, back, sizeof back) && strcmp(back, a) == 0;
	if (inet_pton(AF_INET6, a, bin) == 1)
		return inet_ntop(AF_INET6, bin, back, sizeof back) && strcmp(back, a) == 0;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hostdown t;
	hostdown_init(&t, 8);
	long long now = 1000;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		char op = line[0];
		char *arg = line[1] == ' ' ? line + 2 : line + 1;
		char *sp = strchr(arg, ' ');
		long long secs = 0;
		if (sp != NULL) {
			*sp = '\0';
			secs = strtoll(sp + 1, NULL, 10);
		}
		int valid = hostdown_valid_address(arg);
		if (valid && !canonical(arg))
			abort();
		if (op == 'd') {
			int rc = hostdown_merge(&t, arg, 25, secs, now);
			if (rc == 0 && (!valid || secs < 1 || secs > 3600))
				abort();
		} else if (op == 'u') {
			(void)hostdown_answered(&t, arg, 25);
		} else if (op == 'f') {
			long long r = hostdown_failed(&t, arg, 25, now);
			if (r != -1 && (r < 1 || r > HOSTDOWN_MAX_SECONDS))
				abort();
		} else if (op == 't' && secs > 0 && secs < 100000) {
			now += secs;
		}
		if (t.count > 8)
			abort();
		long long rem = hostdown_remaining(&t, arg, 25, now);
		if (rem < 0 || rem > HOSTDOWN_MAX_SECONDS)
			abort();
	}
	struct buf out = BUF_INIT;
	hostdown_records(&t, 25, now, &out);
	buf_cstr(&out);
	for (char *line = strtok(out.data, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		char addr[128];
		long long s;
		if (sscanf(line, "hostdown %127s %lld", addr, &s) != 2 ||
		    !hostdown_valid_address(addr) || s < 1 || s > HOSTDOWN_MAX_SECONDS)
			abort();
	}
	buf_free(&out);
	hostdown_free(&t);
	free(text);
	return 0;
}
