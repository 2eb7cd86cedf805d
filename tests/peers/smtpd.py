#!/usr/bin/python3
"""A scriptable SMTP server for the tests, on Python's aiosmtpd (Debian
python3-aiosmtpd): STARTTLS with the given certificate, and per-recipient
answers chosen by the local part:
    bad*@...      550 5.1.1 no such user
    later*@...    451 4.3.0 try again in 10 minutes
    full*@...     552 5.2.2 mailbox full
    blocked*@...  554 5.7.1 our IP listed by a blocklist (a policy block)
    slow*@...     250 after 2 seconds (a client that must stay alive a while)
    anything else 250
Every accepted message is written to DIR/N.eml with the envelope in
DIR/N.env ("from", "to" lines, "tls 1|0", "peer ADDR:PORT" -- one port per
connection, so the tests can count connections).

usage: smtpd.py PORT DIR [--cert CERT --key KEY [--broken-tls]]
"""
import argparse
import asyncio
import os
import ssl
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("bad"):
            return "550 5.1.1 no such user"
        if local.startswith("later"):
            return "451 4.3.0 try again in 10 minutes"
        if local.startswith("full"):
            return "552 5.2.2 <%s>: mailbox full, quota exceeded" % address
        if local.startswith("blocked"):
            return ("554 5.7.1 Service unavailable; client host [127.0.0.1] "
                    "blocked using a DNS blocklist")
        if local.startswith("slow"):
            await asyncio.sleep(2)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.outdir, "%d" % self.n)
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".env", "w") as f:
            f.write("from %s\n" % envelope.mail_from)
            for r in envelope.rcpt_tos:
                f.write("to %s\n" % r)
            f.write("tls %d\n" % (1 if session.ssl else 0))
            f.write("peer %s:%s\n" % tuple(session.peer[:2]))
        return "250 2.0.0 queued as %d" % self.n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("dir")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--broken-tls", action="store_true",
                    help="offer STARTTLS but speak only TLS 1.0, which clients refuse")
    args = ap.parse_args()
    ctx = None
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if args.broken_tls:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1
        ctx.load_cert_chain(args.cert, args.key)
    ctl = Controller(Handler(args.dir), hostname="127.0.0.1", port=args.port,
                     tls_context=ctx, require_starttls=False, decode_data=False)
    ctl.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        ctl.stop()


if __name__ == "__main__":
    main()
