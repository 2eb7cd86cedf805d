# mailshot-sched shares what its remotes learn about dead MX hosts
# (docs/sched.md, "Dead hosts"): hd.test's preferred MX accepts and hangs
# up at once, counting connections; the second MX is a working
# smtp-sink.  With one message per connection and up to 5 remotes at
# once, a remote that learns the first MX is dead tells sched, which
# tells the others and every remote started later: the dead host sees
# about one connection per remote already connecting when it was learned
# (the destination's first window: 2), not one per remote process.
. "$(dirname "$0")/lib.sh"

mkdir -p "$SPOOL/control"
echo 5 >"$SPOOL/control/timeoutremote"
echo 5 >"$SPOOL/control/timeoutdns"
echo 1 >"$SPOOL/control/maxmessages"
echo "hd.test concurrency=5" >"$SPOOL/control/domains"
start_sink good
port=$SINK_PORT
echo "$port" >"$SPOOL/control/smtpport"
start_unbound '"hd.test. MX 10 mx1.hd.test."
"hd.test. MX 20 mx2.hd.test."
"mx1.hd.test. A 127.0.0.2"
"mx2.hd.test. A 127.0.0.1"'

: >"$T/dead"
$PY "$ROOT/tests/peers/deadmx.py" "$port" "$T/dead" 2>"$T/dead.log" &
PIDS="$PIDS $!"
i=0
while [ ! -e "$T/dead.ready" ]; do
	i=$((i + 1)); [ $i -gt 50 ] && { fail "dead listener did not start: $(cat "$T/dead.log")"; break; }
	sleep 0.1
done

n=40
[ -n "${MAILSHOT_VALGRIND:-}" ] && n=15
printf 'From: Team <team@example.org>\nSubject: Hello {{name}}\n\nHello {{name}}\n' >"$T/t.eml"
{ echo "email,name"; i=1; while [ $i -le $n ]; do echo "user$i@hd.test,User $i"; i=$((i + 1)); done; } >"$T/l.csv"
expect_rc 0 "enqueue $n" -- enqueue --campaign hd --template "$T/t.eml" --recipients "$T/l.csv"
expect_rc 0 "sched --drain" -- timeout 120 $wrap "$BIN/mailshot-sched" --drain
log="$SPOOL/log/current"
expect_eq "$(grep -c ' sched event=delivered .* mx=mx2.hd.test ' "$log")" "$n" "all delivered by the second MX"
dead=$(wc -l <"$T/dead" | tr -d ' ')
if [ "$dead" -ge 1 ] && [ "$dead" -le 2 ]; then pass; else fail "the dead MX saw $dead connections (want 1 or 2: the first window)"; fi
echo "sched-hostdown: dead MX contacted $dead times for $n messages" >&2
finish
