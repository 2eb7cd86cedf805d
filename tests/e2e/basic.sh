# The sample campaign end to end: queued, logged, and every message valid
# and correctly personalized according to Python's email package.
. "$(dirname "$0")/lib.sh"

expect_rc 0 "enqueue the sample campaign" -- \
	enqueue --campaign demo --template "$ROOT/examples/invitation.eml" \
	--recipients "$ROOT/examples/recipients.csv" --type survey --expires 7d
expect_grep 'campaign demo: 4 queued, 0 suppressed, 1 duplicates, 1 invalid, 0 already queued' "$T/err" "summary line"
expect_grep 'recipients.csv:7: skipped invalid address "not-an-address"' "$T/err" "invalid address reported with its line"
expect_eq "$(count_queued)" 4 "messages in new/"
expect_eq "$(ls "$SPOOL/tmp" | wc -l | tr -d ' ')" 0 "tmp/ is empty after the run"
expect_eq "$(grep -c 'event=queued' "$SPOOL/log/current")" 4 "queued log lines"
expect_grep 'event=invalid campaign=demo rcpt=not-an-address line=7' "$SPOOL/log/current" "invalid log line"
expect_grep 'event=duplicate campaign=demo rcpt=ANA.GARCIA@example.com line=6 first=2' "$SPOOL/log/current" "duplicate log line"

batch=$(ls "$SPOOL"/new/B.* | head -1)
mcat "$batch" >"$T/cat" 2>&1
expect_grep '^type survey$' "$T/cat" "batch type"
expires=$(sed -n 's/^expires //p' "$T/cat")
now=$(date +%s)
if [ -n "$expires" ] && [ "$expires" -gt $((now + 6 * 86400)) ] && [ "$expires" -le $((now + 7 * 86400 + 5)) ]; then pass; else fail "expires ~7 days ahead: $expires"; fi

i=0
for want in ana.garcia@example.com bob@example.net chloe@example.org dmitri@example.com; do
	mcat --message $i "$batch" >"$T/m$i.eml"
	if $PY "$ROOT/tests/e2e/checkmsg.py" "$T/m$i.eml" >"$T/m$i.json" 2>"$T/m$i.err"; then pass; else
		fail "message $i is not a valid 7-bit CRLF MIME message: $(cat "$T/m$i.err")"
	fi
	expect_grep "\"[^\"]*<$want>\"" "$T/m$i.json" "To: of message $i"
	i=$((i + 1))
done

# Personalization, decoded by Python: headers (RFC 2047) and both parts.
$PY - "$T" <<'PY' >"$T/py.out" 2>&1
import json, sys
t = sys.argv[1]
m = [json.load(open("%s/m%d.json" % (t, i))) for i in range(4)]
def h(i, k): return m[i]["headers"][k][0]
def part(i, ty): return [p for p in m[i]["parts"] if p["type"] == ty][0]["text"]
checks = [
    (h(0, "to") == "Ana García <ana.garcia@example.com>", "UTF-8 display name in To"),
    (h(0, "subject") == "Ana, your feedback on Research & Development matters", "subject 0"),
    (h(1, "subject") == "Bob, your feedback on Sales matters", "subject 1"),
    (h(2, "to") == '"Chloé \\"Coco\\" Martin" <chloe@example.org>', "quotes in a display name"),
    (h(3, "subject") == "Дмитрий, your feedback on Support matters", "Cyrillic subject"),
    (h(0, "from") == "Feedback Team <feedback@example.org>", "From from the template"),
    (h(0, "reply-to") == "Survey Help <help@example.org>", "Reply-To from the template"),
    (h(0, "message-id").endswith("@example.org>"), "Message-ID on the From domain"),
    (len({h(i, "message-id") for i in range(4)}) == 4, "Message-IDs are unique"),
    ("Research & Development" in part(0, "text/plain"), "text part: raw value"),
    ("Research &amp; Development" in part(0, "text/html"), "html part: escaped value"),
    ("closes on Friday" in part(1, "text/plain"), "default for an empty value"),
    ("closes on 1 December" in part(0, "text/plain"), "value when present"),
    ("Dear Chloé," in part(2, "text/plain"), "UTF-8 in a QP body"),
    ("https://survey.example.org/s/g7h8i9" in part(2, "text/html"), "per-recipient link"),
    ("{{" not in json.dumps(m), "no placeholder left"),
]
bad = [d for ok, d in checks if not ok]
print("py: %d passed, %d failed" % (len(checks) - len(bad), len(bad)))
for d in bad: print("FAILED:", d)
PY
pyp=$(sed -n 's/^py: \([0-9]*\) passed.*/\1/p' "$T/py.out")
pyf=$(sed -n 's/^py: [0-9]* passed, \([0-9]*\) failed/\1/p' "$T/py.out")
if [ -z "$pyp" ]; then fail "python checks did not run: $(cat "$T/py.out")"; else
	passes=$((passes + pyp)); fails=$((fails + pyf))
	[ "$pyf" -eq 0 ] || grep FAILED "$T/py.out"
fi

# --dry-run prints and queues nothing.
rm -rf "$SPOOL"
expect_rc 0 "dry run" -- enqueue --campaign demo --template "$ROOT/examples/invitation.eml" \
	--recipients "$ROOT/examples/recipients.csv" --dry-run
expect_eq "$(grep -c '^### mailshot-enqueue --dry-run' "$T/out")" 4 "dry run shows 4 messages"
expect_grep '4 rendered' "$T/err" "dry run summary"
if [ ! -d "$SPOOL/new" ] || new_is_empty; then pass; else fail "dry run queued something"; fi

# The trigger FIFO: a byte per committed batch when sched listens; no
# blocking when nobody does.
rm -rf "$SPOOL"; mkdir -p "$SPOOL"; mkfifo "$SPOOL/trigger"
expect_rc 0 "trigger FIFO without a reader does not block" -- timeout 20 "$BIN/mailshot-enqueue" \
	--campaign t1 --template "$ROOT/examples/invitation.eml" --recipients "$ROOT/examples/recipients.csv"
(timeout 10 cat "$SPOOL/trigger" | wc -c >"$T/trig") &
reader=$!
sleep 0.3
expect_rc 0 "enqueue with a reader on the trigger" -- enqueue --campaign t2 \
	--template "$ROOT/examples/invitation.eml" --recipients "$ROOT/examples/recipients.csv"
wait $reader
if [ "$(cat "$T/trig")" -ge 1 ]; then pass; else fail "no trigger byte"; fi

# --help and usage errors.
expect_rc 0 "--help" -- enqueue --help
expect_grep 'usage: mailshot-enqueue' "$T/out" "help text"
expect_rc 100 "missing --campaign" -- enqueue --template x --recipients y
expect_rc 100 "bad campaign id" -- enqueue --campaign '../x' --template x --recipients y
expect_rc 100 "bad --expires" -- enqueue --campaign c --template "$ROOT/examples/invitation.eml" \
	--recipients "$ROOT/examples/recipients.csv" --expires 2020-01-01
expect_grep 'has passed' "$T/err" "expires in the past is refused"
expect_rc 0 "--dump-config" -- enqueue --dump-config
expect_grep '^compress' "$T/out" "dump-config lists compress"
finish
