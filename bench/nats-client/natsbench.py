"""One measurement against one NATS server, as ../shared/spec/nats.md §13 describes; driven by bench/nats.

    python natsbench.py HOST PORT MODE TEST COUNT

MODE is `raw` (an asyncio client writing pre-encoded batches of 1,000 frames and parsing minimally) or `py`
(nats-py's publish, callback subscription and request). TEST is `pub`, `pubsub`, `req1` (one request at a time)
or `req64` (64 in flight), or `idle` (COUNT connections held open for the caller to measure memory). Prints one
JSON line: the rate in messages (or requests) per second, and the mean round trip for req1.
"""
import asyncio
import json
import sys
import time

PAYLOAD = b"x" * 128
CONNECT = b'CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":true,"no_responders":true}\r\nPING\r\n'


class Raw:
    """The least a client can do: write frames, read until what it waits for has come."""

    def __init__(self, reader, writer):
        self.reader, self.writer, self.buffer = reader, writer, b""

    @classmethod
    async def connect(cls, host, port):
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
        client = cls(reader, writer)
        writer.write(CONNECT)
        await client.until(b"PONG\r\n")
        client.buffer = b""
        return client

    async def until(self, marker):
        while marker not in self.buffer:
            chunk = await self.reader.read(1 << 20)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        index = self.buffer.index(marker) + len(marker)
        before, self.buffer = self.buffer[:index], self.buffer[index:]
        return before

    async def count_bytes(self, total):
        seen = len(self.buffer)
        self.buffer = b""
        while seen < total:
            chunk = await self.reader.read(1 << 20)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            seen += len(chunk)

    async def messages(self):
        """Yields (subject, sid, reply, payload) for each MSG."""
        while True:
            while b"\r\n" not in self.buffer:
                chunk = await self.reader.read(1 << 20)
                if not chunk:
                    return
                self.buffer += chunk
            line, rest = self.buffer.split(b"\r\n", 1)
            parts = line.split()
            if parts[0] != b"MSG":
                self.buffer = rest
                if parts[0] == b"PING":
                    self.writer.write(b"PONG\r\n")
                continue
            size = int(parts[-1])
            while len(rest) < size + 2:
                chunk = await self.reader.read(1 << 20)
                if not chunk:
                    return
                rest += chunk
            self.buffer = rest[size + 2:]
            yield parts[1], parts[2], (parts[3] if len(parts) == 5 else None), rest[:size]


