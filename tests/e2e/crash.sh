# Idempotence and crash safety: re-running a campaign queues nobody twice;
# a full disk exits 111 keeping what was committed; kill -9 at random
# moments loses nothing and a re-run completes the campaign exactly.
. "$(dirname "$0")/lib.sh"

printf 'From: Team <team@example.org>\nSubject: Hello {{name}}\n\nHi {{name}}, this is message {{n}}.\n%s\n' \
	"$(head -c 1500 /dev/zero | tr '\0' 'x' | fold -w 70)" >"$T/t.eml"
mklist() { # mklist FILE FIRST LAST
	{ echo "email,name,n"; i=$2; while [ "$i" -le "$3" ]; do echo "user$i@example.com,User $i,$i"; i=$((i + 1)); done; } >"$1"
}
# Every batch in new/ must read back; recipients must be unique.
check_spool() { # check_spool EXPECTED DESC
	bad=0
	: >"$T/all"
	for f in "$SPOOL"/new/B.*; do
		[ -e "$f" ] || continue
		mcat --envelope "$f" >>"$T/all" 2>"$T/caterr" || { bad=1; fail "$2: unreadable batch $f: $(cat "$T/caterr")"; }
	done
	[ $bad -eq 0 ] && pass
	total=$(wc -l <"$T/all" | tr -d ' ')
	uniq=$(cut -f2 "$T/all" | sort -u | wc -l | tr -d ' ')
	expect_eq "$total" "$1" "$2: messages queued"
	expect_eq "$uniq" "$total" "$2: no recipient twice"
}

mklist "$T/a.csv" 1 1200
expect_rc 0 "first run" -- enqueue --campaign idem --template "$T/t.eml" --recipients "$T/a.csv"
expect_grep '1200 queued' "$T/err" "first run queues all"
expect_rc 0 "same command again" -- enqueue --campaign idem --template "$T/t.eml" --recipients "$T/a.csv"
expect_grep '0 queued, 0 suppressed, 0 duplicates, 0 invalid, 1200 already queued' "$T/err" "re-run queues nobody"
mklist "$T/b.csv" 1 1500
expect_rc 0 "a longer list" -- enqueue --campaign idem --template "$T/t.eml" --recipients "$T/b.csv"
expect_grep '300 queued, .* 1200 already queued' "$T/err" "only the new rows"
check_spool 1500 "idempotence"
expect_rc 0 "another campaign, same people" -- enqueue --campaign other --template "$T/t.eml" --recipients "$T/a.csv"
expect_grep '1200 queued' "$T/err" "campaigns are independent"

# Two runs of one campaign at once: the second is refused (111), not mixed.
rm -rf "$SPOOL"
mklist "$T/big.csv" 1 20000
"$BIN/mailshot-enqueue" --campaign race --template "$T/t.eml" --recipients "$T/big.csv" 2>"$T/r1" &
p1=$!
sleep 0.3
enqueue --campaign race --template "$T/t.eml" --recipients "$T/big.csv" 2>"$T/r2"
rc2=$?
wait $p1
rc1=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 111 ] && grep -q 'being queued by another' "$T/r2"; then pass
elif [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && grep -q '0 queued' "$T/r2"; then pass # the first had finished already
else fail "concurrent runs: rc1=$rc1 rc2=$rc2 $(cat "$T/r2")"; fi
check_spool 20000 "concurrent runs"

# Disk full in the middle of a campaign: a 3 MB file system.  Each run
# queues what fits and exits 111; moving new/ away (as sched would) and
# running again continues, until the campaign is complete.
mkdir -p "$T/small" "$T/moved"
if mount -t tmpfs -o size=3m tmpfs "$T/small" 2>/dev/null; then
	trap 'umount "$T/small" 2>/dev/null; rm -rf "$T"' EXIT
	mklist "$T/c.csv" 1 5000
	runs=0 full=0
	while [ $runs -lt 12 ]; do
		runs=$((runs + 1))
		enqueue --spool "$T/small/spool" --campaign full --template "$T/t.eml" --recipients "$T/c.csv" 2>"$T/ferr"
		rc=$?
		[ $rc -eq 0 ] && break
		if [ $rc -ne 111 ]; then fail "disk full: exit $rc: $(cat "$T/ferr")"; break; fi
		full=$((full + 1))
		grep -q 'No space left on device' "$T/ferr" || fail "disk full: cause not named: $(cat "$T/ferr")"
		grep -q 'run the same command again' "$T/ferr" || fail "disk full: no advice"
		[ -z "$(ls "$T/small/spool/tmp")" ] || fail "disk full: partial batch left in tmp/"
		mv "$T/small/spool/new"/B.* "$T/moved/" 2>/dev/null
	done
	mv "$T/small/spool/new"/B.* "$T/moved/" 2>/dev/null
	if [ $full -ge 2 ] && [ $rc -eq 0 ]; then pass; else fail "disk full: $full failed runs, last exit $rc"; fi
	echo "  (disk full: $full runs hit ENOSPC before the campaign completed)"
	SPOOL_SAVE=$SPOOL; SPOOL=$T/moved_spool; mkdir -p "$SPOOL"; mv "$T/moved" "$SPOOL/new"
	check_spool 5000 "disk full + re-runs"
	SPOOL=$SPOOL_SAVE
	umount "$T/small"
else
	echo "note: cannot mount a small tmpfs here; disk-full case skipped"
fi

# kill -9 at moments spread over a run's duration, then run to completion.
rm -rf "$SPOOL"
start=$(date +%s%N)
"$BIN/mailshot-enqueue" --campaign timing --template "$T/t.eml" --recipients "$T/big.csv" 2>/dev/null
dur=$((($(date +%s%N) - start) / 1000000))
rm -rf "$SPOOL"
kills=0
for frac in 5 15 25 35 45 55 65 75 85 95; do
	"$BIN/mailshot-enqueue" --campaign crash --template "$T/t.eml" --recipients "$T/big.csv" 2>/dev/null &
	pid=$!
	sleep "$(awk "BEGIN { print $dur * $frac / 100000 }")"
	kill -9 $pid 2>/dev/null && kills=$((kills + 1))
	wait $pid 2>/dev/null
done
expect_rc 0 "final run after kill -9" -- enqueue --campaign crash --template "$T/t.eml" --recipients "$T/big.csv"
if [ $kills -ge 3 ]; then pass; else fail "only $kills runs were killed"; fi
echo "  (a full run takes ${dur} ms; $kills runs killed; final: $(tail -1 "$T/err"))"
check_spool 20000 "kill -9"
expect_eq "$(ls "$SPOOL/tmp" | wc -l | tr -d ' ')" 0 "tmp/ empty after recovery"
finish
