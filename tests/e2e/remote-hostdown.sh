# mailshot-remote --session and its table of dead hosts (qmail's tcpto;
# docs/protocol.md, hostdown and hostup): hd.test's preferred MX is an
# address where a listener accepts and hangs up at once, counting the
# connections; the second MX is a working smtp-sink on the same port.
# With control/maxmessages 1 every job opens a new connection, and only
# the first should ever knock at the dead one.  Then the records sched
# sends: a hostdown known before the first job, hostup, all hosts down,
# malformed records; and failures that are not the host's (TLS, RCPT).
. "$(dirname "$0")/lib.sh"

mkdir -p "$SPOOL/control"
echo 5 >"$SPOOL/control/timeoutremote"
echo 5 >"$SPOOL/control/timeoutdns"
echo 1 >"$SPOOL/control/maxmessages"
start_sink good
port=$SINK_PORT
echo "$port" >"$SPOOL/control/smtpport"
start_unbound '"hd.test. MX 10 mx1.hd.test."
"hd.test. MX 20 mx2.hd.test."
"mx1.hd.test. A 127.0.0.2"
"mx2.hd.test. A 127.0.0.1"'

# The dead MX: accepts on 127.0.0.2, writes a line per connection, and
# closes it at once (or, while $T/dead.silent exists, never says a word).
: >"$T/dead"
$PY "$ROOT/tests/peers/deadmx.py" "$port" "$T/dead" 2>"$T/dead.log" &
PIDS="$PIDS $!"
i=0
while [ ! -e "$T/dead.ready" ]; do
	i=$((i + 1)); [ $i -gt 50 ] && { fail "dead listener did not start: $(cat "$T/dead.log")"; break; }
	sleep 0.1
done
dead_count() { wc -l <"$T/dead" | tr -d ' '; }
delivered() { grep -c '^result .* delivered 250 .* mx2.hd.test 127.0.0.1 ' "$T/out"; }

printf 'From: Team <team@example.org>\nSubject: Hello {{name}}\n\nHello {{name}}\n' >"$T/t.eml"
{ echo "email,name"; for i in 1 2 3 4 5; do echo "user$i@hd.test,User $i"; done; } >"$T/l.csv"
expect_rc 0 "enqueue 5" -- enqueue --campaign hd --template "$T/t.eml" --recipients "$T/l.csv"
drive() { $PY "$ROOT/tests/peers/drive_remote.py" "$BIN/mailshot-remote" "$SPOOL" hd.test "$SPOOL"/new/B.* --cat "$BIN/mailshot-cat" ${wrap:+--wrap "$wrap"} "$@"; }

# 1. Five jobs, five connections: the dead MX is tried by the first only.
expect_rc 0 "a session of 5 jobs" -- drive
expect_eq "$(delivered)" 5 "all delivered by mx2"
expect_eq "$(ls "$T/good" | wc -l | tr -d ' ')" 5 "the sink has them"
expect_eq "$(dead_count)" 1 "the dead MX contacted once, not once per job"
expect_eq "$(head -1 "$T/out")" "hostdown 127.0.0.2 60" "hostdown first, before the job's results"
expect_eq "$(grep -c '^host' "$T/out")" 1 "one hostdown record, nothing else"

# 2. A hostdown from sched before the first job: the dead MX never
# contacted, and the record not echoed.
expect_rc 0 "a session told of the dead MX" -- drive --send "hostdown 127.0.0.2 60"
expect_eq "$(delivered)" 5 "all delivered"
expect_eq "$(dead_count)" 1 "the dead MX not contacted at all"
expect_eq "$(grep -c '^host' "$T/out")" 0 "a received record is not sent back"

# 3. hostup clears it: the dead MX tried again, and marked down anew for
# 60 s (not 120: hostup forgot the earlier failure).
expect_rc 0 "hostdown then hostup" -- drive --send "hostdown 127.0.0.2 60" --send "hostup 127.0.0.2"
expect_eq "$(delivered)" 5 "all delivered"
expect_eq "$(dead_count)" 2 "the dead MX contacted once more"
expect_eq "$(head -1 "$T/out")" "hostdown 127.0.0.2 60" "marked down again, for 60 s"

# 4. Every address down: all are still tried, in MX order.  The dead one
# fails again (the period it was told of doubles); the live one answers
# (hostup, so that sched tells the other remotes).
expect_rc 0 "every address down" -- drive --send "hostdown 127.0.0.2 60" --send "hostdown 127.0.0.1 300"
expect_eq "$(delivered)" 5 "all delivered"
expect_eq "$(dead_count)" 3 "the dead MX tried first, once"
expect_eq "$(sed -n 1,2p "$T/out" | tr '\n' ' ')" "hostdown 127.0.0.2 120 hostup 127.0.0.1 " \
	"hostdown (doubled) and hostup, before the results"
