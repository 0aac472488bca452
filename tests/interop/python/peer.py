"""An independent MPRPC 0.1 peer written from docs/protocol.md, for wire-compatibility tests.

    peer.py client PORT [MODE]   call a server on 127.0.0.1:PORT, print one JSON line per result
    peer.py server [MODE]        serve on 127.0.0.1 (port chosen by the OS), print the port;
                                 with the introspection functions (system.listMethods …)
    peer.py cut PORT [MODE]      call `measure` on a server on 127.0.0.1:PORT with arguments that
                                 hold the terminator (which a 0.1 receiver reads whole: see
                                 "Transport and framing"); one JSON line per result
    peer.py broker PORT USER PASSWORD [MODE]
                                 ask the broker on 127.0.0.1:PORT for a server (the plain 0.1
                                 AUTH, no EXT), then call the server it names; one JSON line per
                                 result. A refusal (CODE 51 or 52) exits with that code as status.

MODE is "msgpack" (default), "debug" (JSON), or a compression: "zlib", "bz2", "lzma".
With TLS_CA set (a CA certificate, PEM text), the client role speaks TLS to the server, which
must hold a certificate for "localhost" signed by that CA (Python's ssl module).
Only Python's standard library and msgpack (Debian's python3-msgpack) are used.
"""
import asyncio
import bz2
import inspect
import json
import lzma
import os
import ssl
import sys
import urllib.parse
import uuid
import zlib

import msgpack

TERMINATOR = b"##PRO-END##"
COMPRESSORS = {
    "zlib": (zlib.compress, zlib.decompress),
    "bz2": (bz2.compress, bz2.decompress),
    "lzma": (lzma.compress, lzma.decompress),
}


class Codec:
    def __init__(self, mode):
        self.debug = mode == "debug"
        self.compression = mode if mode in COMPRESSORS else None

    def encode(self, message):
        if self.debug:
            payload = json.dumps(message, ensure_ascii=False).encode("utf-8")
        else:
            payload = msgpack.packb(message, use_bin_type=True)
        if self.compression:
            payload = COMPRESSORS[self.compression][0](payload)
        return payload + TERMINATOR

    def decode(self, payload):
        if self.compression:
            payload = COMPRESSORS[self.compression][1](payload)
        if self.debug:
            return json.loads(payload.decode("utf-8"))
        return msgpack.unpackb(payload, raw=False)


async def read_message(reader, codec):
    frame = await reader.readuntil(TERMINATOR)
    return codec.decode(frame[: -len(TERMINATOR)])


# ---------------------------------------------------------------- client

def tls_context():
    ca = os.environ.get("TLS_CA")
    return ssl.create_default_context(cadata=ca) if ca else None


async def run_client(port, mode):
    codec = Codec(mode)
    context = tls_context()
    tls = {"ssl": context, "server_hostname": "localhost"} if context else {}
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2 ** 26, **tls)

    async def send(message):
        writer.write(codec.encode(dict(message, MPRPC="0.1")))
        await writer.drain()

    async def receive():
        return await read_message(reader, codec)

    def emit(name, value):
        print(json.dumps({"name": name, "value": value}, ensure_ascii=False), flush=True)

    await send({"AUTH": {"USERNAME": "admin", "PASSWORD": "admin"}})
    emit("handshake", await receive())

    async def call(method, args=(), kwargs=None, want=True):
        call_id = str(uuid.uuid4())
        message = {"ID": call_id, "METHOD": method, "RETURN": want, "ARGS": list(args)}
        if kwargs:
            message["KWARGS"] = kwargs
        await send(message)
        return call_id

    async def result_of(call_id):
        reply = await receive()
        assert reply["MESSAGE"]["ID"] == call_id, reply
        if reply["CODE"] != 201:
            return reply
        items = []
        while True:
            reply = await receive()
            if reply["CODE"] == 202:
                items.append(reply["MESSAGE"]["RESULT"])
            else:
                return {"CODE": 201, "ITEMS": items, "END": reply["CODE"]}

    emit("testfunc", await result_of(await call("testfunc", [1, 2])))
    emit("kwargs", await result_of(await call("testfunc", [], {"a": 10, "b": 20})))
    emit("coro", await result_of(await call("testcoro", [3, 4])))
    emit("stream", await result_of(await call("testcorogen", [1, 2])))
    emit("instance", await result_of(await call("mul", [6, 7])))
    emit("unicode", await result_of(await call("echo", ["中文 ✓"])))
    if not codec.debug:  # JSON has no binary type
        binary = await result_of(await call("echo", [b"\x00\x01\xff"]))
        emit("binary", list(binary["MESSAGE"]["RESULT"]))
    emit("methods", await result_of(await call("system.listMethods")))
    emit("signature", await result_of(await call("system.methodSignature", ["testfunc"])))
    emit("missing", await result_of(await call("nope")))
    delayed = await call("testfunc", [2, 3], want=False)
    emit("getresult", await result_of(await call("system.getresult", [delayed])))
    await send({"HEARTBEAT": "ping"})
    emit("pong", await receive())
    writer.close()
    await writer.wait_closed()


