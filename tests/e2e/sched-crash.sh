# kill -9 of mailshot-sched and of its mailshot-remote children at any
# moment, then a restart: every message is delivered in the end, none is
# lost, and a message is delivered twice only within the at-least-once
# bound of docs/spool.md ("Outcomes and flushing").  Counted recipient by
# recipient at the receiving server.
#
# The receiver is aiosmtpd (TESTPEERS.md) with a fixed delay before it
# answers each message's final dot, written here: smtp-sink's delays are
# whole seconds (-w, -W), too coarse for a campaign of thousands.  It
# records a recipient as soon as the dot arrives, before the delay, so a
# connection lost while waiting for the answer counts as delivered there
# (the adversarial case: the server has the message, sched does not know).
#
# The bound, per kill of sched: the remote processes hold at most C
# messages at once (control/concurrency), one each; within one slot,
# messages follow each other and each takes at least DELAY_MS.  What can
# be delivered again after a restart is what was in flight (1 per slot)
# plus what was delivered but not yet flushed: sched flushes at most
# 50 ms after an outcome; allowing SLACK_MS (twice that, for a loaded
# machine), a slot completes at most SLACK_MS/DELAY_MS + 1 messages in that
# window.  So C * (2 + SLACK_MS/DELAY_MS) per kill of sched, and 1 per kill
# of a remote (the message it held).
. "$(dirname "$0")/lib.sh"

C=20
DELAY_MS=100
SLACK_MS=100
PER_KILL=$((C * (2 + SLACK_MS / DELAY_MS)))
N1=3000    # recipients of the campaign killed at random moments
KILLS=8    # kills of sched during it
RKILLS=2   # kills of a remote during those rounds (2 more in the final drain)
ROUNDS=16  # kills at the intake moment
if [ -n "${MAILSHOT_VALGRIND:-}" ]; then
	# The killed runs are native either way; the runs that finish go
	# through valgrind.  Scaled down to keep the time reasonable.
	N1=600 KILLS=4 RKILLS=1 ROUNDS=8
	echo "note: under valgrind: $N1 recipients, $KILLS kills of sched, $ROUNDS intake kills (scaled down)"
fi
seed=${MAILSHOT_SEED:-$$}
t0=$(date +%s%N)
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

cat >"$T/dsink.py" <<'EOF'
# usage: dsink.py PORT FILE DELAY_MS -- one line per recipient in FILE
import asyncio, os, sys, time
from aiosmtpd.controller import Controller
port, out, delay = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) / 1000
fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
class Handler:
    async def handle_DATA(self, server, session, envelope):
        os.write(fd, "".join(r + "\n" for r in envelope.rcpt_tos).encode())
        await asyncio.sleep(delay)
        return "250 2.0.0 OK"
Controller(Handler(), hostname="127.0.0.1", port=port, decode_data=False).start()
while True:
    time.sleep(3600)
EOF
start_dsink() { # NAME: sets DSINK_PORT; each recipient received is a line of $T/NAME.got
	DSINK_PORT=$(free_port)
	: >"$T/$1.got"
	$PY "$T/dsink.py" "$DSINK_PORT" "$T/$1.got" "$DELAY_MS" 2>"$T/$1.log" &
	PIDS="$PIDS $!"
	i=0
	while ! $PY -c "import socket; socket.create_connection(('127.0.0.1',$DSINK_PORT),1).close()" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && { fail "sink did not start: $(cat "$T/$1.log")"; return 1; }
		sleep 0.1
	done
}
setup() { # SPOOL PORT
	mkdir -p "$1/control"
	echo ":[127.0.0.1]:$2" >"$1/control/smtproutes"
	echo "* concurrency=$C" >"$1/control/domains"
	echo "$C" >"$1/control/concurrency"
	echo 1 >"$1/control/retry"
}
printf 'From: Team <team@example.org>\nSubject: Hello {{name}}\n\nHi {{name}}, this is message {{n}}.\n' >"$T/t.eml"
mklist() { # FILE PREFIX FIRST LAST
	{ echo "email,name,n"; i=$3; while [ "$i" -le "$4" ]; do echo "$2$i@example.com,User $i,$i"; i=$((i + 1)); done; } >"$1"
}
want() { # PREFIX FIRST LAST: the recipients, sorted
	i=$2; while [ "$i" -le "$3" ]; do echo "$1$i@example.com"; i=$((i + 1)); done | sort
}

