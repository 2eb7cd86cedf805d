# --test-to: the first rows' data, addressed only to the test addresses,
# Subject prefixed [TEST]; not recorded, so the real send queues everyone.
# Suppression: skipped, counted and logged, by scope.
. "$(dirname "$0")/lib.sh"

printf 'From: Team <team@example.org>\nSubject: Survey for {{name}}\n\nHello {{name}}, link {{token}}\n' >"$T/t.eml"
printf 'email,name,token\nbad-address,Skipped,000\na@example.com,Alice,111\nb@example.com,Bob,222\nc@example.com,Carol,333\n' >"$T/l.csv"
expect_rc 0 "test send" -- enqueue --campaign s1 --template "$T/t.eml" --recipients "$T/l.csv" \
	--test-to 'qa1@example.org, qa2@example.org'
expect_grep 'campaign s1: 2 test messages queued' "$T/err" "summary"
expect_eq "$(count_queued)" 2 "two messages"
expect_eq "$(sort "$T/rcpts" | tr '\n' ' ')" "qa1@example.org qa2@example.org " "only the test addresses"
f=$(ls "$SPOOL"/new/B.* | head -1)
mcat --envelope "$f" >"$T/env"
expect_eq "$(cut -f6 "$T/env" | sort -u)" 1 "marked as test in the envelope"
mcat --message 0 "$f" >"$T/m0.eml"; mcat --message 1 "$f" >"$T/m1.eml"
expect_grep '^Subject: \[TEST\] Survey for Alice' "$T/m0.eml" "first test gets the first valid row"
expect_grep '^To: Alice <qa1@example.org>' "$T/m0.eml" "addressed to the tester (with the row's name)"
expect_grep 'link 111' "$T/m0.eml" "first row's data"
expect_grep '^Subject: \[TEST\] Survey for Bob' "$T/m1.eml" "second test gets the second row"
expect_grep 'test=1' "$SPOOL/log/current" "logged as test"
expect_rc 100 "bad --test-to" -- enqueue --campaign s1 --template "$T/t.eml" --recipients "$T/l.csv" --test-to 'qa1@example.org,oops'
expect_rc 0 "dry-run test send" -- enqueue --campaign s1 --template "$T/t.eml" --recipients "$T/l.csv" --test-to qa1@example.org --dry-run
expect_grep 'Subject: \[TEST\] Survey for Alice' "$T/out" "dry-run test shows the message"

rm -rf "$SPOOL"/new/*
expect_rc 0 "the real send after a test" -- enqueue --campaign s1 --template "$T/t.eml" --recipients "$T/l.csv"
expect_grep '3 queued, 0 suppressed, 0 duplicates, 1 invalid, 0 already queued' "$T/err" "tests were not recorded"

# Suppression by scope.
suppress_add gone@example.com hard-bounce '*' || fail "suppress_add"
suppress_add News@Example.com unsubscribe newsletter || fail "suppress_add"
printf 'email,name,token\ngone@example.com,G,1\nnews@example.com,N,2\nok@example.com,O,3\nGONE@EXAMPLE.COM,G2,4\n' >"$T/s.csv"
expect_rc 0 "survey campaign" -- enqueue --campaign s2 --type survey --template "$T/t.eml" --recipients "$T/s.csv"
expect_grep '2 queued, 1 suppressed, 1 duplicates' "$T/err" "suppressed for all mail; unsubscribed from newsletters only"
expect_grep 'event=suppressed campaign=s2 rcpt=gone@example.com line=2 reason=hard-bounce scope=\*' "$SPOOL/log/current" "suppression logged with reason"
expect_rc 0 "newsletter campaign" -- enqueue --campaign s3 --type newsletter --template "$T/t.eml" --recipients "$T/s.csv"
expect_grep '1 queued, 2 suppressed, 1 duplicates' "$T/err" "the newsletter scope applies (case-insensitive)"
expect_grep 'event=suppressed campaign=s3 rcpt=news@example.com line=3 reason=unsubscribe scope=newsletter' "$SPOOL/log/current" "scope logged"
finish
