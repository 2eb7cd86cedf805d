# mailshot-report check and it-sheet (lib/domcheck.c, docs/domcheck.md)
# against a real unbound on loopback serving good and broken zones, and
# smtp-sink MX hosts on distinct loopback addresses:
#   good.test: SPF passes our IPs, DKIM records made by --dkim-keygen
#     (RSA and Ed25519), DMARC p=reject, aligned -> all PASS, exit 0;
#   broken: no SPF, two SPF records, more than 10 lookups through nested
#     includes, SPF failing our IP (the fixed record printed, and checked
#     where inserting before "all" would not do), a different DKIM key,
#     no DKIM record, no DMARC, p=none (WARN), a misaligned Return-Path,
#     garbage tags, SERVFAIL and a DNS server that never answers (TEMP,
#     exit 111, no crash);
#   MX: two live hosts (PASS), a dead host and one without address (FAIL
#     naming them), a host that never greets, null MX;
#   it-sheet in Markdown and HTML: IPs, bounce domain, 421, MX check,
#     TLS of recent deliveries from the log, HTML escaping;
#   bad usage and bad control files (100), an unreadable one (111).
. "$(dirname "$0")/lib.sh"

report() { $wrap "$BIN/mailshot-report" --spool "$SPOOL" "$@"; }
TAB=$(printf '\t')
# row CHECK SUBJECT RESULT: a TSV line of $T/out
row() { expect_grep "^$1$TAB$2$TAB$3$TAB" "$T/out" "$1 $2 is $3"; }

use_spool main
echo 2 >"$SPOOL/control/timeoutdns"
port=$(free_port)
echo "$port" >"$SPOOL/control/smtpport"
echo 127.0.0.10 >"$SPOOL/control/outgoingip"
echo b@bounces.good.test >"$SPOOL/control/bounceaddress"

# DKIM keys: the records as keygen prints them go into the zone
keygen() { "$BIN/mailshot-enqueue" --spool "$SPOOL" --dkim-keygen "$@" 2>/dev/null | sed 's/ IN TXT / TXT /'; }
good_rsa=$(keygen good.test s1)
good_ed=$(keygen good.test e1 --ed25519)
keygen wrongkey.test s1 >/dev/null
keygen dkimmissing.test s1 --ed25519 >/dev/null
keygen garbage.test s1 --ed25519 >/dev/null
keygen x.servfail.test s1 --ed25519 >/dev/null
wrong=$(echo "$good_rsa" | sed 's/^s1._domainkey.good.test/s1._domainkey.wrongkey.test/')

start_unbound "'good.test. TXT \"v=spf1 ip4:127.0.0.10 ip4:127.0.0.11 -all\"'
'good.test. TXT \"google-site-verification=abc\"'
'$good_rsa'
'$good_ed'
'_dmarc.good.test. TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@good.test\"'
'bounces.good.test. TXT \"v=spf1 include:good.test -all\"'
'elsewhere.test. TXT \"v=spf1 ip4:127.0.0.10 -all\"'
'nospf.test. TXT \"some-verification=xyz\"'
'twospf.test. TXT \"v=spf1 ip4:127.0.0.10 -all\"'
'twospf.test. TXT \"v=spf1 mx -all\"'
'deep.test. TXT \"v=spf1 include:i1.deep.test include:i2.deep.test -all\"'
'i1.deep.test. TXT \"v=spf1 a mx include:i3.deep.test -all\"'
'i2.deep.test. TXT \"v=spf1 a mx a:x.test mx:x.test -all\"'
'i3.deep.test. TXT \"v=spf1 a mx ptr exists:x.deep.test -all\"'
'failip.test. TXT \"v=spf1 ip4:127.0.0.99 -all\"'
'blockip.test. TXT \"v=spf1 -ip4:127.0.0.0/8 ~all\"'
'$wrong'
'_dmarc.pnone.test. TXT \"v=DMARC1; p=none\"'
'garbage.test. TXT \"v=spf1 foo:bar -all\"'
's1._domainkey.garbage.test. TXT \"v=DKIM1; k=ed25519; p=@@@; 1x=\"'
'_dmarc.garbage.test. TXT \"v=DMARC1; p=maybe\"'
'rcpt.test. MX 10 mx1.rcpt.test.'
'rcpt.test. MX 20 mx2.rcpt.test.'
'mx1.rcpt.test. A 127.0.0.2'
'mx2.rcpt.test. A 127.0.0.3'
'bad.test. MX 10 mx1.rcpt.test.'
'bad.test. MX 20 dead.bad.test.'
'bad.test. MX 30 noaddr.bad.test.'
'dead.bad.test. A 127.0.0.4'
'silent.test. MX 10 mx.silent.test.'
'mx.silent.test. A 127.0.0.5'
'nullmx.test. MX 0 .'"

