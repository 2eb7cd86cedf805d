# mailshot-remote --session driven as sched drives it (docs/protocol.md):
# messages passed as descriptors of spool batches, many per connection,
# compressed bodies inflated on the way, and a dead destination.
. "$(dirname "$0")/lib.sh"

mkdir -p "$SPOOL/control"
echo 5 >"$SPOOL/control/timeoutremote"
drive() { $PY "$ROOT/tests/peers/drive_remote.py" "$BIN/mailshot-remote" "$SPOOL" example.com "$@" --cat "$BIN/mailshot-cat" ${wrap:+--wrap "$wrap"}; }

printf 'From: Team <team@example.org>\nSubject: Hello {{name}}\n\nHello {{name}},\n.\nline after a dot\n' >"$T/t.eml"
{ echo "email,name"; i=1; while [ $i -le 250 ]; do echo "user$i@example.com,User $i"; i=$((i + 1)); done; } >"$T/l.csv"
echo 6 >"$SPOOL/control/compress"
expect_rc 0 "enqueue 250 (compressed bodies)" -- enqueue --campaign s --template "$T/t.eml" --recipients "$T/l.csv"

start_smtpd "$T/got"
echo ":[127.0.0.1]:$SMTPD_PORT" >"$SPOOL/control/smtproutes"
echo 100 >"$SPOOL/control/maxmessages"
expect_rc 0 "a session of 250 jobs" -- drive "$SPOOL"/new/B.*
expect_eq "$(grep -c '^result .* delivered 250 2.0.0 ' "$T/out")" 250 "all delivered"
expect_eq "$(cat "$T/got"/*.env | grep '^peer ' | sort -u | wc -l | tr -d ' ')" 3 "250 messages over 3 connections (maxmessages 100)"
# Byte for byte: what the server received is what the spool holds.
bad=0
for b in "$SPOOL"/new/B.*; do
	"$BIN/mailshot-cat" --envelope "$b" | while IFS="$(printf '\t')" read -r idx rcpt rest; do
		n=$(grep -l "^to $rcpt\$" "$T/got"/*.env | head -1)
		"$BIN/mailshot-cat" --message "$idx" "$b" >"$T/want"
		cmp -s "$T/want" "${n%.env}.eml" || echo "differs: $rcpt"
	done
done >"$T/cmp"
if [ -s "$T/cmp" ]; then fail "messages differ: $(head -3 "$T/cmp")"; else pass; fi
stop_peers

# Idle: after control/idletimeout without a job, QUIT; the next job
# opens a new connection.
start_smtpd "$T/idle"
echo ":[127.0.0.1]:$SMTPD_PORT" >"$SPOOL/control/smtproutes"
echo 1 >"$SPOOL/control/idletimeout"
b=$(ls "$SPOOL"/new/B.* | head -1)
expect_rc 0 "jobs with pauses" -- drive "$b" --window 1 --pause 1.6 --slice 0/100
expect_eq "$(cat "$T/idle"/*.env | grep '^peer ' | sort -u | wc -l | tr -d ' ')" "$(cat "$T/idle"/*.env | grep -c '^peer ')" "a new connection after each idle pause"
stop_peers

# A destination that refuses connections: every job deferred, throttle said.
echo ":[127.0.0.1]:$(free_port)" >"$SPOOL/control/smtproutes"
b=$(ls "$SPOOL"/new/B.* | head -1)
expect_rc 0 "jobs for a dead destination" -- drive "$b"
expect_eq "$(grep -c '^result .* deferred - 4.4.1 ' "$T/out")" "$("$BIN/mailshot-cat" --envelope "$b" | wc -l | tr -d ' ')" "all deferred 4.4.1"
expect_grep '^throttle ' "$T/out" "throttle signalled"
finish
