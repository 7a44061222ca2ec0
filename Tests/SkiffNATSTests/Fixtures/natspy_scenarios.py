"""nats-py scenarios for Skiff's broker compatibility tests.

    python natspy_scenarios.py URL SCENARIO [OPTIONS_JSON]

Connects with nats-py (the real client, unmodified) to URL, runs SCENARIO and prints one JSON object: what a
user of the client would observe. The same scenario against nats-server must print the same object. Waits are
for counts of messages, bounded only so that a broken server ends the run instead of hanging it.
"""
import asyncio
import json
import sys

import nats
from nats.errors import NoRespondersError, TimeoutError

# A fetch that finds nothing raises nats-py's TimeoutError on one path and asyncio's on another (when its deadline
# passes while it probes, as happens under load); the first is a subclass of the second, which the scenarios catch.

# Seconds; ends a failed run only. Also the bound for every JetStream API call and synchronous ack (nats-py's
# defaults, 5 s and 1 s, are shorter than an fsync can take while the whole suite writes to the same disk).
BOUND = 20


async def connect(url, options, **extra):
    return await nats.connect(url, allow_reconnect=False, connect_timeout=5, **options, **extra)


async def pubsub(url, options):
    nc = await connect(url, options)
    seen = []
    done = asyncio.Event()

    def handler(pattern):
        async def receive(msg):
            seen.append([msg.subject, msg.data.decode(), pattern])
            if len(seen) == 5:
                done.set()
        return receive

    await nc.subscribe("greet.*", cb=handler("greet.*"))
    await nc.subscribe("greet.>", cb=handler("greet.>"))
    await nc.publish("greet.a", b"hi")
    await nc.publish("greet.a.b", b"deep")
    await nc.publish("other", b"nobody")
    await nc.publish("greet.b", b"there")
    await nc.flush()
    await asyncio.wait_for(done.wait(), BOUND)
    await nc.close()
    return {"received": sorted(seen)}


async def queue(url, options):
    nc = await connect(url, options)
    total = 3000
    counts = [0, 0, 0]
    plain = 0
    done = asyncio.Event()

    def member(index):
        async def handler(msg):
            counts[index] += 1
            if sum(counts) == total and plain == total:
                done.set()
        return handler

    async def everyone(msg):
        nonlocal plain
        plain += 1
        if sum(counts) == total and plain == total:
            done.set()

    for index in range(3):
        await nc.subscribe("work", queue="workers", cb=member(index))
    await nc.subscribe("work", cb=everyone)
    await nc.flush()
    for _ in range(total):
        await nc.publish("work", b"x")
    await nc.flush()
    await asyncio.wait_for(done.wait(), BOUND)
    await nc.close()
    even = all(abs(count - total / 3) <= total / 3 * 0.15 for count in counts)
    return {"queue_total": sum(counts), "plain": plain, "even": even}


async def request(url, options):
    nc = await connect(url, options)

    async def responder(msg):
        await msg.respond(msg.data.upper())

    await nc.subscribe("svc.upper", queue="svc", cb=responder)
    await nc.flush()
    one = await nc.request("svc.upper", b"ping", timeout=BOUND)
    many = await asyncio.gather(*(nc.request("svc.upper", f"m{i}".encode(), timeout=BOUND) for i in range(50)))
    await nc.close()
    return {"one": one.data.decode(), "many": [m.data.decode() for m in many]}


async def headers(url, options):
    nc = await connect(url, options)
    got = asyncio.get_running_loop().create_future()

    async def handler(msg):
        if not got.done():
            got.set_result(msg)

    await nc.subscribe("with.headers", cb=handler)
    await nc.flush()
    await nc.publish("with.headers", b"body", headers={"Trace-Id": "abc", "X-Thing": "1"})
    msg = await asyncio.wait_for(got, BOUND)
    await nc.close()
    return {"data": msg.data.decode(), "headers": dict(sorted((msg.headers or {}).items()))}


async def no_responders(url, options):
    nc = await connect(url, options)
    try:
        await nc.request("nobody.home", b"?", timeout=BOUND)
        outcome = "answered"
    except NoRespondersError:
        outcome = "no responders"
    except TimeoutError:
        outcome = "timed out"
    await nc.close()
    return {"outcome": outcome}


