# mailshot-remote against a real STARTTLS server (aiosmtpd): TLS used when
# offered, per-recipient answers in one transaction, retry hints, and the
# TLS policies of control/domains (encrypt, verify).
. "$(dirname "$0")/lib.sh"

mkdir -p "$SPOOL/control" "$T/tls"
echo 5 >"$SPOOL/control/timeoutremote"
route() { echo ":[127.0.0.1]:$1" >"$SPOOL/control/smtproutes"; }
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.test \
	-addext "subjectAltName=IP:127.0.0.1,DNS:mx.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || fail "openssl req"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other \
	-keyout "$T/otherkey.pem" -out "$T/other.pem" >/dev/null 2>&1

printf 'From: a@example.org\nSubject: tls\n\nhello over TLS\n' >"$T/msg"
run() { sh -c "\"$BIN/mailshot-remote\" example.com sender@example.org $* <\"$T/msg\""; }

start_smtpd "$T/tls" --cert "$T/cert.pem" --key "$T/key.pem"
route $SMTPD_PORT
expect_rc 111 "mixed recipients" -- run good@example.com bad@example.com later@example.com good2@example.com
expect_grep '^result good@example.com delivered 250 2.0.0 .* TLSv1.[23]/[A-Z0-9_-]+ ' "$T/out" "delivered over TLS"
expect_grep '^result bad@example.com failed 550 5.1.1 ' "$T/out" "550 for one recipient"
expect_grep '^result later@example.com deferred 451 4.3.0 ' "$T/out" "451 for another"
expect_grep '^result good2@example.com delivered 250 ' "$T/out" "the rest delivered"
expect_grep '^tls 1$' "$T/tls/1.env" "the server saw STARTTLS"
expect_eq "$(grep -c '^to ' "$T/tls/1.env")" 2 "one transaction, two accepted recipients"
grep -q 'hello over TLS' "$T/tls/1.eml" && pass || fail "message content"
expect_rc 100 "all refused" -- run bad1@example.com bad2@example.com
expect_rc 0 "all accepted" -- run ok@example.com

# Policy: verify against the right CA passes, against another CA defers.
printf '* tls=verify\n' >"$SPOOL/control/domains"
echo "$T/cert.pem" >"$SPOOL/control/tlscafile"
expect_rc 0 "tls=verify with the right CA" -- run ok@example.com
echo "$T/other.pem" >"$SPOOL/control/tlscafile"
expect_rc 111 "tls=verify with the wrong CA defers" -- run ok@example.com
expect_grep 'deferred - 4.7.' "$T/out" "TLS failure: 4.7.x"
expect_grep 'certificate' "$T/out" "reason names the certificate"
stop_peers

# Opportunistic TLS whose handshake fails: the same host again in plain.
rm -f "$SPOOL/control/domains" "$SPOOL/control/tlscafile"
start_smtpd "$T/broken" --cert "$T/cert.pem" --key "$T/key.pem" --broken-tls
route $SMTPD_PORT
expect_rc 0 "failed opportunistic handshake: delivered in plain" -- run ok@example.com
expect_grep '^result ok@example.com delivered 250 .* 127.0.0.1 - ' "$T/out" "no TLS in the result"
expect_grep '^tls 0$' "$T/broken/1.env" "the server got it without TLS"
printf '* tls=encrypt\n' >"$SPOOL/control/domains"
expect_rc 111 "the same with tls=encrypt defers" -- run ok@example.com
expect_grep 'deferred - 4.7.5 ' "$T/out" "handshake failure: 4.7.5"
stop_peers

# Policy: encrypt, against a server without STARTTLS (smtp-sink).
start_sink plain
route $SINK_PORT
printf 'example.com tls=encrypt\n' >"$SPOOL/control/domains"
expect_rc 111 "tls=encrypt without STARTTLS defers" -- run ok@example.com
expect_grep 'deferred - 4.7.' "$T/out" "no TLS: 4.7.x"
expect_eq "$(ls "$T/plain" | wc -l | tr -d ' ')" 0 "nothing sent in the clear"
printf 'other.org tls=encrypt\n' >"$SPOOL/control/domains"
expect_rc 0 "the policy is per domain" -- run ok@example.com
printf 'example.com tls=sometimes\n' >"$SPOOL/control/domains"
expect_rc 111 "a bad control/domains defers, naming the line" -- run ok@example.com
expect_grep 'control/domains:1: tls: may, encrypt or verify' "$T/err" "error names file and line"
finish
