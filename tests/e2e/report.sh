# mailshot-report end to end: a campaign delivered by sched to a real
# STARTTLS server on loopback (tests/peers/smtpd.py: bad* 550 5.1.1,
# blocked* 554 5.7.1, full* 552 retried until it expires, later* 451),
# bounce classifying the failures; then every view of it: the summary in
# text, TSV and JSON (read back by Python), the failed recipients, the
# queue with deferred messages and their last error, watch, a damaged
# and rotated (gzipped) log, and bad usage.
. "$(dirname "$0")/lib.sh"

report() { $wrap "$BIN/mailshot-report" "$@"; }
sched() { $wrap "$BIN/mailshot-sched" "$@"; }

use_spool r
echo 1 >"$SPOOL/control/retry"
echo 3s >"$SPOOL/control/queuelifetime"
echo "b@bounces.test" >"$SPOOL/control/bounceaddress"
echo 0123456789abcdef0123456789abcdef-report-test >"$SPOOL/control/secret"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.test \
	-addext "subjectAltName=IP:127.0.0.1" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || fail "openssl req"
start_smtpd "$T/smtpd" --cert "$T/cert.pem" --key "$T/key.pem"
echo ":[127.0.0.1]:$SMTPD_PORT" >"$SPOOL/control/smtproutes"

printf 'From: Team <team@example.org>\nSubject: Hello {{name}}\n\nHello {{name}}.\n' >"$T/t.eml"
{
	echo "email,name"
	for i in 1 2 3 4 5 6; do echo "ok$i@a.test,A$i"; done
	echo "ok7@b.test,B7"
	echo "OK1@a.test,again"
	echo "bad1@b.test,Bad"
	echo "blocked1@b.test,Blocked"
	echo "full1@c.test,Full"
	echo "x@@a.test,Invalid"
	echo "gone@a.test,Suppressed"
} >"$T/spring.csv"
expect_rc 0 "suppress one address" -- bounce add gone@a.test --reason manual
expect_rc 0 "enqueue" -- enqueue --campaign spring --template "$T/t.eml" --recipients "$T/spring.csv"
expect_rc 0 "sched --drain" -- sched --drain

# ---- the summary ----
expect_rc 0 "summary" -- report
expect_grep '^campaign spring$' "$T/out" "text: the campaign"
expect_grep '^  recipients +12   queued 10, suppressed 1, invalid 1, duplicates 1' "$T/out" "text: recipients line"
expect_grep '^  delivered +7   70\.0% of queued; latency p50 ' "$T/out" "text: delivered and the rate"
expect_grep '^  bounced +2   hard 1, soft 1$' "$T/out" "text: bounced, hard and soft"
expect_grep '^  expired +1$' "$T/out" "text: expired"
expect_grep '^  a\.test +6 +0 +0 +0 +100% +0\.0%$' "$T/out" "text: a.test, all over TLS"
expect_grep '^    user-unknown +1  e\.g\. ' "$T/out" "text: the bounce reason"
expect_no_grep 'warning' "$T/err" "text: no warning for a clean log"

expect_rc 0 "summary tsv" -- report --format tsv
tsv=$T/tsv
cp "$T/out" "$tsv"
col() { # TYPE NAME COLUMN: a column of a row, by the header's name
	awk -F'\t' -v t="$1" -v n="$2" -v c="$3" '
		$1 == "#" t { for (i = 1; i <= NF; i++) h[$i] = i; next }
		$1 == t && $2 == n { print $(h[c]) }' "$tsv"
}
expect_eq "$(col campaign spring queued)" 10 "tsv: queued"
expect_eq "$(col campaign spring delivered)" 7 "tsv: delivered"
expect_eq "$(col campaign spring bounced)" 2 "tsv: bounced"
expect_eq "$(col campaign spring hard)" 1 "tsv: hard"
expect_eq "$(col campaign spring expired)" 1 "tsv: expired"
expect_eq "$(col campaign spring suppressed)" 1 "tsv: suppressed"
expect_eq "$(col campaign spring invalid)" 1 "tsv: invalid"
expect_eq "$(col campaign spring duplicates)" 1 "tsv: duplicates"
expect_eq "$(col campaign spring pending)" 0 "tsv: nothing pending"
expect_eq "$(col campaign spring delivery_rate)" 0.7000 "tsv: delivery rate"
expect_eq "$(awk -F'\t' '$1 == "domain" && $3 == "c.test" { print $5, $7 }' "$tsv")" "$(nlog ' sched event=deferred .*rcpt=full1@c\.test ') 1" "tsv: c.test's deferrals (as many as the log's), then expired"
expect_eq "$(awk -F'\t' '$1 == "domain" && $3 == "a.test" { print $8 }' "$tsv")" 1.0000 "tsv: a.test TLS share"
expect_eq "$(awk -F'\t' '$1 == "reason" && $3 == "policy-block" { print $4 }' "$tsv")" 1 "tsv: policy-block reason"

