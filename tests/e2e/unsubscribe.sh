# One-click unsubscribe end to end (RFC 2369, RFC 8058): enqueue puts
# List-Unsubscribe (mailto and https) and List-Unsubscribe-Post on every
# message and {{unsubscribe_url}} in the body; sched delivers them to a
# real SMTP server on loopback; mailshot-unsubscribe runs as a CGI under
# a real web server (lighttpd, mod_cgi) and is driven with curl: a POST
# suppresses, a GET does not, a forged or expired token changes nothing,
# a test send's link names nobody; the scope is the campaign's type; the
# mailto address reaches mailshot-bounce --inbound.
. "$(dirname "$0")/lib.sh"

SECRET=0123456789abcdef0123456789abcdef-unsub-test
use_spool u
echo "b@bounces.test" >"$SPOOL/control/bounceaddress"
echo "$SECRET" >"$SPOOL/control/secret"
echo "https://mail.example.org/cgi/unsub" >"$SPOOL/control/unsubscribe"
echo "sender-7" >"$SPOOL/control/feedbackid"
start_smtpd "$T/smtpd"
echo ":[127.0.0.1]:$SMTPD_PORT" >"$SPOOL/control/smtproutes"
printf 'From: Team <team@example.org>\nSubject: News for {{name}}\n\nHello {{name}}.\nNo more news: {{unsubscribe_url}}\n' >"$T/t.eml"
printf 'email,name\nok1@x.test,One\nok2@x.test,Two\nok3@x.test,Three\n' >"$T/l.csv"
expect_rc 0 "enqueue" -- enqueue --campaign u1 --type news --template "$T/t.eml" --recipients "$T/l.csv"
expect_rc 0 "test send" -- enqueue --campaign u1 --test-to tester@x.test --template "$T/t.eml" --recipients "$T/l.csv"
expect_rc 0 "sched --drain" -- sched --drain

msg_of() { grep -l "^to $1" "$T"/smtpd/*.env | sed 's/\.env$/.eml/'; }
$PY - "$(msg_of ok1@x.test)" >"$T/h1" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
print(m["List-Unsubscribe"].replace("\r", "").replace("\n", ""))
print(m["List-Unsubscribe-Post"])
print("Feedback-ID", m["Feedback-ID"], len(m.get_all("List-Unsubscribe")))
print(m.get_payload(decode=True).decode())
PY
expect_grep '^<mailto:b\+u[a-z2-7]{36}@bounces\.test\?subject=unsubscribe>, *<https://mail\.example\.org/cgi/unsub\?t=u[a-z2-7]{36}>$' "$T/h1" "List-Unsubscribe: mailto and https"
expect_grep '^List-Unsubscribe=One-Click$' "$T/h1" "List-Unsubscribe-Post"
expect_grep '^Feedback-ID u1:news:sender-7 1$' "$T/h1" "Feedback-ID campaign:type:sender, one List-Unsubscribe"
tok1=$(sed -n 's/.*unsub?t=\(u[a-z2-7]*\)>$/\1/p' "$T/h1" | head -1)
expect_grep "No more news: https://mail\.example\.org/cgi/unsub\?t=$tok1" "$T/h1" "{{unsubscribe_url}} in the body is the header's URL"
mailto1=$(sed -n 's/^<mailto:\([^?]*\)?.*/\1/p' "$T/h1")
expect_eq "${mailto1#b+}" "$tok1@bounces.test" "mailto and URL carry the same token"

# the web server and the CGI
W=$T/www
mkdir -p "$W/cgi"
cp "$BIN/mailshot-unsubscribe" "$W/cgi/unsub"
WPORT=$(free_port)
cat >"$W/lighttpd.conf" <<EOF
server.document-root = "$W"
server.port = $WPORT
server.bind = "127.0.0.1"
server.modules += ("mod_cgi", "mod_setenv")
setenv.add-environment = ("MAILSHOT_SPOOL" => "$SPOOL")
\$HTTP["url"] =~ "^/cgi/" { cgi.assign = ("" => "") }
server.errorlog = "$W/error.log"
EOF
/usr/sbin/lighttpd -D -f "$W/lighttpd.conf" 2>"$W/stderr" &
PIDS="$PIDS $!"
i=0
while ! $PY -c "import socket; socket.create_connection(('127.0.0.1',$WPORT),1).close()" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 100 ] && { fail "lighttpd did not start: $(cat "$W/stderr" "$W/error.log" 2>/dev/null)"; break; }
	sleep 0.1
done
URL="http://127.0.0.1:$WPORT/cgi/unsub"
http() { # METHOD QUERY -> $T/body, prints the status code
	if [ "$1" = POST ]; then
		curl -s -o "$T/body" -w '%{http_code}' -X POST -d List-Unsubscribe=One-Click "$URL?$2"
	else
		curl -s -o "$T/body" -w '%{http_code}' -X "$1" "$URL?$2"
	fi
}

