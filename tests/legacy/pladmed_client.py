#!/usr/bin/env python3
"""An original probe, driven as CoNexDat/pladmed-client drives python-socketio 5.x.

Run by the tests (testkit::legacy):  pladmed_client.py BASE_URL TOKEN [limit | once]

Everything on the wire is what pladmed-client does (src/main.py, src/common/client.py,
transmit_manager.py, operations_manager.py): `socketio.Client(reconnection=False)`, connect to
`BASE_URL/?token=TOKEN` over the websocket transport with the `total_credits` and
`in_use_credits` headers, handle `traceroute`/`ping`/`dns` (`_id`, `params`, `credits`), emit
`new_operation` {credits} for each operation taken on, `results` {operation_id, content (bytes),
unique_code (uuid4), format ("warts" for scamper, "gzip" for dig)} with a callback that counts
the result as sent only when it is called with the operation id, and `finish_operation`
{credits}.

The test and this script talk over stdin/stdout, one JSON object a line: the script says what
happened (`say`), the test tells it when operations exist (`go`).
"""

import gzip
import json
import queue
import sys
import threading
import uuid

import socketio

TOTAL_CREDITS = 1000
WAIT = 30


SAYING = threading.Lock()


def say(event, **fields):
    # python-socketio calls handlers from its own threads, and print() writes the text and
    # its newline separately: one write under a lock keeps each line whole.
    line = json.dumps({"event": event, **fields}) + "\n"
    with SAYING:
        sys.stdout.write(line)
        sys.stdout.flush()


def fail(message):
    say("failed", message=message)
    sys.exit(1)


def wait_go():
    line = sys.stdin.readline()
    command = json.loads(line)
    if command.get("command") != "go":
        fail("expected go, got " + line)
    return command


class Probe:
    """One pladmed-client process: a socketio.Client and its handlers."""

    def __init__(self, base_url, token):
        self.url = base_url + "/?token=" + token
        self.operations = queue.Queue()
        self.connected = threading.Event()
        self.refused = queue.Queue()
        # The tests' TLS proxy has a throwaway CA: its certificate is not checked.
        self.sio = socketio.Client(reconnection=False, ssl_verify=False)
        sio = self.sio

        @sio.event
        def connect():
            self.connected.set()

        @sio.event
        def connect_error(message):
            self.refused.put(message)

        @sio.event
        def disconnect():
            self.connected.clear()

        for kind in ("traceroute", "ping", "dns"):
            sio.on(kind, self.receiver(kind))

    def receiver(self, kind):
        def on_operation(data):
            # pladmed-client reads exactly these three fields (client.py).
            self.operations.put((kind, data["_id"], data["params"], data["credits"]))

        return on_operation

    def connect(self, in_use_credits, headers=None):
        headers = headers or {
            "total_credits": str(TOTAL_CREDITS),
            "in_use_credits": str(in_use_credits),
        }
        self.sio.connect(url=self.url, transports="websocket", headers=headers)

    def wait_connected(self):
        if not self.connected.wait(WAIT):
            refused = None if self.refused.empty() else self.refused.get()
            fail("not connected within %d s (refused: %r)" % (WAIT, refused))

    def emit(self, event, data, callback=None):
        # sender.py: namespace='' (the default namespace).
        self.sio.emit(event, data, namespace="", callback=callback)

    def next_operation(self, timeout=WAIT):
        try:
            return self.operations.get(timeout=timeout)
        except queue.Empty:
            return None

    def send_result(self, operation_id, kind, code, wait=True):
        """transmit_manager.py: emit `results`, the ack callback gets the operation id."""
        if kind == "dns":
            content, fmt = gzip.compress(b";; ANSWER SECTION:\nexample.org. 60 IN A 93.184.215.14\n"), "gzip"
        else:
            content, fmt = b"\x12\x05\x00\x01warts-of-" + kind.encode(), "warts"
        return self.send(
            {"operation_id": operation_id, "content": content, "unique_code": code, "format": fmt},
            wait,
        )

    def send(self, data, wait=True):
        acked = queue.Queue()
        self.emit("results", data, callback=lambda *args: acked.put(args))
        if not wait:
            return None
        try:
            return acked.get(timeout=WAIT)
        except queue.Empty:
            fail("no ack for %r within %d s" % (data.get("unique_code"), WAIT))


def refused_connects(base_url, token):
    """A bad token and a missing header are refused at connect, with the message the
    original's `connect_error` carries."""
    messages = {}
    for name, url_token, headers in (
        ("bad_token", token + "x", None),
        ("missing_header", token, {"in_use_credits": "0"}),
    ):
        probe = Probe(base_url, url_token)
        probe.connect(0, headers)
        try:
            messages[name] = probe.refused.get(timeout=WAIT)
        except queue.Empty:
            fail(name + ": no connect_error")
        if probe.connected.is_set():
            fail(name + ": connected anyway")
        probe.sio.disconnect()
    say("refused", **messages)