# MX hosts: smtp-sink on 127.0.0.2 and .3; nobody on .4; .5 accepts and never greets
chmod 755 "$T"
for a in 127.0.0.2 127.0.0.3; do
	mkdir -p "$T/sink-$a"
	chmod 777 "$T/sink-$a"
	/usr/sbin/smtp-sink -u nobody -d "$T/sink-$a/%M." $a:$port 16 &
	PIDS="$PIDS $!"
done
$PY -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.5', $port)); s.listen(8)
time.sleep(120)" &
PIDS="$PIDS $!"
for a in 127.0.0.2 127.0.0.3 127.0.0.5; do
	wait_for 5 "listener on $a" -- $PY -c "import socket; socket.create_connection(('$a',$port),1).close()"
done

# ---- 1. the good zone: everything passes ----
expect_rc 0 "good.test: all pass" -- report check good.test --ip 127.0.0.10 --ip 127.0.0.11
expect_grep '^CHECK +RESULT +DETAIL' "$T/out" "text table header"
expect_no_grep ' (FAIL|WARN|TEMP) ' "$T/out" "good.test: nothing but PASS"
expect_grep '^dkim s1._domainkey.good.test +PASS +matches our rsa-2048 key' "$T/out" "DKIM RSA matches"
expect_grep '^dkim e1._domainkey.good.test +PASS +matches our ed25519 key' "$T/out" "DKIM Ed25519 matches"
expect_grep '^spf-lookups bounces.good.test +PASS .*1 DNS lookup of at most 10' "$T/out" "lookups counted"
expect_grep '^dmarc _dmarc.good.test +PASS +p=reject' "$T/out" "DMARC p=reject"
expect_no_grep '^publish:' "$T/out" "nothing to publish"
expect_rc 0 "good.test, TSV" -- report check good.test --format tsv
expect_eq "$(head -1 "$T/out")" "check${TAB}subject${TAB}result${TAB}detail${TAB}publish" "TSV header"
row spf-ip "good.test 127.0.0.10" PASS
row dmarc-spf good.test PASS
expect_rc 0 "good.test, JSON" -- report check good.test --format json
cp "$T/out" "$T/json"
expect_rc 0 "JSON parses" -- $PY -c "
import json, sys
rows = json.load(open('$T/json'))
assert all(r['result'] == 'PASS' for r in rows), rows
assert {'check', 'subject', 'result', 'detail', 'publish'} == set(rows[0])"

# ---- 2. SPF broken ----
expect_rc 1 "no SPF record" -- report check nospf.test --format tsv
row spf nospf.test FAIL
expect_grep 'nospf.test. IN TXT "v=spf1 ip4:127.0.0.10 -all"$' "$T/out" "no SPF: the record to publish"
expect_rc 1 "two SPF records" -- report check twospf.test --format tsv
expect_grep "^spf${TAB}twospf.test${TAB}FAIL${TAB}2 SPF records: receivers give permerror" "$T/out" "two SPF records: FAIL"
expect_rc 1 "more than 10 lookups" -- report check deep.test --format tsv
expect_grep "^spf-lookups${TAB}deep.test${TAB}FAIL${TAB}more than 10 DNS lookups" "$T/out" "nested includes over 10"
expect_rc 1 "SPF fails our IP" -- report check failip.test
expect_grep '^spf-ip failip.test 127.0.0.10 +FAIL +fail' "$T/out" "spf-ip FAIL"
expect_grep '^  failip.test. IN TXT "v=spf1 ip4:127.0.0.99 ip4:127.0.0.10 -all"$' "$T/out" \
	"the record with our IP before -all"
