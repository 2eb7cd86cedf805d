# mailshot-remote confines itself after start-up (lib/confine.h,
# docs/confine.md).  The test build of remote (MAILSHOT_TOOLS/
# mailshot-remote-hook, with MAILSHOT_TEST_OPEN=PATH) tries from inside
# its confinement to open a spool file, fork and exec, and says on stderr
# what happened; it still delivers: a campaign through sched, a message
# by hand over TLS with verification (the CA file, the system's bundle,
# the system's directory), DNS with control/resolvers and without.  A
# running release remote shows Seccomp: 2 in /proc/PID/status, and the
# release binary has no hook.
. "$(dirname "$0")/lib.sh"

HOOK=$TOOLS/mailshot-remote-hook
[ -x "$HOOK" ] || { fail "no $HOOK (make $HOOK)"; finish; exit 1; }
hook() { $wrap "$HOOK" "$@"; }

# expect_confined FILE PATH DESC: the hook's lines in FILE say that the
# open of PATH, fork and execve were refused inside seccomp.
expect_confined() {
	expect_grep "test-hook: confined: rlimits( chroot)? seccomp" "$1" "$3: confined"
	# A sanitizer build leaves opens to Landlock (lib/confine.h).
	if grep -q 'confined: .*sanitizer' "$1" && ! grep -q 'confined: .*landlock' "$1"; then
		echo "note [$name]: $3: sanitizer build without Landlock: opens not refused"
	else
		expect_grep "test-hook: open $2: Permission denied" "$1" "$3: open refused"
	fi
	# (valgrind would crash after a refused fork: test_confine checks it)
	expect_grep "test-hook: fork: (Permission denied|not tried under valgrind)" "$1" "$3: fork refused"
	expect_grep "test-hook: execve /bin/true: Permission denied" "$1" "$3: execve refused"
	expect_grep "test-hook: Seccomp: 2 NoNewPrivs: 1 core: 0 nofile: 256" "$1" "$3: seccomp, limits"
}

printf 'From: Team <team@example.org>\nSubject: Hello {{name}}\n\nHello {{name}}.\n' >"$T/t.eml"
printf 'email,name\na1@example.com,A\na2@example.com,B\na3@example.com,C\n' >"$T/l.csv"

# ---- 1. sched's remotes: the campaign is delivered, the spool is shut ----
use_spool sess
start_sink sink_sess
echo ":[127.0.0.1]:$SINK_PORT" >"$SPOOL/control/smtproutes"
expect_rc 0 "enqueue" -- enqueue --campaign c --template "$T/t.eml" --recipients "$T/l.csv"
export MAILSHOT_REMOTE="$HOOK" MAILSHOT_TEST_OPEN="$SPOOL/log/current"
expect_rc 0 "sched --drain with the hook remote" -- sched --drain
unset MAILSHOT_REMOTE MAILSHOT_TEST_OPEN
cp "$T/err" "$T/sess.err"
expect_eq "$(ls "$T/sink_sess" | wc -l | tr -d ' ')" 3 "three messages at the sink"
expect_eq "$(nlog 'event=delivered')" 3 "three delivered in the log"
expect_confined "$T/sess.err" "$SPOOL/log/current" "session"
# The test itself (not confined) reads the same file.
if [ -s "$SPOOL/log/current" ] && cat "$SPOOL/log/current" >/dev/null; then pass; else
	fail "the log is not readable from outside"; fi
# What remote holds when it starts: the socket to sched and stderr, no
# descriptor of any spool file.
expect_grep "test-hook: descriptors: 0=socket:.* 1=socket:" "$T/sess.err" "fds 0 and 1: the socket"
grep 'test-hook: descriptors:' "$T/sess.err" >"$T/fds"
expect_no_grep "$SPOOL/" "$T/fds" "no spool file among remote's descriptors"

# ---- 2. a running release remote, seen from outside ----
use_spool live
start_sink sink_live -w 3 # DATA waits: the remote stays busy
echo ":[127.0.0.1]:$SINK_PORT" >"$SPOOL/control/smtproutes"
expect_rc 0 "enqueue" -- enqueue --campaign c --template "$T/t.eml" --recipients "$T/l.csv"
sched_bg "$T/live.err"
rpid=
remote_pid() {
	rpid=$(ps -o pid=,comm= --ppid "$SCHED_PID" | awk '$2 == "mailshot-remote" { print $1; exit }')
	[ -n "$rpid" ]
}
# past its start-up: a remote found at once may still be reading control/
# and making its TLS context, before it confines itself; one that never
# does fails here, and the lines below show what it has
remote_started() {
	remote_pid && [ -n "$(awk '/^Seccomp:/ && $2 != 0' "/proc/$rpid/status" 2>/dev/null)" ]
}
wait_for 30 "a remote running, past its start-up" -- remote_started
if [ -n "$rpid" ]; then
	grep -E '^(Seccomp|NoNewPrivs):' "/proc/$rpid/status" >"$T/status"
	cp "/proc/$rpid/limits" "$T/limits"
	expect_grep '^Seccomp:[[:space:]]+2$' "$T/status" "running remote: Seccomp 2"
	expect_grep '^NoNewPrivs:[[:space:]]+1$' "$T/status" "running remote: NoNewPrivs 1"
	expect_grep '^Max core file size +0 +0 ' "$T/limits" "running remote: no core files"
	expect_grep '^Max open files +256 +256 ' "$T/limits" "running remote: 256 descriptors"
fi
wait_for 60 "live: delivered" -- sh -c "[ \$(grep -c event=delivered '$LOG') -eq 3 ]"
stop_sched "live"