async def raw_pub(host, port, count):
    client = await Raw.connect(host, port)
    frame = b"PUB bench.pub 128\r\n" + PAYLOAD + b"\r\n"
    batch = frame * 1000
    start = time.perf_counter()
    for _ in range(count // 1000):
        client.writer.write(batch)
        await client.writer.drain()
    client.writer.write(b"PING\r\n")
    await client.until(b"PONG\r\n")
    return {"rate": count / (time.perf_counter() - start)}


async def raw_pubsub(host, port, count):
    subscriber = await Raw.connect(host, port)
    subscriber.writer.write(b"SUB bench.ps 1\r\nPING\r\n")
    await subscriber.until(b"PONG\r\n")
    publisher = await Raw.connect(host, port)
    frame = b"PUB bench.ps 128\r\n" + PAYLOAD + b"\r\n"
    delivered = len(b"MSG bench.ps 1 128\r\n" + PAYLOAD + b"\r\n")
    batch = frame * 1000
    start = time.perf_counter()

    async def publish():
        for _ in range(count // 1000):
            publisher.writer.write(batch)
            await publisher.writer.drain()

    await asyncio.gather(publish(), subscriber.count_bytes(delivered * count))
    return {"rate": count / (time.perf_counter() - start)}


async def raw_responder(host, port):
    responder = await Raw.connect(host, port)
    responder.writer.write(b"SUB bench.req q 1\r\nPING\r\n")
    await responder.until(b"PONG\r\n")

    async def serve():
        async for _, _, reply, payload in responder.messages():
            responder.writer.write(b"PUB " + reply + b" %d\r\n" % len(payload) + payload + b"\r\n")

    return asyncio.create_task(serve())


async def raw_requests(host, port, count, window):
    task = await raw_responder(host, port)
    requester = await Raw.connect(host, port)
    requester.writer.write(b"SUB _INBOX.bench.* 2\r\nPING\r\n")
    await requester.until(b"PONG\r\n")
    replies = requester.messages()
    start = time.perf_counter()
    sent = received = 0
    while received < count:
        while sent < count and sent - received < window:
            requester.writer.write(b"PUB bench.req _INBOX.bench.%d 128\r\n" % sent + PAYLOAD + b"\r\n")
            sent += 1
        await anext(replies)
        received += 1
    elapsed = time.perf_counter() - start
    task.cancel()
    result = {"rate": count / elapsed}
    if window == 1:
        result["mean_us"] = elapsed / count * 1e6
    return result


async def raw_jetstream_publish(host, port, count, window=256):
    """Publishes with an acknowledgement each, `window` awaiting theirs at a time, to a file-stored stream."""
    client = await Raw.connect(host, port)
    client.writer.write(b"SUB _INBOX.js.* 1\r\n")
    config = b'{"name":"BENCH","subjects":["bench.js"],"storage":"file","retention":"limits"}'
    client.writer.write(b"PUB $JS.API.STREAM.CREATE.BENCH _INBOX.js.create %d\r\n" % len(config) + config + b"\r\n")
    replies = client.messages()
    await anext(replies)
    start = time.perf_counter()
    sent = received = 0
    while received < count:
        while sent < count and sent - received < window:
            client.writer.write(b"PUB bench.js _INBOX.js.%d 128\r\n" % sent + PAYLOAD + b"\r\n")
            sent += 1
        _, _, _, answer = await anext(replies)
        if b'"seq"' not in answer:
            raise RuntimeError(f"not acknowledged: {answer!r}")
        received += 1
    elapsed = time.perf_counter() - start
    client.writer.write(b"PUB $JS.API.STREAM.DELETE.BENCH _INBOX.js.delete 0\r\n\r\n")
    await anext(replies)
    return {"rate": count / elapsed}


async def py_pub(host, port, count):
    import nats
    nc = await nats.connect(f"nats://{host}:{port}")
    start = time.perf_counter()
    for _ in range(count):
        await nc.publish("bench.pub", PAYLOAD)
    await nc.flush(timeout=60)
    rate = count / (time.perf_counter() - start)
    await nc.close()
    return {"rate": rate}


async def py_pubsub(host, port, count):
    import nats
    subscriber = await nats.connect(f"nats://{host}:{port}")
    done = asyncio.Event()
    received = 0

    async def handler(msg):
        nonlocal received
        received += 1
        if received == count:
            done.set()

    await subscriber.subscribe("bench.ps", cb=handler, pending_msgs_limit=count + 1, pending_bytes_limit=1 << 30)
    await subscriber.flush()
    publisher = await nats.connect(f"nats://{host}:{port}")
    start = time.perf_counter()
    for _ in range(count):
        await publisher.publish("bench.ps", PAYLOAD)
    await publisher.flush(timeout=60)
    await asyncio.wait_for(done.wait(), 120)
    rate = count / (time.perf_counter() - start)
    await publisher.close()
    await subscriber.close()
    return {"rate": rate}


async def py_requests(host, port, count, window):
    import nats
    task = await raw_responder(host, port)
    nc = await nats.connect(f"nats://{host}:{port}")
    start = time.perf_counter()
    if window == 1:
        for _ in range(count):
            await nc.request("bench.req", PAYLOAD, timeout=10)
    else:
        semaphore = asyncio.Semaphore(window)

        async def one():
            async with semaphore:
                await nc.request("bench.req", PAYLOAD, timeout=10)

        await asyncio.gather(*(one() for _ in range(count)))
    elapsed = time.perf_counter() - start
    task.cancel()
    await nc.close()
    result = {"rate": count / elapsed}
    if window == 1:
        result["mean_us"] = elapsed / count * 1e6
    return result


async def idle(host, port, count):
    clients = [await Raw.connect(host, port) for _ in range(count)]
    print(json.dumps({"connected": len(clients)}), flush=True)
    # Held until the caller, having read the server's memory, closes standard input.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    return None


TESTS = {
    ("raw", "pub"): raw_pub,
    ("raw", "pubsub"): raw_pubsub,
    ("raw", "req1"): lambda h, p, n: raw_requests(h, p, n, 1),
    ("raw", "req64"): lambda h, p, n: raw_requests(h, p, n, 64),
    ("py", "pub"): py_pub,
    ("py", "pubsub"): py_pubsub,
    ("py", "req1"): lambda h, p, n: py_requests(h, p, n, 1),
    ("py", "req64"): lambda h, p, n: py_requests(h, p, n, 64),
    ("raw", "idle"): idle,
    ("raw", "jspub"): raw_jetstream_publish,
}


def main():
    host, port, mode, test, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    result = asyncio.run(TESTS[(mode, test)](host, port, count))
    if result is not None:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
