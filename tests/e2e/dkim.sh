# DKIM signing (lib/dkim.c through tests/tools/dkimsign) checked by an
# independent verifier, Python's dkim module (dkimpy), with the TXT
# records our code prints: RSA-2048 and Ed25519 keys made by openssl
# genpkey and by dkim_keygen, each alone and as the dual signature; the
# spool layout control/dkim/DOMAIN/SELECTOR.key; edge cases (trailing
# whitespace, blank lines at the end, folded and very long headers, an
# empty body, no body, an 8-bit UTF-8 body, several To: lines, no final
# CRLF); tampering (a body byte, a signed header, an added From) fails,
# an unsigned added header does not; the RFC 8463 example message signed
# with the RFC's keys verifies against the RFC's published records; and
# refusals (no From, a world-readable key, overwriting a key).
. "$(dirname "$0")/lib.sh"

DS="$TOOLS/tool_dkimsign"
dkimsign() { $wrap "$DS" "$@"; }
# sign OUT IN ARGS...: the signed message in OUT
sign() {
	sout=$1 sin=$2
	shift 2
	dkimsign "$@" <"$sin" >"$sout"
}
cat >"$T/verify.py" <<'PY'
# verify.py MESSAGE DNSFILE: one word per DKIM-Signature (pass, fail or
# error), after their count.  DNSFILE: "NAME<TAB>TXT" lines.
import sys
import dkim
msg = open(sys.argv[1], "rb").read()
keys = {}
for line in open(sys.argv[2], "rb"):
    name, txt = line.rstrip(b"\n").split(b"\t", 1)
    keys[name.rstrip(b".") + b"."] = txt
head = msg.split(b"\r\n\r\n", 1)[0]
n = sum(1 for l in head.split(b"\r\n") if l.lower().startswith(b"dkim-signature:"))
words = []
for i in range(n):
    try:
        ok = dkim.DKIM(msg).verify(idx=i, dnsfunc=lambda name, timeout=5: keys.get(name))
        words.append("pass" if ok else "fail")
    except Exception:
        words.append("error")
print(n, " ".join(words))
PY
DNS=$T/dns.txt
: >"$DNS"
# publish SELECTOR DOMAIN TXT
publish() { printf '%s._domainkey.%s\t%s\n' "$1" "$2" "$3" >>"$DNS"; }
verify() { $PY "$T/verify.py" "$1" "${2:-$DNS}" 2>&1; }
# expect_nopass N RESULT DESC: N signatures, none passes (dkimpy returns
# False for some failures and raises for others, a body hash mismatch)
expect_nopass() {
	case "$2" in
	"$1 "*pass*) fail "$3: got '$2'" ;;
	"$1 "*) pass ;;
	*) fail "$3: got '$2', expected $1 signatures" ;;
	esac
}

# ---- 1. keys: openssl genpkey and dkim_keygen; the TXT records ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$T/ed.pem" 2>/dev/null
chmod 600 "$T/rsa.pem" "$T/ed.pem"
expect_rc 0 "keys: TXT of an openssl RSA key" -- dkimsign --txt "$T/rsa.pem"
RSA_TXT=$(cat "$T/out")
expect_eq "$RSA_TXT" "v=DKIM1; k=rsa; p=$(openssl pkey -in "$T/rsa.pem" -pubout -outform DER | base64 -w0)" \
	"keys: RSA p= is the SubjectPublicKeyInfo openssl prints"
expect_rc 0 "keys: TXT of an openssl Ed25519 key" -- dkimsign --txt "$T/ed.pem"
ED_TXT=$(cat "$T/out")
expect_eq "$ED_TXT" "v=DKIM1; k=ed25519; p=$(openssl pkey -in "$T/ed.pem" -pubout -outform DER | tail -c 32 | base64 -w0)" \
	"keys: Ed25519 p= is the raw 32-byte public key"
expect_rc 0 "keygen: RSA" -- dkimsign --keygen "$T/rsa2.pem"
RSA2_TXT=$(cat "$T/out")
expect_rc 0 "keygen: Ed25519" -- dkimsign --keygen "$T/ed2.pem" --ed25519
ED2_TXT=$(cat "$T/out")
expect_eq "$(stat -c %a "$T/rsa2.pem") $(stat -c %a "$T/ed2.pem")" "600 600" "keygen: mode 0600"
expect_eq "$(openssl pkey -in "$T/rsa2.pem" -noout -text 2>/dev/null | head -1)" "Private-Key: (2048 bit, 2 primes)" \
	"keygen: openssl reads an RSA-2048 key"