# ---------------------------------------------------------------- cut: arguments holding the terminator

# Once, many times, at either end, alone, beside non-ASCII text, and ending in the first 9 or 10
# bytes of the terminator (last in a message, its own terminator then overlaps the next).
CUT_STRINGS = [
    "a##PRO-END##b",
    "##PRO-END##x##PRO-END####PRO-END##y##PRO-END##",
    "##PRO-END##at the start",
    "at the end##PRO-END##",
    "ends like##PRO-END",
    "ends like##PRO-END#",
    "##PRO-END##",
    "中文##PRO-END##✓",
]


def count_terminators(data):
    count, at = 0, data.find(TERMINATOR)
    while at != -1:
        count, at = count + 1, data.find(TERMINATOR, at + 1)
    return count


async def run_cut_client(port, mode):
    """Sends what a pymprpc client sends: the payload, then the terminator, whatever it holds."""
    codec = Codec(mode)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2 ** 26)

    def emit(name, value):
        print(json.dumps({"name": name, "value": value}, ensure_ascii=False), flush=True)

    async def send(message):
        frame = codec.encode(dict(message, MPRPC="0.1"))
        writer.write(frame)
        await writer.drain()
        return count_terminators(frame[: -len(TERMINATOR)])

    await send({"AUTH": {"USERNAME": "admin", "PASSWORD": "admin"}})
    emit("handshake", await read_message(reader, codec))
    args = [[s] for s in CUT_STRINGS]
    if not codec.debug:  # JSON has no binary type
        # Random bytes do not compress: zlib and lzma store them as they are, terminators too.
        blob = bytearray(os.urandom(4000))
        for at in (0, 2000, 3989):
            blob[at:at + len(TERMINATOR)] = TERMINATOR
        args.append([bytes(blob)])
    for arg in args:
        call_id = str(uuid.uuid4())
        cut = await send({"ID": call_id, "METHOD": "measure", "RETURN": True, "ARGS": arg})
        reply = await read_message(reader, codec)
        assert reply["MESSAGE"]["ID"] == call_id, reply
        value = arg[0]
        expected = [len(value), count_terminators(value if isinstance(value, bytes) else value.encode())]
        emit("measure", {"reply": reply, "expected": expected, "cut": cut})
    writer.close()
    await writer.wait_closed()


# ---------------------------------------------------------------- broker

# Broker answers (docs/protocol.md, "Broker"): 50 names a server; 51 is a refusal; 52 (an mprpc
# addition that a 0.1 client treats as a failure) says no server has joined.
BROKER_URL, BROKER_REFUSALS = 50, (51, 52)
# No answer within this long fails the run rather than hanging the test that started us.
BROKER_WAIT = 10


