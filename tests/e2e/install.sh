# The installation of docs/privileges.md, as root (CI runs as root):
# `make install` into a DESTDIR; the programs under test installed,
# mailshot-setup creating users, group, spool and set-ID bits; a campaign enqueued by a sender account and delivered by
# sched started as root, each process seen in /proc with its user (sched
# mailshotq, remote mailshotr through its set-user-ID bit, bounce
# mailshotb); remote's user cannot open a spool file, the group can; an
# outsider cannot use bounce's commands; wrong owners are found by
# mailshot-setup --check and mended.  The test's users get unique names
# and are removed at the end.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "install: not root: nothing to check here (CI runs as root)"
	finish
	exit 0
fi
for c in useradd groupadd setpriv; do
	command -v $c >/dev/null || { fail "$c missing"; finish; exit 1; }
done
unset MAILSHOT_ALLOW_ROOT
n=$$
G=mstg$n Q=mstq$n R=mstr$n B=mstb$n S=msts$n
cleanup() {
	for u in $Q $R $B $S; do userdel "$u" 2>/dev/null; done
	for g in $G $Q $R $B $S; do groupdel "$g" 2>/dev/null; done
}
trap 'stop_peers; cleanup; [ -n "${MAILSHOT_KEEP:-}" ] || rm -rf "$T"' EXIT
chmod 755 "$T"

# ---- make install, into a staging directory (DESTDIR, as packagers do) ----
D=$T/dest
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT" install DESTDIR="$D" \
	PREFIX=/usr/local SPOOL=/var/spool/mailshot >"$T/make.out" 2>&1; then
	pass
else
	fail "make install DESTDIR=$D: $(tail -n 3 "$T/make.out")"
fi
missing=
for f in bin/mailshot-enqueue bin/mailshot-cat bin/mailshot-remote bin/mailshot-sched \
	bin/mailshot-bounce bin/mailshot-unsubscribe bin/mailshot-report sbin/mailshot-setup \
	share/man/man1/mailshot-enqueue.1 share/man/man1/mailshot-report.1 \
	share/man/man8/mailshot-sched.8 share/man/man8/mailshot-remote.8 share/man/man8/mailshot-setup.8 \
	share/mailshot/control/users share/mailshot/control/concurrency; do
	[ -f "$D/usr/local/$f" ] || missing="$missing $f"
done
expect_eq "$missing" "" "make install: programs, mailshot-setup, man pages, sample control/"
expect_grep '^SPOOL=/var/spool/mailshot$' "$D/usr/local/sbin/mailshot-setup" "make install: setup knows the spool"
expect_grep '^BINDIR=/usr/local/bin$' "$D/usr/local/sbin/mailshot-setup" "make install: and the programs"
expect_eq "$(stat -c %a "$D/usr/local/bin/mailshot-remote")" 755 "make install: no set-ID bit yet (mailshot-setup sets them)"
expect_eq "$(cd "$D" && find . -mindepth 1 -maxdepth 2 | sort | tr '\n' ' ')" "./usr ./usr/local " "make install writes under PREFIX only (the spool is mailshot-setup's)"

# ---- install (what make install does, with the programs under test) and set up ----
P=$T/prefix
mkdir -p "$P/bin" "$P/sbin"
for p in enqueue cat remote sched bounce unsubscribe report; do
	cp "$BIN/mailshot-$p" "$P/bin/"
done
sed -e "s|@SPOOL@|$T/spool|" -e "s|@BINDIR@|$P/bin|" "$ROOT/tools/mailshot-setup" >"$P/sbin/mailshot-setup"
chmod 755 "$P/sbin/mailshot-setup"
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin $S || fail "useradd $S"
SETUP="$P/sbin/mailshot-setup --group $G --sched-user $Q --remote-user $R --bounce-user $B"
expect_rc 100 "setup: a bad name" -- $SETUP --sender 'x y'
expect_rc 0 "mailshot-setup" -- $SETUP --sender $S
expect_grep "set up: sched $Q, remote $R, bounce $B, group $G, senders $S" "$T/out" "setup says what it did"
expect_rc 0 "setup --check: all as it should be" -- $SETUP --check
SPOOL=$T/spool
LOG=$SPOOL/log/current
export MAILSHOT_SPOOL=$SPOOL
expect_eq "$(stat -c '%U %G %a' "$SPOOL/queue" "$SPOOL/new" "$SPOOL/suppress" "$SPOOL/trigger" | tr '\n' ' ')" \
	"$Q $G 2750 $Q $G 2770 $B $G 2750 $Q $G 620 " "the areas' owners and modes"
