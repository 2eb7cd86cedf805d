# Shared by the end-to-end tests: a temporary directory, the programs
# (under valgrind when MAILSHOT_VALGRIND=1), and small assertions that
# count passes and failures.  Source it, then call finish at the end.
set -u
BIN=${MAILSHOT_BIN:?}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/mailshot-e2e.XXXXXX")
trap '[ -n "${MAILSHOT_KEEP:-}" ] || rm -rf "$T"' EXIT
SPOOL=$T/spool
export MAILSHOT_SPOOL=$SPOOL
# The suite runs as root in throw-away spools (CI): sched may keep root
# there (docs/privileges.md); tests/e2e/privileges.sh checks the drop.
export MAILSHOT_ALLOW_ROOT=1
passes=0
fails=0
name=$(basename "$0" .sh)

wrap=
if [ -n "${MAILSHOT_VALGRIND:-}" ]; then
	wrap="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
fi

enqueue() { $wrap "$BIN/mailshot-enqueue" "$@"; }
mcat() { "$BIN/mailshot-cat" "$@"; }
bounce() { $wrap "$BIN/mailshot-bounce" "$@"; }

# use_spool NAME: a fresh spool $T/NAME (SPOOL, MAILSHOT_SPOOL, LOG) with
# short SMTP timeouts; nlog REGEX: lines of its log matching.
use_spool() {
	SPOOL=$T/$1
	export MAILSHOT_SPOOL=$SPOOL
	mkdir -p "$SPOOL/control"
	echo 5 >"$SPOOL/control/timeoutremote"
	echo 3 >"$SPOOL/control/timeoutconnect"
	LOG=$SPOOL/log/current
}
nlog() { grep -cE -- "$1" "$LOG" 2>/dev/null || true; }

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

remote() { $wrap "$BIN/mailshot-remote" "$@"; }

# free_port: prints a TCP port free on 127.0.0.1 right now.
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_sink NAME [smtp-sink options...]: starts Postfix's smtp-sink on a
# free port, dumping each transaction into $T/NAME/; sets SINK_PORT and
# remembers the PID (SINK_PID) so finish stops it.
PIDS=""
start_sink() {
	sname=$1
	shift
	start_sink_at "$sname" "$(free_port)" "$@"
}
stop_peers() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	PIDS=""
}
trap 'stop_peers; [ -n "${MAILSHOT_KEEP:-}" ] || rm -rf "$T"' EXIT

# start_smtpd DIR [options]: tests/peers/smtpd.py on a free port (SMTPD_PORT).
start_smtpd() { # start_smtpd DIR [options]
	SMTPD_PORT=$(free_port)
	mkdir -p "$1"
	d=$1; shift
	$PY "$ROOT/tests/peers/smtpd.py" "$SMTPD_PORT" "$d" "$@" 2>"$d.log" &
	PIDS="$PIDS $!"
	i=0
	while ! $PY -c "import socket; socket.create_connection(('127.0.0.1',$SMTPD_PORT),1).close()" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && { fail "smtpd did not start: $(cat "$d.log")"; return 1; }
		sleep 0.1
	done
}

# start_unbound ZONE-LINES: unbound on a free 127.0.0.1 port serving the
# local-data lines given (one per line), plus servfail.test (a stub zone
# pointing at a dead port); sets DNS_PORT and writes control/resolvers.
start_unbound() {
	DNS_PORT=$(free_port)
	mkdir -p "$T/unbound"
	{
		echo "server:"
		echo "  interface: 127.0.0.1@$DNS_PORT"
		echo "  port: $DNS_PORT"
		echo "  do-daemonize: no"
		echo "  username: \"\""
		echo "  chroot: \"\""
		echo "  directory: \"$T/unbound\""
		echo "  pidfile: \"\""
		echo "  use-syslog: no"
		echo "  logfile: \"\""
		echo "  do-ip6: no"
		echo "  access-control: 127.0.0.0/8 allow"
		echo "  module-config: \"iterator\""
		echo "  local-zone: \"test.\" static"
		echo "$1" | sed 's/^/  local-data: /'
		echo "  local-zone: \"servfail.test.\" transparent"
		echo "stub-zone:"
		echo "  name: \"servfail.test.\""
		echo "  stub-addr: 127.0.0.1@9"
	} >"$T/unbound/unbound.conf"
	/usr/sbin/unbound -d -c "$T/unbound/unbound.conf" 2>"$T/unbound/log" &
	PIDS="$PIDS $!"
	i=0
	while ! dig +time=1 +tries=1 @127.0.0.1 -p "$DNS_PORT" test. SOA >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt 50 ] && { fail "unbound did not start: $(cat "$T/unbound/log")"; return 1; }
		sleep 0.1
	done
	mkdir -p "$SPOOL/control"
	echo "127.0.0.1:$DNS_PORT" >"$SPOOL/control/resolvers"
}