async def drain(url, options):
    nc = await connect(url, options)
    handled = 0

    async def handler(msg):
        nonlocal handled
        await asyncio.sleep(0)
        handled += 1

    await nc.subscribe("drain.me", cb=handler)
    # The subscription is in place before anyone publishes: its PONG says so.
    await nc.flush()
    publisher = await connect(url, options)
    for _ in range(200):
        await publisher.publish("drain.me", b"x")
    await publisher.flush()
    await publisher.close()
    # The subscriber's PONG follows every message published before it: drain then handles them all.
    await nc.flush()
    await nc.drain()
    return {"handled": handled, "closed": nc.is_closed}


async def auth(url, options):
    try:
        nc = await connect(url, options)
        await nc.flush()
        await nc.close()
        return {"connected": True}
    except Exception as error:  # nats-py raises different classes by version; the text says what happened
        return {"connected": False, "authorization_violation": "authorization violation" in str(error).lower()}


async def reconnect(url, options):
    """Connected and subscribed, it prints `ready`; the test restarts the server on the same port; the client
    reconnects by itself, subscribes again, and a message published after that arrives."""
    reconnected = asyncio.Event()

    async def on_reconnect():
        reconnected.set()

    nc = await nats.connect(
        url, allow_reconnect=True, reconnect_time_wait=0.1, max_reconnect_attempts=600, connect_timeout=5,
        reconnected_cb=on_reconnect, **options)
    got = asyncio.get_running_loop().create_future()

    async def handler(msg):
        if not got.done():
            got.set_result(msg.data.decode())

    await nc.subscribe("after.restart", cb=handler)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.wait_for(reconnected.wait(), BOUND * 3)
    await nc.flush()
    await nc.publish("after.restart", b"again")
    data = await asyncio.wait_for(got, BOUND)
    await nc.close()
    return {"reconnected": True, "received": data}


async def jetstream_streams(url, options):
    """A work-queue stream made, published to with and without a message id (a repeat is a duplicate), looked
    up by subject, and a publish no stream takes."""
    from nats.js.errors import NoStreamResponseError
    nc = await connect(url, options)
    js = nc.jetstream(timeout=BOUND)
    created = await js.add_stream(name="Q", subjects=["q.>"], retention="workqueue")
    acks = []
    for subject, payload, msg_id in [("q.a", b"one", "1"), ("q.a", b"one", "1"), ("q.b", b"two", None)]:
        ack = await js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id} if msg_id else None)
        acks.append([ack.stream, ack.seq, bool(ack.duplicate)])
    info = await js.stream_info("Q")
    found = await js.find_stream_name_by_subject("q.b")
    try:
        await js.publish("nowhere", b"x")
        nowhere = "stored"
    except NoStreamResponseError:
        nowhere = "no stream"
    await nc.close()
    return {
        "created": [created.config.name, str(getattr(created.config.retention, "value", created.config.retention)), created.config.subjects],
        "acks": acks,
        "messages": info.state.messages,
        "last_seq": info.state.last_seq,
        "found": found,
        "nowhere": nowhere,
    }


async def jetstream_work_queue(url, options):
    """A durable pull consumer on a work queue: fetch and ack, nak then redelivery then term, progress then a
    synchronous ack, an empty fetch, and the stream empty at the end."""
    nc = await connect(url, options)
    js = nc.jetstream(timeout=BOUND)
    await js.add_stream(name="WQ", subjects=["jobs.>"], retention="workqueue")
    for index in range(3):
        await js.publish("jobs.run", f"job{index}".encode())
    sub = await js.pull_subscribe("jobs.run", durable="worker")
    seen = []

    async def one():
        msg = (await sub.fetch(1, timeout=BOUND))[0]
        seen.append([msg.data.decode(), msg.metadata.num_delivered, msg.metadata.sequence.stream])
        return msg

    await (await one()).ack()
    await (await one()).nak()
    await (await one()).term()
    last = await one()
    await last.in_progress()
    await last.ack_sync(timeout=BOUND)
    try:
        await sub.fetch(1, timeout=0.5)
        empty = False
    except asyncio.TimeoutError:
        empty = True
    info = await js.stream_info("WQ")
    consumer = await js.consumer_info("WQ", "worker")
    await nc.close()
    # Whether the nak'd job or the next new one comes first is not fixed, on nats-server either (the nak and the
    # pull race inside the server): the set of deliveries is.
    return {"seen": sorted(seen), "empty": empty, "messages": info.state.messages, "ack_pending": consumer.num_ack_pending}