# ---- 3. by hand, over TLS with verification, inside the confinement ----
use_spool tls
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.test \
	-addext "subjectAltName=IP:127.0.0.1,DNS:mx.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || fail "openssl req"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other \
	-keyout "$T/otherkey.pem" -out "$T/other.pem" >/dev/null 2>&1
start_smtpd "$T/tlsgot" --cert "$T/cert.pem" --key "$T/key.pem"
echo ":[127.0.0.1]:$SMTPD_PORT" >"$SPOOL/control/smtproutes"
printf '* tls=verify\n' >"$SPOOL/control/domains"
echo "$T/cert.pem" >"$SPOOL/control/tlscafile"
printf 'From: a@example.org\nSubject: tls\n\nconfined over TLS\n' >"$T/msg"
export MAILSHOT_TEST_OPEN="$T/cert.pem" # the CA file remote read before
expect_rc 0 "tls=verify with control/tlscafile" -- hook example.com s@example.org ok@example.com <"$T/msg"
expect_grep '^result ok@example.com delivered 250 .* TLSv1.[23]/' "$T/out" "delivered over verified TLS"
expect_confined "$T/err" "$T/cert.pem" "cli"
expect_grep '^tls 1$' "$T/tlsgot/1.env" "the server saw TLS"
grep -q 'confined over TLS' "$T/tlsgot/1.eml" && pass || fail "message content"
echo "$T/other.pem" >"$SPOOL/control/tlscafile"
expect_rc 111 "tls=verify with the wrong CA defers" -- hook example.com s@example.org ok@example.com <"$T/msg"
expect_grep 'deferred - 4.7.5 .*certificate' "$T/out" "the certificate is named"
# The system's trust anchors: the bundle file, then (without one) the
# directory, both loaded before confinement.
rm "$SPOOL/control/tlscafile"
expect_rc 0 "tls=verify with the system's bundle (SSL_CERT_FILE)" -- \
	env SSL_CERT_FILE="$T/cert.pem" $wrap "$HOOK" example.com s@example.org ok@example.com <"$T/msg"
expect_grep ' delivered 250 ' "$T/out" "bundle: delivered"
mkdir -p "$T/certdir"
cp "$T/other.pem" "$T/certdir/a.pem"
cp "$T/cert.pem" "$T/certdir/b.pem"
expect_rc 0 "tls=verify with the system's directory (SSL_CERT_DIR)" -- \
	env SSL_CERT_FILE="$T/none" SSL_CERT_DIR="$T/certdir" $wrap "$HOOK" example.com s@example.org ok@example.com <"$T/msg"
expect_grep ' delivered 250 ' "$T/out" "directory: delivered"
expect_rc 111 "tls=verify, our CA in no system place: deferred" -- \
	env SSL_CERT_FILE="$T/none" SSL_CERT_DIR="$T/none" $wrap "$HOOK" example.com s@example.org ok@example.com <"$T/msg"
expect_grep 'no TLS trust anchors' "$T/err" "no anchors at all: said at start"
expect_rc 111 "tls=verify against the real system roots: not verified" -- hook example.com s@example.org ok@example.com <"$T/msg"
expect_grep 'deferred - 4.7.5 .*certificate' "$T/out" "system roots: the certificate is named"
unset MAILSHOT_TEST_OPEN
stop_peers

# ---- 4. DNS inside the confinement ----
use_spool dns
echo 3 >"$SPOOL/control/timeoutdns"
start_sink sink_dns
echo "$SINK_PORT" >"$SPOOL/control/smtpport"
start_unbound '"confine.test. MX 10 mx.confine.test."
"mx.confine.test. A 127.0.0.1"'
export MAILSHOT_TEST_OPEN="$SPOOL/control/resolvers"
expect_rc 0 "MX through control/resolvers" -- hook confine.test s@example.org x@confine.test <"$T/msg"
expect_grep '^result x@confine.test delivered 250 .* mx.confine.test 127.0.0.1 ' "$T/out" "delivered via the MX"
expect_confined "$T/err" "$SPOOL/control/resolvers" "dns"
# Without control/resolvers: the system's, from /etc/resolv.conf read
# before confinement.  Whatever it answers for a .test name, the lookup
# ends in a result, not in a failure to read a file.
rm "$SPOOL/control/resolvers"
MAILSHOT_TEST_OPEN=/etc/resolv.conf
hook confine.test s@example.org x@confine.test <"$T/msg" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 100 ] || [ $rc -eq 111 ]; then pass; else fail "system resolver: exit $rc"; fi
expect_grep '^result x@confine.test (failed|deferred) - (5.1.2|4.4.3) ' "$T/out" "system resolver: a DNS result"
expect_confined "$T/err" /etc/resolv.conf "system resolver"
expect_no_grep 'fatal' "$T/err" "system resolver: no fatal error"
unset MAILSHOT_TEST_OPEN

# ---- 5. the release binary has no hook ----
expect_eq "$(strings "$BIN/mailshot-remote" | grep -c MAILSHOT_TEST_OPEN)" 0 "no hook in the release binary"
expect_eq "$(strings "$HOOK" | grep -c MAILSHOT_TEST_OPEN)" 1 "the hook in the test binary"
use_spool release
echo ":[127.0.0.1]:$SINK_PORT" >"$SPOOL/control/smtproutes"
export MAILSHOT_TEST_OPEN=/etc/passwd
expect_rc 0 "release remote with MAILSHOT_TEST_OPEN set" -- remote example.com s@example.org y@example.com <"$T/msg"
expect_no_grep 'test-hook' "$T/err" "release remote: no hook output"
unset MAILSHOT_TEST_OPEN
finish