expect_rc 0 "summary json" -- report --format json --campaign spring
$PY - "$T/out" >"$T/py" 2>&1 <<'PY' || fail "json: $(cat "$T/py")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == 1
(c,) = d["campaigns"]
want = dict(name="spring", recipients=12, queued=10, delivered=7, bounced=2, hard=1,
            soft=1, expired=1, suppressed=1, invalid=1, duplicates=1, pending=0)
for k, v in want.items():
    assert c[k] == v, (k, c[k], v)
assert c["latency"]["p50"] >= 0 and c["latency"]["p99"] >= c["latency"]["p50"]
doms = {x["domain"]: x for x in c["domains"]}
assert doms["a.test"]["tls_share"] == 1.0 and doms["a.test"]["delivered"] == 6
assert doms["c.test"]["expired"] == 1 and "552" in doms["c.test"]["last_error"]
reasons = {x["reason"]: x["count"] for x in c["reasons"]}
assert reasons.get("user-unknown") == 1, reasons
assert d["skipped"]["malformed"] == 0
PY

# ---- the HTML page, rendered by headless Chromium ----
expect_rc 0 "summary html" -- report --format html
cp "$T/out" "$T/report.html"
expect_no_grep '<script|(src|href)="https?:' "$T/report.html" "html: no script, no external reference"
if [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || [ "${CI:-}" = true ]; then
	$PY "$ROOT/tests/peers/render.py" "$T/report.html" --out "$T/render" --window-size 1200,4000 \
		--expect 'section.campaign' 1 \
		--expect-text 'section#c0 h2' 'Campaign spring' \
		--expect-text 'section#c0 td[data-field="delivered"]' 7 \
		--expect-text 'section#c0 td[data-field="bounced"]' 2 \
		--expect-text 'section#c0 td[data-field="expired"]' 1 \
		--expect-text 'section#c0 td[data-field="suppressed"]' 1 \
		--expect-min 'svg#outcomes-0 rect.seg' 2 \
		--expect 'svg#domains-0 g.row' 3 \
		--expect-text 'svg#domains-0 text.label[data-index="0"]' a.test \
		--expect 'svg#domains-0 rect.seg[data-series="delivered"][data-index="0"][data-value="6"]' 1 \
		--expect-min 'tr[data-reason]' 2 \
		--expect-color '#009E73' 2000 --expect-color '#D55E00' 100 \
		>"$T/render.out" 2>"$T/render.err"
	rc=$?
	n_ok=$(grep -c '^ok: ' "$T/render.out")
	n_fail=$(grep -c '^FAIL: ' "$T/render.out")
	passes=$((passes + n_ok))
	if [ $rc -ne 0 ] || [ "$n_fail" -ne 0 ] || [ "$n_ok" -lt 13 ]; then
		fail "html rendered in Chromium: exit $rc, $n_ok ok"
		grep -v '^ok: ' "$T/render.out" | head -20
		head -5 "$T/render.err"
	fi
else
	echo "report: chromium not installed: the HTML rendering checks are skipped"
fi

# ---- the failed recipients ----
expect_rc 0 "bounces" -- report bounces --campaign spring
expect_eq "$(grep -vc '^#' "$T/out")" 3 "bounces: three failed recipients"
expect_grep '^bad1@b\.test	failed	hard	user-unknown	550	5\.1\.1	' "$T/out" "bounces: the hard one"
expect_grep '^blocked1@b\.test	failed	soft	policy-block	554	5\.7\.1	' "$T/out" "bounces: the policy block"
expect_grep '^full1@c\.test	expired	soft	expired	' "$T/out" "bounces: the expired one"
expect_rc 100 "bounces without --campaign" -- report bounces

# ---- the queue: deferred messages with their next attempt ----
echo 1h >"$SPOOL/control/queuelifetime"
echo 600 >"$SPOOL/control/retry"
printf 'email,name\nlater1@d.test,L1\nlater2@d.test,L2\nok8@a.test,A8\n' >"$T/later.csv"
expect_rc 0 "enqueue later" -- enqueue --campaign later --template "$T/t.eml" --recipients "$T/later.csv"
expect_rc 0 "sched --once" -- sched --once
expect_rc 0 "queue" -- report queue
cp "$T/out" "$T/out.text"
expect_grep '^queue: 2 message\(s\): ready 0, deferred 2, in flight 0$' "$T/out" "queue: two deferred"
expect_grep '^campaign later: 2 queued, ready 0, deferred 2, in flight 0, next 20' "$T/out" "queue: per campaign, next attempt"
expect_grep '^d\.test +0 +2 +0 +[0-9]+m[0-9]+s +2  451 4\.3\.0 ' "$T/out" "queue: d.test with its last error"
expect_rc 0 "queue tsv" -- report queue --format tsv
expect_eq "$(awk -F'\t' '$1 == "destination" && $2 == "d.test" { print $3, $4, $5, $9 }' "$T/out")" "0 2 0 2" "queue tsv: d.test"
expect_grep '^sched: not running$' "$T/out.text" "queue: no sched running"
expect_rc 0 "queue json" -- report queue --format json
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["deferred"]==2 and d["destinations"][0]["destination"]=="d.test", d' "$T/out" || fail "queue json"
# sched running: its own view of the destinations (queue/status)
$wrap "$BIN/mailshot-sched" >"$T/sched.out" 2>&1 &
SCHED=$!
i=0
while [ ! -f "$SPOOL/queue/status" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
expect_rc 0 "queue with sched running" -- report queue
expect_grep "^sched: running \(pid $SCHED, since 20[-0-9T:]+Z\): 2 held, ready 0, waiting 2, in flight 0" "$T/out" "queue: sched's own counts"
expect_grep '^\[127\.0\.0\.1\]:[0-9]+ +0 +2 +0 +[0-9]+ +[0-9]+  no$' "$T/out" "queue: sched's destination, window and cap"
expect_rc 0 "queue json with sched running" -- report queue --format json
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); s=d["sched"]; assert s["pid"]==int(sys.argv[2]) and s["waiting"]==2 and s["destinations"][0]["waiting"]==2, s' "$T/out" "$SCHED" || fail "queue json: sched"
kill -TERM $SCHED
wait $SCHED
expect_eq "$(ls "$SPOOL/queue/status" 2>/dev/null)" "" "sched removes its status at a clean stop"
expect_rc 0 "summary with the queue" -- report --campaign later
expect_grep '^  pending +2   in queue 2: ready 0, deferred 2, in flight 0, next attempt 20' "$T/out" "summary: pending with the next attempt"

# ---- watch, not on a terminal ----
expect_rc 0 "watch" -- report watch --interval 0.2 --count 2
expect_eq "$(grep -c ' campaign=spring queued=10 delivered=7 bounced=2 expired=1 pending=0 ' "$T/out")" 2 "watch: a plain line per round"
expect_grep 'total: 11 done, [0-9.]+ msg/s, 0 deferral\(s\) in the last 0\.2 s' "$T/out" "watch: the total line"

if command -v script >/dev/null 2>&1; then
	# on a terminal (script(1) gives it one): the screen redrawn, bars
	script -qec "\"$BIN/mailshot-report\" watch --count 1" /dev/null >"$T/tty" 2>&1
	expect_grep "$(printf '\033')\\[H" "$T/tty" "watch on a terminal: the screen is redrawn"
	expect_grep '^spring +\[#+\] 100\.0% 10/10' "$T/tty" "watch on a terminal: a full bar for spring"
	expect_grep 'later +\[#+\.+\] +33\.3% 1/3' "$T/tty" "watch on a terminal: a third of later"
fi

# ---- watch follows the log: each round reads what is new, across a rotation ----
W=$T/w
mkdir -p "$W/log"
cp "$LOG" "$W/log/current"
# an old campaign's 40,000 lines: reading them again each round would show
awk 'BEGIN { for (i = 0; i < 20000; i++) {
	printf "2026-11-23T11:00:00Z enqueue event=queued campaign=old rcpt=p%d@a.test\n", i
	printf "2026-11-23T11:00:01Z sched event=delivered campaign=old rcpt=p%d@a.test\n", i } }' >>"$W/log/current"