# mailshot-sched, under valgrind when MAILSHOT_VALGRIND is set (the
# remotes it starts run plain).  sched_bg ERRFILE [options]: in the
# background, stderr to ERRFILE; SCHED_PID is the process itself (valgrind
# runs in the same process), so signals reach it.
sched() { $wrap "$BIN/mailshot-sched" "$@"; }
sched_bg() {
	serr=$1
	shift
	$wrap "$BIN/mailshot-sched" "$@" 2>"$serr" &
	SCHED_PID=$!
	PIDS="$PIDS $SCHED_PID"
}
# stop_sched DESC: SIGTERM to SCHED_PID, which must exit 0 within 40 s.
stop_sched() {
	kill -TERM "$SCHED_PID" 2>/dev/null
	i=0
	while kill -0 "$SCHED_PID" 2>/dev/null && [ $i -lt 400 ]; do sleep 0.1; i=$((i + 1)); done
	kill -0 "$SCHED_PID" 2>/dev/null && kill -KILL "$SCHED_PID"
	wait "$SCHED_PID"
	src=$?
	if [ $src -eq 0 ]; then pass; else fail "$1: sched exited $src after SIGTERM"; fi
}

# wait_for SECONDS DESC -- command...: until the command succeeds (checked
# every 0.1 s); a failure when it does not within SECONDS.
wait_for() {
	wlimit=$1 wdesc=$2
	shift 3
	wi=0
	while ! "$@" >/dev/null 2>&1; do
		wi=$((wi + 1))
		if [ $wi -gt $((wlimit * 10)) ]; then
			fail "$wdesc: not within ${wlimit}s"
			return 1
		fi
		sleep 0.1
	done
	pass
}

# start_sink_at NAME PORT [smtp-sink options...]: start_sink on a given
# port (a server that comes back where one was down); sets SINK_PID.
start_sink_at() {
	sname=$1 SINK_PORT=$2
	shift 2
	mkdir -p "$T/$sname"
	chmod 777 "$T/$sname"
	chmod 755 "$T"
	/usr/sbin/smtp-sink -u nobody -d "$T/$sname/%M." "$@" 127.0.0.1:$SINK_PORT 256 &
	SINK_PID=$!
	PIDS="$PIDS $SINK_PID"
	i=0
	while ! $PY -c "import socket; socket.create_connection(('127.0.0.1',$SINK_PORT),1).close()" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 50 ] && { fail "smtp-sink did not start on $SINK_PORT"; return 1; }
		sleep 0.1
	done
}

# start_conncount OUT TARGET_PORT...: tests/peers/conncount.py relaying a
# fresh port to each target; sets CC_PID and CC_PORTS (in target order).
# kill -USR1 $CC_PID writes OUT and starts counting afresh; kill $CC_PID
# writes OUT and ends it.
start_conncount() {
	ccout=$1
	shift
	rm -f "$ccout" "$ccout.ports"
	$PY "$ROOT/tests/peers/conncount.py" "$ccout" "$@" 2>"$ccout.log" &
	CC_PID=$!
	PIDS="$PIDS $CC_PID"
	i=0
	while [ ! -e "$ccout.ports" ]; do
		i=$((i + 1)); [ $i -gt 100 ] && { fail "conncount did not start: $(cat "$ccout.log")"; return 1; }
		sleep 0.05
	done
	CC_PORTS=$(cat "$ccout.ports" | tr '\n' ' ')
}
# conncount_read OUT SIGNAL: makes conncount write OUT (USR1: and go on;
# TERM: and end) and waits for it.
conncount_read() {
	rm -f "$1"
	kill -"$2" "$CC_PID"
	i=0
	while [ ! -e "$1" ]; do
		i=$((i + 1)); [ $i -gt 100 ] && { fail "conncount wrote no $1"; return 1; }
		sleep 0.05
	done
	[ "$2" = TERM ] && wait "$CC_PID"
	return 0
}
