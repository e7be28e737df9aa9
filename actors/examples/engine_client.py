#!/usr/bin/env python3
"""A client for the Tessel daemon's local engine socket (`engines.sock`).

Standard library only. It speaks the binary encoding described in
docs/actors.md ("The local engine socket"): the hello b"TEB1", then frames
of a 4-byte big-endian length and a body (a kind byte, an id or engine,
fields little-endian). It waits for input with poll(2) before it reads:
a reader blocked in recv() on a Unix socket is woken each time the daemon
takes in what it wrote.

Commands:
  echo      run an engine that answers every call with its request and
            prints the casts it receives (optionally under a name)
  call      call an engine (address or name) and print the reply
  cast      send an engine a one-way message
  listen    run an engine that prints what it receives
  subscribe run an engine subscribed to a publisher's events, printing them
  publish   run an engine that publishes events when called: a call with
            "TOPIC COUNT SIZE [FIELD=VALUE ...]" publishes COUNT events of
            SIZE bytes and answers "published COUNT sent N"

Two machines calling each other (each running `tessel up` in one network):
  machine A:  engine_client.py echo --name echo-a
  machine B:  engine_client.py call echo-a "hello from B"
"""

import argparse
import json
import os
import select
import socket
import struct
import sys

SYSTEM_RUNTIME_DIR = "/run/tessel"