expect_eq "$(stat -c '%U %G %a' "$P/bin/mailshot-remote" "$P/bin/mailshot-bounce" | tr '\n' ' ')" \
	"$R $R 4711 $B $G 6711 " "remote set-user-ID $R, bounce set-user-ID $B and set-group-ID $G"
printf 'sched %s\nremote %s\nbounce %s\n' $Q $R $B | cmp -s - "$SPOOL/control/users" && pass || fail "control/users"

# ---- a campaign: enqueued by the sender, delivered by sched started as root ----
start_smtpd "$T/smtpd"
printf ':[127.0.0.1]:%s\n' "$SMTPD_PORT" >"$SPOOL/control/smtproutes"
echo 2 >"$SPOOL/control/concurrency"
printf 'From: a@example.org\nSubject: hi {{name}}\n\nhello\n' >"$T/t.eml"
{
	echo "email,name"
	i=0
	while [ $i -lt 30 ]; do echo "u$i@x.test,U$i"; i=$((i + 1)); done
	echo "bad1@x.test,Bad"
	echo "slow1@x.test,Slow" # 2 s at RCPT: the remote lives long enough to be seen
} >"$T/list.csv"
chmod 644 "$T/t.eml" "$T/list.csv"
as() { # USER command...: with the user's own groups
	u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups env MAILSHOT_SPOOL="$SPOOL" "$@"
}
expect_rc 0 "enqueue as the sender $S" -- as $S "$P/bin/mailshot-enqueue" --campaign c1 --template "$T/t.eml" --recipients "$T/list.csv"
expect_rc 111 "enqueue as an outsider (nobody)" -- as nobody "$P/bin/mailshot-enqueue" --campaign c2 --template "$T/t.eml" --recipients "$T/list.csv"
expect_grep "^mailshot-enqueue: fatal: $SPOOL/tmp: owner $Q, group $G, mode 2770: not writable by nobody, who is not in the group $G: senders are members of it" "$T/err" "the outsider is told the path, its owner, group and mode, and who may"
expect_eq "$(ls "$SPOOL/new" | wc -l | tr -d ' ')" 1 "and nothing was queued"

