#!/usr/bin/env python3
"""The tile notes' proof-of-concept counter daemon, in plain Python.

- It watches a counter file's modification time and reloads the counter
  (an integer) whenever the file changes.
- It advertises its value to every present neighbour every --interval
  seconds (default 60), and at once to a neighbour that appears or when
  the value changes.
- It tracks its neighbours' counters from their advertisements, prints
  each change as a JSON line and, with --state, keeps them in a JSON file
  ({"ET": 12, ...}, rewritten atomically).

It binds one service (default 20) on the tile socket, so it talks to the
same service on its neighbours. Payload: the ASCII text "counter <value>".

    counter_daemon.py --socket /run/tessel/tile.sock --counter /tmp/count
"""

import argparse
import json
import os
import select
import socket
import struct
import sys
import time

SERVICE, BIND, NEIGHBOUR, REFUSED = 2, 5, 6, 7
CODES = ["NT", "NE", "ET", "SE", "ST", "SW", "WT", "NW"]
POLL = 0.5


def frame(kind, body=b""):
    return struct.pack(">HB", 1 + len(body), kind) + body


def read_counter(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or "0")
    except (OSError, ValueError):
        return None


def mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


class Daemon:
    def __init__(self, args):
        self.args = args
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(args.socket)
        self.sock.sendall(frame(BIND, bytes([args.service])))
        self.present = set()
        self.neighbours = {}
        self.value = None
        self.seen_mtime = None
        self.buf = b""

    def emit(self, obj):
        print(json.dumps(obj), flush=True)

    def save(self):
        if not self.args.state:
            return
        tmp = self.args.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"value": self.value, "neighbours": self.neighbours}, f)
        os.replace(tmp, self.args.state)

    def advertise(self, dirs):
        if self.value is None:
            return
        payload = ("counter %d" % self.value).encode()
        for d in sorted(dirs):
            body = bytes([d, self.args.service]) + payload
            self.sock.sendall(frame(SERVICE, body))

    def reload(self):
        m = mtime(self.args.counter)
        if m is None or m == self.seen_mtime:
            return False
        value = read_counter(self.args.counter)
        if value is None:
            return False
        self.seen_mtime = m
        changed = value != self.value
        self.value = value
        if changed:
            self.emit({"value": value})
            self.save()
        return changed

    def on_frames(self):
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        while len(self.buf) >= 2:
            (n,) = struct.unpack(">H", self.buf[:2])
            if len(self.buf) < 2 + n:
                break
            kind, body = self.buf[2], self.buf[3:2 + n]
            self.buf = self.buf[2 + n:]
            if kind == NEIGHBOUR:
                d, up = body[0], body[1] == 1
                if up:
                    self.present.add(d)
                    self.advertise([d])
                else:
                    self.present.discard(d)
                    self.neighbours.pop(CODES[d], None)
                    self.save()
                self.emit({"dir": CODES[d], "present": up})
            elif kind == SERVICE:
                d, text = body[0], body[2:].decode("ascii", "replace")
                parts = text.split()
                if len(parts) == 2 and parts[0] == "counter" and parts[1].lstrip("-").isdigit():
                    value = int(parts[1])
                    if self.neighbours.get(CODES[d]) != value:
                        self.neighbours[CODES[d]] = value
                        self.emit({"dir": CODES[d], "counter": value})
                        self.save()
            elif kind == REFUSED:
                self.emit({"refused": body[0], "dir": CODES[body[1]]})
                if body[0] == 4:
                    sys.exit("service %d is taken by another program" % self.args.service)
        return True

    def run(self):
        self.reload()
        next_advert = time.monotonic() + self.args.interval
        while True:
            ready, _, _ = select.select([self.sock], [], [], POLL)
            if ready and not self.on_frames():
                return 0
            if self.reload():
                self.advertise(self.present)
            if time.monotonic() >= next_advert:
                self.advertise(self.present)
                next_advert = time.monotonic() + self.args.interval


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True, help="the tile socket (tile.sock)")
    ap.add_argument("--counter", required=True, help="the counter file (an integer)")
    ap.add_argument("--interval", type=float, default=60.0,
                    help="seconds between adverts to all neighbours (default 60)")
    ap.add_argument("--service", type=int, default=20, help="service number (default 20)")
    ap.add_argument("--state", help="write neighbours' counters to this JSON file")
    args = ap.parse_args()
    if not 1 <= args.service <= 63 or args.service in (8, 9):
        ap.error("--service must be 1..63 and not 8 or 9 (the daemon's own)")
    return Daemon(args).run()


if __name__ == "__main__":
    sys.exit(main())
