#!/usr/bin/env python3
"""Measures MFM traffic between two neighbouring tiles (bench/tile.sh).

It opens the MFM channel on both tiles' sockets from one process, so one
clock times both ends, then:

- latency: sends one MFM packet from A toward B (direction --dir), waits
  for it to come out of B's channel, and repeats; the one-way latency is
  the time from handing the frame to A's socket to reading it from B's.
- throughput: sends --count packets from A as fast as A's credit allows
  and counts them out of B's channel; packets per second from the first
  send to the last arrival.

Prints one JSON object. Stdlib only.
"""

import argparse
import json
import select
import socket
import statistics
import struct
import time

PACKET, CREDIT, OPEN_MFM = 1, 3, 4
CODES = ["NT", "NE", "ET", "SE", "ST", "SW", "WT", "NW"]


class Channel:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(struct.pack(">HB", 1, OPEN_MFM))
        self.buf = b""
        self.credit = [0] * 8

    def read(self, timeout):
        """Frames available within timeout: (kind, body) pairs."""
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return []
        data = self.sock.recv(1 << 20)
        if not data:
            raise SystemExit("tile socket closed")
        self.buf += data
        out = []
        while len(self.buf) >= 2:
            (n,) = struct.unpack(">H", self.buf[:2])
            if len(self.buf) < 2 + n:
                break
            kind, body = self.buf[2], self.buf[3:2 + n]
            self.buf = self.buf[2 + n:]
            if kind == CREDIT:
                self.credit[body[0]] += struct.unpack(">H", body[1:3])[0]
            out.append((kind, body))
        return out

    def send(self, d, payload, batch=1):
        pkt = bytes([0xA0 | d]) + payload
        frame = struct.pack(">HBB", 2 + len(pkt), PACKET, d) + pkt
        self.sock.sendall(frame * batch)
        self.credit[d] -= batch


def mfm_from(frames, d):
    return [b for k, b in frames if k == PACKET and b[0] == d and b[1] != 0xC4]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="tile socket of A")
    ap.add_argument("--b", required=True, help="tile socket of B")
    ap.add_argument("--dir", default="ET", help="direction from A to B")
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--count", type=int, default=50000)
    ap.add_argument("--size", type=int, default=64, help="packet bytes")
    args = ap.parse_args()
    d = CODES.index(args.dir)
    back = (d + 4) % 8
    a, b = Channel(args.a), Channel(args.b)
    deadline = time.monotonic() + 10
    while a.credit[d] == 0:
        a.read(0.1)
        b.read(0)
        if time.monotonic() > deadline:
            raise SystemExit("no credit toward %s: is B present?" % args.dir)
    payload = bytes(args.size - 1)

    lat = []
    for _ in range(args.samples):
        while a.credit[d] == 0:
            a.read(0.05)
        t0 = time.perf_counter()
        a.send(d, payload)
        got = 0
        while not got:
            got = len(mfm_from(b.read(1.0), back))
        lat.append(time.perf_counter() - t0)
        a.read(0)

    sent = received = 0
    t0 = time.perf_counter()
    while received < args.count:
        if sent < args.count and a.credit[d] > 0:
            n = min(a.credit[d], args.count - sent)
            a.send(d, payload, n)
            sent += n
        a.read(0)
        received += len(mfm_from(b.read(0 if sent < args.count else 1.0), back))
    elapsed = time.perf_counter() - t0
    print(json.dumps({
        "one_way_median_us": statistics.median(lat) * 1e6,
        "one_way_p90_us": sorted(lat)[int(len(lat) * 0.9)] * 1e6,
        "pps": args.count / elapsed,
        "packets": args.count,
        "packet_bytes": args.size,
    }))


if __name__ == "__main__":
    main()
