# mailshot-remote by hand against Postfix's smtp-sink: delivery byte for
# byte, pipelining on and off, 4xx/5xx at each command, 421, disconnects,
# refused connections, a server that never answers.
. "$(dirname "$0")/lib.sh"

mkdir -p "$SPOOL/control"
echo 3 >"$SPOOL/control/timeoutremote"
echo 3 >"$SPOOL/control/timeoutconnect"
route() { echo ":[127.0.0.1]:$1" >"$SPOOL/control/smtproutes"; }

# A message with dot lines, an empty last line, a long line, LF ends.
$PY - "$T/msg" <<'PY'
import sys
lines = ["From: Team <team@example.org>", "To: <x@example.com>", "Subject: test", "",
         "Hello", ".", "..two dots", ".leading dot", "x" * 990, "", "end", ""]
open(sys.argv[1], "w").write("\n".join(lines))
PY
# What smtp-sink stored, without its own headers (X-*: and its
# Received:), CRLF as LF, and without the one LF its dump adds at the end.
received_body() {
	$PY - "$1" <<'PY'
import sys
d = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
i = d.index(b"Received: ")
j = d.index(b"\n", d.index(b"(UTC)", i)) + 1
body = d[j:]
assert body.endswith(b"\n")
sys.stdout.buffer.write(body[:-1])
PY
}