def parse_server_url(url):
    """tcp://user:pass@host:port (credentials percent-encoded and optional) as its four parts."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "tcp" or parts.hostname is None or parts.port is None:
        raise ValueError(f"not a server URL: {url!r}")
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    return parts.hostname, parts.port, user, password


async def run_broker_client(port, user, password, mode):
    codec = Codec(mode)

    def emit(name, value):
        print(json.dumps({"name": name, "value": value}, ensure_ascii=False), flush=True)

    # Ask the broker: the handshake's AUTH message, without EXT.
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2 ** 26)
    writer.write(codec.encode({"MPRPC": "0.1", "AUTH": {"USERNAME": user, "PASSWORD": password}}))
    await writer.drain()
    answer = await asyncio.wait_for(read_message(reader, codec), BROKER_WAIT)
    emit("broker", answer)
    # After its one answer the broker closes the connection: nothing more arrives.
    rest = await asyncio.wait_for(reader.read(), BROKER_WAIT)
    emit("closed", rest == b"")
    writer.close()
    await writer.wait_closed()
    if answer.get("CODE") in BROKER_REFUSALS:
        return answer["CODE"]
    if answer.get("CODE") != BROKER_URL:
        raise ValueError(f"not a broker answer: {answer!r}")

    # Connect where the broker said, with the credentials in the URL, and do the normal handshake.
    host, server_port, user, password = parse_server_url(answer["URL"])
    emit("server", {"host": host, "port": server_port, "user": user, "password": password})
    reader, writer = await asyncio.open_connection(host, server_port, limit=2 ** 26)

    async def send(message):
        writer.write(codec.encode(dict(message, MPRPC="0.1")))
        await writer.drain()

    async def receive():
        return await asyncio.wait_for(read_message(reader, codec), BROKER_WAIT)

    await send({"AUTH": {"USERNAME": user, "PASSWORD": password}})
    emit("handshake", await receive())
    call_id = str(uuid.uuid4())
    await send({"ID": call_id, "METHOD": "testfunc", "RETURN": True, "ARGS": [1, 2]})
    reply = await receive()
    assert reply["MESSAGE"]["ID"] == call_id, reply
    emit("testfunc", reply)
    writer.close()
    await writer.wait_closed()
    return 0


# ---------------------------------------------------------------- server

async def testcorogen(a, b):
    for i in range(3):
        await asyncio.sleep(0)
        yield a + b + i


async def count(n, size):
    for i in range(n):
        yield str(i).ljust(size, "y")


STREAMS = {"testcorogen": testcorogen, "count": count}


def testfunc(a, b):
    """Adds a and b."""
    return a + b


METHODS = {
    "testfunc": testfunc,
    "echo": lambda x: x,
    "fails": lambda: 1 / 0,
}


# The introspection functions ("System methods"), which `mprpc list` and `describe` ask for.
def list_methods():
    return sorted([*METHODS, *STREAMS])


def method_signature(name):
    fn = METHODS.get(name) or STREAMS.get(name)
    return str(inspect.signature(fn)) if fn else ""


def method_help(name):
    fn = METHODS.get(name) or STREAMS.get(name)
    return (inspect.getdoc(fn) or "") if fn else ""


METHODS.update({
    "system.listMethods": list_methods,
    "system.methodSignature": method_signature,
    "system.methodHelp": method_help,
})


async def serve_connection(reader, writer, codec):
    lock = asyncio.Lock()

    async def send(message):
        async with lock:
            writer.write(codec.encode(dict(message, MPRPC="0.1")))
            await writer.drain()

    async def handle(message):
        call_id, method = message["ID"], message["METHOD"]
        args, kwargs = message.get("ARGS", []), message.get("KWARGS", {})
        if method in STREAMS:
            await send({"CODE": 201, "MESSAGE": {"ID": call_id}})
            async for item in STREAMS[method](*args, **kwargs):
                await send({"CODE": 202, "MESSAGE": {"ID": call_id, "RESULT": item}})
            await send({"CODE": 206, "MESSAGE": {"ID": call_id}})
            return
        if method not in METHODS:
            await send({"CODE": 401, "MESSAGE": {"ID": call_id, "EXCEPTION": "NotFindError",
                                                  "MESSAGE": method, "DATA": {"METHOD": method,
                                                  "ARGS": args, "KWARGS": kwargs}}})
            return
        try:
            result = METHODS[method](*args, **kwargs)
        except Exception as err:
            await send({"CODE": 404, "MESSAGE": {"ID": call_id, "EXCEPTION": type(err).__name__,
                                                  "MESSAGE": str(err), "DATA": {"METHOD": method,
                                                  "ARGS": args, "KWARGS": kwargs}}})
            return
        await send({"CODE": 200, "MESSAGE": {"ID": call_id, "RESULT": result}})

    tasks = set()
    try:
        while True:
            try:
                message = await read_message(reader, codec)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            if "AUTH" in message:
                auth = message["AUTH"]
                ok = auth.get("USERNAME") == "admin" and auth.get("PASSWORD") == "admin"
                await send({"CODE": 100, "VERSION": "py", "DESC": "python peer",
                            "DEBUG": codec.debug, "COMPRESER": codec.compression,
                            "TIMEOUT": 0} if ok else {"CODE": 501})
                if not ok:
                    return
            elif message.get("HEARTBEAT") == "ping":
                await send({"CODE": 101, "HEARTBEAT": "pong"})
            else:
                task = asyncio.ensure_future(handle(message))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    finally:
        writer.close()


async def run_server(mode):
    codec = Codec(mode)
    server = await asyncio.start_server(
        lambda r, w: serve_connection(r, w, codec), "127.0.0.1", 0, limit=2 ** 26)
    print(server.sockets[0].getsockname()[1], flush=True)
    # Serve until stdin closes: the test that started us owns our lifetime.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "client":
        asyncio.run(run_client(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "msgpack"))
    elif role == "cut":
        asyncio.run(run_cut_client(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "msgpack"))
    elif role == "broker":
        port, user, password = int(sys.argv[2]), sys.argv[3], sys.argv[4]
        mode = sys.argv[5] if len(sys.argv) > 5 else "msgpack"
        sys.exit(asyncio.run(run_broker_client(port, user, password, mode)))
    else:
        asyncio.run(run_server(sys.argv[2] if len(sys.argv) > 2 else "msgpack"))