rounds() { grep -c ' total: ' "$T/wout"; }
wait_rounds() { # N: until watch has printed N rounds
	n=0
	while [ "$(rounds)" -lt "$1" ] && [ $n -lt 300 ]; do
		sleep 0.1
		n=$((n + 1))
	done
}
delivered_line() { # RCPT INDEX: sched's delivered line for a recipient of later
	sed -n "/ sched event=delivered campaign=later /{s/index=2 rcpt=ok8@a\\.test/index=$2 rcpt=$1/;p;q}" "$LOG"
}
$wrap "$BIN/mailshot-report" --spool "$W" watch --interval 0.2 >"$T/wout" 2>"$T/werr" &
WP=$!
wait_rounds 1
delivered_line later1@d.test 0 >>"$W/log/current"
wait_rounds $(($(rounds) + 2))
mv "$W/log/current" "$W/log/@400000006920000000000000.s"
delivered_line later2@d.test 1 >"$W/log/current"
wait_rounds $(($(rounds) + 3))
rchar=$(awk '/^rchar:/ { print $2 }' /proc/$WP/io 2>/dev/null)
nround=$(rounds)
kill $WP
wait $WP
expect_eq "$?" 0 "watch stops on SIGTERM"
expect_grep ' campaign=later queued=3 delivered=2 bounced=0 expired=0 pending=1 deferrals=2$' "$T/wout" "watch: a line appended is counted"
expect_eq "$(grep ' campaign=later ' "$T/wout" | tail -n 1 | cut -d' ' -f2-)" \
	"campaign=later queued=3 delivered=3 bounced=0 expired=0 pending=0 deferrals=2" \
	"watch: after svlogd's rotation, the new current counted, the renamed one not twice"
