# Recipient lists in every accepted shape: BOM + CRLF, quoted fields with
# commas, quotes and newlines, gzip, standard input; all give the same
# messages.
. "$(dirname "$0")/lib.sh"

printf 'From: Team <team@example.org>\nSubject: For {{name}}\n\n{{name}} lives at {{address}}.\n' >"$T/t.eml"
printf '\357\273\277email,name,address\r\na@example.com,"Doe, Jane","1 Main St\r\nSpringfield"\r\nb@example.com,"Say ""hi""",Nowhere\r\n' >"$T/crlf.csv"
expect_rc 0 "BOM + CRLF list" -- enqueue --campaign crlf --template "$T/t.eml" --recipients "$T/crlf.csv"
expect_grep '2 queued' "$T/err" "two queued"
f=$(ls "$SPOOL"/new/B.* | head -1)
mcat --message 0 "$f" >"$T/m0.eml"
$PY "$ROOT/tests/e2e/checkmsg.py" "$T/m0.eml" >"$T/m0.json" 2>&1 && pass || fail "message 0 invalid"
expect_grep '"subject": \[' "$T/m0.json" "has a subject"
expect_grep 'For Doe, Jane' "$T/m0.json" "comma inside quotes"
expect_grep '1 Main St\\r\\nSpringfield' "$T/m0.json" "newline inside quotes kept in the body"
mcat --message 1 "$f" >"$T/m1.eml"
$PY "$ROOT/tests/e2e/checkmsg.py" "$T/m1.eml" >"$T/m1.json" 2>&1 && pass || fail "message 1 invalid"
expect_grep 'For Say \\"hi\\"' "$T/m1.json" "doubled quotes"

printf 'email,name,address\nc@example.com,C,Here\nd@example.com,D,There\n' >"$T/plain.csv"
gzip -c "$T/plain.csv" >"$T/list.csv.gz"
expect_rc 0 "gzip list" -- enqueue --campaign gz --template "$T/t.eml" --recipients "$T/list.csv.gz"
expect_grep '2 queued' "$T/err" "gzip: two queued"
expect_rc 0 "list on stdin" -- sh -c "\"$BIN/mailshot-enqueue\" --campaign stdin --template \"$T/t.eml\" --recipients - <\"$T/plain.csv\""
expect_grep '2 queued' "$T/err" "stdin: two queued"
expect_rc 0 "gzip on stdin" -- sh -c "\"$BIN/mailshot-enqueue\" --campaign stdingz --template \"$T/t.eml\" --recipients - <\"$T/list.csv.gz\""
expect_grep '2 queued' "$T/err" "gzip stdin: two queued"
head -c 40 "$T/list.csv.gz" >"$T/cut.csv.gz"
expect_rc 111 "truncated gzip" -- enqueue --campaign cut --template "$T/t.eml" --recipients "$T/cut.csv.gz"

# Compressed bodies in the spool read back identically.
mkdir -p "$SPOOL/control"; echo 6 >"$SPOOL/control/compress"
expect_rc 0 "compressed spool bodies" -- enqueue --campaign zipped --template "$T/t.eml" --recipients "$T/plain.csv"
z=$(grep -l 'campaign zipped' "$SPOOL"/new/B.* | head -1)
grep -a -q 'encoding deflate' "$z" && pass || fail "body not stored deflated"
mcat --message 0 "$z" >"$T/z0.eml"
grep -q 'C lives at Here' "$T/z0.eml" && pass || fail "inflated body wrong"

# On a terminal, a progress bar on stderr; not when stderr is a file.
{ echo "email,name,address"; i=0; while [ $i -lt 3000 ]; do echo "p$i@example.com,P,A"; i=$((i + 1)); done; } >"$T/p.csv"
if command -v script >/dev/null; then
	script -qec "\"$BIN/mailshot-enqueue\" --campaign bar --template \"$T/t.eml\" --recipients \"$T/p.csv\"" /dev/null >"$T/tty" 2>&1
	expect_grep '\[#+\] 3000/3000 100%' "$T/tty" "progress bar on a terminal"
	expect_grep '3000 queued' "$T/tty" "summary on a terminal"
fi
expect_rc 0 "no terminal" -- enqueue --campaign bar2 --template "$T/t.eml" --recipients "$T/p.csv"
expect_no_grep '\[#' "$T/err" "no progress bar when stderr is not a terminal"
finish
