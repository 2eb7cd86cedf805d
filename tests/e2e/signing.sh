# DKIM in mailshot-enqueue end to end: keys made by --dkim-keygen (RSA
# and Ed25519, both on one domain: a dual signature), a campaign with
# List-Unsubscribe and non-ASCII content queued and delivered by sched to
# a real SMTP server on loopback, and every received message verified by
# an independent verifier (Python's dkim module, Debian python3-dkim) with
# the TXT records keygen printed.  Bad keys stop the campaign before
# anything is queued.
. "$(dirname "$0")/lib.sh"

use_spool s
echo "0123456789abcdef0123456789abcdef-signing" >"$SPOOL/control/secret"
echo "b@bounces.example.org" >"$SPOOL/control/bounceaddress"
echo "https://example.org/u" >"$SPOOL/control/unsubscribe"
expect_rc 0 "keygen: ed25519" -- enqueue --dkim-keygen example.org ed1 --ed25519
cp "$T/out" "$T/ed.txt"
expect_grep '^ed1\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/=]{44}"$' "$T/ed.txt" "keygen: the Ed25519 TXT record"
expect_rc 0 "keygen: rsa" -- enqueue --dkim-keygen example.org rsa1
cp "$T/out" "$T/rsa.txt"
expect_grep '^rsa1\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{200,}" "[A-Za-z0-9+/=]+"$' "$T/rsa.txt" "keygen: the RSA-2048 TXT record, in strings of at most 255"
expect_eq "$(sed 's/^[^"]*//' "$T/rsa.txt" | tr ' ' '\n' | awk '{ if (length($0) > 257) print "long" }' | wc -l | tr -d ' ')" 0 "keygen: no TXT string over 255 octets"
expect_eq "$(stat -c %a "$SPOOL/control/dkim/example.org/ed1.key")" 600 "keygen: the key is readable by its owner only"
expect_rc 100 "keygen: never overwrites a key" -- enqueue --dkim-keygen example.org ed1 --ed25519
expect_rc 100 "keygen: a bad selector" -- enqueue --dkim-keygen example.org "bad_sel!"