expect_no_grep 'campaign=old' "$T/wout" "watch: an old finished campaign is not shown"
expect_no_grep 'warning' "$T/werr" "watch: no warning"
size=$(cat "$W/log/"* | wc -c)
if [ -z "${MAILSHOT_VALGRIND:-}" ] && [ -n "$rchar" ]; then
	# valgrind reads the program's debugging information too
	expect_eq "$([ "$rchar" -lt $((size * 2)) ] && echo once)" once \
		"watch read the $size-byte log once, not once per round ($rchar bytes in $nround rounds)"
fi

# ---- a damaged, rotated log ----
cp "$LOG" "$T/log.orig"
report --format tsv --campaign spring >"$T/before" 2>/dev/null
head -n 5 "$LOG" | gzip >"$SPOOL/log/current.1.gz"
touch -d '1 hour ago' "$SPOOL/log/current.1.gz"
tail -n +6 "$LOG" >"$T/rest"
{
	cat "$T/rest"
	echo "this is not a log line"
	echo "2026-11-23T12:00:00Z sched event=teleported campaign=spring rcpt=ok1@a.test"
	printf '\001\002 binary junk \377\n'
	printf '2026-11-23T12:00:01Z sched event=delivered campaign=spring batch=B.1.2.3 index=0 rcpt=cut'
} >"$LOG"
expect_rc 0 "a damaged and rotated log" -- report --format tsv --campaign spring
expect_eq "$(grep -v '	20[0-9-]*T' "$T/out" | md5sum)" "$(grep -v '	20[0-9-]*T' "$T/before" | md5sum)" "rotated + damaged: the same figures"
expect_grep 'skipped 2 malformed line\(s\), 1 unknown event\(s\), 1 cut-off' "$T/err" "rotated + damaged: one warning counting them"
expect_rc 111 "a log file that does not exist" -- report --log "$T/nonexistent"
expect_grep 'nonexistent' "$T/err" "the missing file is named"
cp "$T/log.orig" "$LOG"
rm "$SPOOL/log/current.1.gz"
expect_rc 0 "--log names the files" -- report --log "$T/log.orig" --format tsv --campaign spring
expect_eq "$(grep -v '	20[0-9-]*T' "$T/out" | md5sum)" "$(grep -v '	20[0-9-]*T' "$T/before" | md5sum)" "--log: the same figures"

# ---- windows and bad usage ----
expect_rc 0 "--since in the future" -- report --since 2099-01-01 --format tsv
expect_eq "$(grep -c '^campaign	' "$T/out")" 0 "--since: nothing after it"
expect_rc 0 "--since 1d" -- report --since 1d --format tsv
expect_eq "$(grep -c '^campaign	' "$T/out")" 2 "--since 1d: both campaigns"
expect_rc 100 "a bad --since" -- report --since yesterday
expect_grep 'since' "$T/err" "a bad --since is named"
expect_rc 100 "an unknown command" -- report frobnicate
expect_rc 100 "html is for the summary" -- report queue --format html
expect_rc 100 "a bad campaign id" -- report --campaign '../x'
expect_rc 100 "a bad --top" -- report --top 0
expect_rc 0 "an empty spool" -- report --spool "$T/empty"
expect_grep 'no campaigns' "$T/out" "an empty spool says so"
expect_eq "$(find "$SPOOL" -newer "$T/log.orig" -type f | grep -v '/log/current$' | wc -l | tr -d ' ')" 0 "report wrote nothing in the spool"

stop_peers
finish
