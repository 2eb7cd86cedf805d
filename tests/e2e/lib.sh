# Shared by the end-to-end tests: a temporary directory, the programs
# (under valgrind when MAILSHOT_VALGRIND=1), and small assertions that
# count passes and failures.  Source it, then call finish at the end.
set -u
BIN=${MAILSHOT_BIN:?}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/mailshot-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
SPOOL=$T/spool
export MAILSHOT_SPOOL=$SPOOL
passes=0
fails=0
name=$(basename "$0" .sh)

wrap=
if [ -n "${MAILSHOT_VALGRIND:-}" ]; then
	wrap="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
fi

enqueue() { $wrap "$BIN/mailshot-enqueue" "$@"; }
mcat() { "$BIN/mailshot-cat" "$@"; }

pass() { passes=$((passes + 1)); }
fail() { echo "FAIL [$name]: $*"; fails=$((fails + 1)); }

# expect_rc CODE DESCRIPTION -- command...: runs it with output in $T/out, $T/err
expect_rc() {
	want=$1 desc=$2
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" -eq "$want" ]; then pass; else
		fail "$desc: exit $got, expected $want"
		sed 's/^/    stderr: /' "$T/err" | head -10
	fi
}

# expect_grep PATTERN FILE DESCRIPTION
expect_grep() {
	if grep -qE -- "$1" "$2"; then pass; else
		fail "$3: /$1/ not found in $(basename "$2")"
		sed 's/^/    /' "$2" | head -10
	fi
}
expect_no_grep() {
	if grep -qE -- "$1" "$2"; then
		fail "$3: /$1/ found in $(basename "$2")"
	else pass; fi
}
expect_eq() {
	if [ "$1" = "$2" ]; then pass; else fail "$3: got '$1', expected '$2'"; fi
}

# Number of messages in the batches of new/ (and their recipients, in $T/rcpts)
count_queued() {
	: >"$T/rcpts"
	for f in "$SPOOL"/new/B.*; do
		[ -e "$f" ] || continue
		mcat --envelope "$f" | cut -f2 >>"$T/rcpts"
	done
	wc -l <"$T/rcpts" | tr -d ' '
}
new_is_empty() {
	[ -z "$(ls -A "$SPOOL/new" 2>/dev/null)" ]
}

finish() {
	echo "$name: $passes passed, $fails failed"
	[ "$fails" -eq 0 ]
}
TOOLS=${MAILSHOT_TOOLS:-$ROOT/build/tests}
suppress_add() { "$TOOLS/tool_suppress" "$SPOOL" "$@"; }