def over_the_limit(base_url, token):
    """With one link allowed per address, a second connect is refused while the first holds."""
    first = Probe(base_url, token)
    first.connect(0)
    first.wait_connected()
    second = Probe(base_url, token)
    second.connect(0)
    try:
        message = second.refused.get(timeout=WAIT)
    except queue.Empty:
        fail("second link: no connect_error")
    second.sio.disconnect()
    say("limited", message=message, first_connected=first.connected.is_set())
    first.sio.disconnect()


def once(base_url, token):
    """One operation taken on, its result acked, the operation finished (through a proxy)."""
    probe = Probe(base_url, token)
    probe.connect(0)
    probe.wait_connected()
    say("connected")
    wait_go()
    operation = probe.next_operation()
    if operation is None:
        fail("no operation received")
    kind, op_id, _, credits = operation
    probe.emit("new_operation", {"credits": credits})
    code = str(uuid.uuid4())
    ack = probe.send_result(op_id, kind, code)
    if ack != (op_id,):
        fail("ack %r, expected the operation id" % (ack,))
    probe.emit("finish_operation", {"credits": credits})
    say("done", operation=op_id, code=code)
    probe.sio.disconnect()


def main():
    base_url, token = sys.argv[1], sys.argv[2]
    if sys.argv[3:] == ["limit"]:
        return over_the_limit(base_url, token)
    if sys.argv[3:] == ["once"]:
        return once(base_url, token)
    refused_connects(base_url, token)

    probe = Probe(base_url, token)
    probe.connect(0)
    probe.wait_connected()
    say("connected")

    # The test creates one operation of each kind, and one of another probe's.
    foreign = wait_go()["foreign"]
    taken = {}
    for _ in range(3):
        operation = probe.next_operation()
        if operation is None:
            fail("fewer than three operations received")
        kind, op_id, params, credits = operation
        for field in ("cron", "times_per_minute", "stop_time"):
            if field not in params:
                fail("%s: params lack %s" % (kind, field))
        probe.emit("new_operation", {"credits": credits})
        taken[op_id] = (kind, credits)
    say("received", operations={op_id: kind for op_id, (kind, _) in taken.items()})

    codes = {}
    for op_id, (kind, _) in taken.items():
        code = str(uuid.uuid4())
        first = probe.send_result(op_id, kind, code)
        again = probe.send_result(op_id, kind, code)  # a duplicate: acked the same way
        if first != (op_id,) or again != (op_id,):
            fail("%s: acks %r then %r, expected the operation id" % (kind, first, again))
        codes[op_id] = [code]

    some_op, (some_kind, _) = next(iter(taken.items()))
    refusals = {
        "unknown_operation": probe.send_result("0" * 24, some_kind, str(uuid.uuid4())),
        "foreign_operation": probe.send_result(foreign, "ping", str(uuid.uuid4())),
        "bad_format": probe.send({"operation_id": some_op, "content": b"x", "unique_code": "u-bad", "format": "xml"}),
        "missing_field": probe.send({"operation_id": some_op, "content": b"x"}),
    }
    for name, ack in refusals.items():
        if ack == (some_op,) or not ack or "error" not in ack[0]:
            fail("%s: acked %r, expected an error" % (name, ack))
    say("results", codes=codes, refusals={k: v[0]["error"] for k, v in refusals.items()})

    # A fourth operation arrives; the probe drops mid-operation, before taking it on and
    # with a result in flight; reconnected, it gets the operation again (and only that one).
    wait_go()
    operation = probe.next_operation()
    if operation is None:
        fail("fourth operation not received")
    kind, fourth, _, credits = operation
    in_flight = str(uuid.uuid4())
    probe.send_result(fourth, kind, in_flight, wait=False)
    probe.sio.disconnect()
    # Back as after a restart of pladmed-client: a new client, reporting what it still runs.
    # (Reusing the disconnected client raced: python-socketio may run the old connection's
    # `disconnect` handler after the new one's `connect`, and this script then waited for a
    # connection it already had.)
    probe = Probe(base_url, token)
    probe.connect(sum(c for _, c in taken.values()))
    probe.wait_connected()
    again = probe.next_operation()
    if again is None or again[1] != fourth:
        fail("after reconnecting: %r, expected %s again" % (again, fourth))
    extra = probe.next_operation(timeout=2)
    if extra is not None:
        fail("an operation already taken on was delivered again: %r" % (extra,))
    probe.emit("new_operation", {"credits": credits})
    taken[fourth] = (kind, credits)
    # As after a restart (operations_manager.recover_state): every result not seen acked is
    # re-sent; the one in flight, and one acked before, are stored once.
    resent = probe.send_result(fourth, kind, in_flight)
    later = str(uuid.uuid4())
    fresh = probe.send_result(fourth, kind, later)
    old = probe.send_result(some_op, some_kind, codes[some_op][0])
    if (resent, fresh, old) != ((fourth,), (fourth,), (some_op,)):
        fail("acks after reconnecting: %r" % ((resent, fresh, old),))
    codes[fourth] = [in_flight, later]
    for _, credits in taken.values():
        probe.emit("finish_operation", {"credits": credits})
    say("reconnected", fourth=fourth, codes=codes)

    wait_go()
    probe.sio.disconnect()
    say("done")


if __name__ == "__main__":
    main()