def default_runtime_dir():
    """Where `tessel up` with the default state dir keeps its sockets: the
    user's own node in $XDG_RUNTIME_DIR/tessel if one runs there, else the
    system's in /run/tessel (see the README, "Local sockets")."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if os.geteuid() != 0 and xdg:
        own = os.path.join(xdg, "tessel")
        if os.path.exists(os.path.join(own, "tessel.sock")):
            return own
    return SYSTEM_RUNTIME_DIR

HELLO = b"TEB1"

# Requests: kind byte, then the id (u64).
START, STOP, CAST, CALL, REPLY, SUBSCRIBE, UNSUBSCRIBE, PUBLISH = range(1, 9)
REGISTER, UNREGISTER, WHEREIS, MONITOR, LIST = range(9, 14)

# Answers (kind, id) and pushes (kind, engine).
STARTED, DONE, REPLIED, SUBSCRIBED, UNSUBSCRIBED, PUBLISHED, FOUND, MONITORING, LISTED = range(0x41, 0x4A)
REFUSED = 0x4F
PUSH_CAST, PUSH_CALL, PUSH_EVENT, PUSH_DOWN, PUSH_NAME_LOST = range(0x81, 0x86)
DOWN_REASONS = ["Stopped", "Forgotten", "Expired", "Unreachable", "NoSuchEngine"]


class EngineError(Exception):
    """The daemon refused a request."""


def str8(text):
    b = text.encode()
    if len(b) > 255:
        raise ValueError("over 255 bytes: %r" % text)
    return bytes([len(b)]) + b


def field_map(fields):
    out = bytes([len(fields)])
    for name in sorted(fields):
        value = fields[name].encode()
        out += str8(name) + struct.pack("<H", len(value)) + value
    return out


def is_address(to):
    """Whether `to` is an engine address (64 hex digits) rather than a name."""
    try:
        return len(to) == 64 and len(bytes.fromhex(to)) == 32
    except ValueError:
        return False


def target(to):
    """An engine address (64 hex digits) or a name."""
    if is_address(to):
        return b"\x00" + bytes.fromhex(to)
    return b"\x01" + str8(to)


class Reader:
    """Reads the fields of one frame body."""

    def __init__(self, body):
        self.body = body
        self.at = 0

    def take(self, n):
        if self.at + n > len(self.body):
            raise EOFError("truncated frame from the daemon")
        b = self.body[self.at : self.at + n]
        self.at += n
        return b

    def u8(self):
        return self.take(1)[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def engine(self):
        return self.take(32).hex()

    def str8(self):
        return self.take(self.u8()).decode()

    def str16(self):
        return self.take(struct.unpack("<H", self.take(2))[0]).decode()

    def fields(self):
        out = {}
        for _ in range(self.u8()):
            name = self.str8()
            out[name] = self.str16()
        return out

    def rest(self):
        b = self.body[self.at :]
        self.at = len(self.body)
        return b


def parse_frame(body):
    """A frame from the daemon as a dict: answers have `id` and `ok` or
    `error`, pushed frames `event`; payloads are bytes under `data`."""
    r = Reader(body)
    kind = r.u8()
    if kind < 0x80:
        m = {"id": r.u64(), "ok": True}
        if kind == STARTED:
            m["engine"] = r.engine()
            error = r.str16()
            if error:
                m["name_error"] = error
        elif kind == REPLIED:
            m["data"] = r.rest()
        elif kind == SUBSCRIBED:
            m["sub"] = r.u64()
        elif kind == UNSUBSCRIBED:
            m["removed"] = r.u8() == 1
        elif kind == PUBLISHED:
            m["sent"] = r.u64()
        elif kind == FOUND:
            m["engine"] = r.engine()
        elif kind == MONITORING:
            m["monitor"] = r.u64()
        elif kind == LISTED:
            m.update(json.loads(r.rest().decode()))
        elif kind == REFUSED:
            del m["ok"]
            m["error"] = r.rest().decode(errors="replace")
        return m
    m = {"engine": r.engine()}
    if kind == PUSH_CAST:
        m.update(event="cast", **{"from": r.engine()}, data=r.rest())
    elif kind == PUSH_CALL:
        m.update(event="call", **{"from": r.engine()}, reply_to=r.u64(), data=r.rest())
    elif kind == PUSH_EVENT:
        m.update(event="event", **{"from": r.engine()})
        m.update(topic=r.str8(), fields=r.fields(), data=r.rest())
    elif kind == PUSH_DOWN:
        m.update(event="down", monitor=r.u64(), target=r.engine(), reason=DOWN_REASONS[r.u8()])
    elif kind == PUSH_NAME_LOST:
        m.update(event="name_lost", name=r.str8(), winner=r.engine())
    else:
        m.update(event="unknown kind %#x" % kind)
    return m


class EngineClient:
    """One connection to engines.sock; engines started on it stop when it closes."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(HELLO)
        self.poll = select.poll()
        self.poll.register(self.sock, select.POLLIN)
        self.buf = b""
        self.next_id = 1
        self.pushed = []
        self.quiet = set()

    def _send(self, kind, rid, fields=b""):
        body = bytes([kind]) + struct.pack("<Q", rid) + fields
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def _recv_exact(self, n):
        while len(self.buf) < n:
            self.poll.poll()
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("the daemon closed the engine socket")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        """The next frame from the daemon (an answer or a pushed message)."""
        (length,) = struct.unpack(">I", self._recv_exact(4))
        return parse_frame(self._recv_exact(length))

    def request(self, kind, fields=b"", answered=True):
        """Sends a request and waits for its answer; pushed frames are kept.
        Casts and replies are answered only when refused: for those
        (`answered=False`) nothing is awaited."""
        rid = self.next_id
        self.next_id += 1
        self._send(kind, rid, fields)
        if not answered:
            self.quiet.add(rid)
            return None
        while True:
            frame = self.read_frame()
            if "event" not in frame and frame.get("id") in self.quiet:
                raise EngineError(frame.get("error", "unexpected answer"))
            if frame.get("id") == rid and "event" not in frame:
                if "error" in frame:
                    raise EngineError(frame["error"])
                return frame
            self.pushed.append(frame)

    def next_message(self):
        """The next pushed frame: cast, call, event, down or name_lost
        (refusals of casts and replies are raised)."""
        while True:
            m = self.pushed.pop(0) if self.pushed else self.read_frame()
            if "error" in m:
                raise EngineError(m["error"])
            if "event" in m:
                return m

    def start(self, name=None, persistent=None):
        answer = self.request(START, str8(persistent or "") + str8(name or ""))
        if "name_error" in answer:
            raise EngineError(answer["name_error"])
        return answer["engine"]

    def call(self, engine, to, data, timeout_ms=5000):
        fields = bytes.fromhex(engine) + struct.pack("<I", timeout_ms) + target(to) + data
        return self.request(CALL, fields)["data"]

    def cast(self, engine, to, data):
        self.request(CAST, bytes.fromhex(engine) + target(to) + data, answered=False)

    def reply(self, reply_to, data):
        self.request(REPLY, struct.pack("<Q", reply_to) + data, answered=False)

    def subscribe(self, engine, publisher, topic="", fields=None):
        body = bytes.fromhex(engine) + bytes.fromhex(publisher) + str8(topic) + field_map(fields or {})
        return self.request(SUBSCRIBE, body)["sub"]

    def publish(self, engine, topic, fields, data):
        body = bytes.fromhex(engine) + str8(topic) + field_map(fields) + data
        return self.request(PUBLISH, body)["sent"]

    def whereis(self, name):
        """The engine owning `name` (looked up through the network if need be)."""
        return self.request(WHEREIS, str8(name))["engine"]

    def flush(self):
        """Waits until every request sent so far has been handled (a `list`
        round trip), so that refused casts and replies have been reported."""
        self.request(LIST)


