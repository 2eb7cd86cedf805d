# A dead MX for the dead-host tests: accepts TCP on 127.0.0.2:PORT, writes
# a line "connection" to OUT for each connection, and closes it at once --
# or, while the file OUT.silent exists, keeps it open without a word (a
# greeting timeout).  OUT.ready appears once it listens.
#	deadmx.py PORT OUT
import os, socket, sys

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.2", int(sys.argv[1])))
s.listen(16)
open(sys.argv[2] + ".ready", "w").close()
silent = []
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "a") as f:
        f.write("connection\n")
    if os.path.exists(sys.argv[2] + ".silent"):
        silent.append(c)
    else:
        c.close()