async def jetstream_redelivery(url, options):
    """Unacknowledged, a message comes back after ack_wait with its count up, until max_deliver."""
    from nats.js.api import ConsumerConfig
    nc = await connect(url, options)
    js = nc.jetstream(timeout=BOUND)
    await js.add_stream(name="RD", subjects=["rd"], retention="workqueue")
    await js.publish("rd", b"again")
    sub = await js.pull_subscribe("rd", durable="slow", config=ConsumerConfig(ack_wait=1, max_deliver=2))
    counts = []
    for _ in range(2):
        msg = (await sub.fetch(1, timeout=BOUND))[0]
        counts.append(msg.metadata.num_delivered)
    try:
        await sub.fetch(1, timeout=3)
        third = "delivered"
    except asyncio.TimeoutError:
        third = "none"
    info = await js.stream_info("RD")
    await nc.close()
    return {"deliveries": counts, "third": third, "kept": info.state.messages}


async def jetstream_statuses(url, options):
    """What a pull's inbox receives besides messages (404 no_wait and nothing there, 100 idle heartbeat, 409
    past max_waiting, 408 expired, 409 consumer deleted); +NXT acknowledging and pulling the next; and the
    advisory of a terminated message."""
    from nats.js.api import ConsumerConfig
    nc = await connect(url, options)
    js = nc.jetstream(timeout=BOUND)
    await js.add_stream(name="ST", subjects=["st"], retention="workqueue")
    await js.add_consumer("ST", config=ConsumerConfig(durable_name="w", ack_policy="explicit", max_waiting=1))
    inbox = nc.new_inbox()
    # One subscription per pull: a pulled message carries its own subject, not the inbox's.
    boxes = {box: asyncio.Queue() for box in "abcdef"}
    for box, queue in boxes.items():
        await nc.subscribe(f"{inbox}.{box}", cb=queue.put)
    advisories = asyncio.Queue()
    await nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>", cb=advisories.put)
    await nc.flush()

    async def take(box):
        return await asyncio.wait_for(boxes[box].get(), BOUND)

    def status(msg):
        headers = msg.headers or {}
        return [headers.get("Status"), headers.get("Description")] if "Status" in headers else msg.data.decode()

    async def pull(box, request):
        await nc.publish("$JS.API.CONSUMER.MSG.NEXT.ST.w", json.dumps(request).encode(), reply=f"{inbox}.{box}")
        await nc.flush()

    seen = {}
    await pull("a", {"batch": 1, "no_wait": True})
    seen["nothing"] = status(await take("a"))
    # A long wait with a heartbeat every 50 ms: the first beat says it is waiting; one more pull is one too many.
    await pull("b", {"batch": 1, "expires": BOUND * 10**9, "idle_heartbeat": 50 * 10**6})
    seen["heartbeat"] = status(await take("b"))
    await pull("c", {"batch": 1, "expires": BOUND * 10**9})
    seen["full"] = status(await take("c"))
    # The waiting pull gets the message; +NXT acknowledges it and pulls the next to its reply subject.
    await js.publish("st", b"one")
    while True:
        first = await take("b")
        if first.data:
            break
    seen["first"] = first.data.decode()
    await nc.publish(first.reply, b"+NXT", reply=f"{inbox}.d")
    await js.publish("st", b"two")
    second = await take("d")
    seen["after_nxt"] = second.data.decode()
    # +TERM: never delivered again, and an advisory says so.
    await nc.publish(second.reply, b"+TERM")
    advisory = json.loads((await asyncio.wait_for(advisories.get(), BOUND)).data)
    seen["terminated"] = [advisory["type"], advisory["stream"], advisory["consumer"], advisory["stream_seq"]]
    await pull("e", {"batch": 1, "expires": 200 * 10**6})
    seen["expired"] = status(await take("e"))
    await pull("f", {"batch": 1, "expires": BOUND * 10**9})
    await asyncio.sleep(0.1)
    await js.delete_consumer("ST", "w")
    seen["deleted"] = status(await take("f"))
    seen["left"] = (await js.stream_info("ST")).state.messages
    await nc.close()
    return seen