def say(*parts):
    print(*parts, flush=True)


def serve(client, engine, answer_calls):
    """Prints what arrives for the engine; answers calls with their request."""
    while True:
        m = client.next_message()
        kind = m.get("event")
        data = m.get("data", b"")
        if kind == "call":
            if answer_calls:
                client.reply(m["reply_to"], data)
            say("call", m["from"], data.decode(errors="replace"))
        elif kind == "cast":
            say("cast", m["from"], data.decode(errors="replace"))
        elif kind == "event":
            fields = ",".join("%s=%s" % kv for kv in sorted(m.get("fields", {}).items()))
            say("event", m["from"], m["topic"], fields, len(data))
        else:
            say(kind, json.dumps({k: v for k, v in m.items() if k != "data"}))


def publish_on_call(client, engine):
    """Answers each call "TOPIC COUNT SIZE [FIELD=VALUE ...]" by publishing."""
    while True:
        m = client.next_message()
        if m.get("event") != "call":
            continue
        words = m["data"].decode(errors="replace").split()
        if len(words) < 3:
            client.reply(m["reply_to"], b"expected TOPIC COUNT SIZE [FIELD=VALUE ...]")
            continue
        topic, count, size = words[0], int(words[1]), int(words[2])
        fields = parse_fields(words[3:])
        sent = 0
        for _ in range(count):
            sent += client.publish(engine, topic, fields, b"x" * size)
        say("published", topic, count, "sent", sent)
        client.reply(m["reply_to"], ("published %d sent %d" % (count, sent)).encode())


def parse_fields(items):
    fields = {}
    for item in items:
        name, _, value = item.partition("=")
        fields[name] = value
    return fields


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runtime-dir", help="the daemon's runtime dir, as for `tessel --runtime-dir` "
                   "(default: /run/tessel, or $XDG_RUNTIME_DIR/tessel if your own node runs there)")
    p.add_argument("--socket", help="the engine socket (default: RUNTIME_DIR/engines.sock)")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("echo", "listen", "publish"):
        s = sub.add_parser(name)
        s.add_argument("--name", help="register the engine under this name")
        s.add_argument("--persistent", metavar="LABEL", help="a persistent engine kept under LABEL")
    for name in ("call", "cast"):
        s = sub.add_parser(name)
        s.add_argument("target", help="engine address (64 hex digits) or name")
        s.add_argument("data")
        s.add_argument("--timeout-ms", type=int, default=5000)
    s = sub.add_parser("subscribe")
    s.add_argument("publisher", help="the publishing engine's address")
    s.add_argument("--topic", default="", help="topic prefix")
    s.add_argument("--field", action="append", default=[], metavar="NAME=VALUE")
    args = p.parse_args()

    path = args.socket or os.path.join(args.runtime_dir or default_runtime_dir(), "engines.sock")
    try:
        client = EngineClient(path)
    except PermissionError as e:
        print("error: %s: %s: only root and members of group tessel may use the node; "
              "join it with `sudo usermod -aG tessel $USER` and log in again" % (path, e), file=sys.stderr)
        sys.exit(1)
    except OSError as e:
        print("error: cannot connect to %s (is `tessel up` running?): %s" % (path, e), file=sys.stderr)
        sys.exit(1)
    try:
        if args.command in ("call", "cast"):
            engine = client.start()
            if args.command == "call":
                reply = client.call(engine, args.target, args.data.encode(), args.timeout_ms)
                say(reply.decode(errors="replace"))
            else:
                # A cast is answered only when refused: find a named
                # engine first, and make sure the cast was handled before
                # leaving (which stops the engine).
                to = args.target if is_address(args.target) else client.whereis(args.target)
                client.cast(engine, to, args.data.encode())
                client.flush()
                say("sent")
        elif args.command == "subscribe":
            engine = client.start()
            client.subscribe(engine, args.publisher, args.topic, parse_fields(args.field))
            say("engine", engine)
            serve(client, engine, answer_calls=False)
        elif args.command == "publish":
            engine = client.start(args.name, args.persistent)
            say("engine", engine)
            publish_on_call(client, engine)
        else:
            engine = client.start(args.name, args.persistent)
            say("engine", engine)
            serve(client, engine, answer_calls=args.command == "echo")
    except EngineError as e:
        print("error:", e, file=sys.stderr)
        sys.exit(1)
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass


if __name__ == "__main__":
    main()