expect_rc 1 "SPF blocks our IP first" -- report check blockip.test
expect_grep '^  blockip.test. IN TXT "v=spf1 ip4:127.0.0.10 -ip4:127.0.0.0/8 ~all"$' "$T/out" \
	"our IP put first when before ~all would not pass"
rm "$SPOOL/control/outgoingip"
expect_rc 0 "no IP known (WARN only)" -- report check good.test --format tsv
echo 127.0.0.10 >"$SPOOL/control/outgoingip"
row spf-ip good.test WARN
expect_grep 'no sending IP known; give --ip' "$T/out" "no IP: WARN says why"

# ---- 3. DKIM broken ----
expect_rc 1 "a different DKIM key" -- report check wrongkey.test
expect_grep '^dkim s1._domainkey.wrongkey.test +FAIL +a different key' "$T/out" "different key: FAIL"
expect_grep '^  s1._domainkey.wrongkey.test. IN TXT "v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{200,}" "[A-Za-z0-9+/=]+"$' \
	"$T/out" "different key: our record, split in strings"
expect_no_grep "$(echo "$good_rsa" | sed 's/.*p=.\{60\}\(.\{40\}\).*/\1/')" "$T/out" "not the published key"
expect_rc 1 "no DKIM record" -- report check dkimmissing.test --format tsv
expect_grep "^dkim${TAB}s1._domainkey.dkimmissing.test${TAB}FAIL${TAB}no key record published.*IN TXT \"v=DKIM1; k=ed25519; p=" \
	"$T/out" "missing record: FAIL with ours"
expect_rc 1 "no key at all" -- report check nospf.test --format tsv
expect_grep "^dkim${TAB}nospf.test${TAB}FAIL${TAB}no DKIM key in" "$T/out" "no key: FAIL"

# ---- 4. DMARC ----
expect_grep "^dmarc${TAB}_dmarc.nospf.test${TAB}FAIL${TAB}no DMARC record.*_dmarc.nospf.test. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@nospf.test\"" \
	"$T/out" "no DMARC: FAIL with a record"
expect_rc 1 "p=none" -- report check pnone.test --format tsv
row dmarc _dmarc.pnone.test WARN
echo b@elsewhere.test >"$SPOOL/control/bounceaddress"
expect_rc 0 "misaligned Return-Path (DKIM carries DMARC)" -- report check good.test --format tsv
expect_grep "^dmarc-spf${TAB}good.test${TAB}WARN${TAB}not aligned: Return-Path domain elsewhere.test" "$T/out" "misaligned: WARN"
row spf-ip "elsewhere.test 127.0.0.10" PASS
echo b@bounces.good.test >"$SPOOL/control/bounceaddress"

# ---- 5. garbage records ----
expect_rc 1 "garbage records" -- report check garbage.test --format tsv
expect_grep "^spf${TAB}garbage.test${TAB}FAIL${TAB}malformed SPF record \(unknown mechanism\)" "$T/out" "SPF garbage"
expect_grep "^dkim${TAB}s1._domainkey.garbage.test${TAB}FAIL${TAB}malformed key record: a tag name must start with a letter" \
	"$T/out" "DKIM garbage tags"
expect_grep "^dmarc${TAB}_dmarc.garbage.test${TAB}FAIL${TAB}malformed DMARC record \(p= is not" "$T/out" "DMARC garbage"