"$P/bin/mailshot-sched" --drain >"$T/sched.out" 2>&1 &
SPID=$!
seen_sched= seen_remote=
i=0
while [ $i -lt 200 ] && kill -0 $SPID 2>/dev/null; do
	u=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/$SPID/status 2>/dev/null)
	[ -n "$u" ] && [ "${u%% *}" != 0 ] && seen_sched=$u
	for c in $(cat /proc/$SPID/task/*/children 2>/dev/null); do
		if grep -q mailshot-remote /proc/$c/cmdline 2>/dev/null; then
			r=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/$c/status 2>/dev/null)
			[ -n "$r" ] && seen_remote=$r
			g=$(awk '/^Groups:/ { $1 = ""; print }' /proc/$c/status 2>/dev/null)
		fi
	done
	[ -n "$seen_remote" ] && [ -n "$seen_sched" ] && break
	sleep 0.05
	i=$((i + 1))
done
wait $SPID
expect_eq "$?" 0 "sched --drain started as root"
qu=$(id -u $Q)
ru=$(id -u $R)
expect_eq "$seen_sched" "$qu $qu $qu $qu" "sched ran as $Q"
expect_eq "$seen_remote" "$ru $ru $ru $ru" "remote ran as $R (set-user-ID), real and saved IDs too"
expect_eq "$(echo ${g:-} | tr ' ' '\n' | grep -cx "$(getent group $G | cut -d: -f3)")" 0 "remote is not in the group $G"
expect_eq "$(grep -c ' sched event=delivered ' "$LOG")" 31 "31 delivered"
expect_eq "$(grep -c ' bounce event=classified campaign=c1 rcpt=bad1@x\.test .*action=suppressed' "$SPOOL/log/bounce/current")" 1 "bad1 suppressed by bounce"
expect_eq "$(stat -c %U "$SPOOL/suppress/data.mdb")" "$B" "the suppression list is written by $B"
expect_eq "$(stat -c '%U %a' "$LOG")" "$Q 640" "log/current is sched's alone"
expect_eq "$(grep -c ' enqueue event=queued ' "$SPOOL/log/enqueue/current")" 32 "enqueue's lines in log/enqueue/current"
expect_eq "$(stat -c '%U %a' "$SPOOL/log/enqueue/current")" "$S 660" "written by the sender, for the group"
expect_eq "$(stat -c '%U' "$SPOOL/log/bounce/current")" "$B" "bounce's lines in its own file"

# ---- who can open what ----
f=$(find "$SPOOL/campaigns" -name ledger | head -1)
expect_rc 1 "remote's user cannot read the ledger" -- as $R cat "$f"
expect_rc 1 "remote's user cannot read the log" -- as $R cat "$LOG"
expect_rc 2 "remote's user cannot list the queue" -- as $R ls "$SPOOL/queue"
expect_rc 1 "remote's user cannot write new/" -- as $R touch "$SPOOL/new/x"
expect_rc 0 "the sender (group $G) reads the log" -- as $S cat "$LOG"
expect_rc 0 "report as the sender" -- as $S "$P/bin/mailshot-report" --format tsv
expect_eq "$(awk -F'\t' '$1 == "campaign" && $2 == "c1" { print $5, $7 }' "$T/out")" "31 1" "report: 31 delivered, 1 bounced"
expect_rc 111 "report as an outsider (nobody)" -- as nobody "$P/bin/mailshot-report"
expect_grep "^mailshot-report: fatal: $SPOOL/log: owner $Q, group $G, mode 2770: not readable by nobody, who is not in the group $G: operators are members of it" "$T/err" "report tells the outsider why"
expect_rc 1 "bounce check as the sender: suppressed" -- as $S "$P/bin/mailshot-bounce" check bad1@x.test
expect_rc 100 "bounce's commands refused to an outsider" -- as nobody "$P/bin/mailshot-bounce" clear bad1@x.test
expect_grep "only root, the bounce user and the group $G" "$T/err" "the refusal says who may"
expect_rc 1 "still suppressed" -- as $S "$P/bin/mailshot-bounce" check bad1@x.test

# ---- wrong owners: found and mended ----
chown root "$SPOOL/queue"
chmod 700 "$SPOOL/queue"
expect_rc 111 "sched with a queue/ it does not own" -- "$P/bin/mailshot-sched" --once
expect_grep "$SPOOL/queue: owner root, mode 2700; expected $Q, mode 2750 \\(mailshot-setup" "$T/err" "sched names the path, what it is and what it should be"
chmod 2750 "$SPOOL/new"
n=$(ls "$SPOOL/new" "$SPOOL/tmp" | wc -l)
expect_rc 111 "enqueue into a new/ of the wrong mode" -- as $S "$P/bin/mailshot-enqueue" --campaign c3 --template "$T/t.eml" --recipients "$T/list.csv"
expect_grep "$SPOOL/new: owner $Q, group $G, mode 2750: not writable by $S; expected mode 2770 \\(mailshot-setup" "$T/err" "enqueue names the path, its mode and the expected one"
expect_eq "$(ls "$SPOOL/new" "$SPOOL/tmp" | wc -l)" "$n" "and nothing was written"
expect_rc 1 "setup --check finds the change" -- $SETUP --check
expect_grep "would: chown $Q:$G $SPOOL/queue" "$T/out" "it names the path and the owner"
expect_rc 0 "setup mends it" -- $SETUP
expect_rc 0 "then all is well" -- $SETUP --check

stop_peers
finish