expect_eq "$(dkimsign --txt "$T/rsa2.pem")" "$RSA2_TXT" "keygen: the printed RSA TXT is the key's"
expect_eq "$(dkimsign --txt "$T/ed2.pem")" "$ED2_TXT" "keygen: the printed Ed25519 TXT is the key's"
cp "$T/ed2.pem" "$T/ed2.copy"
expect_rc 100 "keygen: never overwrites" -- dkimsign --keygen "$T/ed2.pem"
expect_grep 'exists already' "$T/err" "keygen: says why"
expect_eq "$(cmp "$T/ed2.pem" "$T/ed2.copy" && echo same)" same "keygen: the old key is intact"
publish rsa example.test "$RSA_TXT"
publish ed example.test "$ED_TXT"
publish rsa2 example.test "$RSA2_TXT"
publish ed2 example.test "$ED2_TXT"

# ---- 2. messages ----
M=$T/msg
mkdir -p "$M"
printf 'From: Team <team@example.test>\r\nTo: jane@x.test\r\nSubject: Hello\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHello Jane,\r\n\r\nthis is the body.\r\n' >"$M/basic"
printf 'From: team@example.test\r\nTo: jane@x.test  \t\r\nSubject:   spaces   and\ttabs\t \r\n\r\ntrailing   \r\n \t \r\n\tlead and  inner\t\truns \t\r\nend\r\n' >"$M/trailing-ws"
printf 'From: team@example.test\r\nSubject: blank lines\r\n\r\nbody\r\n\r\n\r\n\r\n\r\n' >"$M/blank-end"
{
	printf 'From: team@example.test\r\nTo: jane@x.test\r\n'
	printf 'Subject: a folded\r\n\tsubject over\r\n   three lines\r\n'
	printf 'X-Long: '
	$PY -c 'import sys; sys.stdout.write("x" * 900)'
	printf '\r\nReferences:'
	for i in $(seq 1 30); do printf ' <%d.ref@example.test>\r\n' "$i"; done
	printf 'Content-Type: multipart/alternative;\r\n boundary="b1"\r\n\r\n--b1\r\n\r\ntext\r\n--b1--\r\n'
} >"$M/folded-long"
printf 'From: team@example.test\r\nTo: jane@x.test\r\nSubject: empty body\r\n\r\n' >"$M/empty-body"
printf 'From: team@example.test\r\nSubject: no body at all\r\n' >"$M/no-body"
printf 'From: team@example.test\r\nTo: jane@x.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\303\274\303\237e \342\200\224 \303\274n\303\257c\303\266d\303\251  \r\n\377\376 raw 8-bit bytes\r\n' >"$M/utf8"
printf 'From: team@example.test\r\nTo: a@x.test\r\nTo: b@x.test,\r\n c@x.test\r\nCc: d@x.test\r\nto: e@x.test\r\nSubject: several To lines\r\n\r\nbody\r\n' >"$M/several-to"
printf 'From: team@example.test\r\nSubject: no final CRLF\r\n\r\nline one\r\nlast line' >"$M/no-final-crlf"
printf 'From: team@example.test\r\nReply-To: r@example.test\r\nList-Unsubscribe: <https://example.test/u/abc>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nFeedback-ID: c1:mailshot\r\nIn-Reply-To: <0@x.test>\r\nSubject: all the signed fields\r\n\r\nbody\r\n' >"$M/list-headers"

