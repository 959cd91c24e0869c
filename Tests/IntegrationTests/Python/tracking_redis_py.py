"""Client-side caching through redis-py 5 against the server on argv[1]'s port.

RESP3: a tracking connection reads a key, another client writes it, and redis-py's RESP3
parser hands the `invalidate` push to its invalidation handler. RESP2: invalidations are
redirected to a redis-py PubSub subscribed to __redis__:invalidate. Prints OK or raises.
"""
import sys
import time

import redis

port = int(sys.argv[1])
writer = redis.Redis(port=port)
writer.flushall()

# RESP3 push frames, parsed by redis-py's RESP3 parser.
reader = redis.Redis(port=port, protocol=3, single_connection_client=True)
pushed = []
reader.connection._parser.set_invalidation_push_handler(pushed.append)
assert reader.execute_command("CLIENT", "TRACKING", "ON") in (b"OK", "OK", True)
assert reader.get("user:1") is None
writer.set("user:1", "alice")
time.sleep(0.1)
assert reader.ping()
assert pushed == [[b"invalidate", [b"user:1"]]], pushed
writer.flushall()
time.sleep(0.1)
assert reader.ping()
assert pushed[-1] == [b"invalidate", None], pushed
info = reader.execute_command("CLIENT", "TRACKINGINFO")
assert info[b"flags"] in ({b"on"}, [b"on"]), info

# RESP2: the invalidations of a RESP2 tracking client reach a subscribed redirect client.
pubsub = redis.Redis(port=port).pubsub()
pubsub.subscribe("__redis__:invalidate")
confirmation = pubsub.get_message(timeout=2)
assert confirmation["type"] == "subscribe", confirmation
redirect_id = next(c["id"] for c in writer.client_list() if c["sub"] == "1")
tracker = redis.Redis(port=port, single_connection_client=True)
tracker.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", redirect_id)
tracker.get("user:2")
writer.set("user:2", "bob")
message = pubsub.get_message(timeout=2)
assert message["type"] == "message" and message["channel"] == b"__redis__:invalidate", message
assert message["data"] == [b"user:2"], message
print("OK")