start_sink ok
route $SINK_PORT
expect_rc 0 "deliver two recipients" -- sh -c "\"$BIN/mailshot-remote\" example.com sender@example.org x@example.com y@example.com <\"$T/msg\""
expect_eq "$(grep -c '^result .* delivered 250 ' "$T/out")" 2 "two delivered results"
expect_grep '^result x@example.com delivered 250 2.0.0 \[127.0.0.1\] 127.0.0.1 - [0-9]+ Ok$' "$T/out" "result record fields"
f=$(ls "$T/ok"/* | head -1)
expect_grep '^X-Mail-Args: <sender@example.org>' "$f" "envelope sender"
expect_eq "$(grep -c '^X-Rcpt-Args: ' "$f")" 2 "both recipients in one transaction"
received_body "$f" >"$T/got"
if cmp -s "$T/got" "$T/msg"; then pass; else fail "message changed on the way"; diff "$T/msg" "$T/got" | head; fi
expect_rc 0 "null sender" -- sh -c "\"$BIN/mailshot-remote\" example.com '' z@example.com <\"$T/msg\""
expect_grep '^X-Mail-Args: <>' "$(ls -t "$T/ok"/* | head -1)" "null sender on the wire"
stop_peers

run() { sh -c "\"$BIN/mailshot-remote\" example.com sender@example.org x@example.com y@example.com <\"$T/msg\""; }

for mode in pipelining nopipelining; do
	flags=; [ $mode = nopipelining ] && flags=-p
	start_sink f_rcpt_$mode $flags -f RCPT
	route $SINK_PORT
	expect_rc 100 "$mode: 5xx to RCPT fails permanently" -- run
	expect_eq "$(grep -c ' failed 5[0-9][0-9] ' "$T/out")" 2 "$mode: both failed"
	expect_eq "$(ls "$T/f_rcpt_$mode" | wc -l | tr -d ' ')" 0 "$mode: nothing stored"
	stop_peers

	start_sink r_mail_$mode $flags -r MAIL
	route $SINK_PORT
	expect_rc 111 "$mode: 4xx to MAIL defers" -- run
	expect_eq "$(grep -c ' deferred 4[0-9][0-9] ' "$T/out")" 2 "$mode: both deferred"
	stop_peers

	start_sink f_data_$mode $flags -f DATA
	route $SINK_PORT
	expect_rc 100 "$mode: 5xx to DATA" -- run
	stop_peers

	start_sink r_dot_$mode $flags -r .
	route $SINK_PORT
	expect_rc 111 "$mode: 4xx after the final dot defers" -- run
	stop_peers

	start_sink q_dot_$mode $flags -q .
	route $SINK_PORT
	expect_rc 111 "$mode: disconnect after the final dot is never 'delivered'" -- run
	expect_no_grep ' delivered ' "$T/out" "$mode: not delivered"
	expect_grep ' deferred - 4.4.2 ' "$T/out" "$mode: connection lost, 4.4.2"
	stop_peers

	start_sink Q_rcpt_$mode $flags -Q RCPT
	route $SINK_PORT
	expect_rc 111 "$mode: 421 to RCPT defers" -- run
	expect_eq "$(grep -c ' deferred 421 ' "$T/out")" 2 "$mode: both deferred with 421"
	stop_peers
done

# The server hangs up without a word at each step: deferred, never delivered.
for cmd in MAIL RCPT DATA; do
	start_sink hup_$cmd -q $cmd
	route $SINK_PORT
	expect_rc 111 "hang-up at $cmd defers" -- run
	expect_no_grep ' delivered ' "$T/out" "hang-up at $cmd: not delivered"
	stop_peers
done

# 8-bit content: BODY=8BITMIME where offered, refused (5.6.3) where not.
printf 'Subject: caf\303\251\n\nna\303\257ve\n' >"$T/msg8"
start_sink eight
route $SINK_PORT
expect_rc 0 "8-bit message with 8BITMIME" -- sh -c "\"$BIN/mailshot-remote\" example.com s@example.org x@example.com <\"$T/msg8\""
expect_grep '^X-Mail-Args: <s@example.org> BODY=8BITMIME' "$(ls "$T/eight"/* | head -1)" "BODY=8BITMIME announced"
stop_peers
start_sink seven -8
route $SINK_PORT
expect_rc 100 "8-bit message without 8BITMIME" -- sh -c "\"$BIN/mailshot-remote\" example.com s@example.org x@example.com <\"$T/msg8\""
expect_grep ' failed - 5.6.3 ' "$T/out" "5.6.3"
expect_rc 0 "7-bit message without 8BITMIME" -- run
expect_no_grep 'BODY=' "$(ls "$T/seven"/* | head -1)" "no BODY= for 7-bit"
stop_peers

# control/outgoingip and control/helohost.
start_sink bindip
route $SINK_PORT
echo 127.0.0.5 >"$SPOOL/control/outgoingip"
echo mailer.example.org >"$SPOOL/control/helohost"
expect_rc 0 "from the outgoing address" -- run
expect_grep '^X-Client-Addr: 127.0.0.5' "$(ls "$T/bindip"/* | head -1)" "connection from 127.0.0.5"
expect_grep '^X-Helo-Args: mailer.example.org' "$(ls "$T/bindip"/* | head -1)" "EHLO name from helohost"
rm "$SPOOL/control/outgoingip" "$SPOOL/control/helohost"
stop_peers

start_sink helo -e
route $SINK_PORT
expect_rc 0 "no ESMTP: HELO fallback" -- run
expect_grep 'X-Client-Proto: SMTP' "$(ls "$T/helo"/* | head -1)" "plain SMTP used"
stop_peers

# 5xx to RCPT for one recipient only is not possible with smtp-sink; the
# mixed case is covered with the TLS server (remote-tls.sh).

route "$(free_port)"
expect_rc 111 "connection refused defers" -- run
expect_grep 'deferred - 4.4.1 ' "$T/out" "refused: 4.4.1"

# A server that accepts and never says a word: the timeout fires.
port=$(free_port)
$PY -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(5)
conns = []
end = time.time() + 30
while time.time() < end:
    s.settimeout(1)
    try: conns.append(s.accept()[0])
    except OSError: pass
" &
PIDS="$PIDS $!"
sleep 0.5
route $port
start=$(date +%s)
expect_rc 111 "silent server: deferred after the timeout" -- run
el=$(($(date +%s) - start))
if [ $el -le 8 ]; then pass; else fail "silent server took ${el}s"; fi
expect_grep 'deferred - 4.4.2 .*timed%20out' "$T/out" "timeout reason"
stop_peers

# Servers that talk garbage: a clear deferral with the reason, no crash.
garbage_server() { # garbage_server PORT PYTHON-BYTES-EXPRESSION
	$PY -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $1)); s.listen(5); s.settimeout(20)
try:
    while True:
        c = s.accept()[0]
        c.sendall($2)
        time.sleep(0.5)
        c.close()
except OSError:
    pass
" &
	PIDS="$PIDS $!"
	sleep 0.4
}
port=$(free_port); garbage_server $port "bytes(range(256)) * 4"
route $port
expect_rc 111 "binary garbage as greeting" -- run
expect_grep ' deferred - 4.5.0 .*protocol%20error' "$T/out" "protocol error, deferred"
port=$(free_port); garbage_server $port "b'220 hi\\r\\n' + b'250-' + b'x' * 10000"
route $port
expect_rc 111 "over-long reply line" -- run
expect_grep ' deferred ' "$T/out" "over-long line: deferred"
port=$(free_port); garbage_server $port "b'220 hi\\r\\n'"
route $port
expect_rc 111 "hang-up right after the greeting" -- run
expect_grep ' deferred - 4.4.2 ' "$T/out" "connection lost: 4.4.2"
stop_peers

expect_rc 100 "usage" -- remote example.com
finish
