# Dropping root (docs/privileges.md), run as root as CI does: sched
# refuses to keep root without control/users; with it, sched and the
# remotes it starts run as the named user (read from /proc while they
# work), remote and bounce started by hand as root drop too; a bad
# control/users is refused with its file and line.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "privileges: not root: nothing to check here (CI runs as root)"
	finish
	exit 0
fi
sched() { $wrap "$BIN/mailshot-sched" "$@"; }
# system accounts every Debian has, standing in for mailshotq etc.
QUSER=daemon
RUSER=nobody
BUSER=bin
quid=$(id -u $QUSER)
ruid=$(id -u $RUSER)
buid=$(id -u $BUSER)

use_spool p
printf 'From: a@example.org\nSubject: hi {{name}}\n\nhello\n' >"$T/t.eml"
{
	echo "email,name"
	i=0
	while [ $i -lt 40 ]; do echo "u$i@x.test,U$i"; i=$((i + 1)); done
} >"$T/list.csv"
expect_rc 0 "enqueue" -- enqueue --campaign c1 --template "$T/t.eml" --recipients "$T/list.csv"
start_sink sink -w 1 # one second per transaction: the processes live long enough to be seen
echo ":[127.0.0.1]:$SINK_PORT" >"$SPOOL/control/smtproutes"
echo 2 >"$SPOOL/control/concurrency"

# ---- root without control/users: refused ----
expect_rc 111 "sched as root without control/users" -- env -u MAILSHOT_ALLOW_ROOT "$BIN/mailshot-sched" --drain
expect_grep "control/users names no user for sched" "$T/err" "the refusal names the file and the role"
expect_eq "$(ls "$SPOOL/new" | wc -l | tr -d ' ')" 1 "nothing was taken from new/"

# ---- a bad control/users: 100, with file and line ----
printf 'sched %s\nsched %s\n' $QUSER $QUSER >"$SPOOL/control/users"
expect_rc 100 "a role named twice" -- "$BIN/mailshot-sched" --drain
expect_grep 'control/users:2: sched named twice' "$T/err" "file and line named"
printf 'sched no-such-user-mailshot\n' >"$SPOOL/control/users"
expect_rc 111 "an unknown user" -- "$BIN/mailshot-sched" --drain
expect_grep 'no-such-user-mailshot: no such user' "$T/err" "the unknown user is named"

# ---- sched and its remotes as the user ----
# no remote line: remote, not installed set-user-ID here, runs as sched's
# user (a remote line would make it refuse to run as another user)
printf 'sched %s\nbounce %s\n' $QUSER $BUSER >"$SPOOL/control/users"
# the spool areas sched writes, and what enqueue left for it, become its
# own (by hand here: the modes of docs/privileges.md are the next step)
mkdir -p "$SPOOL/queue" "$SPOOL/bounce"
[ -p "$SPOOL/trigger" ] || mkfifo -m 0622 "$SPOOL/trigger"
chown -R $QUSER "$SPOOL/new" "$SPOOL/tmp" "$SPOOL/log" "$SPOOL/campaigns" "$SPOOL/queue" "$SPOOL/bounce"
[ -p "$SPOOL/trigger" ] && chown $QUSER "$SPOOL/trigger"
chmod 755 "$T"
env -u MAILSHOT_ALLOW_ROOT "$BIN/mailshot-sched" --drain >"$T/sched.out" 2>&1 &
SPID=$!
seen_sched= seen_remote=
i=0
while [ $i -lt 100 ] && kill -0 $SPID 2>/dev/null; do
	u=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/$SPID/status 2>/dev/null)
	[ -n "$u" ] && seen_sched=$u
	for c in $(cat /proc/$SPID/task/*/children 2>/dev/null); do
		if grep -q mailshot-remote /proc/$c/cmdline 2>/dev/null; then
			seen_remote=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/$c/status)
		fi
	done
	[ -n "$seen_remote" ] && [ -n "$seen_sched" ] && break
	sleep 0.1
	i=$((i + 1))
done
wait $SPID
rc=$?
expect_eq "$rc" 0 "sched --drain as $QUSER finished"
expect_eq "$seen_sched" "$quid $quid $quid $quid" "sched ran as $QUSER (real, effective, saved, fs uid)"
# remote is started by sched, already not root: it stays sched's user
# unless installed set-user-ID (docs/privileges.md)
expect_eq "$seen_remote" "$quid $quid $quid $quid" "remote started by sched ran as $QUSER, not root"
expect_eq "$(grep -c ' sched event=delivered ' "$LOG")" 40 "every message delivered"
expect_eq "$(stat -c %U "$LOG")" $QUSER "the log is written by $QUSER"

# ---- the wrong user: refused, naming who should run it ----
expect_rc 111 "sched as $BUSER while control/users names $QUSER" -- setpriv --reuid=$BUSER --regid=$(id -g $BUSER) --clear-groups "$BIN/mailshot-sched" --once
expect_grep "running as $BUSER \\(uid $buid\\), but .*control/users names $QUSER for sched" "$T/err" "the wrong user is named, and the right one"

# ---- remote by hand as root drops to its user ----
printf 'remote %s\n' $RUSER >>"$SPOOL/control/users"
printf 'From: a@example.org\nSubject: by hand\n\nhello\n' >"$T/msg"
# its uid sampled until it has dropped (it starts as root: a sample taken
# at once on a busy machine may come before); it lives a second (the sink)
expect_rc 0 "remote by hand as root" -- sh -c "\"$BIN/mailshot-remote\" x.test a@example.org h@x.test <\"$T/msg\" & p=\$!; i=0; while [ \$i -lt 30 ]; do u=\$(awk '/^Uid:/ { print \$2 }' /proc/\$p/status 2>/dev/null); [ -n \"\$u\" ] && echo \$u >\"$T/ruid\"; [ \"\$u\" != 0 ] && break; sleep 0.1; i=\$((i + 1)); done; wait \$p"
expect_grep '^result h@x\.test delivered 250 ' "$T/out" "delivered"
expect_eq "$(cat "$T/ruid")" "$ruid" "remote ran as $RUSER"

# ---- bounce as root drops to its user: what it writes is the user's ----
chown -R $BUSER "$SPOOL/bounce" 2>/dev/null
mkdir -p "$SPOOL/suppress" && chown $BUSER "$SPOOL/suppress"
mkdir -p "$SPOOL/log/bounce" && chown $BUSER "$SPOOL/log/bounce" && chmod 755 "$SPOOL/log"
expect_rc 0 "bounce add as root" -- bounce add z@x.test --reason manual
expect_eq "$(stat -c %U "$SPOOL/suppress/data.mdb")" $BUSER "the suppression list is written by $BUSER"
expect_eq "$(grep -c ' bounce event=added ' "$SPOOL/log/bounce/current")" 1 "bounce's line in its own log file"

stop_peers
finish
