#!/usr/bin/python3
"""Independent check of a message as mailshot queued it, with Python's own
email package (not our code): the raw bytes must be CRLF-only, 7-bit, with
no line over 998 octets, and parse as a MIME message without defects.
Prints the decoded headers and text parts as JSON on stdout; exits 1 with
the reason on stderr when a rule is broken."""
import json
import sys
from email import policy
from email.parser import BytesParser

def main(path):
    raw = open(path, "rb").read()
    problems = []
    if b"\n" in raw.replace(b"\r\n", b""):
        problems.append("bare LF")
    if b"\r" in raw.replace(b"\r\n", b""):
        problems.append("bare CR")
    if any(b >= 0x80 for b in raw):
        problems.append("8-bit byte")
    for i, line in enumerate(raw.split(b"\r\n"), 1):
        if len(line) > 998:
            problems.append("line %d is %d octets" % (i, len(line)))
            break
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    for part in msg.walk():
        if part.defects:
            problems.append("defects: %r" % part.defects)
    out = {"headers": {}, "parts": []}
    for k in msg.keys():
        out["headers"].setdefault(k.lower(), []).append(str(msg[k]) if len(msg.get_all(k)) == 1
                                                         else [str(v) for v in msg.get_all(k)])
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        entry = {"type": ctype, "cte": part.get("Content-Transfer-Encoding", "7bit")}
        if part.get_content_maintype() == "text":
            entry["text"] = part.get_content()
        out["parts"].append(entry)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    if problems:
        print("; ".join(problems), file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
