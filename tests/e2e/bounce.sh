# mailshot-bounce end to end: campaigns delivered by sched to a real SMTP
# server on loopback (tests/peers/smtpd.py: bad* 550 5.1.1, full* 552
# 5.2.2 retried until it expires, blocked* 554 5.7.1 blocklist, else 250) and an smtp-sink; the
# VERP envelope sender; the hand-off consumed by the bounce process sched
# starts; hard bounces suppressed and skipped by the next campaign;
# policy blocks not suppressed; soft counts across campaigns, reset by a
# delivery; inbound DSNs, complaints, auto-replies, unsubscribe mail,
# forged tokens and junk on the delivery-pipe interface; the list
# commands.
. "$(dirname "$0")/lib.sh"

# retried once a second; 552 to RCPT is retried (RFC 5321 4.5.3.1.10),
# so full* expires soon
bounce_spool() {
	use_spool "$1"
	echo 1 >"$SPOOL/control/retry"
	echo 3s >"$SPOOL/control/queuelifetime"
}
SECRET=0123456789abcdef0123456789abcdef-bounce-test
printf 'From: Team <team@example.org>\nSubject: Hello {{name}}\n\nHello {{name}}.\n' >"$T/t.eml"
mklist() { # FILE ADDRESS...
	f=$1
	shift
	echo "email,name" >"$f"
	for a in "$@"; do echo "$a,N"; done >>"$f"
}

bounce_spool b
echo "b@bounces.test" >"$SPOOL/control/bounceaddress"
echo "$SECRET" >"$SPOOL/control/secret"
echo 2 >"$SPOOL/control/softbouncelimit"
start_smtpd "$T/smtpd"
SMTPD=$SMTPD_PORT
start_sink okall
SINK=$SINK_PORT
route() { echo ":[127.0.0.1]:$1" >"$SPOOL/control/smtproutes"; }

