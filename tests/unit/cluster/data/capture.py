#!/usr/bin/env python3
"""Dumps the raw RESP bytes of one reply: capture.py HOST PORT PROTO OUT CMD [ARG...] (PROTO 2|3)."""
import socket
import sys


def read_reply(f, out):
    line = f.readline()
    out += line
    t, body = line[:1], line[1:-2]
    if t in b"$!=" and body != b"-1":
        out += f.read(int(body) + 2)
    elif t in b"*~>%|" and body != b"-1":
        for _ in range(int(body) * (2 if t in b"%|" else 1)):
            read_reply(f, out)
        if t == b"|":  # an attribute prefixes the value that follows
            read_reply(f, out)


def command(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


host, port, proto, path, *cmd = sys.argv[1:]
with socket.create_connection((host, int(port))) as s, s.makefile("rb") as f:
    if proto == "3":
        s.sendall(command("HELLO", "3"))
        read_reply(f, bytearray())
    s.sendall(command(*cmd))
    raw = bytearray()
    read_reply(f, raw)
with open(path, "wb") as out_file:
    out_file.write(raw)
