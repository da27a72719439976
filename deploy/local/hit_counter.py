#!/usr/bin/env python3
"""The hit counter from the Kubernetes tutorial slotproxy comes from, talking to Redis through
the slotproxy sidecar as if it were one plain Redis.

Every HTTP GET / runs one `INCR hits` and answers "I have been hit N times since deployment.".
Python 3 standard library only: http.server plus a raw socket speaking RESP.

Environment:
  REDIS_ADDR   host:port of slotproxy (default 127.0.0.1:6379)
  LISTEN_ADDR  host:port to serve HTTP on (default 127.0.0.1:8080)

One persistent Redis connection, shared by all requests under a lock. A connection that
failed is dropped and the next request reconnects. INCR is never retried: if the outcome of a
request is unknown (the connection broke after it was sent) the answer is 503 with the error,
so a hit is never counted twice. A Redis error reply is a 503 carrying the error text.
"""

import os
import select
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONNECT_TIMEOUT_S = 2.0
REPLY_TIMEOUT_S = 30.0  # generous: slotproxy may hold a request while a failover completes


def parse_addr(value, default_host):
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = default_host, value
    return host or default_host, int(port)


class RedisError(Exception):
    """The server answered with a RESP error (-ERR ..., -CLUSTERDOWN ...)."""


class RespConnection:
    """A minimal RESP2 client: one socket, commands sent as arrays of bulk strings."""

    def __init__(self, addr):
        self.addr = addr
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
                self.buf = b""

    def _usable(self):
        """False when the server closed the idle connection (e.g. slotproxy restarted). Checked
        before sending, so a stale socket costs a reconnect rather than an error."""
        if self.sock is None:
            return False
        readable, _, _ = select.select([self.sock], [], [], 0)
        if not readable:
            return True
        try:
            data = self.sock.recv(4096, socket.MSG_PEEK)
        except OSError:
            return False
        return bool(data)  # unsolicited data would also be a protocol error; EOF = closed

    def command(self, *args):
        if not self._usable():
            self.close()
            self.sock = socket.create_connection(self.addr, timeout=CONNECT_TIMEOUT_S)
            self.sock.settimeout(REPLY_TIMEOUT_S)
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._read_reply()

    def _read_line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by %s:%d" % self.addr)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by %s:%d" % self.addr)
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _read_reply(self):
        line = self._read_line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self._read_exact(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read_reply() for _ in range(n)]
        raise ConnectionError("protocol error: unexpected reply %r" % line[:40])


class HitCounter:
    def __init__(self, redis_addr):
        self.conn = RespConnection(redis_addr)
        self.lock = threading.Lock()

    def hit(self):
        """Returns (status, text)."""
        with self.lock:
            try:
                n = self.conn.command("INCR", "hits")
            except RedisError as e:
                return 503, "Redis error: %s\n" % e
            except (OSError, ValueError) as e:
                # Includes timeouts and ConnectionError. The connection is in an unknown state.
                self.conn.close()
                return 503, "Redis connection error (%s:%d): %s\n" % (self.conn.addr + (e,))
        return 200, "I have been hit %d times since deployment.\n" % n


def make_handler(counter):
    class Handler(BaseHTTPRequestHandler):
        server_version = "hit-counter/1"

        def _answer(self, status, text):
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/":
                self._answer(*counter.hit())
            elif path == "/healthz":
                self._answer(200, "ok\n")
            else:
                self._answer(404, "not found\n")

        def log_message(self, fmt, *args):
            sys.stderr.write("hit_counter: %s %s\n" % (self.address_string(), fmt % args))

    return Handler


def main():
    redis_addr = parse_addr(os.environ.get("REDIS_ADDR", "127.0.0.1:6379"), "127.0.0.1")
    listen_addr = parse_addr(os.environ.get("LISTEN_ADDR", "127.0.0.1:8080"), "127.0.0.1")
    server = ThreadingHTTPServer(listen_addr, make_handler(HitCounter(redis_addr)))
    server.daemon_threads = True
    sys.stderr.write("hit_counter: serving http://%s:%d/ using Redis at %s:%d\n"
                     % (listen_addr + redis_addr))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