async def js_fill(url, options):
    """Publishes 50 jobs to a work-queue stream, each acknowledged by the server, and leaves them there."""
    nc = await connect(url, options)
    js = nc.jetstream(timeout=BOUND)
    await js.add_stream(name="DURABLE", subjects=["durable.>"], retention="workqueue")
    sequences = [(await js.publish("durable.job", f"job{index}".encode())).seq for index in range(50)]
    await nc.close()
    return {"acknowledged": sequences == list(range(1, 51))}


async def js_take(url, options):
    """Takes (and acknowledges) every job left in the stream js_fill made."""
    nc = await connect(url, options)
    js = nc.jetstream(timeout=BOUND)
    sub = await js.pull_subscribe("durable.job", durable="taker")
    taken = []
    # Until all 50 are in: a fetch that times out (a bound for a broken run) means some were lost.
    while len(taken) < 50:
        try:
            batch = await sub.fetch(10, timeout=BOUND)
        except asyncio.TimeoutError:
            break
        for msg in batch:
            taken.append(msg.data.decode())
            await msg.ack_sync(timeout=BOUND)
    info = await js.stream_info("DURABLE")
    await nc.close()
    return {"taken": len(taken), "all": sorted(taken) == sorted(f"job{i}" for i in range(50)), "left": info.state.messages}


async def js_read_some(url, options):
    """Publishes 50 messages to a stream that keeps them (limits retention) and reads the first 20 through a
    durable consumer, each acknowledged synchronously."""
    nc = await connect(url, options)
    js = nc.jetstream(timeout=BOUND)
    await js.add_stream(name="KEPT", subjects=["kept"])
    for index in range(50):
        await js.publish("kept", f"m{index}".encode())
    sub = await js.pull_subscribe("kept", durable="reader")
    read = []
    while len(read) < 20:
        for msg in await sub.fetch(20 - len(read), timeout=BOUND):
            read.append(msg.data.decode())
            await msg.ack_sync(timeout=BOUND)
    await nc.close()
    return {"read": read == [f"m{i}" for i in range(20)]}


async def js_read_rest(url, options):
    """Reads what the durable consumer of js_read_some has left, until a fetch finds nothing for two seconds."""
    nc = await connect(url, options)
    js = nc.jetstream(timeout=BOUND)
    sub = await js.pull_subscribe("kept", durable="reader")
    read = []
    while True:
        try:
            batch = await sub.fetch(10, timeout=2)
        except asyncio.TimeoutError:
            break
        for msg in batch:
            read.append(msg.data.decode())
            await msg.ack_sync(timeout=BOUND)
    info = await js.stream_info("KEPT")
    await nc.close()
    unread = [f"m{i}" for i in range(20, 50)]
    return {
        "rest": read == unread,
        "count": len(read),
        "kept": info.state.messages,
        "none_lost": set(unread) <= set(read),
    }


SCENARIOS = {
    "pubsub": pubsub,
    "queue": queue,
    "request": request,
    "headers": headers,
    "no_responders": no_responders,
    "drain": drain,
    "auth": auth,
    "reconnect": reconnect,
    "jetstream_streams": jetstream_streams,
    "jetstream_work_queue": jetstream_work_queue,
    "jetstream_redelivery": jetstream_redelivery,
    "jetstream_statuses": jetstream_statuses,
    "js_fill": js_fill,
    "js_take": js_take,
    "js_read_some": js_read_some,
    "js_read_rest": js_read_rest,
}


def main():
    url, name = sys.argv[1], sys.argv[2]
    options = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    result = asyncio.run(SCENARIOS[name](url, options))
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
