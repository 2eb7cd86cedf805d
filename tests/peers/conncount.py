#!/usr/bin/python3
"""conncount.py - a TCP relay on loopback that counts simultaneous clients.

    conncount.py OUT TARGET_PORT [TARGET_PORT ...]

For each TARGET_PORT it listens on a free port of 127.0.0.1 and relays every
connection, byte for byte in both directions, to 127.0.0.1:TARGET_PORT.
It writes the ports it listens on, one a line in the order of the targets,
to OUT.ports (complete when the file appears: written, then renamed).

A client counts from the moment its connection is accepted until it closes
its side (end of file or reset): what the client side holds open, which is
what a sender's concurrency cap is about.  On SIGTERM (or SIGINT) it writes
OUT and exits; on SIGUSR1 it writes OUT and starts counting afresh
(maxima reset to what is open now).  OUT, written to OUT.tmp then renamed:

    PORT max N total M      one line per listening port: the most clients
                            open at once, and the connections accepted
    all max N total M       the same over all ports together

A target that refuses the connection gets the client closed at once.
"""
import asyncio
import os
import signal
import socket
import sys


class Stats:
    def __init__(self, ports):
        self.ports = ports
        self.open = {p: 0 for p in ports}
        self.max = {p: 0 for p in ports}
        self.total = {p: 0 for p in ports}
        self.all_open = self.all_max = self.all_total = 0

    def opened(self, port):
        self.open[port] += 1
        self.total[port] += 1
        self.max[port] = max(self.max[port], self.open[port])
        self.all_open += 1
        self.all_total += 1
        self.all_max = max(self.all_max, self.all_open)

    def closed(self, port):
        self.open[port] -= 1
        self.all_open -= 1

    def write(self, path):
        with open(path + ".tmp", "w") as f:
            for p in self.ports:
                f.write("%d max %d total %d\n" % (p, self.max[p], self.total[p]))
            f.write("all max %d total %d\n" % (self.all_max, self.all_total))
        os.rename(path + ".tmp", path)

    def reset(self):
        for p in self.ports:
            self.max[p] = self.open[p]
            self.total[p] = 0
        self.all_max = self.all_open
        self.all_total = 0


class Upstream(asyncio.Protocol):
    def __init__(self, client):
        self.client = client

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.client.transport.write(data)

    def eof_received(self):
        if not self.client.transport.is_closing():
            self.client.transport.write_eof()
        return True

    def connection_lost(self, exc):
        self.client.transport.close()


class Client(asyncio.Protocol):
    def __init__(self, stats, port, target):
        self.stats, self.port, self.target = stats, port, target
        self.upstream = None
        self.pending = []
        self.counted = False

    def connection_made(self, transport):
        self.transport = transport
        self.counted = True
        self.stats.opened(self.port)
        asyncio.get_running_loop().create_task(self.connect())

    async def connect(self):
        loop = asyncio.get_running_loop()
        try:
            _, self.upstream = await loop.create_connection(
                lambda: Upstream(self), "127.0.0.1", self.target)
        except OSError:
            self.transport.close()
            return
        if self.transport.is_closing():
            self.upstream.transport.close()
            return
        for d in self.pending:
            self.upstream.transport.write(d)
        self.pending = None

    def uncount(self):
        if self.counted:
            self.counted = False
            self.stats.closed(self.port)

    def data_received(self, data):
        if self.upstream is None:
            self.pending.append(data)
        else:
            self.upstream.transport.write(data)

    def eof_received(self):
        self.uncount()
        if self.upstream is not None and not self.upstream.transport.is_closing():
            self.upstream.transport.write_eof()
        return True

    def connection_lost(self, exc):
        self.uncount()
        if self.upstream is not None:
            self.upstream.transport.close()


async def main():
    if len(sys.argv) < 3:
        sys.exit("usage: conncount.py OUT TARGET_PORT [TARGET_PORT ...]")
    out = sys.argv[1]
    targets = [int(a) for a in sys.argv[2:]]
    loop = asyncio.get_running_loop()
    servers, ports = [], []
    for _ in targets:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        ports.append(s.getsockname()[1])
        servers.append(s)
    stats = Stats(ports)
    for s, port, target in zip(servers, ports, targets):
        await loop.create_server(lambda p=port, t=target: Client(stats, p, t),
                                 sock=s, backlog=256)
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)

    def snapshot():
        stats.write(out)
        stats.reset()
    loop.add_signal_handler(signal.SIGUSR1, snapshot)
    with open(out + ".ports.tmp", "w") as f:
        f.write("".join("%d\n" % p for p in ports))
    os.rename(out + ".ports.tmp", out + ".ports")
    await done.wait()
    stats.write(out)


asyncio.run(main())
