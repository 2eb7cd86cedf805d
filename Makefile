# mailshot - one plain Makefile.
#
#   make            build bin/mailshot-* (gcc or clang: make CC=clang)
#   make check      unit tests, end-to-end tests, then the same under ASan+UBSan
#   make bench      the enqueue benchmark (prints messages/s and peak RSS)
#   make fuzz       build the libFuzzer targets (clang) and run each briefly
#   make demo       render the sample campaign in examples/ into the default spool
#   make valgrind   unit and end-to-end tests under valgrind
#   make install PREFIX=/usr/local

CC      ?= cc
PKGS    := zlib libssl libcrypto libcares libpsl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS)) -llmdb -lspf2
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -std=c17 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
PREFIX  ?= /usr/local
SPOOL   ?= $(CURDIR)/spool
DEFS    := -D_GNU_SOURCE -DMAILSHOT_DEFAULT_SPOOL='"$(SPOOL)"'
ALL_CFLAGS = $(WARN) $(DEFS) $(PKG_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)

# Build directory: objects of the normal and the sanitizer build never mix.
B       ?= build
PROGS   := enqueue cat remote sched bounce unsubscribe report
LIB_SRCS  := $(sort $(wildcard lib/*.c))
LIB_OBJS  := $(LIB_SRCS:lib/%.c=$(B)/lib/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BIN_TARGETS := $(PROGS:%=bin/mailshot-%)
ifneq ($(B),build)
BIN_TARGETS := $(PROGS:%=$(B)/bin/mailshot-%)
endif

.PHONY: all clang check check-normal check-san unit e2e bench fuzz demo valgrind install setup clean

all: $(BIN_TARGETS)

$(B)/lib/%.o: lib/%.c $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libmailshot.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

bin/mailshot-%: bin/%.c $(B)/libmailshot.a $(wildcard lib/*.h)
	$(CC) $(ALL_CFLAGS) -Ilib -o $@ $< $(B)/libmailshot.a $(PKG_LIBS) $(LDFLAGS)

$(B)/bin/mailshot-%: bin/%.c $(B)/libmailshot.a $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ilib -o $@ $< $(B)/libmailshot.a $(PKG_LIBS) $(LDFLAGS)

$(B)/tests/test_%: tests/unit/test_%.c tests/unit/check.h $(B)/libmailshot.a $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -Ilib -Itests/unit -o $@ $< $(B)/libmailshot.a $(PKG_LIBS) $(LDFLAGS)

TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(B)/tests/tool_%) $(B)/tests/mailshot-remote-hook

$(B)/tests/tool_%: tests/tools/%.c $(B)/libmailshot.a $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ilib -o $@ $< $(B)/libmailshot.a $(PKG_LIBS) $(LDFLAGS)

# remote with its test hook (MAILSHOT_TEST_OPEN, tests/e2e/confine.sh):
# built for the tests only, never installed.
$(B)/tests/mailshot-remote-hook: bin/remote.c $(B)/libmailshot.a $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DMAILSHOT_TEST_HOOKS -Ilib -o $@ $< $(B)/libmailshot.a $(PKG_LIBS) $(LDFLAGS)

unit: $(UNIT_BINS)
	@mkdir -p $(B)
	@MAILSHOT_RESULT=$(B)/unit.result sh tests/run-unit $(UNIT_BINS)

e2e: $(BIN_TARGETS) $(TOOL_BINS)
	@MAILSHOT_BIN=$(abspath $(dir $(firstword $(BIN_TARGETS)))) MAILSHOT_TOOLS=$(abspath $(B)/tests) \
		MAILSHOT_RESULT=$(B)/e2e.result sh tests/run-e2e

check-normal: unit e2e

# The sanitizer pass: the whole suite again, built with ASan+UBSan into build-san/.
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
check-san:
	$(MAKE) --no-print-directory B=build-san CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" check-normal

check: check-normal check-san
	@cat build/unit.result build/e2e.result build-san/unit.result build-san/e2e.result | \
		sed -n 's/^\(unit\|e2e\): \([0-9]*\) passed, \([0-9]*\) failed$$/\2 \3/p' | \
		awk '{ p += $$1; f += $$2 } END { printf "check: %d passed, %d failed\n", p, f; exit f > 0 }'

valgrind: $(UNIT_BINS) $(BIN_TARGETS) $(TOOL_BINS)
	@MAILSHOT_VALGRIND=1 sh tests/run-unit $(UNIT_BINS)
	@MAILSHOT_VALGRIND=1 MAILSHOT_BIN=$(abspath bin) MAILSHOT_TOOLS=$(abspath $(B)/tests) sh tests/run-e2e

# The same build with clang, in its own directory: both compilers must pass -Werror.
clang:
	$(MAKE) --no-print-directory B=build-clang CC=clang all $(UNIT_BINS:build/%=build-clang/%)

bench: all $(TOOL_BINS)
	@sh bench/enqueue-bench
	@sh bench/remote-bench
	@sh bench/sched-bench
	@sh bench/bounce-bench
	@sh bench/dkim-bench
	@sh bench/report-bench

FUZZ_CC ?= clang
fuzz:
	@mkdir -p build-fuzz
	@for f in $(FUZZ_SRCS); do \
	  n=$$(basename $$f .c); \
	  $(FUZZ_CC) $(WARN) -Wno-missing-prototypes $(DEFS) $(PKG_CFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -Ilib -o build-fuzz/$$n $$f $(LIB_SRCS) $(PKG_LIBS) || exit 1; \
	done
	@sh tests/run-fuzz $(FUZZ_SECONDS)

demo: all
	@sh examples/demo

# install: the programs, man pages, mailshot-setup, and a sample control/
# (docs/control.md) under share/mailshot.  setup: the users, the spool and
# the programs' owners and set-ID bits (docs/privileges.md), as root.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/mailshot/control
	install -m 755 $(PROGS:%=bin/mailshot-%) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@SPOOL@|$(SPOOL)|' -e 's|@BINDIR@|$(PREFIX)/bin|' tools/mailshot-setup \
		>$(DESTDIR)$(PREFIX)/sbin/mailshot-setup
	chmod 755 $(DESTDIR)$(PREFIX)/sbin/mailshot-setup
	install -m 644 docs/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 docs/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 examples/control/* $(DESTDIR)$(PREFIX)/share/mailshot/control/

setup:
	$(DESTDIR)$(PREFIX)/sbin/mailshot-setup --spool $(SPOOL) --bindir $(PREFIX)/bin $(SETUP_ARGS)

clean:
	rm -rf build build-san build-clang build-fuzz $(PROGS:%=bin/mailshot-%)
