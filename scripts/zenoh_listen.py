#!/usr/bin/env python3
"""Prints what zenoh-publisher publishes: one JSON line per sample, payloads decoded.

    .venv/bin/python scripts/zenoh_listen.py                                 # wdp/** on the local node
    .venv/bin/python scripts/zenoh_listen.py --key 'wdp/home/kitchen/**' --connect tcp/10.0.0.5:7447
    .venv/bin/python scripts/zenoh_listen.py --get                           # the newest of every key, then exit

Each line is {"key", "kind" (put/delete), "encoding", "payload"}: JSON payloads parsed, Arrow
IPC pose frames as {"metadata", "rows"} (a dict per person), ROS 2 messages (application/cdr,
with ROS2_PREFIX set on the node) decoded by rosbags: geometry_msgs/msg/PoseArray on
.../people, std_msgs/msg/String elsewhere. With --get the node's queryable answers with the
newest sample of every key, and the liveliness tokens alive under the key are printed as
{"liveliness": key}. Needs eclipse-zenoh and rosbags (scripts/requirements.txt).
"""

import argparse
import functools
import json
import queue
import sys

import pyarrow.ipc
import zenoh

ARROW_STREAM = "application/vnd.apache.arrow.stream"


def session(connect):
    """A peer that connects to `connect` only: no listening, no multicast scouting."""
    conf = zenoh.Config()
    conf.insert_json5("mode", '"peer"')
    conf.insert_json5("connect/endpoints", json.dumps(connect))
    conf.insert_json5("listen/endpoints", "[]")
    conf.insert_json5("scouting/multicast/enabled", "false")
    return zenoh.open(conf)


@functools.cache
def typestore():
    """rosbags' ROS 2 message definitions (built once: it parses every message type)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_HUMBLE)


def ros2(key, payload):
    """A ROS 2 message as the node writes it, read back by an independent CDR reader."""
    store = typestore()
    if key.endswith("/people"):
        m = store.deserialize_cdr(payload, "geometry_msgs/msg/PoseArray")
        return {
            "type": "geometry_msgs/msg/PoseArray",
            "frame_id": m.header.frame_id,
            "stamp": [m.header.stamp.sec, m.header.stamp.nanosec],
            "positions": [[p.position.x, p.position.y, p.position.z] for p in m.poses],
            "orientations": [[p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w] for p in m.poses],
        }
    m = store.deserialize_cdr(payload, "std_msgs/msg/String")
    return {"type": "std_msgs/msg/String", "data": json.loads(m.data)}


def decode(key, encoding, payload):
    if encoding.startswith("application/cdr"):
        return ros2(key, payload)
    if encoding.startswith("application/json"):
        return json.loads(payload)
    if encoding.startswith(ARROW_STREAM):
        table = pyarrow.ipc.open_stream(payload).read_all()
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        return {"metadata": meta, "rows": table.to_pylist()}
    return payload.decode("utf-8", "replace")


def line(key, kind, encoding, payload):
    record = {"key": key, "kind": kind, "encoding": encoding}
    if payload is not None:
        try:
            record["payload"] = decode(key, encoding, payload)
        except Exception as e:  # a payload that does not decode is shown, not fatal
            record["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(record), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connect", action="append", default=None,
                   help="endpoint of the node or a router (repeatable; default tcp/127.0.0.1:7447)")
    p.add_argument("--key", action="append", default=None, help="key expression (repeatable; default wdp/**)")
    p.add_argument("--get", action="store_true", help="query the newest samples and the liveliness tokens, then exit")
    p.add_argument("--count", type=int, default=0, help="exit after this many samples (0: never)")
    args = p.parse_args()
    keys = args.key or ["wdp/**"]
    s = session(args.connect or ["tcp/127.0.0.1:7447"])
    try:
        if args.get:
            for key in keys:
                for reply in s.get(key):
                    if reply.ok is not None:
                        sample = reply.ok
                        line(str(sample.key_expr), "put", str(sample.encoding), sample.payload.to_bytes())
                for reply in s.liveliness().get(key):
                    if reply.ok is not None:
                        print(json.dumps({"liveliness": str(reply.ok.key_expr)}), flush=True)
            return
        received = queue.Queue()
        subscribers = [s.declare_subscriber(key, received.put) for key in keys]
        print(json.dumps({"subscribed": keys}), flush=True)
        seen = 0
        while not args.count or seen < args.count:
            sample = received.get()
            kind = "delete" if sample.kind == zenoh.SampleKind.DELETE else "put"
            payload = sample.payload.to_bytes() if kind == "put" else None
            line(str(sample.key_expr), kind, str(sample.encoding), payload)
            seen += 1
        for sub in subscribers:
            sub.undeclare()
    finally:
        s.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
