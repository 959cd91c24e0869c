# Drives redis-py's pub/sub against a server (Swiftlet or Redis) on the port given as the
# first argument, in the protocol given as the second (2 or 3), and asserts the messages and
# get_message() shapes a redis-py application relies on. Exits non-zero on the first failure.
import sys
import time

import redis

port, protocol = int(sys.argv[1]), int(sys.argv[2])
client = redis.Redis(port=port, protocol=protocol)
publisher = redis.Redis(port=port, protocol=protocol)


def next_message(pubsub, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message is not None:
            return message
    raise AssertionError("no message within %.1fs" % timeout)


def expect(actual, wanted):
    if actual != wanted:
        raise AssertionError("got %r, wanted %r" % (actual, wanted))


pubsub = client.pubsub()
pubsub.subscribe("news", "sport")
expect(next_message(pubsub), {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1})
expect(next_message(pubsub), {"type": "subscribe", "pattern": None, "channel": b"sport", "data": 2})
pubsub.psubscribe("we*")
expect(next_message(pubsub), {"type": "psubscribe", "pattern": None, "channel": b"we*", "data": 3})

expect(publisher.publish("news", "hello"), 1)
expect(next_message(pubsub), {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"})
expect(publisher.publish("weather", b"\x00binary\xff"), 1)
expect(next_message(pubsub), {"type": "pmessage", "pattern": b"we*", "channel": b"weather", "data": b"\x00binary\xff"})
expect(publisher.publish("nobody", "x"), 0)

expect(publisher.pubsub_numsub("news", "nosuch"), [(b"news", 1), (b"nosuch", 0)])
expect(publisher.pubsub_numpat(), 1)
expect(sorted(publisher.pubsub_channels()), [b"news", b"sport"])

# Handlers: messages go to the callback, get_message() returns None for them.
received = []
pubsub.subscribe(alerts=received.append)
expect(next_message(pubsub)["type"], "subscribe")
publisher.publish("alerts", "fire")
deadline = time.time() + 5
while not received and time.time() < deadline:
    pubsub.get_message(timeout=0.1)
expect([(m["channel"], m["data"]) for m in received], [(b"alerts", b"fire")])

pubsub.unsubscribe("news")
expect(next_message(pubsub), {"type": "unsubscribe", "pattern": None, "channel": b"news", "data": 3})
pubsub.punsubscribe()
expect(next_message(pubsub), {"type": "punsubscribe", "pattern": None, "channel": b"we*", "data": 2})

# Shard channels.
pubsub.ssubscribe("orders")
expect(next_message(pubsub), {"type": "ssubscribe", "pattern": None, "channel": b"orders", "data": 1})
expect(publisher.spublish("orders", "o1"), 1)
expect(next_message(pubsub), {"type": "smessage", "pattern": None, "channel": b"orders", "data": b"o1"})

# A thread running the loop, as applications do.
pubsub.unsubscribe()
pubsub.sunsubscribe()
pubsub.close()
worker_messages = []
threaded = client.pubsub()
threaded.subscribe(**{"events": worker_messages.append})
thread = threaded.run_in_thread(sleep_time=0.01)
time.sleep(0.2)
for number in range(100):
    publisher.publish("events", str(number))
deadline = time.time() + 5
while len(worker_messages) < 100 and time.time() < deadline:
    time.sleep(0.05)
thread.stop()
expect([m["data"] for m in worker_messages], [str(n).encode() for n in range(100)])
print("ok")
