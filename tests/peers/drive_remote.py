#!/usr/bin/python3
"""Plays sched's part of docs/protocol.md for the tests: starts
mailshot-remote --session on a socketpair, sends one job per message of
the given spool batches (each with the batch's descriptor attached), and
prints every record remote sends back.  With --window N at most N jobs are
outstanding (default: all at once).  Each --send RECORD is sent as it is,
after the hello and before the first job (as sched sends the hostdown
records it knows to a new remote).

usage: drive_remote.py REMOTE SPOOL DOMAIN BATCH... [--window N] [--cat MAILSHOT-CAT]
                       [--send RECORD]...
"""
import argparse
import os
import socket
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("remote")
    ap.add_argument("spool")
    ap.add_argument("domain")
    ap.add_argument("batches", nargs="+")
    ap.add_argument("--cat", required=True)
    ap.add_argument("--window", type=int, default=0)
    ap.add_argument("--wrap", default="")
    ap.add_argument("--slice", default="0/1", help="K/N: only every N-th job, starting at K")
    ap.add_argument("--quiet", action="store_true", help="print only the summary")
    ap.add_argument("--pause", type=float, default=0, help="seconds to wait after each result")
    ap.add_argument("--send", action="append", default=[], help="a record to send before the jobs")
    args = ap.parse_args()

    jobs = []
    for b in args.batches:
        out = subprocess.run([args.cat, "--envelope", b], check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            idx, rcpt, sender, _line, _mid, _test, off, blen, enc, size = line.split("\t")
            jobs.append((b, idx, rcpt, sender, off, blen, enc, size))

    k, n = (int(x) for x in args.slice.split("/"))
    jobs = jobs[k::n]

    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    cmd = (args.wrap.split() if args.wrap else []) + [args.remote, "--spool", args.spool, "--session", args.domain]
    p = subprocess.Popen(cmd, stdin=child.fileno(), stdout=child.fileno(), pass_fds=())
    child.close()
    f = parent.makefile("rb")
    hello = f.readline()
    if hello != b"hello mailshot-remote 1\n":
        print("bad hello: %r" % hello, file=sys.stderr)
        return 1
    parent.sendall(b"hello mailshot-sched 1\n")
    for record in args.send:
        parent.sendall(record.encode() + b"\n")

    def esc(s):
        if s == "":
            return "-"
        if s == "-":
            return "%2D"
        return "".join(c if 0x21 <= ord(c) <= 0x7e and c != "%" else "".join("%%%02X" % b for b in c.encode()) for c in s)

    files = {}
    start = time.monotonic()
    sent = done = 0
    window = args.window or len(jobs)
    results = []
    while done < len(jobs):
        while sent < len(jobs) and sent - done < window:
            b, idx, rcpt, sender, off, blen, enc, size = jobs[sent]
            if b not in files:
                files[b] = os.open(b, os.O_RDONLY)
            line = "job %s:%s %s %s %s %s %s %s\n" % (os.path.basename(b), idx, off, blen, enc, size, esc(sender), esc(rcpt))
            try:
                socket.send_fds(parent, [line.encode()], [files[b]])
            except OSError:
                break  # remote has gone: the read below says so
            sent += 1
        try:
            rec = f.readline()
        except OSError:
            rec = b""
        if not rec:
            print("remote closed the session early", file=sys.stderr)
            break
        results.append(rec.decode().rstrip("\n"))
        if rec.startswith(b"result "):
            done += 1
            if args.pause:
                time.sleep(args.pause)
    try:
        parent.sendall(b"quit\n")
    except OSError:
        pass  # remote has gone already
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = rc = os.waitstatus_to_exitcode(status)
    el = time.monotonic() - start
    if not args.quiet:
        for r in results:
            print(r)
    delivered = sum(1 for r in results if r.startswith("result ") and r.split(" ")[3] == "delivered")
    print("driver: %d jobs, %d results, %d delivered, %.3f s, remote cpu %.3f s, remote exit %d" %
          (len(jobs), done, delivered, el, ru.ru_utime + ru.ru_stime, rc), file=sys.stderr)
    return 0 if rc == 0 and done == len(jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