# ---- 6. DNS trouble: SERVFAIL, then a server that never answers ----
rm "$SPOOL/control/bounceaddress"
expect_rc 111 "SERVFAIL" -- report check x.servfail.test --format tsv
row spf x.servfail.test TEMP
expect_grep "SERVFAIL" "$T/out" "SERVFAIL named"
expect_no_grep "${TAB}FAIL${TAB}" "$T/out" "SERVFAIL is no FAIL"
row dmarc-dkim x.servfail.test TEMP
echo b@bounces.good.test >"$SPOOL/control/bounceaddress"
dead=$(free_port)
$PY -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', $dead)); time.sleep(120)" &
PIDS="$PIDS $!"
wait_for 5 "silent DNS server" -- sh -c "ss -Hunl | grep -q '127.0.0.1:$dead '"
cp "$SPOOL/control/resolvers" "$T/resolvers.good"
echo "127.0.0.1:$dead" >"$SPOOL/control/resolvers"
echo 1 >"$SPOOL/control/timeoutdns"
start=$(date +%s)
expect_rc 111 "DNS timeout" -- report check good.test --format tsv
row spf good.test TEMP
expect_grep "temporary DNS failure: timeout" "$T/out" "timeout named"
[ $(($(date +%s) - start)) -lt 30 ] && pass || fail "DNS timeouts took $(($(date +%s) - start)) s"
cp "$T/resolvers.good" "$SPOOL/control/resolvers"
echo 2 >"$SPOOL/control/timeoutdns"

# ---- 7. MX checks ----
expect_rc 0 "MX: both hosts answer" -- report check good.test --mx rcpt.test --format tsv
row mx rcpt.test PASS
row mx-host "mx1.rcpt.test 127.0.0.2" PASS
row mx-host "mx2.rcpt.test 127.0.0.3" PASS
expect_rc 1 "MX: a dead host and one without address" -- report check good.test --mx bad.test --timeout 2 --format tsv
expect_grep "^mx${TAB}bad.test${TAB}FAIL${TAB}2 of 3 MX hosts do not answer: dead.bad.test noaddr.bad.test" "$T/out" "bad MX named"
row mx-host "dead.bad.test 127.0.0.4" FAIL
expect_grep "^mx-host${TAB}noaddr.bad.test -${TAB}FAIL${TAB}no address: no such domain" "$T/out" "no address: FAIL"
row mx-host "mx1.rcpt.test 127.0.0.2" PASS
expect_rc 1 "MX: a host that never greets" -- report check good.test --mx silent.test --timeout 1 --format tsv
expect_grep "^mx-host${TAB}mx.silent.test 127.0.0.5${TAB}FAIL${TAB}port $port: no greeting within 1 s" "$T/out" "silent host"
expect_rc 1 "null MX" -- report check good.test --mx nullmx.test --format tsv
expect_grep "^mx${TAB}nullmx.test${TAB}FAIL${TAB}null MX: nullmx.test accepts no mail" "$T/out" "null MX reported"

