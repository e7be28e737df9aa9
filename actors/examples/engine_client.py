#!/usr/bin/env python3
"""A client for the Tessel daemon's local engine socket (`engines.sock`).

Standard library only. The framing and every request are described in
docs/actors.md ("The local engine socket"): each frame is a 4-byte
big-endian length followed by a JSON object; payloads are base64.

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
import base64
import json
import os
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


class EngineError(Exception):
    """The daemon refused a request."""


class EngineClient:
    """One connection to engines.sock; engines started on it stop when it closes."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.next_id = 1
        self.pushed = []

    def _send(self, obj):
        body = json.dumps(obj).encode()
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("the daemon closed the engine socket")
            buf += chunk
        return buf

    def read_frame(self):
        """The next frame from the daemon (an answer or a pushed message)."""
        (length,) = struct.unpack(">I", self._recv_exact(4))
        return json.loads(self._recv_exact(length))

    def request(self, op, **fields):
        """Sends a request and waits for its answer; pushed frames are kept."""
        rid = self.next_id
        self.next_id += 1
        fields.update(op=op, id=rid)
        self._send(fields)
        while True:
            frame = self.read_frame()
            if frame.get("id") == rid and "event" not in frame:
                if "error" in frame:
                    raise EngineError(frame["error"])
                return frame
            self.pushed.append(frame)

    def next_message(self):
        """The next pushed frame: cast, call, event, down or name_lost."""
        if self.pushed:
            return self.pushed.pop(0)
        return self.read_frame()

    def start(self, name=None, persistent=None):
        fields = {}
        if name:
            fields["name"] = name
        if persistent:
            fields["persistent"] = persistent
        answer = self.request("start", **fields)
        if "name_error" in answer:
            raise EngineError(answer["name_error"])
        return answer["engine"]

    def call(self, engine, to, data, timeout_ms=5000):
        answer = self.request("call", engine=engine, to=to, data=b64(data), timeout_ms=timeout_ms)
        return unb64(answer["data"])

    def cast(self, engine, to, data):
        self.request("cast", engine=engine, to=to, data=b64(data))

    def reply(self, reply_to, data):
        self.request("reply", reply_to=reply_to, data=b64(data))


def b64(data):
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text)


def say(*parts):
    print(*parts, flush=True)


def serve(client, engine, answer_calls):
    """Prints what arrives for the engine; answers calls with their request."""
    while True:
        m = client.next_message()
        kind = m.get("event")
        data = unb64(m.get("data", ""))
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
            say(kind, json.dumps(m))


def publish_on_call(client, engine):
    """Answers each call "TOPIC COUNT SIZE [FIELD=VALUE ...]" by publishing."""
    while True:
        m = client.next_message()
        if m.get("event") != "call":
            continue
        words = unb64(m["data"]).decode(errors="replace").split()
        if len(words) < 3:
            client.reply(m["reply_to"], b"expected TOPIC COUNT SIZE [FIELD=VALUE ...]")
            continue
        topic, count, size = words[0], int(words[1]), int(words[2])
        fields = parse_fields(words[3:])
        sent = 0
        for _ in range(count):
            answer = client.request("publish", engine=engine, topic=topic, fields=fields, data=b64(b"x" * size))
            sent += answer["sent"]
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
                client.cast(engine, args.target, args.data.encode())
                say("sent")
        elif args.command == "subscribe":
            engine = client.start()
            topic_filter = dict(engine=engine, publisher=args.publisher, topic=args.topic)
            topic_filter["fields"] = parse_fields(args.field)
            client.request("subscribe", **topic_filter)
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
