# mailshot-remote finding its way through DNS served by a real unbound:
# MX order with the first host dead, A fallback without MX, null MX,
# NXDOMAIN, SERVFAIL.  MX hosts live on distinct loopback addresses so the
# test sees which one got the mail; control/smtpport points at the sinks.
. "$(dirname "$0")/lib.sh"

mkdir -p "$SPOOL/control"
echo 3 >"$SPOOL/control/timeoutremote"
echo 5 >"$SPOOL/control/timeoutdns"
port=$(free_port)
echo "$port" >"$SPOOL/control/smtpport"
start_unbound '"good.test. MX 10 mx1.good.test."
"good.test. MX 20 mx2.good.test."
"mx1.good.test. A 127.0.0.2"
"mx2.good.test. A 127.0.0.3"
"nomx.test. A 127.0.0.4"
"nullmx.test. MX 0 ."
"dangling.test. MX 10 nowhere.test."'

# sinks on mx2 and nomx; mx1 (127.0.0.2) has nobody listening.
for a in 127.0.0.3 127.0.0.4; do
	mkdir -p "$T/sink-$a"; chmod 777 "$T/sink-$a"; chmod 755 "$T"
	/usr/sbin/smtp-sink -u nobody -d "$T/sink-$a/%M." $a:$port 64 &
	PIDS="$PIDS $!"
done
sleep 0.5
printf 'Subject: mx\n\nvia DNS\n' >"$T/msg"
run() { sh -c "\"$BIN/mailshot-remote\" $1 sender@example.org rcpt@$1 <\"$T/msg\""; }

expect_rc 0 "MX: first host dead, second takes it" -- run good.test
expect_grep ' delivered 250 .* mx2.good.test 127.0.0.3 ' "$T/out" "delivered by mx2"
expect_eq "$(ls "$T/sink-127.0.0.3" | wc -l | tr -d ' ')" 1 "mx2's sink has it"
expect_rc 0 "no MX: the A record" -- run nomx.test
expect_grep ' delivered 250 .* nomx.test 127.0.0.4 ' "$T/out" "implicit MX"
expect_rc 100 "null MX" -- run nullmx.test
expect_grep ' failed - 5.1.10 ' "$T/out" "null MX: 5.1.10"
expect_rc 100 "NXDOMAIN" -- run nosuchdomain.test
expect_grep ' failed - 5.1.2 ' "$T/out" "NXDOMAIN: 5.1.2"
expect_rc 111 "SERVFAIL" -- run x.servfail.test
expect_grep ' deferred - 4.4.3 ' "$T/out" "SERVFAIL: 4.4.3"
expect_rc 111 "MX without an address" -- run dangling.test
expect_grep ' deferred - 4.4.3 ' "$T/out" "dangling MX: deferred"
finish
