# Hostile but legal values: huge single-line values in the Subject and the
# HTML body, emoji and right-to-left text, HTML special characters, text
# that looks like an encoded-word or a MIME boundary.  Every message must
# stay 7-bit, CRLF, lines <= 998, and decode back to the exact values.
. "$(dirname "$0")/lib.sh"

cat >"$T/t.eml" <<'X'
From: {{sender_name|Team}} <team@example.org>
Subject: {{subject}}
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain; charset=utf-8

{{body}}
--b
Content-Type: text/html; charset=utf-8

<p>{{body}}</p><p>{{{raw}}}</p>
--b--
X
$PY - "$T" <<'PY'
import csv, sys
t = sys.argv[1]
rows = [
    {"email": "big@example.com", "subject": "x" * 100000, "body": "y" * 200000, "raw": "<b>bold</b>", "sender_name": ""},
    {"email": "emoji@example.com", "subject": "Grüße 👋🏽 — שלום עולם — مرحبا", "body": "Zoë's café 🎉\nline two", "raw": "", "sender_name": "Équipe Ünïcode"},
    {"email": "tricky@example.com", "subject": "=?utf-8?q?not_an_encoded_word?= and --b and =_ms_", "body": "--b\n--b--\n=_ms_\n.\n..\nFrom me", "raw": "", "sender_name": "\"Quoted\" \\ Name"},
    {"email": "html@example.com", "subject": "a < b & c > d", "body": "<script>alert('x')</script> & \"q\"", "raw": "<i>raw</i>", "sender_name": "Team"},
]
with open(t + "/l.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["email", "subject", "body", "raw", "sender_name"])
    w.writeheader()
    for r in rows: w.writerow(r)
import json
json.dump(rows, open(t + "/rows.json", "w"))
PY
expect_rc 0 "hostile values" -- enqueue --campaign hostile --template "$T/t.eml" --recipients "$T/l.csv"
expect_grep '4 queued' "$T/err" "all queued"
f=$(ls "$SPOOL"/new/B.* | head -1)
for i in 0 1 2 3; do
	mcat --message $i "$f" >"$T/m$i.eml"
	if $PY "$ROOT/tests/e2e/checkmsg.py" "$T/m$i.eml" >"$T/m$i.json" 2>"$T/m$i.err"; then pass; else
		fail "message $i: $(cat "$T/m$i.err")"
	fi
done
$PY - "$T" <<'PY' >"$T/py.out" 2>&1
import json, sys, html
t = sys.argv[1]
rows = json.load(open(t + "/rows.json"))
ok = bad = 0
def check(c, d):
    global ok, bad
    if c: ok += 1
    else: bad += 1; print("FAILED:", d)
for i, r in enumerate(rows):
    m = json.load(open("%s/m%d.json" % (t, i)))
    subj = m["headers"]["subject"][0]
    check(subj == r["subject"], "subject %d round-trips (%r...)" % (i, subj[:60]))
    parts = {p["type"]: p["text"] for p in m["parts"]}
    plain = parts["text/plain"].replace("\r\n", "\n")
    check(plain == r["body"], "text part %d is the value" % i)
    h = parts["text/html"].replace("\r\n", "\n")
    check(h == "<p>%s</p><p>%s</p>" % (html.escape(r["body"], quote=True).replace("&#x27;", "&#39;"), r["raw"]),
          "html part %d: escaped value, raw value" % i)
    frm = m["headers"]["from"][0]
    check(frm.endswith("<team@example.org>"), "from %d" % i)
check("Équipe Ünïcode" in json.load(open(t + "/m1.json"))["headers"]["from"][0], "UTF-8 display name in From")
check('Quoted' in json.load(open(t + "/m2.json"))["headers"]["from"][0], "quoted display name in From")
print("py: %d passed, %d failed" % (ok, bad))
PY
pyp=$(sed -n 's/^py: \([0-9]*\) passed.*/\1/p' "$T/py.out")
pyf=$(sed -n 's/^py: [0-9]* passed, \([0-9]*\) failed/\1/p' "$T/py.out")
if [ -z "$pyp" ]; then fail "python checks did not run: $(cat "$T/py.out")"; else
	passes=$((passes + pyp)); fails=$((fails + pyf))
	[ "$pyf" -eq 0 ] || grep FAILED "$T/py.out"
fi
finish