for f in "$M"/*; do
	m=$(basename "$f")
	expect_rc 0 "$m: sign, dual (openssl keys)" -- sign "$T/$m.dual" "$f" "$T/rsa.pem" example.test rsa "$T/ed.pem" ed
	expect_eq "$(verify "$T/$m.dual")" "2 pass pass" "$m: both signatures verify"
	expect_rc 0 "$m: sign, dual (keygen keys)" -- sign "$T/$m.dual2" "$f" "$T/ed2.pem" example.test ed2 "$T/rsa2.pem" rsa2
	expect_eq "$(verify "$T/$m.dual2")" "2 pass pass" "$m: both keygen signatures verify"
	expect_eq "$(tail -c "$(wc -c <"$f")" "$T/$m.dual")" "$(cat "$f")" "$m: the message follows unchanged"
done
for m in basic utf8; do
	expect_rc 0 "$m: sign, RSA alone" -- sign "$T/$m.rsa" "$M/$m" "$T/rsa.pem" example.test rsa
	expect_eq "$(verify "$T/$m.rsa")" "1 pass" "$m: RSA alone verifies"
	expect_rc 0 "$m: sign, Ed25519 alone" -- sign "$T/$m.ed" "$M/$m" "$T/ed.pem" example.test ed
	expect_eq "$(verify "$T/$m.ed")" "1 pass" "$m: Ed25519 alone verifies"
done

# the headers as written: two, folded within 78 columns, the h= list
$PY - "$T/several-to.dual" >"$T/hdr" <<'PY'
import sys
msg = open(sys.argv[1], "rb").read()
head = msg.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
sig = [l for l in head[:head.index(b"From: team@example.test")]]
print("headers", sum(1 for l in sig if l.startswith(b"DKIM-Signature: ")))
print("longest", max(len(l) for l in sig))
print("continuations", all(l.startswith(b"DKIM-Signature: ") or l[:1] == b" " for l in sig))
first = b"".join(sig).split(b"DKIM-Signature: ")[1]
tags = dict(t.strip().split(b"=", 1) for t in first.split(b";") if t.strip())
print("h", tags[b"h"].replace(b" ", b"").decode())
print("c", tags[b"c"].decode(), "a", tags[b"a"].decode(), "d", tags[b"d"].decode(), "s", tags[b"s"].decode())
PY
expect_grep '^headers 2$' "$T/hdr" "header: two signatures"
longest=$(sed -n 's/^longest //p' "$T/hdr")
expect_eq "$([ "${longest:-999}" -le 78 ] && echo ok)" ok "header: folded at 78 columns (longest $longest)"
expect_grep '^continuations True$' "$T/hdr" "header: continuation lines start with a space"
expect_grep '^h from:from:to:to:to:subject:cc$' "$T/hdr" "header: h= oversigns From, lists To thrice"
expect_grep '^c relaxed/relaxed a rsa-sha256 d example.test s rsa$' "$T/hdr" "header: c=, a=, d=, s="

# ---- 3. tampering ----
$PY - "$T/basic.dual" "$T/t-body" "$T/t-subject" "$T/t-from" "$T/t-unsigned" <<'PY'
import sys
m = open(sys.argv[1], "rb").read()
i = m.rindex(b"the body")
open(sys.argv[2], "wb").write(m[:i] + b"T" + m[i + 1:])
open(sys.argv[3], "wb").write(m.replace(b"Subject: Hello", b"Subject: Hellp"))
j = m.index(b"From: Team")
open(sys.argv[4], "wb").write(m[:j] + b"From: evil@x.test\r\n" + m[j:])
open(sys.argv[5], "wb").write(m[:j] + b"X-Added: not signed\r\n" + m[j:])
PY
expect_nopass 2 "$(verify "$T/t-body")" "tamper: one body byte changed: both fail"
expect_nopass 2 "$(verify "$T/t-subject")" "tamper: a signed header changed: both fail"
expect_nopass 2 "$(verify "$T/t-from")" "tamper: a From added (oversigned): both fail"
expect_eq "$(verify "$T/t-unsigned")" "2 pass pass" "tamper: an unsigned header added: still pass"
# the wrong published key
awk -F '\t' -v t="$RSA2_TXT" 'BEGIN { OFS = "\t" } $1 == "rsa._domainkey.example.test" { $2 = t } { print }' \
	"$DNS" >"$T/dns-wrong.txt"
expect_nopass 1 "$(verify "$T/basic.rsa" "$T/dns-wrong.txt")" "tamper: another key published: fails"

# ---- 4. the spool layout ----
use_spool s
expect_rc 0 "spool: keygen RSA selector" -- dkimsign --keygen-selector "$SPOOL" Example.TEST s2026
expect_eq "$(head -1 "$T/out")" "$SPOOL/control/dkim/example.test/s2026.key" "spool: the key's path"
publish s2026 example.test "$(sed -n 2p "$T/out")"
expect_rc 0 "spool: keygen Ed25519 selector" -- dkimsign --keygen-selector "$SPOOL" example.test e2026 --ed25519
publish e2026 example.test "$(sed -n 2p "$T/out")"
expect_eq "$(stat -c %a "$SPOOL/control/dkim" "$SPOOL/control/dkim/example.test" "$SPOOL/control/dkim/example.test/e2026.key" | tr '\n' ' ')" \
	"700 700 600 " "spool: directories 0700, keys 0600"
expect_rc 0 "spool: sign with the domain's keys" -- sign "$T/spool.eml" "$M/several-to" --spool "$SPOOL" example.test
expect_eq "$(verify "$T/spool.eml")" "2 pass pass" "spool: dual signature verifies"
expect_eq "$(grep -c '^DKIM-Signature: v=1; a=rsa-sha256;' "$T/spool.eml") $(grep -c '^DKIM-Signature: v=1; a=ed25519-sha256;' "$T/spool.eml")" \
	"1 1" "spool: one RSA and one Ed25519 signature"
expect_rc 0 "spool: a domain without keys signs nothing" -- sign "$T/none.eml" "$M/basic" --spool "$SPOOL" other.test
expect_eq "$(cmp "$T/none.eml" "$M/basic" && echo same)" same "spool: message unchanged"
chmod 644 "$SPOOL/control/dkim/example.test/e2026.key"
expect_rc 100 "spool: a world-readable key is refused" -- sign "$T/x.eml" "$M/basic" --spool "$SPOOL" example.test
expect_grep 'e2026\.key: mode 0644.*chmod 600' "$T/err" "spool: the refusal names the file"
chmod 600 "$SPOOL/control/dkim/example.test/e2026.key"
: >"$SPOOL/control/dkim/example.test/Bad_Name.key"
expect_rc 100 "spool: a bad selector name is refused" -- sign "$T/x.eml" "$M/basic" --spool "$SPOOL" example.test
expect_grep 'Bad_Name\.key: the selector' "$T/err" "spool: the refusal names the file"
rm -f "$SPOOL/control/dkim/example.test/Bad_Name.key"

# ---- 5. refusals ----
printf 'To: jane@x.test\r\nSubject: no From\r\n\r\nbody\r\n' >"$T/nofrom.eml"
expect_rc 100 "refuse: no From" -- sign "$T/x.eml" "$T/nofrom.eml" "$T/ed.pem" example.test ed
expect_grep 'no From header' "$T/err" "refuse: says no From"
printf 'From: a@x.test\nSubject: LF only\n\nbody\n' >"$T/lf.eml"
expect_rc 100 "refuse: LF line ends" -- sign "$T/x.eml" "$T/lf.eml" "$T/ed.pem" example.test ed
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$T/rsa1024.pem" 2>/dev/null
chmod 600 "$T/rsa1024.pem"
expect_rc 100 "refuse: RSA-1024 below the minimum" -- sign "$T/x.eml" "$M/basic" "$T/rsa1024.pem" example.test r
expect_grep '1024 bits: at least 2048' "$T/err" "refuse: says the size"
openssl req -x509 -new -key "$T/rsa.pem" -subj /CN=t -days 1 -out "$T/cert.pem" 2>/dev/null
chmod 600 "$T/cert.pem"
expect_rc 100 "refuse: a certificate" -- sign "$T/x.eml" "$M/basic" "$T/cert.pem" example.test r
expect_grep 'a certificate, not a private key' "$T/err" "refuse: says certificate"

# ---- 6. the RFC 8463 example, re-signed with the RFC's keys ----
C=${MAILSHOT_CORPORA:-$ROOT/../shared/corpora}/dkim/rfc8463
if [ -d "$C" ]; then
	$PY - "$C" "$T" <<'PY'
import base64, sys
c, t = sys.argv[1], sys.argv[2]
seed = base64.b64decode(open(c + "/ed25519-brisbane.seed.b64").read().strip())
der = bytes.fromhex("302e020100300506032b657004220420") + seed
pem = "-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PRIVATE KEY-----\n"
open(t + "/brisbane.pem", "w").write(pem)
m = open(c + "/signed-example.crlf.eml", "rb").read()
open(t + "/rfc8463.eml", "wb").write(m[m.index(b"\r\nFrom: ") + 2:])
with open(t + "/rfc-dns.txt", "w") as f:
    for line in open(c + "/dns-txt-records.txt"):
        f.write(line)
PY
	cp "$C/rsa-test.private.pem" "$T/rfc-test.pem"
	chmod 600 "$T/brisbane.pem" "$T/rfc-test.pem"
	expect_rc 0 "rfc8463: sign with the RFC's keys" -- sign "$T/rfc.signed" "$T/rfc8463.eml" -m 1024 \
		"$T/rfc-test.pem" football.example.com test "$T/brisbane.pem" brisbane
	expect_eq "$(verify "$T/rfc.signed" "$T/rfc-dns.txt")" "2 pass pass" "rfc8463: verifies against the published records"
	expect_grep 'bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;' "$T/rfc.signed" "rfc8463: the RFC's body hash"
	expect_eq "$(dkimsign --txt "$T/brisbane.pem")" "$(grep '^brisbane\.' "$C/dns-txt-records.txt" | cut -f2)" \
		"rfc8463: the Ed25519 TXT record is the RFC's"
else
	echo "dkim: skipped the RFC 8463 example (no $C)"
fi

finish