start_smtpd "$T/smtpd"
echo ":[127.0.0.1]:$SMTPD_PORT" >"$SPOOL/control/smtproutes"
printf 'From: Team <team@example.org>\nSubject: Grüße, {{name}}   \nReply-To: help@example.org\n\nHallo {{name}},   \n\n  ein Text mit Leerzeichen am Ende.  \nLink: {{unsubscribe_url}}\n\n\n\n' >"$T/t.eml"
printf 'email,name\nj1@x.test,Jürgen\nj2@x.test,Zoë\nj3@x.test,Ann\n' >"$T/l.csv"
expect_rc 0 "enqueue a signed campaign" -- enqueue --campaign sig --type news --template "$T/t.eml" --recipients "$T/l.csv"
expect_rc 0 "sched --drain" -- sched --drain
expect_eq "$(ls "$T"/smtpd/*.eml 2>/dev/null | wc -l | tr -d ' ')" 3 "three messages arrived"
$PY - "$T/ed.txt" "$T/rsa.txt" "$T"/smtpd/*.eml >"$T/verify" 2>&1 <<'PY'
import re, sys, dkim
keys = {}
for f in sys.argv[1:3]:
    line = open(f).read().strip()
    name, rest = re.match(r'(\S+) IN TXT (.*)$', line).groups()
    keys[name.encode()] = "".join(re.findall(r'"([^"]*)"', rest)).encode()
dnsfunc = lambda name, timeout=5: keys.get(name)
for path in sys.argv[3:]:
    msg = open(path, "rb").read()
    sigs = re.findall(rb"^DKIM-Signature:.*(?:\r?\n[ \t].*)*", msg, re.M | re.I)
    res = []
    for i in range(len(sigs)):
        try:
            ok = dkim.DKIM(msg).verify(idx=i, dnsfunc=dnsfunc)
        except dkim.DKIMException as e:
            ok = "error %s" % e
        res.append(ok)
    algs = sorted(re.search(rb"a=([a-z0-9-]+)", s).group(1).decode() for s in sigs)
    h = re.search(rb"h=([^;]*)", sigs[0].replace(b"\r\n", b"").replace(b" ", b"").replace(b"\t", b"")).group(1).decode().lower().split(":")
    print("sigs", len(sigs), "verified", sum(1 for r in res if r is True), "algs", ",".join(algs),
          "from", h.count("from"), "lu", int("list-unsubscribe" in h), "lup", int("list-unsubscribe-post" in h))
    # a changed body byte breaks both
    bad = msg[:-5] + (b"X" if msg[-5:-4] != b"X" else b"Y") + msg[-4:]
    broken = 0
    for i in range(len(sigs)):
        try:
            broken += 0 if dkim.DKIM(bad).verify(idx=i, dnsfunc=dnsfunc) else 1
        except dkim.DKIMException:
            broken += 1
    print("tampered", broken)
PY
expect_eq "$(grep -c '^sigs 2 verified 2 algs ed25519-sha256,rsa-sha256 from 2 lu 1 lup 1$' "$T/verify")" 3 "every message: two signatures (RSA and Ed25519), both verify, From oversigned, List-Unsubscribe signed"
expect_eq "$(grep -c '^tampered 2$' "$T/verify")" 3 "a changed body byte fails both signatures"
[ "$(grep -c '^sigs 2 verified 2' "$T/verify")" = 3 ] || sed 's/^/    /' "$T/verify" | head -10

# ---- S/MIME, then DKIM over it: both verify at the receiver ----
C=$T/ca
mkdir -p "$C"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$C/ca.key" -out "$C/ca.pem" -days 30 \
	-subj "/CN=mailshot test CA" -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$C/team.key" -out "$C/team.csr" -subj "/CN=Team/emailAddress=team@example.org" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\nsubjectAltName=email:team@example.org\n' >"$C/ext"
openssl x509 -req -in "$C/team.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 30 \
	-extfile "$C/ext" -out "$C/team.pem" 2>/dev/null
rm -f "$T"/smtpd/*
expect_rc 0 "smime: enqueue" -- enqueue --campaign sm --smime-cert "$C/team.pem" --smime-key "$C/team.key" --template "$T/t.eml" --recipients "$T/l.csv"
expect_rc 0 "smime: sched --drain" -- sched --drain
n=0 ok=0
for f in "$T"/smtpd/*.eml; do
	n=$((n + 1))
	if openssl smime -verify -in "$f" -CAfile "$C/ca.pem" -out "$T/content" 2>"$T/smime.err" && grep -q 'Hallo' "$T/content"; then
		ok=$((ok + 1))
	else
		sed 's/^/    /' "$T/smime.err" | head -3
	fi
done
expect_eq "$ok/$n" "3/3" "smime: openssl smime -verify accepts every message (test CA)"
f=$(ls "$T"/smtpd/*.eml | head -1)
expect_grep '^Content-Type: multipart/signed; protocol="application/pkcs7-signature";' "$f" "smime: multipart/signed, so every client still shows it"
$PY - "$T/ed.txt" "$T/rsa.txt" "$f" >"$T/verify2" <<'PY'
import re, sys, dkim
keys = {}
for p in sys.argv[1:3]:
    name, rest = re.match(r'(\S+) IN TXT (.*)$', open(p).read().strip()).groups()
    keys[name.encode()] = "".join(re.findall(r'"([^"]*)"', rest)).encode()
msg = open(sys.argv[3], "rb").read()
print(sum(1 for i in range(2) if dkim.DKIM(msg).verify(idx=i, dnsfunc=lambda n, timeout=5: keys.get(n))))
PY
expect_eq "$(cat "$T/verify2")" 2 "smime: DKIM signs the signed message, both signatures verify"
sed 's/Hallo/Hallx/' "$f" >"$T/tampered.eml"
expect_rc 4 "smime: a changed byte fails the S/MIME signature" -- openssl smime -verify -in "$T/tampered.eml" -CAfile "$C/ca.pem" -out /dev/null
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out "$C/other.key" 2>/dev/null
expect_rc 100 "smime: a key that does not match the certificate" -- enqueue --campaign sm2 --smime-cert "$C/team.pem" --smime-key "$C/other.key" --template "$T/t.eml" --recipients "$T/l.csv"
expect_grep 'does not match' "$T/err" "smime: says so"
expect_rc 100 "smime: a certificate that is not one" -- enqueue --campaign sm2 --smime-cert "$C/ext" --smime-key "$C/team.key" --template "$T/t.eml" --recipients "$T/l.csv"
expect_rc 100 "smime: a key without its certificate" -- enqueue --campaign sm2 --smime-key "$C/team.key" --template "$T/t.eml" --recipients "$T/l.csv"
expect_eq "$(ls "$SPOOL/new" | wc -l | tr -d ' ')" 0 "smime: nothing queued by the refused runs"

# bad keys: refused before anything is queued
use_spool bad
mkdir -p "$SPOOL/control/dkim/example.org"
openssl genpkey -algorithm ed25519 -out "$SPOOL/control/dkim/example.org/k1.key" 2>/dev/null
chmod 644 "$SPOOL/control/dkim/example.org/k1.key"
expect_rc 100 "a key readable by others" -- enqueue --campaign b1 --template "$T/t.eml" --recipients "$T/l.csv"
expect_grep 'k1\.key' "$T/err" "the error names the key file"
chmod 600 "$SPOOL/control/dkim/example.org/k1.key"
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:1024 -out "$SPOOL/control/dkim/example.org/short.key" 2>/dev/null
chmod 600 "$SPOOL/control/dkim/example.org/short.key"
expect_rc 100 "an RSA key below 2048 bits" -- enqueue --campaign b1 --template "$T/t.eml" --recipients "$T/l.csv"
rm "$SPOOL/control/dkim/example.org/short.key"
printf 'not a key\n' >"$SPOOL/control/dkim/example.org/junk.key"
chmod 600 "$SPOOL/control/dkim/example.org/junk.key"
expect_rc 100 "a file that is not a key" -- enqueue --campaign b1 --template "$T/t.eml" --recipients "$T/l.csv"
expect_eq "$(find "$SPOOL" -path '*/new/*' -type f | wc -l | tr -d ' ')" 0 "nothing queued"

finish