# ---- 1. VERP, a hard bounce, a policy block, a soft failure ----
mklist "$T/c1.csv" ok1@x.test bad1@x.test Bad2@X.test full1@x.test blocked1@x.test ok2@x.test
expect_rc 0 "c1: enqueue" -- enqueue --campaign c1 --notify owner@own.test --template "$T/t.eml" --recipients "$T/c1.csv"
route $SMTPD
expect_rc 0 "c1: sched --drain" -- sched --drain
env1=$(grep -l '^to ok1@x.test' "$T"/smtpd/*.env)
from1=$(sed -n 's/^from //p' "$env1")
case $from1 in
b+v*@bounces.test) pass ;;
*) fail "c1: envelope sender is not a VERP address: $from1" ;;
esac
expect_eq "$(printf %s "${from1%@*}" | wc -c | tr -d ' ')" 34 "c1: VERP local part b+ and a 32-character token"
expect_eq "$(grep -h '^from b+v' "$T"/smtpd/*.env | sort -u | wc -l | tr -d ' ')" 2 "c1: one envelope sender per recipient"
expect_eq "$(find "$SPOOL/bounce/new" -type f | wc -l | tr -d ' ')" 0 "c1: the bounce process consumed the hand-off"
expect_eq "$(nlog ' bounce event=classified campaign=c1 rcpt=bad1@x\.test status=failed class=hard reason=user-unknown action=suppressed ')" 1 "c1: bad1 hard, suppressed"
expect_eq "$(nlog ' bounce event=classified campaign=c1 rcpt=bad2@x\.test status=failed class=hard reason=user-unknown action=suppressed ')" 1 "c1: Bad2@X.test normalized, suppressed"
expect_eq "$(nlog ' bounce event=classified campaign=c1 rcpt=blocked1@x\.test .*class=soft reason=(policy|spam)-block action=none ')" 1 "c1: a 5.7.1 blocklist reply is not suppressed"
expect_eq "$(nlog ' bounce event=classified campaign=c1 rcpt=full1@x\.test status=expired class=soft reason=expired action=counted count=1 ')" 1 "c1: full1 expired: soft, counted once"
expect_rc 1 "c1: check bad1 says suppressed" -- bounce check bad1@x.test
expect_grep 'suppressed \(hard-bounce, scope \*' "$T/out" "c1: check names the reason"
expect_rc 0 "c1: check blocked1 may be mailed" -- bounce check blocked1@x.test
expect_rc 0 "c1: check full1 may be mailed" -- bounce check full1@x.test

# ---- 1b. the owner's digest: RFC 3464, null sender, not one per failure ----
# notifyinterval is an hour: the first failures go out at once, the
# rest wait; then with 0 the rest goes.  Every failure is in exactly one
# digest.
sched --drain 2>/dev/null # a digest queued after the drain's last look
echo 0 >"$SPOOL/control/notifyinterval"
expect_rc 0 "digest: process sends what waited" -- bounce process
sched --drain 2>/dev/null
notices() { grep -l '^to owner@own.test' "$T"/smtpd/*.env 2>/dev/null | sed 's/\.env$/.eml/'; }
expect_eq "$(notices | wc -l | tr -d ' ')" 2 "digest: two digests for c1 (first at once, the rest after the interval)"
for env in $(grep -l '^to owner@own.test' "$T"/smtpd/*.env); do
	expect_eq "$(sed -n 's/^from //p' "$env")" "<>" "digest: null envelope sender"
done
$PY - $(notices) >"$T/digest.txt" <<'PY'
import email, sys
for path in sys.argv[1:]:
    m = email.message_from_binary_file(open(path, "rb"))
    assert m.get_content_type() == "multipart/report", m.get_content_type()
    assert m.get_param("report-type") == "delivery-status"
    assert m["Auto-Submitted"] == "auto-generated"
    for part in m.walk():
        if part.get_content_type() == "message/delivery-status":
            for block in part.get_payload()[1:]:
                print(block["Final-Recipient"].split(";")[1].strip(), block["Action"], block["Status"])
PY
expect_eq "$(cut -d' ' -f1 "$T/digest.txt" | sort | tr '\n' ' ')" "bad1@x.test bad2@x.test blocked1@x.test full1@x.test " "digest: every failure of c1 reported exactly once"
expect_grep '^bad1@x\.test failed 5\.1\.1$' "$T/digest.txt" "digest: status of a hard bounce"
expect_eq "$(nlog ' bounce event=notified campaign=c1 rcpt=owner@own\.test ')" 2 "digest: logged"
echo 3600 >"$SPOOL/control/notifyinterval"

# ---- 2. the next campaign skips them; a delivery resets the soft count ----
mklist "$T/c2.csv" ok1@x.test bad1@x.test bad2@x.test full1@x.test
route $SINK
expect_rc 0 "c2: enqueue" -- enqueue --campaign c2 --template "$T/t.eml" --recipients "$T/c2.csv"
expect_eq "$(nlog ' enqueue event=suppressed campaign=c2 rcpt=bad[12]@x\.test .*reason=hard-bounce')" 2 "c2: bad1 and bad2 not queued"
expect_rc 0 "c2: sched --drain" -- sched --drain
expect_grep 'resets' "$T/err" "c2: the bounce process reports soft-count resets"
expect_eq "$(grep -h '^To: ' "$T"/okall/* 2>/dev/null | wc -l | tr -d ' ')" 2 "c2: ok1 and full1 delivered"

# c3 and c4: full1 fails twice more.  The reset means c3 counts 1, so the
# limit (2) is reached in c4, not c3.
route $SMTPD
mklist "$T/c3.csv" full1@x.test
enqueue --campaign c3 --template "$T/t.eml" --recipients "$T/c3.csv" 2>/dev/null
sched --drain 2>/dev/null
expect_eq "$(nlog ' bounce event=classified campaign=c3 rcpt=full1@x\.test .*action=counted count=1 ')" 1 "c3: the delivery in c2 reset the count"
expect_rc 0 "c3: full1 still may be mailed" -- bounce check full1@x.test
enqueue --campaign c4 --template "$T/t.eml" --recipients "$T/c3.csv" 2>/dev/null
sched --drain 2>/dev/null
expect_eq "$(nlog ' bounce event=classified campaign=c4 rcpt=full1@x\.test .*action=suppressed count=2 ')" 1 "c4: the second soft failure in a row suppresses"
expect_rc 1 "c4: full1 suppressed" -- bounce check full1@x.test
expect_grep 'soft-bounce-limit' "$T/out" "c4: reason soft-bounce-limit"

# ---- 3. the hand-off applied twice counts once; bad lines are skipped ----
mkdir -p "$SPOOL/bounce/new"
hand() {
	printf 'mailshot-bounces 1\nbounce c9 B.1.2.3 0 full9@x.test - failed 552 5.2.2 mx 127.0.0.1 1 1763896948 - mailbox%%20full\nnonsense here\nbounce c9 B.1.2.3 1 bad9@x.test - failed 550 5.1.1 mx 127.0.0.1 1 1763896948 - no%%20such%%20user\n' >"$SPOOL/bounce/new/S.1.1.$1"
}
hand 1
expect_rc 0 "hand-off: process" -- bounce process
hand 2
expect_rc 0 "hand-off: the same records again" -- bounce process
expect_eq "$(nlog ' bounce event=classified campaign=c9 rcpt=full9@x\.test .*count=1 ')" 2 "hand-off: applied twice, counted once"
expect_eq "$(nlog ' bounce event=badrecord file=S\.1\.1\.[12] line=3 ')" 2 "hand-off: the bad line is logged with file and line"
expect_rc 1 "hand-off: the line after the bad one applied" -- bounce check bad9@x.test
printf 'garbage\n' >"$SPOOL/bounce/new/S.1.1.3"
expect_rc 0 "hand-off: a file that is not a hand-off" -- bounce process
expect_eq "$(find "$SPOOL/bounce/new" -type f | wc -l | tr -d ' ')" 0 "hand-off: directory empty"

# ---- 4. inbound mail on the delivery-pipe interface ----
# A DSN to ok1's VERP address that names another (forwarded) address:
# the token's recipient is the one suppressed.
dsn() { # RCPT STATUS DIAG
	printf 'From: MAILER-DAEMON@mx.x.test\nTo: %s\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="BB"\n\n--BB\nContent-Type: text/plain\n\nI am sorry.\n\n--BB\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.x.test\n\nFinal-Recipient: rfc822; %s\nAction: failed\nStatus: %s\nDiagnostic-Code: smtp; %s\n\n--BB--\n' "$from1" "$1" "$2" "$3"
}
dsn forward@elsewhere.test 5.1.1 "550 5.1.1 user unknown" >"$T/dsn1"
RECIPIENT=$from1 expect_rc 0 "inbound: DSN to a VERP address" -- bounce --inbound <"$T/dsn1"
expect_rc 1 "inbound: the token's recipient (ok1) is suppressed" -- bounce check ok1@x.test
expect_rc 0 "inbound: the forwarded address is not" -- bounce check forward@elsewhere.test
expect_eq "$(nlog ' bounce event=classified campaign=c1 rcpt=ok1@x\.test status=inbound class=hard ')" 1 "inbound: logged with the token's campaign"
# A forged token (one character changed) suppresses nobody.
forged=$(printf %s "$from1" | sed 's/^\(b+v.....\)./\1a/; t; s/x/y/')
[ "$forged" = "$from1" ] && forged=$(printf %s "$from1" | sed 's/^\(b+v.....\)./\1b/')
sed "s/$from1/$forged/" "$T/dsn1" | sed 's/forward@elsewhere.test/victim@x.test/' >"$T/dsn2"
RECIPIENT=$forged expect_rc 0 "inbound: forged token" -- bounce --inbound <"$T/dsn2"
expect_rc 0 "inbound: forged token suppresses nobody" -- bounce check victim@x.test
expect_eq "$(nlog ' bounce event=badtoken ')" 1 "inbound: forged token logged"
expect_eq "$(find "$SPOOL/bounce/unknown" -type f | wc -l | tr -d ' ')" 1 "inbound: forged-token mail kept for review"
# An ARF complaint whose returned message carries ok2's VERP sender.
env2=$(grep -l '^to ok2@x.test' "$T"/smtpd/*.env)
from2=$(sed -n 's/^from //p' "$env2")
printf 'From: fbl@isp.test\nTo: abuse@example.org\nSubject: complaint\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; boundary="AA"\n\n--AA\nContent-Type: text/plain\n\nA complaint.\n\n--AA\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: isp/1.0\nVersion: 1\n\n--AA\nContent-Type: message/rfc822\n\nReturn-Path: <%s>\nFrom: team@example.org\nTo: ok2@x.test\nSubject: Hello\n\nHello.\n--AA--\n' "$from2" >"$T/arf"
expect_rc 0 "inbound: ARF complaint" -- bounce --inbound <"$T/arf"
expect_rc 1 "inbound: complaint suppresses ok2" -- bounce check ok2@x.test
expect_grep 'complaint' "$T/out" "inbound: reason complaint"
# An auto-reply: logged, ignored.
printf 'From: holiday@x.test\nTo: %s\nAuto-Submitted: auto-replied\nSubject: Out of office\n\nI am away until Monday.\n' "$from1" >"$T/ooo"
expect_rc 0 "inbound: auto-reply" -- bounce --inbound <"$T/ooo"
expect_eq "$(nlog ' bounce event=autoreply ')" 1 "inbound: auto-reply logged"
expect_rc 0 "inbound: auto-reply suppresses nobody" -- bounce check holiday@x.test
# Mail to the unsubscribe mailto address: a 'u' token.
off=$(grep -b '^ok1@x.test$' "$SPOOL/campaigns/c2/ledger" | cut -d: -f1)
utok=$("$TOOLS/tool_token" u "$SECRET" c2 "$off" 0 today ok1@x.test)
bounce clear ok1@x.test >/dev/null 2>&1
printf 'From: ok1@x.test\nTo: b+%s@bounces.test\nSubject: unsubscribe\n\nunsubscribe\n' "$utok" >"$T/unsub"
RECIPIENT=b+$utok@bounces.test expect_rc 0 "inbound: unsubscribe mail" -- bounce --inbound <"$T/unsub"
expect_rc 1 "inbound: unsubscribed" -- bounce check ok1@x.test
expect_grep 'unsubscribe' "$T/out" "inbound: reason unsubscribe"
expect_eq "$(nlog ' bounce event=unsubscribed campaign=c2 rcpt=ok1@x\.test scope=\* via=mailto ')" 1 "inbound: unsubscribed logged"
# Junk: kept, never a crash, never exit 100.
printf 'Hello, just a normal mail.\n' >"$T/junk1"
expect_rc 0 "inbound: a plain message" -- bounce --inbound <"$T/junk1"
head -c 3000000 /dev/urandom >"$T/junk2"
expect_rc 0 "inbound: 3 MB of random bytes" -- bounce --inbound <"$T/junk2"
: >"$T/junk3"
expect_rc 0 "inbound: empty input" -- bounce --inbound <"$T/junk3"
expect_eq "$(find "$SPOOL/bounce/unknown" -type f | wc -l | tr -d ' ')" 4 "inbound: unrecognized mail kept"
expect_rc 111 "inbound: an unusable spool is temporary (111), never 100" -- \
	bounce --spool /dev/null/spool --inbound <"$T/dsn1"
expect_rc 111 "inbound: even bad arguments exit 111" -- bounce --inbound --no-such-option <"$T/dsn1"

# ---- 5. --classify: one TSV line per failed recipient, no side effects ----
expect_rc 0 "classify: a DSN" -- bounce --classify <"$T/dsn1"
expect_eq "$(cut -f1-4 "$T/out")" "$(printf 'forward@elsewhere.test\thard\tuser-unknown\t5.1.1')" "classify: address, class, reason, status"
expect_rc 0 "classify: forward@elsewhere.test still may be mailed" -- bounce check forward@elsewhere.test

# ---- 6. the list commands ----
expect_rc 0 "add: manual with a scope" -- bounce add News@Y.test --reason manual --scope newsletter
mklist "$T/c5.csv" news@y.test
expect_rc 0 "scope: newsletter campaign" -- enqueue --campaign c5 --type newsletter --template "$T/t.eml" --recipients "$T/c5.csv"
expect_eq "$(nlog ' enqueue event=suppressed campaign=c5 rcpt=news@y\.test ')" 1 "scope: skipped by a newsletter campaign"
expect_rc 0 "scope: survey campaign" -- enqueue --campaign c6 --type survey --template "$T/t.eml" --recipients "$T/c5.csv"
expect_eq "$(nlog ' enqueue event=suppressed campaign=c6 ')" 0 "scope: mailed by a survey campaign"
expect_rc 100 "add: unknown reason" -- bounce add z@y.test --reason because
expect_rc 100 "add: bad address" -- bounce add "not an address" --reason manual
expect_rc 0 "list: tsv" -- bounce list
expect_eq "$(head -1 "$T/out")" "$(printf 'address\tscope\treason\ttime\tcampaign\tdiagnostic')" "list: header"
expect_grep "^news@y\.test	newsletter	manual	" "$T/out" "list: the manual entry"
expect_rc 0 "list: json" -- bounce list --format json --reason hard-bounce
expect_eq "$($PY -c 'import json,sys; print(sorted({e["reason"] for e in json.load(open(sys.argv[1]))}))' "$T/out")" "['hard-bounce']" "list: json parses, filtered by reason"
printf 'email,name\nimp1@z.test,A\n"Imp2@Z.test",B\n' >"$T/imp.csv"
expect_rc 0 "import: csv" -- bounce import "$T/imp.csv"
expect_rc 1 "import: imp2 suppressed" -- bounce check imp2@z.test
printf 'imp3@z.test\nnot-an-address@\nimp4@z.test\n' >"$T/imp.txt"
expect_rc 100 "import: a bad line" -- bounce import "$T/imp.txt"
expect_grep 'imp\.txt:2: ' "$T/err" "import: the error names file and line"
expect_rc 0 "import: nothing of a bad file added" -- bounce check imp3@z.test
expect_rc 0 "clear: bad1" -- bounce clear bad1@x.test
expect_rc 0 "clear: bad1 may be mailed again" -- bounce check bad1@x.test
expect_rc 0 "secret-gen" -- bounce --secret-gen
expect_eq "$(tr -d '\n' <"$T/out" | wc -c | tr -d ' ')" 64 "secret-gen: 64 hex characters"

# ---- 6b. a digest to an owner whose address bounces: no loop ----
echo 0 >"$SPOOL/control/notifyinterval"
route $SMTPD
mklist "$T/c7.csv" bad7@x.test
expect_rc 0 "loop: enqueue" -- enqueue --campaign c7 --notify badowner@x.test --template "$T/t.eml" --recipients "$T/c7.csv"
sched --drain 2>/dev/null
sched --drain 2>/dev/null
sched --drain 2>/dev/null
expect_eq "$(nlog ' bounce event=notified campaign=c7 ')" 1 "loop: one digest for c7"
expect_eq "$(nlog ' bounce event=classified campaign=mailshot-notice rcpt=badowner@x\.test ')" 1 "loop: the digest's own failure is classified"
expect_eq "$(nlog ' bounce event=notified campaign=mailshot-notice ')" 0 "loop: and never digested"
expect_eq "$(find "$SPOOL/new" -type f | wc -l | tr -d ' ')" 0 "loop: nothing more queued"

# ---- 6c. kill -9 in the middle of process: a rerun loses nothing and
# counts nothing twice ----
bounce_spool crash
mkdir -p "$SPOOL/bounce/new"
$PY - "$SPOOL/bounce/new/S.9.9.9" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("mailshot-bounces 1\n")
    for i in range(3000):
        f.write("bounce k B.1.2.3 %d hard%d@k.test - failed 550 5.1.1 mx 127.0.0.1 1 1763896948 - gone\n" % (i, i))
        f.write("bounce k B.1.2.3 %d soft%d@k.test - expired 451 4.3.0 mx 127.0.0.1 5 1763896948 - later\n" % (i, i))
PY
"$BIN/mailshot-bounce" process 2>/dev/null &
kpid=$!
sleep 0.5
kill -9 $kpid 2>/dev/null
wait $kpid 2>/dev/null
expect_rc 0 "crash: process again after kill -9" -- bounce process
expect_eq "$(find "$SPOOL/bounce/new" -type f | wc -l | tr -d ' ')" 0 "crash: the hand-off file is gone"
expect_eq "$(bounce list | grep -c '	hard-bounce	')" 3000 "crash: every hard bounce suppressed"
expect_rc 0 "crash: a soft address not suppressed after one campaign" -- bounce check soft2999@k.test
expect_eq "$(grep -E ' bounce event=classified campaign=k rcpt=soft[0-9]+@k\.test .*action=counted count=2 ' "$LOG" | wc -l | tr -d ' ')" 0 "crash: no soft failure counted twice"

# ---- 6d. sched starts bounce for files a previous run left ----
bounce_spool left
mkdir -p "$SPOOL/bounce/new"
printf 'mailshot-bounces 1\nbounce l B.1.2.3 0 gone@l.test - failed 550 5.1.1 mx 127.0.0.1 1 1763896948 - gone\n' >"$SPOOL/bounce/new/S.1.2.3"
expect_rc 0 "left: sched --once" -- sched --once
expect_rc 1 "left: the waiting file was applied" -- bounce check gone@l.test
# and without a bounce program the files wait, with a warning
printf 'mailshot-bounces 1\nbounce l B.1.2.3 1 gone2@l.test - failed 550 5.1.1 mx 127.0.0.1 1 1763896948 - gone\n' >"$SPOOL/bounce/new/S.1.2.4"
MAILSHOT_BOUNCE=$T/no-such-program expect_rc 0 "left: sched --once without bounce" -- sched --once
expect_grep 'cannot be run; bounces wait in bounce/new/' "$T/err" "left: a warning says so"
expect_eq "$(find "$SPOOL/bounce/new" -type f | wc -l | tr -d ' ')" 1 "left: the file waits"

# ---- 6e. a 50 MB message on the pipe: processed, bounded ----
$PY - "$T/big.eml" "b@bounces.test" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: MAILER-DAEMON@x.test\nTo: %s\nSubject: Undelivered\nMIME-Version: 1.0\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=BB\n\n"
            "--BB\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x.test\n\n"
            "Final-Recipient: rfc822; big@x.test\nAction: failed\nStatus: 5.1.1\n\n"
            "--BB\nContent-Type: message/rfc822\n\nSubject: big\n\n" % sys.argv[2])
    line = "A" * 76 + "\n"
    for i in range(50 * 1024 * 1024 // 77):
        f.write(line)
    f.write("--BB--\n")
PY
bounce_spool big
expect_rc 0 "big: a 50 MB bounce" -- bounce --inbound <"$T/big.eml"
expect_rc 1 "big: its recipient suppressed" -- bounce check big@x.test

# ---- 7. enqueue refuses a VERP setup without a usable secret ----
bounce_spool nosecret
echo "b@bounces.test" >"$SPOOL/control/bounceaddress"
expect_rc 100 "verp: no control/secret" -- enqueue --campaign n1 --template "$T/t.eml" --recipients "$T/c5.csv"
expect_grep 'control/secret' "$T/err" "verp: the error names control/secret"
echo short >"$SPOOL/control/secret"
expect_rc 100 "verp: a short secret" -- enqueue --campaign n1 --template "$T/t.eml" --recipients "$T/c5.csv"
expect_eq "$(find "$SPOOL" -path '*/new/*' -type f | wc -l | tr -d ' ')" 0 "verp: nothing queued"

finish