# ---- 8. it-sheet ----
mkdir -p "$SPOOL/log"
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
{
	for i in 1 2 3; do
		echo "$now sched event=delivered campaign=c batch=B.1.1.0 index=$i rcpt=u$i@rcpt.test dest=rcpt.test mx=mx1.rcpt.test addr=127.0.0.2 attempt=1 code=250 enhanced=2.0.0 tls=TLSv1.3/TLS_AES_256_GCM_SHA384 ms=5 text=ok"
	done
	echo "$now sched event=delivered campaign=c batch=B.1.1.0 index=4 rcpt=u4@rcpt.test dest=rcpt.test mx=mx2.rcpt.test addr=127.0.0.3 attempt=1 code=250 enhanced=2.0.0 tls=\"\" ms=5 text=ok"
	echo "$now sched event=delivered campaign=c batch=B.1.1.0 index=5 rcpt=u5@rcpt.test dest=rcpt.test mx=mx2.rcpt.test addr=127.0.0.3 attempt=1 code=250 enhanced=2.0.0 tls=\"<b>TLSv1.2</b>\" ms=5 text=ok"
	echo "2020-01-01T00:00:00.000000Z sched event=delivered campaign=c batch=B.1.1.0 index=6 rcpt=u6@rcpt.test dest=rcpt.test mx=mx2.rcpt.test addr=127.0.0.3 attempt=1 code=250 enhanced=2.0.0 tls=OLD ms=5 text=ok"
} >"$SPOOL/log/current"
expect_rc 0 "it-sheet md" -- report it-sheet --domain rcpt.test
expect_grep '127\.0\.0\.10' "$T/out" "md: the sending IP"
expect_grep 'bounces\.good\.test' "$T/out" "md: the bounce domain"
expect_grep '421' "$T/out" "md: 421"
expect_grep 'never 5xx' "$T/out" "md: never 5xx"
expect_grep '^\| mx \| rcpt\.test \| PASS \| 2 MX hosts, all answer \|' "$T/out" "md: MX check"
expect_grep '^\| TLSv1\.3/TLS\\_AES\\_256\\_GCM\\_SHA384 \| 3 \|' "$T/out" "md: TLS counts"
expect_grep '^\| none \(plaintext\) \| 1 \|' "$T/out" "md: plaintext counted"
expect_no_grep 'OLD' "$T/out" "md: older than 30 days left out"
expect_grep 'd=good\.test; s=e1, s1' "$T/out" "md: DKIM selectors"
expect_rc 0 "it-sheet html" -- report it-sheet --domain rcpt.test --format html
expect_grep '^<!DOCTYPE html>' "$T/out" "html: a page"
expect_grep '<code>127\.0\.0\.10</code>' "$T/out" "html: the IP"
expect_grep '<code>421</code>' "$T/out" "html: 421"
expect_grep '&lt;b&gt;TLSv1\.2&lt;/b&gt;' "$T/out" "html: log values escaped"
expect_no_grep '<b>|<script|src=|href=' "$T/out" "html: nothing raw, nothing loaded"
expect_grep '<td>mx-host</td><td>mx2\.rcpt\.test 127\.0\.0\.3</td><td>PASS</td>' "$T/out" "html: MX rows"
expect_rc 1 "it-sheet: their MX fails" -- report it-sheet --domain bad.test --timeout 2
expect_grep 'dead\.bad\.test' "$T/out" "it-sheet names the dead host"
expect_rc 0 "it-sheet without a domain" -- report it-sheet --from news.example.org
expect_grep 'news\.example\.org' "$T/out" "--from listed"

# ---- 9. bad usage and bad control files ----
expect_rc 100 "no domain" -- report check
expect_rc 100 "bad --ip" -- report check good.test --ip 1.2.3
expect_grep 'fatal: check: --ip "1.2.3": not an IP address' "$T/err" "bad --ip named"
expect_rc 100 "bad domain" -- report check 'exa mple.test'
expect_rc 100 "bad format" -- report check good.test --format xml
expect_rc 100 "it-sheet: bad format" -- report it-sheet --format pdf
echo "not-a-server" >"$SPOOL/control/resolvers"
expect_rc 100 "bad control/resolvers" -- report check good.test
expect_grep 'control/resolvers:1: ' "$T/err" "resolvers line named"
rm "$SPOOL/control/resolvers"
mkdir "$SPOOL/control/resolvers"
expect_rc 111 "unreadable control/resolvers" -- report check good.test
expect_grep 'unable to read .*control/resolvers' "$T/err" "unreadable resolvers named"
rmdir "$SPOOL/control/resolvers"
echo "300.1.1.1" >"$SPOOL/control/outgoingip"
expect_rc 100 "bad control/outgoingip" -- report check good.test
expect_grep 'control/outgoingip: "300.1.1.1" is not an IP address' "$T/err" "outgoingip named"
finish
