# Bad input: exit 100, a message naming file, line and field, and nothing
# queued -- also when a good campaign was queued before.
. "$(dirname "$0")/lib.sh"

tpl=$T/t.eml
cat >"$tpl" <<'X'
From: Team <team@example.org>
Subject: Hello {{name}}

Hi {{name}}, your code is {{code}}.
X
good=$T/good.csv
printf 'email,name,code\na@example.com,A,1\nb@example.com,B,2\n' >"$good"
expect_rc 0 "a good campaign first" -- enqueue --campaign good --template "$tpl" --recipients "$good"
before=$(count_queued)
expect_eq "$before" 2 "good campaign queued"
snapshot() { (cd "$SPOOL" && find new campaigns -type f | sort | xargs md5sum) >"$T/snap.$1"; }
snapshot before

# bad_case NAME EXPECTED-PATTERN CSV-CONTENT [TEMPLATE]
bad_case() {
	desc=$1 pattern=$2
	printf "$3" >"$T/bad.csv"
	t=${4:-$tpl}
	expect_rc 100 "$desc" -- enqueue --campaign bad --template "$t" --recipients "$T/bad.csv"
	expect_grep "$pattern" "$T/err" "$desc: message"
	expect_eq "$(count_queued)" "$before" "$desc: nothing queued"
}
bad_case "unbalanced quote" 'bad.csv:3: field 1 \(email\): quoted field opened on line 3 not closed' 'email,name,code\na@x.org,A,1\n"b@x.org,B,2\n'
bad_case "wrong field count" 'bad.csv:3: .*expected 3 fields' 'email,name,code\na@x.org,A,1\nb@x.org,B\n'
bad_case "missing email column" 'bad.csv:1: no "email" column' 'mail,name,code\na@x.org,A,1\n'
bad_case "duplicate column" 'bad.csv:1: field 3: column "name" appears twice' 'email,name,name\na@x.org,A,1\n'
bad_case "empty list" 'empty recipient list' ''
bad_case "invalid UTF-8 in a field" 'bad.csv:3: field 2 \(name\).*UTF-8' 'email,name,code\na@x.org,A,1\nb@x.org,B\377,2\n'
bad_case "quote inside a field" 'bad.csv:2: field 2 \(name\)' 'email,name,code\na@x.org,A"x,1\n'
bad_case "error late in a long list" 'bad.csv:2002: .*not closed' "email,name,code\n$(i=0; while [ $i -lt 2000 ]; do printf 'r%d@x.org,R,%d\\n' $i $i; i=$((i+1)); done)\"unterminated,x,1\n"

printf 'From: a@b.org\nSubject: {{nosuch}}\n\nx\n' >"$T/t2.eml"
bad_case "unknown placeholder" 't2.eml:2: placeholder \{\{nosuch\}\} names no column' 'email,name,code\na@x.org,A,1\n' "$T/t2.eml"
printf 'From: a@b.org\nSubject: x\n\nHello {{name\n' >"$T/t3.eml"
bad_case "unterminated placeholder" 't3.eml:4: unterminated placeholder' 'email,name,code\na@x.org,A,1\n' "$T/t3.eml"
printf 'This is not a message\n\nbody\n' >"$T/t4.eml"
bad_case "template not a message" 't4.eml:1: not a message header' 'email,name,code\na@x.org,A,1\n' "$T/t4.eml"
printf 'From: a@b.org\nBcc: spy@evil.example\n\nbody\n' >"$T/t5.eml"
bad_case "Bcc in the template" 't5.eml:2: Bcc: is refused' 'email,name,code\na@x.org,A,1\n' "$T/t5.eml"
printf 'From: a@b.org\nSubject: caf\351\n\nx\n' >"$T/t6.eml"
bad_case "template not UTF-8" 't6.eml:2: not valid UTF-8' 'email,name,code\na@x.org,A,1\n' "$T/t6.eml"
printf 'Subject: no from\n\nx\n' >"$T/t7.eml"
bad_case "no From anywhere" 'no From: header' 'email,name,code\na@x.org,A,1\n' "$T/t7.eml"
printf 'From: a@b.org\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n' >"$T/t8.eml"
bad_case "multipart without closing boundary" 't8.eml:.*closing boundary' 'email,name,code\na@x.org,A,1\n' "$T/t8.eml"

expect_rc 100 "unreadable template" -- enqueue --campaign bad --template "$T/nonexistent.eml" --recipients "$good"
expect_grep 'nonexistent.eml: No such file' "$T/err" "unreadable template names the file"
expect_rc 100 "unreadable list" -- enqueue --campaign bad --template "$tpl" --recipients "$T/nonexistent.csv"
expect_grep 'nonexistent.csv: No such file' "$T/err" "unreadable list names the file"
expect_rc 100 "list is a directory" -- enqueue --campaign bad --template "$tpl" --recipients "$T"
expect_rc 100 "bad --from" -- enqueue --campaign bad --template "$tpl" --recipients "$good" --from 'Team <nope>'
expect_grep '--from "Team <nope>": invalid address' "$T/err" "bad --from names the option"

# A broken control file is refused loudly, naming file and line.
mkdir -p "$SPOOL/control"
printf '# comment\n\n  eleven\n' >"$SPOOL/control/compress"
expect_rc 100 "broken control file" -- enqueue --campaign bad --template "$tpl" --recipients "$good"
expect_grep 'control/compress:3: "eleven" is not a number from 0 to 9' "$T/err" "control file error names file and line"
rm "$SPOOL/control/compress"

# Invalid addresses: skipped with their line, or fatal with --strict.
printf 'email,name,code\na@x.org,A,1\nbad@@x.org,B,2\nc@x.org,C,3\n' >"$T/inv.csv"
expect_rc 100 "--strict: invalid address is fatal" -- enqueue --campaign strict --template "$tpl" --recipients "$T/inv.csv" --strict
expect_grep 'inv.csv:3: field 1 \(email\): invalid address "bad@@x.org"' "$T/err" "strict message"
expect_eq "$(count_queued)" "$before" "--strict: nothing queued"
snapshot after
if cmp -s "$T/snap.before" "$T/snap.after"; then pass; else fail "files of the good campaign changed"; fi
expect_rc 0 "invalid address skipped" -- enqueue --campaign lenient --template "$tpl" --recipients "$T/inv.csv"
expect_grep 'inv.csv:3: skipped invalid address "bad@@x.org"' "$T/err" "skipped with its line"
expect_grep '2 queued, 0 suppressed, 0 duplicates, 1 invalid' "$T/err" "summary counts the invalid one"
expect_grep 'event=invalid campaign=lenient rcpt=bad@@x.org line=3' "$SPOOL/log/current" "logged"
finish
