# mailshot-sched end to end, against smtp-sinks on loopback: concurrency
# caps measured at the servers, throttling destinations paused while others
# go on, permanent failures bounced once, queue lifetime, the retry
# schedule in real time, the trigger FIFO, --once and --drain, SIGHUP and
# SIGALRM.
. "$(dirname "$0")/lib.sh"
# These tests read sched's hand-off files (docs/spool.md) themselves:
# no bounce process consumes them (bounce.sh tests the two together).
export MAILSHOT_BOUNCE="$T/no-bounce-here"

printf 'From: Team <team@example.org>\nSubject: Hello {{name}}\n\nHello {{name}}.\n' >"$T/t.eml"
# mklist FILE N DOMAIN...: N recipients u1@.. uN@.. (PFX instead of u if
# set), the domains in turn.
mklist() {
	mf=$1 mn=$2
	shift 2
	$PY - "$mf" "$mn" "$@" <<'PY'
import os, sys
f, n, doms = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
pfx = os.environ.get("PFX", "u")
with open(f, "w") as out:
    out.write("email,name\n")
    for i in range(1, n + 1):
        out.write("%s%d@%s,User %d\n" % (pfx, i, doms[(i - 1) % len(doms)], i))
PY
}
# queue_files: files left in queue/NN/ (batches and state files).
queue_files() { find "$SPOOL/queue" -mindepth 2 -type f | wc -l | tr -d ' '; }
# epoch LOGLINE-REGEX first|last: the time of a log line, Unix seconds.
epoch() {
	$PY - "$LOG" "$1" "$2" <<'PY'
import re, sys, datetime
lines = [l for l in open(sys.argv[1]) if re.search(sys.argv[2], l)]
if not lines:
    print("none"); sys.exit()
l = lines[0] if sys.argv[3] == "first" else lines[-1]
t = datetime.datetime.strptime(l.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
print("%.6f" % t.replace(tzinfo=datetime.timezone.utc).timestamp())
PY
}
now() { date +%s.%N; }
# gap A B: B - A in seconds ("none" when either is not a time);
# gap_in A B LO HI: LO <= B - A <= HI.
gap() { $PY -c "print('%.2f' % (float('$2') - float('$1')))" 2>/dev/null || echo none; }
gap_in() { $PY -c "import sys; sys.exit(0 if $3 <= float('$2') - float('$1') <= $4 else 1)" 2>/dev/null; }
# rcpts_in DIR: the X-Rcpt-Args of every transaction smtp-sink stored there
rcpts_in() { cat "$1"/* 2>/dev/null | sed -n 's/^X-Rcpt-Args: <\(.*\)>.*/\1/p'; }

big=1
[ -n "${MAILSHOT_VALGRIND:-}" ] && big=0

# ---- 1. Concurrency caps, measured at the servers ----
# Three domains, each routed to its own smtp-sink behind conncount.py,
# which records the most connections open at once per sink and in all.
# a.test may have 3, b.test 5, c.test the default 10, and all together
# 10 (control/concurrency).  While c.test (1/9 of the mail) has work, the
# three want 18 and share 10 round robin; after it, a.test and b.test
# have room for their caps.  smtp-sink delays 1% of the DATA commands by a second or more (5%
# under valgrind), so connections overlap and stay busy.
use_spool caps
N=2000
[ $big -eq 0 ] && N=300
mklist "$T/caps.csv" $N a.test b.test a.test b.test a.test b.test a.test b.test c.test
expect_rc 0 "caps: enqueue" -- enqueue --campaign caps --template "$T/t.eml" --recipients "$T/caps.csv"
delay=DATA:1:1
[ $big -eq 0 ] && delay=DATA:1:5
start_sink caps_a -W $delay
pa=$SINK_PORT
start_sink caps_b -W $delay
pb=$SINK_PORT
start_sink caps_c -W $delay
pc=$SINK_PORT
start_conncount "$T/caps.cc" $pa $pb $pc
set -- $CC_PORTS
printf 'a.test:[127.0.0.1]:%s\nb.test:[127.0.0.1]:%s\nc.test:[127.0.0.1]:%s\n' "$1" "$2" "$3" >"$SPOOL/control/smtproutes"
printf '# per-destination caps\na.test concurrency=3\nb.test concurrency=5\n' >"$SPOOL/control/domains"
echo 10 >"$SPOOL/control/concurrency"
t0=$(now)
expect_rc 0 "caps: --drain delivers everything and exits" -- sched --drain
t1=$(now)
conncount_read "$T/caps.cc" TERM
ma=$(sed -n 1p "$T/caps.cc" | cut -d' ' -f3)
mb=$(sed -n 2p "$T/caps.cc" | cut -d' ' -f3)
mc=$(sed -n 3p "$T/caps.cc" | cut -d' ' -f3)
mall=$(sed -n 4p "$T/caps.cc" | cut -d' ' -f3)
echo "  (caps: $N messages in $(gap $t0 $t1) s; most connections at once: a.test $ma, b.test $mb, c.test $mc, all $mall; $(sed -n 's/^all max [0-9]* total //p' "$T/caps.cc") connections)"
expect_eq "$ma" 3 "caps: a.test (concurrency=3) reaches its cap, never more"
expect_eq "$mb" 5 "caps: b.test (concurrency=5) reaches its cap, never more"
if [ "$mc" -ge 1 ] && [ "$mc" -le 10 ]; then pass; else fail "caps: c.test had $mc connections at once (default cap 10)"; fi
# Without the global cap the three could hold 18; with it, never more than
# 10 (reached in most runs: a remote quitting to free a slot for another
# destination still holds it, so 9 is seen when the machine is slow).
if [ "$mall" -ge 8 ] && [ "$mall" -le 10 ]; then pass; else fail "caps: $mall connections at once in all (global cap 10)"; fi
expect_eq "$(nlog ' sched event=delivered ')" $N "caps: every message delivered"
expect_eq "$(grep ' sched event=delivered ' "$LOG" | sed 's/.* rcpt=\([^ ]*\) .*/\1/' | sort -u | wc -l | tr -d ' ')" $N "caps: each recipient delivered once in the log"
for d in a b c; do rcpts_in "$T/caps_$d"; done >"$T/caps.got"
expect_eq "$(wc -l <"$T/caps.got" | tr -d ' ')" $N "caps: the servers received every message"
expect_eq "$(sort -u "$T/caps.got" | wc -l | tr -d ' ')" $N "caps: and none twice"
expect_eq "$(for d in a b c; do rcpts_in "$T/caps_$d" | grep -v "@$d\.test\$"; done | wc -l | tr -d ' ')" 0 "caps: each domain went to its own server"
expect_eq "$(queue_files)" 0 "caps: queue empty"
expect_eq "$(ls "$SPOOL/new" | wc -l | tr -d ' ')" 0 "caps: new/ empty"
expect_grep "done: $N delivered, 0 bounced, 0 deferred, 0 expired" "$T/err" "caps: summary line"
stop_peers

# ---- 2. A destination that throttles us ----
# b.test refuses connections (nothing listens on its port), c.test answers
# 421 at the greeting: both are deferred with throttle=1 and paused
# (control/pausemin 3), while a.test (a server answering DATA after 1 s)
# goes on.  Both servers come back on their ports during the pause; the
# daemon delivers their mail when the pause is over, without a restart.
use_spool throttle
echo 1 >"$SPOOL/control/retry"
echo 3 >"$SPOOL/control/pausemin"
mklist "$T/thr.csv" 45 a.test b.test c.test
expect_rc 0 "throttle: enqueue" -- enqueue --campaign thr --template "$T/t.eml" --recipients "$T/thr.csv"
start_sink thr_a -w 1
pa=$SINK_PORT
pb=$(free_port)
start_sink thr_c421 -Q CONNECT
pc=$SINK_PORT c421=$SINK_PID
printf 'a.test:[127.0.0.1]:%s\nb.test:[127.0.0.1]:%s\nc.test:[127.0.0.1]:%s\n' $pa $pb $pc >"$SPOOL/control/smtproutes"
sched_bg "$T/thr.err"
wait_for 10 "throttle: b.test and c.test push back" -- \
	sh -c "grep -q ' event=deferred .*dest=b.test .*throttle=1 ' '$LOG' && grep -q ' event=deferred .*dest=c.test .*throttle=1 ' '$LOG'"
# The servers come back while the destinations are paused.
start_sink_at thr_b $pb
kill "$c421"
wait "$c421" 2>/dev/null
start_sink_at thr_c $pc
wait_for 20 "throttle: everything delivered in the end" -- \
	sh -c "[ \$(grep -c ' event=delivered ' '$LOG') -eq 45 ]"
stop_sched "throttle"
expect_grep ' sched event=deferred .*rcpt=u[0-9]+@b\.test dest=b\.test .*enhanced=4\.4\.1 .*throttle=1 ' "$LOG" "throttle: refused connection deferred with throttle=1"
expect_grep ' sched event=deferred .*rcpt=u[0-9]+@c\.test dest=c\.test .*code=421 .*throttle=1 ' "$LOG" "throttle: 421 deferred with throttle=1"
expect_eq "$(nlog ' event=deferred .*dest=a\.test ')" 0 "throttle: a.test not held up"
for d in b c; do
	first=$(epoch " event=deferred .*dest=$d\\.test .*throttle=1 " first)
	resumed=$(epoch " event=delivered .*dest=$d\\.test " first)
	# retry 1 would have come back within a second; the pause holds it 3 s
	# (2 to 3 with whole-second clocks).
	if gap_in "$first" "$resumed" 1.9 8; then pass; else
		fail "throttle: $d.test delivered $(gap "$first" "$resumed") s after its throttle (pausemin 3: expected 2 to 3 s)"
	fi
	# window 2 at the start: two attempts, then the pause
	attempts=$(grep ' event=deferred ' "$LOG" | grep -c "dest=$d\\.test ")
	if [ "$attempts" -ge 1 ] && [ "$attempts" -le 2 ]; then pass; else fail "throttle: $attempts deferrals at $d.test (expected 1-2: one window, then the pause)"; fi
	# a.test went on meanwhile
	n=$($PY - "$LOG" "$first" "$resumed" <<'PY'
import sys, datetime
lo, hi = float(sys.argv[2]), float(sys.argv[3])
n = 0
for l in open(sys.argv[1]):
    if " event=delivered " in l and " dest=a.test " in l:
        t = datetime.datetime.strptime(l.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()
        n += lo < t < hi
print(n)
PY
)
	if [ "$n" -ge 2 ]; then pass; else fail "throttle: only $n a.test deliveries while $d.test was paused"; fi
done
for d in a b c; do rcpts_in "$T/thr_$d"; done >"$T/thr.got"
expect_eq "$(sort -u "$T/thr.got" | wc -l | tr -d ' '):$(wc -l <"$T/thr.got" | tr -d ' ')" "45:45" "throttle: every recipient received once"
expect_eq "$(queue_files)" 0 "throttle: queue empty"
stop_peers

# ---- 3. 5xx to RCPT: bounced once, never retried ----
use_spool perm
echo 1 >"$SPOOL/control/retry"
mklist "$T/perm.csv" 4 p.test
expect_rc 0 "perm: enqueue" -- enqueue --campaign perm --template "$T/t.eml" --recipients "$T/perm.csv"
start_sink perm_sink -f RCPT
echo "p.test:[127.0.0.1]:$SINK_PORT" >"$SPOOL/control/smtproutes"
expect_rc 0 "perm: --drain" -- sched --drain
expect_eq "$(nlog ' sched event=bounced .*dest=p\.test .*attempt=1 code=5[0-9][0-9] enhanced=5\.')" 4 "perm: 4 bounced at the first attempt"
expect_eq "$(nlog ' sched event=(deferred|delivered|expired) ')" 0 "perm: no other outcome"
for i in 1 2 3 4; do
	expect_eq "$(nlog " sched event=.* rcpt=u$i@p\\.test ")" 1 "perm: u$i tried exactly once"
done
cat "$SPOOL"/bounce/new/* >"$T/perm.b" 2>/dev/null
expect_eq "$(grep -c '^bounce perm B\.[^ ]* [0-3] u[1-4]@p\.test [^ ]* failed 5[0-9][0-9] 5\.' "$T/perm.b")" 4 "perm: 4 bounce records, status failed"
expect_eq "$(cut -d' ' -f5 "$T/perm.b" | grep -c '@')" 4 "perm: one record per recipient"
expect_eq "$(queue_files)" 0 "perm: queue empty"
expect_eq "$(rcpts_in "$T/perm_sink" | wc -l | tr -d ' ')" 0 "perm: nothing accepted by the server"
stop_peers

# ---- 4. Queue lifetime ----
# 4a: retry 1, queuelifetime 3s, a server answering 450 to RCPT: tried
# every second, then expired (soft: never bounced).
# 4b (in parallel): a destination that refuses connections and is paused
# longer than the lifetime: messages expire while queued, attempted or not.
use_spool life4b
echo 1 >"$SPOOL/control/retry"
echo 4s >"$SPOOL/control/queuelifetime"
echo 3600 >"$SPOOL/control/pausemin"
echo 3600 >"$SPOOL/control/pausemax"
mklist "$T/life4b.csv" 6 q.test
enqueue --campaign life4b --template "$T/t.eml" --recipients "$T/life4b.csv" 2>"$T/life4b.enq"
echo "q.test:[127.0.0.1]:$(free_port)" >"$SPOOL/control/smtproutes"
sched_bg "$T/life4b.err" --drain
pid4b=$SCHED_PID
use_spool life
echo 1 >"$SPOOL/control/retry"
# 3 s; under valgrind (enqueue and sched several times slower) 8 s, so
# that the first attempt still comes well inside the lifetime
L=3
[ -n "${MAILSHOT_VALGRIND:-}" ] && L=8
echo ${L}s >"$SPOOL/control/queuelifetime"
mklist "$T/life.csv" 3 l.test
expect_rc 0 "life: enqueue" -- enqueue --campaign life --template "$T/t.eml" --recipients "$T/life.csv"
start_sink life_sink -r RCPT
echo "l.test:[127.0.0.1]:$SINK_PORT" >"$SPOOL/control/smtproutes"
t0=$(now)
expect_rc 0 "life: --drain" -- timeout 30 $wrap "$BIN/mailshot-sched" --drain
t1=$(now)
# The lifetime runs from the batch's creation second: it ends L-1 to L s
# after the first attempt.
if gap_in "$t0" "$t1" 0.9 $((L * 2)); then pass; else fail "life: --drain took $(gap "$t0" "$t1") s with a $L s lifetime"; fi
expect_eq "$(nlog " sched event=expired .*dest=l\\.test .*attempt=([2-9]|1[0-9]) code=450 ")" 3 "life: 3 expired after their 2nd or later 450"
expect_eq "$(nlog ' sched event=bounced ')" 0 "life: expiry is not a bounce"
for i in 1 2 3; do
	n=$(nlog " sched event=deferred .*rcpt=u$i@l\\.test ")
	if [ "$n" -ge 1 ] && [ "$n" -le $((L - 1)) ]; then pass; else fail "life: u$i deferred $n times in $L s with retry 1"; fi
done
cat "$SPOOL"/bounce/new/* >"$T/life.b" 2>/dev/null
expect_eq "$(grep -c '^bounce life B\.[^ ]* [0-2] u[1-3]@l\.test [^ ]* expired 450 ' "$T/life.b")" 3 "life: 3 bounce records, status expired"
expect_eq "$(grep -c ' failed ' "$T/life.b")" 0 "life: no failed records"
expect_eq "$(queue_files)" 0 "life: queue empty"
use_spool life4b
wait "$pid4b"
expect_eq "$?" 0 "life4b: --drain exits 0"
expect_eq "$(nlog ' sched event=expired .*dest=q\.test ')" 6 "life4b: all 6 expired while paused"
expect_eq "$(nlog ' sched event=expired .*dest=q\.test .*attempt=0 ')" 4 "life4b: 4 of them never attempted (window 2, then the pause)"
expect_eq "$(nlog ' sched event=expired .*dest=q\.test .*attempt=1 ')" 2 "life4b: 2 attempted once"
cat "$SPOOL"/bounce/new/* >"$T/life4b.b" 2>/dev/null
expect_eq "$(grep -c '^bounce life4b .* expired ' "$T/life4b.b")" 6 "life4b: 6 bounce records, status expired"
expect_eq "$(queue_files)" 0 "life4b: queue empty"
stop_peers

# ---- 5. The retry schedule in real time (in the background of 6-8) ----
# retry "1 2 4", a server answering 450 to RCPT, queuelifetime 10s: each
# message is tried at t0, t0+1, t0+3, t0+7 (whole seconds: the first wait
# is 0 to 1 s), then expires (the next wait would pass its deadline).  A
# second campaign enqueued 1.5 s later interleaves: attempts go in the
# order of their due times.
use_spool retry
echo "1 2 4" >"$SPOOL/control/retry"
echo 10s >"$SPOOL/control/queuelifetime"
mklist "$T/r1.csv" 2 r.test
PFX=v mklist "$T/r2.csv" 2 r.test
pids_before=$PIDS
start_sink retry_sink -r RCPT
echo "r.test:[127.0.0.1]:$SINK_PORT" >"$SPOOL/control/smtproutes"
sched_bg "$T/retry.err"
retry_pid=$SCHED_PID
wait_for 10 "retry: sched made its FIFO" -- test -p "$SPOOL/trigger"
sleep 0.3
expect_rc 0 "retry: enqueue" -- enqueue --campaign r1 --template "$T/t.eml" --recipients "$T/r1.csv"
(sleep 1.5; enqueue --spool "$SPOOL" --campaign r2 --template "$T/t.eml" --recipients "$T/r2.csv" 2>"$T/r2.err"; echo $? >"$T/r2.rc") &
retry_peers=${PIDS#"$pids_before"}
PIDS=$pids_before
trap 'stop_peers; kill $retry_peers 2>/dev/null; rm -rf "$T"' EXIT

# ---- 6. The trigger FIFO wakes a running sched; no polling ----
use_spool trig
start_sink trig_sink
echo ":[127.0.0.1]:$SINK_PORT" >"$SPOOL/control/smtproutes"
sched_bg "$T/trig.err"
wait_for 10 "trig: sched made its FIFO" -- test -p "$SPOOL/trigger"
sleep 1
# A batch that appears in new/ without a trigger byte is not seen: sched
# does not poll the directory.
mklist "$T/silent.csv" 1 s.test
expect_rc 0 "trig: a batch in another spool" -- enqueue --spool "$T/side" --campaign silent --template "$T/t.eml" --recipients "$T/silent.csv"
mv "$T/side/new"/B.* "$SPOOL/new/"
sleep 2
expect_eq "$(nlog ' sched event=')" 0 "trig: nothing done without a trigger"
PFX=t mklist "$T/trig.csv" 1 t.test
expect_rc 0 "trig: enqueue while sched runs" -- enqueue --campaign trig --template "$T/t.eml" --recipients "$T/trig.csv"
wait_for 10 "trig: delivered after the enqueue" -- sh -c "[ \$(grep -c ' event=delivered ' '$LOG') -eq 2 ]"
# from enqueue's commit (its queued line) to the delivery
t0=$(epoch ' enqueue event=queued .*rcpt=t1@t\.test ' first)
t1=$(epoch ' sched event=delivered .*rcpt=t1@t\.test ' first)
if gap_in "$t0" "$t1" 0 2; then pass; else fail "trig: delivered $(gap "$t0" "$t1") s after the enqueue"; fi
echo "  (trigger: delivered $(gap "$t0" "$t1") s after enqueue's commit)"
expect_grep ' event=delivered .*rcpt=u1@s\.test ' "$LOG" "trig: the silent batch taken in with it"
stop_sched "trig"
expect_grep '^mailshot-sched: done: 2 delivered' "$T/trig.err" "trig: summary on SIGTERM"
stop_peers

# ---- 7. --once and --drain ----
use_spool once
echo 1 >"$SPOOL/control/retry"
start_sink once_ok
pok=$SINK_PORT
start_sink once_def -r RCPT
printf 'a.test:[127.0.0.1]:%s\nd.test:[127.0.0.1]:%s\n' $pok $SINK_PORT >"$SPOOL/control/smtproutes"
mklist "$T/once.csv" 6 a.test d.test
expect_rc 0 "once: enqueue" -- enqueue --campaign once --template "$T/t.eml" --recipients "$T/once.csv"
expect_rc 0 "once: --once exits 0" -- timeout 30 $wrap "$BIN/mailshot-sched" --once
expect_eq "$(nlog ' sched event=delivered .*dest=a\.test ')" 3 "once: a.test delivered"
expect_eq "$(nlog ' sched event=deferred .*dest=d\.test .*attempt=1 ')" 3 "once: d.test tried once, deferred"
expect_eq "$(nlog ' sched event=')" 6 "once: nothing else"
st=$(ls "$SPOOL"/queue/*/*.state 2>/dev/null | head -1)
if [ -n "$st" ] && [ -e "${st%.state}" ]; then pass; else fail "once: no batch and state file left in the queue"; fi
expect_eq "$(grep -c '^r [0-9]* 1 ' "$st" 2>/dev/null)" 3 "once: 3 deferrals in the state journal"
expect_eq "$(grep -c '^d ' "$st" 2>/dev/null)" 3 "once: 3 deliveries in the state journal"
printf 'a.test:[127.0.0.1]:%s\nd.test:[127.0.0.1]:%s\n' $pok $pok >"$SPOOL/control/smtproutes"
expect_rc 0 "once: --drain exits 0" -- timeout 30 $wrap "$BIN/mailshot-sched" --drain
expect_eq "$(nlog ' sched event=delivered ')" 6 "once: --drain delivered the rest"
expect_eq "$(queue_files)" 0 "once: queue empty after --drain"
expect_eq "$(rcpts_in "$T/once_ok" | sort -u | wc -l | tr -d ' ')" 6 "once: each recipient at the server"
t0=$(now)
expect_rc 0 "once: --drain on an empty queue" -- timeout 30 $wrap "$BIN/mailshot-sched" --drain
t1=$(now)
if gap_in "$t0" "$t1" 0 5; then pass; else fail "once: --drain on an empty queue took $(gap "$t0" "$t1") s"; fi
stop_peers

# ---- 8. SIGHUP and SIGALRM ----
# SIGHUP: control/concurrency 1 -> 3 while sched runs; the server (DATA
# answered after 1 s) sees 1 connection at a time, then 3.
use_spool hup
echo 1 >"$SPOOL/control/concurrency"
start_sink hup_sink -w 1
start_conncount "$T/hup.cc" $SINK_PORT
echo "h.test:[127.0.0.1]:$CC_PORTS" | tr -d ' ' >"$SPOOL/control/smtproutes"
mklist "$T/hup.csv" 30 h.test
expect_rc 0 "hup: enqueue" -- enqueue --campaign hup --template "$T/t.eml" --recipients "$T/hup.csv"
sched_bg "$T/hup.err"
sleep 2.5
conncount_read "$T/hup.cc" USR1
expect_eq "$(sed -n 's/^all max \([0-9]*\) .*/\1/p' "$T/hup.cc")" 1 "hup: 1 connection with concurrency 1"
echo 3 >"$SPOOL/control/concurrency"
kill -HUP "$SCHED_PID"
sleep 2.5
conncount_read "$T/hup.cc" TERM
expect_eq "$(sed -n 's/^all max \([0-9]*\) .*/\1/p' "$T/hup.cc")" 3 "hup: 3 connections after SIGHUP with concurrency 3"
stop_sched "hup"
expect_grep 'control/ read again' "$T/hup.err" "hup: reread said"
stop_peers

# SIGALRM: retry 1h; deferred messages wait until SIGALRM, then go at once.
use_spool alrm
echo 1h >"$SPOOL/control/retry"
echo 1 >"$SPOOL/control/idletimeout"
start_sink alrm_def -r RCPT
palrm=$SINK_PORT def=$SINK_PID
echo "x.test:[127.0.0.1]:$palrm" >"$SPOOL/control/smtproutes"
mklist "$T/alrm.csv" 3 x.test
expect_rc 0 "alrm: enqueue" -- enqueue --campaign alrm --template "$T/t.eml" --recipients "$T/alrm.csv"
sched_bg "$T/alrm.err"
wait_for 10 "alrm: deferred" -- sh -c "[ \$(grep -c ' event=deferred ' '$LOG') -eq 3 ]"
expect_eq "$(nlog ' event=deferred .*attempt=1 .*next=')" 3 "alrm: next attempt logged"
kill "$def"
wait "$def" 2>/dev/null
start_sink_at alrm_ok $palrm
sleep 1.5
expect_eq "$(nlog ' event=delivered ')" 0 "alrm: nothing retried before SIGALRM (retry 1h)"
t0=$(now)
kill -ALRM "$SCHED_PID"
wait_for 10 "alrm: delivered after SIGALRM" -- sh -c "[ \$(grep -c ' event=delivered ' '$LOG') -eq 3 ]"
t1=$(epoch ' event=delivered ' last)
if gap_in "$t0" "$t1" 0 2; then pass; else fail "alrm: delivered $(gap "$t0" "$t1") s after SIGALRM"; fi
expect_eq "$(nlog ' event=delivered .*attempt=2 ')" 3 "alrm: at the second attempt"
stop_sched "alrm"
expect_grep 'SIGALRM: 3 deferred messages due now' "$T/alrm.err" "alrm: said"
stop_peers

# ---- 5, continued: the retry schedule's outcome ----
use_spool retry
SCHED_PID=$retry_pid
wait_for 20 "retry: all four expire after four attempts" -- sh -c "[ \$(grep -c ' event=expired ' '$LOG') -eq 4 ]"
stop_sched "retry"
expect_eq "$(cat "$T/r2.rc")" 0 "retry: enqueue while sched runs"
$PY - "$LOG" >"$T/retry.out" <<'PY'
import re, sys, datetime
def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()
def sec(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
bad = []
per, order = {}, []
for l in open(sys.argv[1]):
    m = re.search(r" sched event=(deferred|expired|delivered|bounced) .*rcpt=(\S+) .* attempt=(\d+) .* ms=(\d+)", l)
    if not m:
        continue
    ev, rcpt, att, ms = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
    nx = re.search(r" next=(\S+)", l)
    start = ts(l.split()[0]) - ms / 1000.0
    per.setdefault(rcpt, []).append((ev, att, start, sec(nx.group(1)) if nx else None))
    order.append((rcpt, att))
if sorted(per) != ["u1@r.test", "u2@r.test", "v1@r.test", "v2@r.test"]:
    bad.append("recipients: %s" % sorted(per))
due = {}
for rcpt, lines in per.items():
    evs = [(e, a) for e, a, _, _ in lines]
    if evs != [("deferred", 1), ("deferred", 2), ("deferred", 3), ("expired", 4)]:
        bad.append("%s: outcomes %s" % (rcpt, evs))
        continue
    t = [s for _, _, s, _ in lines]
    for k, want in ((1, 1), (2, 3), (3, 7)):
        got = t[k] - t[0]
        if abs(got - want) > 0.1 * want + 1 or got <= 0:
            bad.append("%s: attempt %d at t0+%.2f s, expected t0+%d" % (rcpt, k + 1, got, want))
    for k in range(1, 4):
        nxt = lines[k - 1][3]
        due[(rcpt, k + 1)] = nxt
        if not (nxt - 0.05 <= t[k] <= nxt + 1.5):
            bad.append("%s: attempt %d at %.3f, due %.0f" % (rcpt, k + 1, t[k], nxt))
    print("%s: attempts at t0 +%s" % (rcpt, " +".join("%.2f" % (x - t[0]) for x in t[1:])))
seq = [due[k] for k in order if k in due]
if seq != sorted(seq):
    bad.append("attempts out of due order: %s" % order)
# the two campaigns interleave, or the order check proves nothing
first_v = min(due[("v1@r.test", 2)], due[("v2@r.test", 2)]) if ("v1@r.test", 2) in due and ("v2@r.test", 2) in due else None
if first_v is not None and not due[("u1@r.test", 4)] > first_v:
    bad.append("campaigns did not interleave")
for b in bad:
    print("BAD", b)
PY
if grep -q '^BAD' "$T/retry.out" || ! grep -q 'attempts at' "$T/retry.out"; then
	fail "retry: schedule not kept: $(grep BAD "$T/retry.out" | head -5)"
else pass; fi
sed 's/^/  (retry: /; s/$/)/' "$T/retry.out" | grep -v BAD
cat "$SPOOL"/bounce/new/* >"$T/retry.b" 2>/dev/null
expect_eq "$(grep -c '^bounce r[12] .* expired 450 .* 4 ' "$T/retry.b")" 4 "retry: 4 expired records, 4 attempts each"
expect_eq "$(queue_files)" 0 "retry: queue empty"
PIDS="$PIDS $retry_peers"
stop_peers


finish
