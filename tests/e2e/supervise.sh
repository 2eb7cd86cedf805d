# mailshot-sched under supervision (docs/deploy/): exit codes a supervisor
# understands, --notify-fd readiness, --timestamps, SIGHUP with good and bad
# control files, one sched per spool, the delivery log rotated by the
# logrotate example while sched runs; then the shipped service directories
# under the real supervisors, on temporary copies (never installed, never
# as init): runit's runsv with svlogd -- a campaign to smtp-sink stopped
# mid-way with `sv down` and `sv term`, every recipient delivered exactly
# once (at most twice if in flight at the stop), the finish script's pause
# after exit 100 -- and s6-svscan with s6-log: readiness through
# notification-fd, exit 100 keeping the service down.
#
# The scheds run directly by this script go through valgrind under
# MAILSHOT_VALGRIND=1; those the supervisors start run plain.  In the
# sanitizer build, those the supervisors start run without LeakSanitizer:
# runsv and s6 send TERM and then CONT, and a CONT that arrives while
# LeakSanitizer is stopping the exiting process to scan it leaves the
# scan waiting forever (the other tests check sched for leaks).
. "$(dirname "$0")/lib.sh"

# drain_diag CAMPAIGN: what is left when a campaign did not drain
drain_diag() {
	echo "    $1: $(grep -c " sched event=delivered campaign=$1 " "$LOG") delivered," \
		"$(grep -c " sched event=deferred campaign=$1 " "$LOG") deferred;" \
		"queue: $(find "$SPOOL/queue" -mindepth 2 -name 'B.*' ! -name '*.state' | wc -l) batch(es)"
	grep -v ' event=delivered ' "$SVLOG" | tail -n 12 | sed 's/^/    /'
	grep " campaign=$1 " "$LOG" | grep -v ' event=delivered \| event=queued ' | tail -n 5 | sed 's/^/    /'
	for f in $(find "$SPOOL/queue" -mindepth 2 -name '*.state'); do tail -n 4 "$f" | sed 's/^/    state: /'; done
	sv status "$SV" | sed 's/^/    /'
}
SUPERVISED_ASAN=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
# reap PID SECONDS WHAT: waits for a supervisor to end; should it hang,
# kills it and what it runs, and says so
reap() {
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		fail "$3: still running after $2 s"
		pkill -9 -f "mailshot-sched --spool $SPOOL"
		kill -9 "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

t_start=$(date +%s%N)
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
DEPLOY=$ROOT/docs/deploy
printf 'From: Team <team@example.org>\nSubject: Hello {{name}}\n\nHello {{name}}.\n' >"$T/t.eml"
# mklist FILE N PREFIX DOMAIN: N recipients PREFIX1@DOMAIN .. PREFIXN@DOMAIN
mklist() {
	{
		echo "email,name"
		i=1
		while [ $i -le "$2" ]; do echo "$3$i@$4,User $i"; i=$((i + 1)); done
	} >"$1"
}
# rcpts_in DIR: the recipient of every transaction smtp-sink stored there
rcpts_in() { cat "$1"/* 2>/dev/null | sed -n 's/^X-Rcpt-Args: <\(.*\)>.*/\1/p'; }
# got DIR PREFIX: how many transactions for recipients PREFIX* DIR holds
got() { rcpts_in "$1" | grep -c "^$2" || true; }
queue_batches() { find "$SPOOL/queue" -mindepth 2 -name 'B.*' ! -name '*.state' | wc -l | tr -d ' '; }
# status_cap DEST: the CAP of DEST in queue/status (docs/spool.md)
status_cap() { sed -n "s/^dest $1 [0-9]* [0-9]* [0-9]* [0-9]* \([0-9]*\) .*/\1/p" "$SPOOL/queue/status" 2>/dev/null; }
status_time() { sed -n 's/^time //p' "$SPOOL/queue/status" 2>/dev/null; }
ISO='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z'

# ---- 1. Exit codes and option checks ----
use_spool codes
with_fd3_read() { $wrap "$BIN/mailshot-sched" "$@" 3</dev/null; }
expect_rc 100 "--notify-fd 1 refused" -- sched --notify-fd 1 --once
expect_grep 'fatal: --notify-fd 1: not a descriptor number of 3 or more' "$T/err" "--notify-fd 1: why"
expect_rc 100 "--notify-fd of a closed descriptor refused" -- sched --notify-fd 9 --once
expect_grep 'fatal: --notify-fd 9: not an open descriptor' "$T/err" "--notify-fd 9: why"
expect_rc 100 "--notify-fd open for reading only refused" -- with_fd3_read --notify-fd 3 --once
expect_grep 'fatal: --notify-fd 3: not open for writing' "$T/err" "--notify-fd 3<: why"
expect_rc 100 "--notify-fd x refused" -- sched --notify-fd x --once
expect_rc 100 "an unknown option" -- sched --no-such-option
echo zero >"$SPOOL/control/concurrency"
expect_rc 100 "a bad control file at start: exit 100" -- sched --once
expect_grep 'fatal: .*/control/concurrency' "$T/err" "exit 100 names the file"
rm "$SPOOL/control/concurrency"
use_spool codes-log
mkdir -p "$SPOOL"
echo "not a directory" >"$SPOOL/log"
expect_rc 111 "an unwritable delivery log: exit 111" -- sched --once
expect_grep 'fatal: unable to open .*/log/current' "$T/err" "exit 111 names the file"
expect_rc 111 "with --timestamps" -- sched --timestamps --once
expect_grep "^$ISO mailshot-sched: fatal: unable to open" "$T/err" "--timestamps: fatal line stamped"

# ---- 2. Readiness: --notify-fd, after the queue is loaded ----
# Campaign a (to a port nobody listens on: deferred, retried in an hour)
# goes into queue/ by a --once run; campaign b waits in new/.  sched
# starts with fd 3 on a FIFO: when the newline arrives, the queue has been
# loaded (its line is on stderr), new/ taken in, and the trigger open
# (mail enqueued now is delivered without anything else).
use_spool ready
start_sink ready_sink
dead=$(free_port)
printf 'a.test:[127.0.0.1]:%s\nb.test:[127.0.0.1]:%s\nc.test:[127.0.0.1]:%s\n' "$dead" "$SINK_PORT" "$SINK_PORT" >"$SPOOL/control/smtproutes"
echo 1h >"$SPOOL/control/retry"
echo 'a.test concurrency=3' >"$SPOOL/control/domains"
mklist "$T/a.csv" 20 a a.test
mklist "$T/b.csv" 20 b b.test
expect_rc 0 "ready: enqueue a" -- enqueue --campaign a --template "$T/t.eml" --recipients "$T/a.csv"
expect_rc 0 "ready: --once takes a into the queue" -- sched --once
expect_eq "$(queue_batches)" 1 "ready: a queued"
expect_rc 0 "ready: enqueue b" -- enqueue --campaign b --template "$T/t.eml" --recipients "$T/b.csv"
mkfifo "$T/ready.fifo"
$wrap "$BIN/mailshot-sched" --notify-fd 3 --timestamps 2>"$T/ready.err" 3>"$T/ready.fifo" &
SCHED_PID=$!
PIDS="$PIDS $SCHED_PID"
t0=$(date +%s%N)
timeout 60 cat "$T/ready.fifo" >"$T/ready.out"
rc=$?
new_after=$(ls "$SPOOL/new" | wc -l | tr -d ' ')
queue_line=$(grep -c 'mailshot-sched: queue: 1 batches, 20 messages to deliver' "$T/ready.err")
echo "  (readiness after $(ms_since "$t0") ms)"
expect_eq "$rc" 0 "ready: the notification fd was closed"
expect_eq "$(od -An -c "$T/ready.out" | tr -d ' ')" '\n' "ready: exactly one newline"
expect_eq "$new_after" 0 "ready: new/ taken in before readiness"
expect_eq "$queue_line" 1 "ready: queue loaded before readiness"
expect_grep "^$ISO mailshot-sched: ready: pid $SCHED_PID, 40 messages queued" "$T/ready.err" "ready: line with --timestamps"
test -p "$SPOOL/trigger" && pass || fail "ready: trigger FIFO"
mklist "$T/c.csv" 5 c c.test
expect_rc 0 "ready: enqueue c" -- enqueue --campaign c --template "$T/t.eml" --recipients "$T/c.csv"
wait_for 30 "ready: b and c delivered after readiness" -- sh -c "[ \$(grep -c ' sched event=delivered campaign=[bc] ' '$LOG') -eq 25 ]"
# one sched per spool: a second one is refused (exit 111), naming the first
expect_rc 111 "lock: a second sched on the spool" -- sched --once
expect_grep "another mailshot-sched \\(pid $SCHED_PID\\) works on this spool" "$T/err" "lock: names the holder"

# ---- 3. SIGHUP: control/ reread; a bad file keeps the settings in force ----
wait_for 20 "hup: status shows a.test's cap 3" -- sh -c "[ \"\$(sed -n 's/^dest a.test [0-9]* [0-9]* [0-9]* [0-9]* \\([0-9]*\\) .*/\\1/p' '$SPOOL/queue/status')\" = 3 ]"
echo 'a.test concurrency=7' >"$SPOOL/control/domains"
kill -HUP "$SCHED_PID"
wait_for 20 "hup: reread said" -- grep -q 'SIGHUP: control/ read again' "$T/ready.err"
wait_for 20 "hup: new cap 7 in force" -- sh -c "[ \"\$(sed -n 's/^dest a.test [0-9]* [0-9]* [0-9]* [0-9]* \\([0-9]*\\) .*/\\1/p' '$SPOOL/queue/status')\" = 7 ]"
echo 'a.test concurrency=lots' >"$SPOOL/control/domains"
kill -HUP "$SCHED_PID"
wait_for 20 "hup: bad domains reported" -- grep -q 'SIGHUP: error: .*control/domains.*keeping the settings in force' "$T/ready.err"
echo 0 >"$SPOOL/control/concurrency"
kill -HUP "$SCHED_PID"
wait_for 20 "hup: bad concurrency reported" -- grep -q 'SIGHUP: error: .*control/concurrency.*keeping the settings in force' "$T/ready.err"
st=$(status_time)
wait_for 20 "hup: status written again" -- sh -c "[ \"\$(sed -n 's/^time //p' '$SPOOL/queue/status')\" != '$st' ]"
expect_eq "$(status_cap a.test)" 7 "hup: cap 7 kept after bad files"
expect_eq "$(grep -c 'control/ read again' "$T/ready.err")" 1 "hup: the bad files were not taken"

# ---- 4. The delivery log rotated by the logrotate example, sched running ----
# Rename, no new file: sched's next flush goes to a new log/current.
rm "$SPOOL/control/concurrency"
echo 'a.test concurrency=3' >"$SPOOL/control/domains"
sed "s|^/var/spool/mailshot/log/current |$SPOOL/log/current |" "$DEPLOY/logrotate/mailshot" >"$T/logrotate.conf"
chmod 644 "$T/logrotate.conf"
rotate() { /usr/sbin/logrotate -f -s "$T/logrotate.state" "$T/logrotate.conf" 2>"$T/logrotate.err"; }
if [ -x /usr/sbin/logrotate ]; then
	expect_rc 0 "rotate: logrotate -f" -- rotate
	test -f "$SPOOL/log/current.1" && pass || fail "rotate: current.1 made: $(cat "$T/logrotate.err")"
	test -e "$SPOOL/log/current" && fail "rotate: nocreate: a new current was made" || pass
	mklist "$T/d.csv" 10 d b.test
	expect_rc 0 "rotate: enqueue d" -- enqueue --campaign d --template "$T/t.eml" --recipients "$T/d.csv"
	wait_for 30 "rotate: d delivered into the new log/current" -- sh -c "[ \$(grep -c ' sched event=delivered campaign=d ' '$LOG') -eq 10 ]"
	expect_eq "$(grep -c ' event=.* campaign=d ' "$SPOOL/log/current.1")" 0 "rotate: nothing of d in current.1"
	expect_eq "$(grep -c ' sched event=delivered campaign=[bc] ' "$SPOOL/log/current.1")" 25 "rotate: b and c stay in current.1"
	expect_rc 0 "rotate: logrotate -f again" -- rotate
	expect_eq "$(gzip -dc "$SPOOL/log/current.2.gz" 2>/dev/null | grep -c ' sched event=delivered campaign=[bc] ')" 25 "rotate: current.2.gz (delaycompress)"
	expect_eq "$(grep -c ' sched event=delivered campaign=d ' "$SPOOL/log/current.1")" 10 "rotate: d in current.1"
	mklist "$T/e.csv" 5 e b.test
	expect_rc 0 "rotate: enqueue e" -- enqueue --campaign e --template "$T/t.eml" --recipients "$T/e.csv"
	wait_for 30 "rotate: e delivered into the newest log/current" -- sh -c "[ \$(grep -c ' sched event=delivered campaign=e ' '$LOG') -eq 5 ]"
else
	fail "rotate: /usr/sbin/logrotate is missing (tools/install-deps installs it)"
fi
stop_sched "ready"
expect_grep "^$ISO mailshot-sched: done: " "$T/ready.err" "ready: clean stop"

# ---- 5. runit: runsv on a copy of docs/deploy/runit/mailshot-sched ----
use_spool runit
start_sink runit_sink -W DATA:1:20
printf ':[127.0.0.1]:%s\n' "$SINK_PORT" >"$SPOOL/control/smtproutes"
echo 10 >"$SPOOL/control/concurrency"
echo '* concurrency=10' >"$SPOOL/control/domains"
echo 5 >"$SPOOL/control/retry"
# A reply that times out (smtp-sink's delayed DATA on a busy machine, past
# the tests' 5 s timeoutremote) is pushback and pauses the destination,
# 60 s by default: short here, this part is about the supervisor.
echo 2 >"$SPOOL/control/pausemin"
echo 4 >"$SPOOL/control/pausemax"
SV=$T/service/mailshot-sched
mkdir -p "$T/service"
cp -R "$DEPLOY/runit/mailshot-sched" "$SV"
sed -i "s|^SPOOL=.*|SPOOL=$SPOOL|; s|^BIN=.*|BIN=$BIN|" "$SV/run" "$SV/check"
sed -i 's|^PAUSE_PERM=[0-9]*|PAUSE_PERM=3|' "$SV/finish"
SVLOG=$SV/log/main/current
N=200
if command -v runsv >/dev/null 2>&1; then
	ASAN_OPTIONS=$SUPERVISED_ASAN runsv "$SV" </dev/null >"$T/runsv.out" 2>&1 &
	RUNSV_PID=$!
	PIDS="$PIDS $RUNSV_PID"
	t0=$(date +%s%N)
	wait_for 10 "runit: runsv running" -- sv status "$SV"
	expect_rc 0 "runit: sv start (run, then ./check: ready)" -- sv -w 30 start "$SV"
	echo "  (runit: ready $(ms_since "$t0") ms after runsv started)"
	expect_grep '^ok: run: ' "$T/out" "runit: sv start ok"
	wait_for 10 "runit: svlogd stamps sched's lines" -- grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{5} mailshot-sched: ready: pid [0-9]+, 0 messages queued$' "$SVLOG"

	# sv down mid-campaign: TERM (no restart), in-flight finished, exit 0.
	mklist "$T/r1.csv" $N r1- x.test
	expect_rc 0 "runit: enqueue r1" -- enqueue --campaign r1 --template "$T/t.eml" --recipients "$T/r1.csv"
	wait_for 30 "runit: r1 under way" -- sh -c "[ \$(ls '$T/runit_sink' | wc -l) -ge 40 ]"
	t0=$(date +%s%N)
	expect_rc 0 "runit: sv down mid-campaign" -- sv -w 40 down "$SV"
	echo "  (runit: sv down took $(ms_since "$t0") ms)"
	expect_grep '^ok: down: ' "$T/out" "runit: down"
	n1=$(got "$T/runit_sink" r1-)
	sleep 1
	expect_eq "$(got "$T/runit_sink" r1-)" "$n1" "runit: nothing sent while down"
	if [ "$n1" -gt 0 ] && [ "$n1" -lt $N ]; then pass; else fail "runit: stopped mid-campaign: $n1 of $N delivered at the stop"; fi
	wait_for 10 "runit: clean stop logged" -- grep -q 'mailshot-sched: done: ' "$SVLOG"
	expect_no_grep 'finish: exit' "$SVLOG" "runit: exit 0 (finish quiet)"
	expect_rc 0 "runit: sv start again" -- sv -w 30 start "$SV"
	wait_for 60 "runit: r1 drained" -- sh -c "[ \$(grep -c ' sched event=delivered campaign=r1 ' '$LOG') -ge $N ] && [ \$(find '$SPOOL/queue' -mindepth 2 -name 'B.*' ! -name '*.state' | wc -l) -eq 0 ]" || drain_diag r1

	# sv term mid-campaign: TERM, and runsv starts it again at once.
	mklist "$T/r2.csv" $N r2- x.test
	expect_rc 0 "runit: enqueue r2" -- enqueue --campaign r2 --template "$T/t.eml" --recipients "$T/r2.csv"
	wait_for 30 "runit: r2 under way" -- sh -c "[ \$(ls '$T/runit_sink' | wc -l) -ge $((N + 40)) ]"
	readies=$(grep -c ': ready: ' "$SVLOG")
	expect_rc 0 "runit: sv term mid-campaign" -- sv term "$SV"
	wait_for 40 "runit: restarted by runsv" -- sh -c "[ \$(grep -c ': ready: ' '$SVLOG') -gt $readies ]"
	n2=$(grep -c ' sched event=delivered campaign=r2 ' "$LOG")
	if [ "$n2" -lt $N ]; then pass; else fail "runit: r2 had ended before sv term"; fi
	wait_for 60 "runit: r2 drained" -- sh -c "[ \$(grep -c ' sched event=delivered campaign=r2 ' '$LOG') -ge $N ] && [ \$(find '$SPOOL/queue' -mindepth 2 -name 'B.*' ! -name '*.state' | wc -l) -eq 0 ]" || drain_diag r2

	# Counted at the server: everybody once; twice only within the
	# messages in flight at a stop (control/concurrency), none more.
	rcpts_in "$T/runit_sink" | sort | uniq -c | awk '{ print $1 }' | sort -n | uniq -c >"$T/runit.counts"
	expect_eq "$(rcpts_in "$T/runit_sink" | sort -u | wc -l | tr -d ' ')" $((2 * N)) "runit: every recipient delivered"
	twice=$(awk '$2 == 2 { print $1 }' "$T/runit.counts")
	more=$(awk '$2 > 2 { n += $1 } END { print n + 0 }' "$T/runit.counts")
	expect_eq "$more" 0 "runit: nobody delivered more than twice"
	if [ "${twice:-0}" -le 20 ]; then pass; else fail "runit: $twice delivered twice (at most 2 x 10 in flight)"; fi
	echo "  (runit: stopped at $n1/$N (sv down) and $n2/$N (sv term); delivered twice: ${twice:-0})"

	# exit 100 at start: finish pauses (PAUSE_PERM, 3 s here) before
	# each new try, instead of runsv's once a second.
	echo zero >"$SPOOL/control/concurrency"
	fatals=$(grep -c 'fatal: .*control/concurrency' "$SVLOG")
	sv term "$SV" >/dev/null
	wait_for 30 "runit: exit 100 twice" -- sh -c "[ \$(grep -c 'fatal: .*control/concurrency' '$SVLOG') -ge $((fatals + 2)) ]"
	expect_grep 'mailshot-sched: finish: exit 100 \(configuration\): next start in 3 s' "$SVLOG" "runit: finish says why it waits"
	$PY - "$SVLOG" <<'PY' >"$T/gaps"
import sys, datetime
ts = [datetime.datetime.strptime(l.split()[0], "%Y-%m-%d_%H:%M:%S.%f")
      for l in open(sys.argv[1]) if "fatal: " in l and "control/concurrency" in l]
print(min((b - a).total_seconds() for a, b in zip(ts, ts[1:])))
PY
	if $PY -c "import sys; sys.exit(0 if float(open('$T/gaps').read()) >= 2.9 else 1)"; then pass; else
		fail "runit: restarts after exit 100 only $(cat "$T/gaps") s apart"; fi
	rm "$SPOOL/control/concurrency"
	wait_for 20 "runit: up again once the file is fixed" -- sv -w 1 start "$SV"
	expect_rc 0 "runit: sv exit" -- sv -w 30 exit "$SV"
	reap "$RUNSV_PID" 30 "runit: runsv after sv exit"
	expect_eq "$(pgrep -f "mailshot-sched --spool $SPOOL" | wc -l | tr -d ' ')" 0 "runit: nothing left running"
else
	fail "runit: runsv is missing (tools/install-deps installs runit)"
fi

# ---- 6. s6: s6-svscan on a copy of docs/deploy/s6/mailshot-sched ----
use_spool s6
printf 'a.test:[127.0.0.1]:%s\n' "$dead" >"$SPOOL/control/smtproutes"
echo 1h >"$SPOOL/control/retry"
mklist "$T/s.csv" 10 s a.test
expect_rc 0 "s6: enqueue" -- enqueue --campaign s --template "$T/t.eml" --recipients "$T/s.csv"
SCAN=$T/scan
S6=$SCAN/mailshot-sched
mkdir -p "$SCAN"
cp -R "$DEPLOY/s6/mailshot-sched" "$S6"
sed -i "s|^SPOOL=.*|SPOOL=$SPOOL|; s|^BIN=.*|BIN=$BIN|" "$S6/run"
S6LOG=$S6/log/main/current
if command -v s6-svscan >/dev/null 2>&1; then
	ASAN_OPTIONS=$SUPERVISED_ASAN s6-svscan "$SCAN" </dev/null >"$T/s6.out" 2>&1 &
	SVSCAN_PID=$!
	PIDS="$PIDS $SVSCAN_PID"
	t0=$(date +%s%N)
	wait_for 10 "s6: s6-svscan started s6-supervise" -- s6-svstat "$S6"
	expect_rc 0 "s6: s6-svwait -U (readiness through notification-fd)" -- s6-svwait -U -t 30000 "$S6"
	echo "  (s6: ready $(ms_since "$t0") ms after s6-svscan started)"
	expect_eq "$(ls "$SPOOL/new" | wc -l | tr -d ' ')" 0 "s6: new/ taken in when ready"
	expect_rc 0 "s6: s6-svstat" -- s6-svstat "$S6"
	expect_grep '^up .*ready' "$T/out" "s6: up and ready"
	wait_for 10 "s6: s6-log stamps sched's lines" -- grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+  mailshot-sched: ready: pid [0-9]+, 10 messages queued$' "$S6LOG"
	# exit 100: finish exits 125, the service stays down until s6-svc -u
	echo zero >"$SPOOL/control/concurrency"
	s6-svc -r "$S6"
	wait_for 20 "s6: exit 100 after a restart with a bad file" -- sh -c "s6-svstat '$S6' | grep -q '^down (exitcode 100)'"
	sleep 2
	expect_rc 0 "s6: s6-svstat" -- s6-svstat "$S6"
	expect_grep '^down \(exitcode 100\)' "$T/out" "s6: still down after exit 100 (finish: 125)"
	expect_eq "$(grep -c 'fatal: .*control/concurrency' "$S6LOG")" 1 "s6: tried once"
	expect_grep 'finish: exit 100 \(configuration\): staying down' "$S6LOG" "s6: finish says so"
	rm "$SPOOL/control/concurrency"
	s6-svc -u "$S6"
	expect_rc 0 "s6: up and ready again after s6-svc -u" -- s6-svwait -U -t 30000 "$S6"
	s6-svscanctl -t "$SCAN"
	reap "$SVSCAN_PID" 30 "s6: s6-svscan after s6-svscanctl -t"
	wait_for 10 "s6: clean stop logged" -- grep -q 'mailshot-sched: done: ' "$S6LOG"
	expect_eq "$(pgrep -f "mailshot-sched --spool $SPOOL" | wc -l | tr -d ' ')" 0 "s6: nothing left running"
else
	fail "s6: s6-svscan is missing (tools/install-deps installs s6)"
fi

echo "  (supervise: $(ms_since "$t_start") ms in all)"
finish
