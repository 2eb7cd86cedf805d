# Header injection through a merge value is refused, naming the row; the
# same value in the body is harmless and no Bcc: header ever appears.
. "$(dirname "$0")/lib.sh"

printf 'From: Team <team@example.org>\nSubject: Hello {{name}}\nX-Code: {{code}}\n\nHi {{name}}: {{note}}\n' >"$T/t.eml"
printf 'email,name,code,note\na@example.com,A,1,ok\n"b@example.com","B\r\nBcc: victim@evil.example",2,ok\n' >"$T/subj.csv"
expect_rc 100 "CRLF in a Subject value" -- enqueue --campaign inj --template "$T/t.eml" --recipients "$T/subj.csv"
expect_grep 'subj.csv:3: field 2 \(name\) contains a line break' "$T/err" "names row and field"
if [ ! -d "$SPOOL/new" ] || new_is_empty; then pass; else fail "something was queued"; fi

printf 'email,name,code,note\na@example.com,A,"1\nBcc: victim@evil.example",ok\n' >"$T/lf.csv"
expect_rc 100 "bare LF in a custom header value" -- enqueue --campaign inj --template "$T/t.eml" --recipients "$T/lf.csv"
expect_grep 'lf.csv:2: field 3 \(code\) contains a line break' "$T/err" "names row and field"

printf 'email,name,code,note\n"a@example.com\r\nBcc: victim@evil.example",A,1,ok\n' >"$T/to.csv"
expect_rc 100 "CRLF in the email (To:) value" -- enqueue --campaign inj --template "$T/t.eml" --recipients "$T/to.csv"
expect_grep 'to.csv:2: field 1 \(email\) contains a line break' "$T/err" "names row and field"

printf 'From: {{sender}}\nSubject: x\n\nbody\n' >"$T/from.eml"
printf 'email,sender\na@example.com,"Boss <boss@example.org>\r\nBcc: victim@evil.example"\n' >"$T/from.csv"
expect_rc 100 "CRLF in a From: value" -- enqueue --campaign inj --template "$T/from.eml" --recipients "$T/from.csv"
printf 'email,sender\na@example.com,not an address\n' >"$T/from2.csv"
expect_rc 100 "invalid per-row From:" -- enqueue --campaign inj --template "$T/from.eml" --recipients "$T/from2.csv"
expect_grep 'from2.csv:2: From:' "$T/err" "names the row"

# In the body the same text is only text.
printf 'email,name,code,note\na@example.com,A,1,"line one\r\nBcc: victim@evil.example\r\nline three"\n' >"$T/body.csv"
expect_rc 0 "CRLF in a body-only value is fine" -- enqueue --campaign body --template "$T/t.eml" --recipients "$T/body.csv"
f=$(ls "$SPOOL"/new/B.* | head -1)
mcat --message 0 "$f" >"$T/m.eml"
sed -n '1,/^\r$/p' "$T/m.eml" >"$T/headers"
expect_no_grep '^Bcc:' "$T/headers" "no Bcc: header"
expect_eq "$($PY -c 'import sys,email; m=email.message_from_binary_file(open(sys.argv[1],"rb")); print(m.get_all("Bcc"))' "$T/m.eml")" None "Python sees no Bcc header"
$PY "$ROOT/tests/e2e/checkmsg.py" "$T/m.eml" >"$T/m.json" 2>"$T/m.err" && pass || fail "message invalid: $(cat "$T/m.err")"
expect_grep 'Bcc: victim@evil.example' "$T/m.json" "the text is in the body"
finish