expect_eq "$(grep -c '^host' "$T/out")" 2 "nothing more after"

# 4b. A host that accepts and never greets: the wait for the greeting
# times out, and that marks it down as well.
touch "$T/dead.silent"
echo 1 >"$SPOOL/control/timeoutremote"
expect_rc 0 "a silent MX" -- drive
expect_eq "$(delivered)" 5 "all delivered"
expect_eq "$(dead_count)" 4 "the silent MX contacted once"
expect_eq "$(head -1 "$T/out")" "hostdown 127.0.0.2 60" "a greeting timeout marks it down"
expect_grep '^result [^ ]* user1@hd.test delivered .* [0-9]{4} Ok' "$T/out" "the first job waited for the greeting"
rm -f "$T/dead.silent"
echo 5 >"$SPOOL/control/timeoutremote"

# 5. The command line has no session: results only.
printf 'Subject: cli\n\nby hand\n' >"$T/msg"
expect_rc 0 "by hand" -- sh -c "\"$BIN/mailshot-remote\" hd.test sender@example.org cli@hd.test <\"$T/msg\""
expect_eq "$(wc -l <"$T/out" | tr -d ' ')" 1 "one result line, no hostdown"
expect_eq "$(dead_count)" 5 "the dead MX tried first, by hand"

# 6. Malformed records end the session (remote exits 111, nothing sent).
for rec in "hostdown mx1.hd.test 60" "hostdown 127.0.0.2 0" "hostdown 127.0.0.2 3601" \
	"hostdown 127.0.0.02 60" "hostdown 0::1 60" "hostdown 127.0.0.2 60 extra" "hostdown 127.0.0.2 +60" "hostdown 127.0.0.2 %2060" \
	"hostdown 127.0.0.2" "hostup" "hostup %zz" "hostup 127.0.0.2%0A"; do
	expect_rc 1 "refused: $rec" -- drive --send "$rec"
	expect_grep 'remote exit 111' "$T/err" "remote exits 111 on \"$rec\""
	expect_grep 'session: (malformed|unknown)' "$T/err" "remote says why on \"$rec\""
	expect_eq "$(grep -c . "$T/out")" 0 "no result after \"$rec\""
done
expect_eq "$(dead_count)" 5 "no connection for malformed records"

# 7. Not the host's fault: a failed opportunistic TLS handshake (retried in
# plain), TLS that policy requires, a 5xx to RCPT.  No hostdown.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.test \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || fail "openssl req"
start_smtpd "$T/tls" --cert "$T/cert.pem" --key "$T/key.pem" --broken-tls
echo ":[127.0.0.1]:$SMTPD_PORT" >"$SPOOL/control/smtproutes"
expect_rc 0 "broken TLS, retried in plain" -- drive
expect_eq "$(grep -c '^result .* delivered 250 ' "$T/out")" 5 "all delivered in plain"
expect_eq "$(grep -c '^host' "$T/out")" 0 "no hostdown for a TLS failure"
printf 'hd.test tls=encrypt\n' >"$SPOOL/control/domains"
expect_rc 0 "broken TLS, tls=encrypt" -- drive
expect_eq "$(grep -c '^result .* deferred - 4.7.5 ' "$T/out")" 5 "all deferred 4.7.5"
expect_eq "$(grep -c '^host' "$T/out")" 0 "no hostdown when TLS is refused"
rm -f "$SPOOL/control/domains"
{ echo "email,name"; echo "bad1@hd.test,Bad"; } >"$T/bad.csv"
expect_rc 0 "enqueue one for a bad recipient" -- enqueue --campaign bad --template "$T/t.eml" --recipients "$T/bad.csv"
expect_rc 0 "a session with a 5xx to RCPT" -- drive --send "hostdown 127.0.0.1 60"
expect_eq "$(grep -c '^result .* delivered 250 ' "$T/out")" 5 "5 delivered"
expect_grep '^result [^ ]* bad1@hd.test failed 550 5.1.1 ' "$T/out" "bad1 refused"
expect_eq "$(grep '^host' "$T/out" | tr '\n' ' ')" "hostup 127.0.0.1 " \
	"the host told of as down answers: hostup; the 5xx marks nothing"
expect_eq "$(head -1 "$T/out")" "hostup 127.0.0.1" "hostup before the results"
finish
