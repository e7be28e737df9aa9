#!/usr/bin/env python3
"""A minimal MFM program for a Tessel tile, in plain Python (stdlib only).

It opens the MFM channel on the tile socket, prints every tile event (TEP)
and MFM packet it receives as one JSON object per line, and can send MFM
packets to a direction once the daemon grants credit there.

    tile_client.py --socket /run/tessel/tile.sock
    tile_client.py --socket S --send ET 2a2b --send WT 07 --exit-after 5

The framing is described in docs/tile-link.md section 3: every frame is a
big-endian u16 length, a kind byte and a body.
"""

import argparse
import json
import select
import socket
import struct
import sys
import time

PACKET, SERVICE, CREDIT, OPEN_MFM, BIND, NEIGHBOUR, REFUSED = range(1, 8)
CODES = ["NT", "NE", "ET", "SE", "ST", "SW", "WT", "NW"]
TEP = 0xC4
REFUSALS = {1: "no credit", 2: "absent", 3: "invalid packet", 4: "taken",
            5: "queue full", 6: "not allowed"}


def frame(kind, body=b""):
    """Encodes one frame."""
    return struct.pack(">HB", 1 + len(body), kind) + body


def frames(sock, buf):
    """Reads what is available; returns (frames, rest, open)."""
    data = sock.recv(65536)
    if not data:
        return [], buf, False
    buf += data
    out = []
    while len(buf) >= 2:
        (n,) = struct.unpack(">H", buf[:2])
        if n == 0 or n > 257:
            raise ValueError("corrupt stream: frame length %d" % n)
        if len(buf) < 2 + n:
            break
        out.append((buf[2], buf[3:2 + n]))
        buf = buf[2 + n:]
    return out, buf, True


def parse_dir(text):
    text = text.upper()
    if text.isdigit() and int(text) < 8:
        return int(text)
    return CODES.index(text)


def emit(obj):
    print(json.dumps(obj), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True, help="the tile socket (tile.sock)")
    ap.add_argument("--send", nargs=2, action="append", default=[],
                    metavar=("DIR", "HEX"),
                    help="send an MFM packet with this payload toward DIR "
                         "as soon as there is credit (repeatable)")
    ap.add_argument("--exit-after", type=float, default=None,
                    help="stop after this many seconds")
    args = ap.parse_args()

    pending = [(parse_dir(d), bytes.fromhex(h)) for d, h in args.send]
    credit = [0] * 8
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(args.socket)
    sock.sendall(frame(OPEN_MFM))
    emit({"opened": "mfm"})
    deadline = None if args.exit_after is None else time.monotonic() + args.exit_after
    buf = b""
    while True:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([sock], [], [], timeout)
        if not ready:
            break
        got, buf, still_open = frames(sock, buf)
        for kind, body in got:
            if kind == PACKET:
                d, pkt = body[0], body[1:]
                if pkt[0] == TEP:
                    event = {1: "connect", 2: "disconnect"}.get(pkt[1], "other")
                    emit({"dir": CODES[d], "event": event})
                else:
                    emit({"dir": CODES[d], "packet": pkt.hex()})
            elif kind == CREDIT:
                d, grant = body[0], struct.unpack(">H", body[1:3])[0]
                credit[d] += grant
            elif kind == REFUSED:
                emit({"dir": CODES[body[1]], "refused": REFUSALS.get(body[0], body[0])})
        # A disconnect voids credit; a connect is followed by a grant.
        for kind, body in got:
            if kind == PACKET and body[1] == TEP and body[2] == 2:
                credit[body[0]] = 0
        still = []
        for d, payload in pending:
            if credit[d] > 0:
                # MFM header: STND=1, LOCL=0, MFMT=1, OVRN=0, EROR=0, DIR.
                pkt = bytes([0xA0 | d]) + payload
                sock.sendall(frame(PACKET, bytes([d]) + pkt))
                credit[d] -= 1
                emit({"dir": CODES[d], "sent": pkt.hex()})
            else:
                still.append((d, payload))
        pending = still
        if not still_open:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