expect_eq "$(http GET "t=$tok1")" 200 "GET: a page"
expect_grep '<button type="submit">Unsubscribe</button>' "$T/body" "GET: with a button that POSTs"
expect_grep 'ok1@x\.test' "$T/body" "GET: names the address"
expect_rc 0 "GET: suppresses nothing" -- bounce check ok1@x.test --type news
expect_eq "$(http POST "t=$tok1")" 200 "POST: one click"
expect_grep 'You are unsubscribed' "$T/body" "POST: says so"
expect_rc 0 "POST: ok1 still gets mail of other types" -- bounce check ok1@x.test
expect_rc 1 "POST: ok1 suppressed for newsletters" -- bounce check ok1@x.test --type news
expect_grep 'suppressed \(unsubscribe, scope news' "$T/out" "POST: reason unsubscribe, scope the campaign's type"
expect_eq "$(nlog ' unsubscribe event=unsubscribed campaign=u1 rcpt=ok1@x\.test scope=news via=https ')" 1 "POST: logged"
expect_eq "$(http POST "t=$tok1")" 200 "POST again: still fine (idempotent)"
# the scope: another newsletter skips ok1, a survey does not
printf 'email,name\nok1@x.test,One\n' >"$T/one.csv"
expect_rc 0 "scope: next newsletter" -- enqueue --campaign u2 --type news --template "$T/t.eml" --recipients "$T/one.csv"
expect_eq "$(nlog ' enqueue event=suppressed campaign=u2 rcpt=ok1@x\.test .*reason=unsubscribe scope=news')" 1 "scope: skipped by the next newsletter"
expect_rc 0 "scope: a survey" -- enqueue --campaign u3 --type survey --template "$T/t.eml" --recipients "$T/one.csv"
expect_eq "$(nlog ' enqueue event=suppressed campaign=u3 ')" 0 "scope: a survey still reaches ok1"

# forged, damaged, expired, missing tokens change nothing
$PY - "$(msg_of ok2@x.test)" >"$T/h2" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
print(m["List-Unsubscribe"].replace("\r", "").replace("\n", ""))
PY
tok2=$(sed -n 's/.*unsub?t=\(u[a-z2-7]*\)>$/\1/p' "$T/h2")
last=$(printf %s "$tok2" | cut -c10)
if [ "$last" = a ]; then sub=b; else sub=a; fi
forged=$(printf %s "$tok2" | cut -c1-9)$sub$(printf %s "$tok2" | cut -c11-)
expect_eq "$(http POST "t=$forged")" 400 "forged: refused"
expect_grep 'not valid' "$T/body" "forged: says so"
expect_eq "$(http POST "t=${tok2}x")" 400 "damaged: refused"
expect_eq "$(http POST "t=")" 400 "empty token: refused"
expect_eq "$(http POST "")" 400 "no token: refused"
off=$(grep -b '^ok2@x.test$' "$SPOOL/campaigns/u1/ledger" | cut -d: -f1)
old=$(( $(date +%s) / 86400 - 400 ))
expired=$("$TOOLS/tool_token" u "$SECRET" u1 "$off" 1 $old ok2@x.test)
expect_eq "$(http POST "t=$expired")" 400 "expired (400 days, lifetime 365): refused"
vtok=$("$TOOLS/tool_token" v "$SECRET" u1 "$off" 0 0 ok2@x.test)
expect_eq "$(http POST "t=$vtok")" 400 "a VERP token is no unsubscribe token"
expect_eq "$(http PUT "t=$tok2")" 405 "PUT: not allowed"
expect_rc 0 "none of these suppressed ok2" -- bounce check ok2@x.test --type news
# a test send's link names nobody
$PY - "$(msg_of tester@x.test)" >"$T/ht" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
print(m["List-Unsubscribe"].replace("\r", "").replace("\n", ""))
PY
tokt=$(sed -n 's/.*unsub?t=\(u[a-z2-7]*\)>$/\1/p' "$T/ht")
expect_eq "$(http POST "t=$tokt")" 200 "test send: answered"
expect_grep 'test message' "$T/body" "test send: says it names nobody"
expect_rc 0 "test send: the tester is not suppressed" -- bounce check tester@x.test
# the mailto way: mail to the address in the header
mailto3=$($PY - "$(msg_of ok3@x.test)" <<'PY'
import email, sys, re
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
print(re.search(r"<mailto:([^?>]*)", m["List-Unsubscribe"]).group(1))
PY
)
printf 'From: ok3@x.test\nTo: %s\nSubject: unsubscribe\n\nunsubscribe\n' "$mailto3" >"$T/um"
RECIPIENT=$mailto3 expect_rc 0 "mailto: bounce --inbound" -- bounce --inbound <"$T/um"
expect_rc 1 "mailto: ok3 suppressed" -- bounce check ok3@x.test --type news
expect_grep 'unsubscribe, scope news' "$T/out" "mailto: same reason and scope"

# no secret: the CGI answers 503, never a false success
mv "$SPOOL/control/secret" "$SPOOL/control/secret.off"
expect_eq "$(http POST "t=$tok2")" 503 "no secret: 503"
mv "$SPOOL/control/secret.off" "$SPOOL/control/secret"
echo "bad id!" >"$SPOOL/control/feedbackid"
expect_rc 100 "a bad control/feedbackid" -- enqueue --campaign u4 --template "$T/t.eml" --recipients "$T/one.csv"
echo "sender-7" >"$SPOOL/control/feedbackid"
# a bad control/unsubscribe is refused before anything is queued
echo "http://insecure.example.org/u" >"$SPOOL/control/unsubscribe"
expect_rc 100 "control/unsubscribe must be https" -- enqueue --campaign u4 --template "$T/t.eml" --recipients "$T/one.csv"
expect_grep 'control/unsubscribe' "$T/err" "the error names the file"

finish