# sched in the background, its PID in SPID; kill -9 by that PID.  CHILD
# is the sched not yet waited for, killed if the script ends early.
CHILD=
trap '[ -n "$CHILD" ] && kill -9 "$CHILD" 2>/dev/null; stop_peers; rm -rf "$T"' EXIT
sc_start() { # SPOOL [options]
	sp=$1; shift
	"$BIN/mailshot-sched" --spool "$sp" "$@" 2>>"$T/sched.err" &
	SPID=$! CHILD=$!
}
sc_kill() { kill -9 "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; CHILD=; }
# Kills one mailshot-remote child of $SPID, chosen at random; counts in RK.
RK=0
kill_remote() {
	set -- $(pgrep -P "$SPID" -f mailshot-remote)
	[ $# -gt 0 ] || return 1
	k=$(awk -v n=$# -v s="$seed$RK" 'BEGIN { srand(s); print int(rand() * n) + 1 }')
	eval "victim=\${$k}"
	kill -9 "$victim" 2>/dev/null && RK=$((RK + 1))
}
wait_done() { # PID SECONDS DESC: waits for PID (exit code in WRC), kills it after SECONDS
	n=0
	while kill -0 "$1" 2>/dev/null; do
		n=$((n + 1))
		if [ $n -gt $(($2 * 10)) ]; then
			fail "$3: still running after $2 s; killed"
			kill -9 "$1"
			break
		fi
		sleep 0.1
	done
	wait "$1"
	WRC=$?
	CHILD=
}
drain() { # SPOOL DESC: sched --drain to completion (under valgrind if asked)
	$wrap "$BIN/mailshot-sched" --spool "$1" --drain 2>>"$T/sched.err" &
	p=$! CHILD=$!
	wait_done $p 120 "$2"
	expect_eq "$WRC" 0 "$2: sched --drain exit code"
}
# Remotes of killed scheds finish what they hold and quit; none may stay.
no_remotes_left() { # SPOOL DESC
	n=0
	while pgrep -f "mailshot-remote --spool $1 " >/dev/null; do
		n=$((n + 1))
		if [ $n -gt 100 ]; then
			fail "$2: mailshot-remote processes left: $(pgrep -f "mailshot-remote --spool $1 " | tr '\n' ' ')"
			for p in $(pgrep -f "mailshot-remote --spool $1 "); do kill -9 "$p"; done
			return
		fi
		sleep 0.1
	done
	pass
}
# Delivered at least once, nobody else, duplicates within BOUND (DUPS set).
check_arrivals() { # DESC GOT WANTFILE BOUND
	sort -u "$2" >"$T/got.u"
	expect_eq "$(comm -23 "$3" "$T/got.u" | wc -l)" 0 "$1: recipients never delivered"
	expect_eq "$(comm -13 "$3" "$T/got.u" | wc -l)" 0 "$1: recipients not in the campaign"
	DUPS=$(($(wc -l <"$2") - $(wc -l <"$T/got.u")))
	most=$(sort "$2" | uniq -c | sort -rn | awk 'NR == 1 { print $1 }')
	if [ "$DUPS" -le "$4" ]; then pass; else fail "$1: $DUPS duplicates, bound $4"; fi
	echo "  ($1: $(wc -l <"$T/got.u") recipients, $DUPS extra deliveries (bound $4), at most ${most:-0} of one recipient)"
}
check_spool() { # SPOOL WANTFILE DESC: queue and new/ empty, a delivered line for everyone
	expect_eq "$(find "$1/queue" -type f | wc -l)" 0 "$3: no batch or state file left in queue/"
	expect_eq "$(find "$1/new" -type f | wc -l)" 0 "$3: new/ empty"
	expect_eq "$(cat "$1"/bounce/new/* 2>/dev/null | grep -c '^bounce ')" 0 "$3: no failure handed to bounce"
	expect_eq "$(grep -c ' bounce event=classified ' "$1/log/current")" 0 "$3: no failure classified by bounce"
	grep ' event=delivered ' "$1/log/current" | sed -n 's/.* rcpt=\([^ ]*\) .*/\1/p' | sort -u >"$T/logged"
	missing=$(comm -23 "$2" "$T/logged" | wc -l)
	expect_eq "$missing" 0 "$3: a delivered line in the log for every recipient"
	[ "$missing" -eq 0 ] || comm -23 "$2" "$T/logged" | head -3 | sed 's/^/    not logged: /'
}

# ---- 1. A campaign, sched killed at random moments, remotes killed ----
SP=$T/s1
start_dsink p1 || { finish; exit 1; }
setup "$SP" "$DSINK_PORT"
mklist "$T/p1.csv" p1u 1 "$N1"
want p1u 1 "$N1" >"$T/p1.want"
expect_rc 0 "enqueue $N1" -- enqueue --spool "$SP" --campaign big --template "$T/t.eml" --recipients "$T/p1.csv"
delays=$(awk -v n="$KILLS" -v s="$seed" 'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%.2f ", 0.1 + rand() * 0.6 }')
echo "  (seed $seed; sched killed after $delays s)"
round=0
for d in $delays; do
	round=$((round + 1))
	sc_start "$SP"
	if [ $((round % 2)) -eq 0 ] && [ $RK -lt $RKILLS ]; then
		# A remote, while sched goes on; then long enough for its
		# deferral to be flushed before sched is killed in turn.
		sleep 0.3
		kill_remote
		sleep 0.2
	fi
	sleep "$d"
	sc_kill
done
rk_rounds=$RK
sc_start "$SP" --drain
sleep 0.5
kill_remote
sleep 0.7
kill_remote
wait_done "$SPID" 120 "campaign after $KILLS kills"
expect_eq "$WRC" 0 "final sched --drain exit code"
no_remotes_left "$SP" "campaign"
check_arrivals "campaign" "$T/p1.got" "$T/p1.want" $((KILLS * PER_KILL + RK))
check_spool "$SP" "$T/p1.want" "campaign"
# What the killed remotes held was deferred, then delivered.
awk '/ event=(deferred|delivered) / { match($0, / rcpt=[^ ]+/); r = substr($0, RSTART + 6, RLENGTH - 6) }
     / event=deferred / && /mailshot-remote (ended|exited) without a result/ { held[r] = 1; n++ }
     / event=delivered / && (r in held) { delete held[r]; later++ }
     END { left = 0; for (r in held) left++; print n + 0, later + 0, left }' "$SP/log/current" >"$T/rk"
read -r rk_deferred rk_later rk_left <"$T/rk"
if [ "$rk_deferred" -ge 1 ] && [ "$rk_deferred" -le "$RK" ]; then pass; else
	fail "remote kills: $RK remotes killed, $rk_deferred deferrals for a remote that ended without a result"
fi
expect_eq "$rk_left" 0 "messages of killed remotes delivered after their deferral"
echo "  ($KILLS kills of sched, $RK of a remote ($rk_rounds in the kill rounds, the rest in the final drain): $rk_deferred held messages deferred, $rk_later delivered later; $(ms_since "$t0") ms so far)"

# ---- 2. kill -9 at the intake moment, enqueue running meanwhile ----
SP=$T/s2
t1=$(date +%s%N)
start_dsink p2 || { finish; exit 1; }
setup "$SP" "$DSINK_PORT"
k=1
while [ $k -le 12 ]; do
	mklist "$T/p2.$k.csv" p2u $((60 * k - 59)) $((60 * k))
	k=$((k + 1))
done
want p2u 1 720 >"$T/p2.want"
k=1
while [ $k -le 6 ]; do
	enqueue --spool "$SP" --campaign "intake$k" --template "$T/t.eml" --recipients "$T/p2.$k.csv" 2>>"$T/enq.err" || echo "$k" >>"$T/enq.bad"
	k=$((k + 1))
done
(
	k=7
	while [ $k -le 12 ]; do
		sleep 0.05
		"$BIN/mailshot-enqueue" --spool "$SP" --campaign "intake$k" --template "$T/t.eml" --recipients "$T/p2.$k.csv" 2>>"$T/enq.err" || echo "$k" >>"$T/enq.bad"
		k=$((k + 1))
	done
) &
epid=$!
nostate=0 orphan=0 torn=0 round=0
for ms in 0 1 2 3 5 8 12 16 20 25 30 40 50 60 80 100; do
	[ $round -ge "$ROUNDS" ] && break
	round=$((round + 1))
	sc_start "$SP"
	sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
	sc_kill
	for f in "$SP"/queue/??/B.*; do
		[ -e "$f" ] || continue
		case $f in
		*.state) [ -e "${f%.state}" ] || orphan=$((orphan + 1)) ;;
		*) [ -e "$f.state" ] || nostate=$((nostate + 1)) ;;
		esac
	done
	for f in "$SP"/queue/??/.B.*.state; do [ -e "$f" ] && torn=$((torn + 1)); done
done
wait $epid
expect_eq "$(cat "$T/enq.bad" 2>/dev/null)" "" "enqueue beside the killed scheds"
echo "  (intake: $round kills 0-100 ms after start; seen after them: $nostate batches without state, $orphan state files without batch, $torn .state temporaries)"
drain "$SP" "intake kills"
no_remotes_left "$SP" "intake kills"
check_arrivals "intake kills" "$T/p2.got" "$T/p2.want" $((round * PER_KILL))
check_spool "$SP" "$T/p2.want" "intake kills"
echo "  (intake part: $(ms_since "$t1") ms)"

# ---- 3. Torn states made by hand: restart repairs them ----
# A dead route first, so that sched takes the batches in and leaves them
# queued (every attempt deferred); then the damage; then a restart.
SP=$T/s3
t1=$(date +%s%N)
start_dsink p3 || { finish; exit 1; }
setup "$SP" "$(free_port)"
k=1
while [ $k -le 4 ]; do
	mklist "$T/p3.$k.csv" p3u $((40 * k - 39)) $((40 * k))
	k=$((k + 1))
done
want p3u 1 160 >"$T/p3.want"
for k in 1 2 3; do
	expect_rc 0 "enqueue h$k" -- enqueue --spool "$SP" --campaign "h$k" --template "$T/t.eml" --recipients "$T/p3.$k.csv"
done
run_once() { # DESC: sched --once (under valgrind if asked); stderr in $T/once.err
	$wrap "$BIN/mailshot-sched" --spool "$SP" --once 2>"$T/once.err" &
	p=$! CHILD=$!
	wait_done $p 60 "$1"
	expect_eq "$WRC" 0 "$1: sched --once exit code"
	cat "$T/once.err" >>"$T/sched.err"
}
run_once "taken in, destination down"
expect_eq "$(find "$SP/queue" -name 'B.*' ! -name '*.state' | wc -l)" 3 "3 batches queued"
expect_eq "$(find "$SP/queue" -name 'B.*.state' | wc -l)" 3 "3 state files"
state_of() { # CAMPAIGN: path of its state file
	grep -l "^campaign $1\$" "$SP"/queue/??/B.*.state
}
a=$(state_of h1) b=$(state_of h2) c=$(state_of h3)
adir=$(dirname "$a")
acount=$(grep -c '^m ' "$a")
# h1: its state file deleted, and a torn temporary of it beside it.
head -c 60 "$a" >"$adir/.$(basename "$a")"
rm "$a"
# A state file without its batch (a finished batch whose state outlived it).
cp "$c" "$adir/B.1000000000.1.0.state"
# h2: a torn last line, no LF, that would say "delivered" if it were read.
cp "$b" "$T/b.before"
bsize=$(wc -c <"$b")
printf 'd 0 17' >>"$b"
b0=$(mcat --envelope "$(dirname "$b")/$(basename "$b" .state)" | awk -F '\t' '$1 == 0 { print $2 }')
# h4 waits in new/.
expect_rc 0 "enqueue h4" -- enqueue --spool "$SP" --campaign h4 --template "$T/t.eml" --recipients "$T/p3.4.csv"
sleep 1.2 # past the deferred ones' next attempt (control/retry 1 s, +10 %)
run_once "restart over torn states"
if [ -f "$a" ] && [ "$(head -1 "$a")" = "mailshot-queue 1" ] && [ "$(grep -c '^m ' "$a")" -eq "$acount" ]; then pass; else
	fail "state file of a queued batch not rebuilt: $(ls -la "$adir")"
fi
expect_eq "$(find "$SP/queue" -name '.B.*' | wc -l)" 0 "torn .state temporary removed"
expect_eq "$(find "$SP/queue" -name 'B.1000000000.1.0.state' | wc -l)" 0 "state file without batch removed"
expect_eq "$(find "$SP/queue" -name 'B.*' ! -name '*.state' | wc -l)" 4 "h4 taken in"
expect_eq "$(find "$SP/queue" -name 'B.*.state' | wc -l)" 4 "a state file each"
if head -c "$bsize" "$b" | cmp -s - "$T/b.before"; then pass; else fail "torn line: the state file's good part changed"; fi
if [ "$(tail -c 1 "$b" | od -An -c | tr -d ' ')" = '\n' ]; then pass; else fail "torn line: state file does not end in a line end"; fi
tail -c +$((bsize + 1)) "$b" | grep -Ev '^([dfxs] [0-9]+ [0-9]+|r [0-9]+ [0-9]+ [0-9]+)$' >"$T/badlines"
if [ -s "$T/badlines" ]; then fail "torn line: journal after the cut: $(head -3 "$T/badlines")"; else pass; fi
expect_no_grep 'malformed journal lines' "$T/once.err" "torn line cut, not carried into the journal"
echo ":[127.0.0.1]:$DSINK_PORT" >"$SP/control/smtproutes"
drain "$SP" "torn states"
check_arrivals "torn states" "$T/p3.got" "$T/p3.want" 0
expect_eq "$(grep -c "^$b0\$" "$T/p3.got")" 1 "the message of the torn \"d\" line delivered"
check_spool "$SP" "$T/p3.want" "torn states"
echo "  (torn states part: $(ms_since "$t1") ms)"

# ---- 4. kill -9 inside a flush, at its write to the delivery log ----
# The random kills above hit this moment only now and then; strace's
# fault injection hits it every time: SIGKILL as sched enters its second
# write(2) to log/current, when that flush's journal lines are on disk.
# Every message must still get its delivered line in the end.  (With
# --drain, so that a strace that cannot inject ends anyway, and fails.)
if [ -n "$wrap" ]; then
	echo "note: kill at the log write skipped under valgrind"
elif ! strace -qq -o /dev/null true 2>/dev/null; then
	echo "note: no usable strace here; kill at the log write skipped"
else
	SP=$T/s4
	start_dsink p4 || { finish; exit 1; }
	setup "$SP" "$DSINK_PORT"
	mklist "$T/p4.csv" p4u 1 200
	want p4u 1 200 >"$T/p4.want"
	expect_rc 0 "enqueue 200" -- enqueue --spool "$SP" --campaign logkill --template "$T/t.eml" --recipients "$T/p4.csv"
	strace -f -qq -o /dev/null -P "$SP/log/current" -e trace=write -e inject=write:signal=KILL:when=2 \
		"$BIN/mailshot-sched" --spool "$SP" --drain 2>>"$T/sched.err" &
	CHILD=$!
	wait_done $! 60 "sched killed at its log write"
	expect_eq "$WRC" 137 "sched killed by SIGKILL at its log write"
	drain "$SP" "kill at the log write"
	check_arrivals "kill at the log write" "$T/p4.got" "$T/p4.want" "$PER_KILL"
	check_spool "$SP" "$T/p4.want" "kill at the log write"
fi
echo "  (whole script: $(ms_since "$t0") ms)"

# kill -9 cannot tear an append: no journal line may ever be malformed.
expect_no_grep 'malformed journal lines' "$T/sched.err" "no malformed journal line after any kill"
if grep -qE 'AddressSanitizer|runtime error:|^==[0-9]+== ' "$T/sched.err"; then
	fail "sanitizer or valgrind report in sched's output"
	grep -E 'AddressSanitizer|runtime error:|^==[0-9]+== ' "$T/sched.err" | head -5
else pass; fi
finish
