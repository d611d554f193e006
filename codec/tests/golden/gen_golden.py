#!/usr/bin/env python3
"""Golden vectors for ringrpc-codec, written by independent Thrift implementations.

* thriftpy2 (pure-Python protocol stack, IDL parsed at run time from idl/golden.thrift)
  encodes every message in Binary (strict) and Compact;
* Apache's Python library (PyPI `thrift`) writes the same Primitives message by hand through
  its own protocol classes: the bytes must equal thriftpy2's (two implementations agree);
* Apache's THeaderTransport frames the payloads as THeader (with and without key/values).

Usage: gen_golden.py          (re)write codec/tests/golden/vectors/
       gen_golden.py --check  exit 1 if the committed vectors differ from a fresh run
Install the peers first: ./scripts/python-peers.sh
"""

import io
import json
import math
import os
import struct
import sys
import tempfile
import uuid

import thriftpy2
from thriftpy2.protocol.binary import TBinaryProtocol as PyBinary
from thriftpy2.protocol.compact import TCompactProtocol as PyCompact
from thriftpy2.thrift import TMessageType as PyMessageType
from thriftpy2.thrift import TApplicationException as PyAppException
from thriftpy2.transport.memory import TMemoryBuffer as PyMemory

import thrift
from thrift.protocol.TBinaryProtocol import TBinaryProtocol as ApacheBinary
from thrift.protocol.TCompactProtocol import TCompactProtocol as ApacheCompact
from thrift.Thrift import TType
from thrift.transport.THeaderTransport import (
    THeaderClientType,
    THeaderSubprotocolID,
    THeaderTransport,
)
from thrift.transport.TTransport import TMemoryBuffer as ApacheMemory

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
IDL = os.path.join(ROOT, "idl", "golden.thrift")
OUT = os.path.join(ROOT, "codec", "tests", "golden", "vectors")

GEN_PY2 = "thriftpy2 %s" % thriftpy2.__version__
GEN_APACHE = "thrift %s" % getattr(thrift, "__version__", "0.25.0")

g = thriftpy2.load(IDL, module_name="golden_thrift")


def primitives():
    return g.Primitives(
        b_true=True, b_false=False, i8v=-128, i16v=-12345, i32v=-2147483648,
        i64v=-34359738368, dv=-5.235098235, s="Hello, 世界 ✓", bin=bytes(range(256)),
        color=g.Color.BLUE,
    )


def containers():
    # Maps and sets are written in ascending key order (sets as sorted lists, since
    # thriftpy2 writes whatever it iterates), so a BTreeMap/BTreeSet re-encodes identically.
    return g.Containers(
        ints=list(range(-7, 8)),
        strs=["s%d" % i for i in range(14)],
        longs=sorted({-1, 0, 1, 1 << 40}),
        counts={"a": 1, "b": 2, "c": 3},
        flags=[True, False, True],
        inners=[g.Inner(id=1, name="one"), g.Inner(id=2, name="two")],
        nested={1: ["x"], 2: [], 3: ["y", "z"]},
        empty_list=[], empty_map={}, empty_set=[],
        doubles=[0.0, -0.0, 1.5, math.inf, -1e300],
    )


def holder():
    return g.Holder(inner=g.Inner(id=42, name=""), opt_absent=None, opt_present=0,
                    fifteen=15, forty=-40, far="far away", far_bool=True)


CALL, REPLY, EXCEPTION = PyMessageType.CALL, PyMessageType.REPLY, PyMessageType.EXCEPTION

# (file stem, method, message type, seqid, body)
MESSAGES = [
    ("primitives_call", "primitives", CALL, 7, g.Golden.primitives_args(p=primitives())),
    ("containers_call", "containers", CALL, 7, g.Golden.containers_args(c=containers())),
    ("holder_call", "holder", CALL, 7, g.Golden.holder_args(h=holder())),
    ("choice_text_call", "choice", CALL, 7, g.Golden.choice_args(c=g.Choice(text="t"))),
    ("choice_number_call", "choice", CALL, 8, g.Golden.choice_args(c=g.Choice(number=-1))),
    ("choice_inner_call", "choice", CALL, 9,
     g.Golden.choice_args(c=g.Choice(inner=g.Inner(id=7, name="seven")))),
    ("primitives_reply", "primitives", REPLY, 7, g.Golden.primitives_result(success=primitives())),
    ("fail_reply_oops", "fail", REPLY, 7,
     g.Golden.fail_result(oops=g.Oops(code=1001, message="bad"))),
    ("fail_exception", "fail", EXCEPTION, 7,
     PyAppException(type=PyAppException.INTERNAL_ERROR, message="boom")),
]

PROTOCOLS = {
    "binary": (PyBinary, THeaderSubprotocolID.BINARY),
    "compact": (PyCompact, THeaderSubprotocolID.COMPACT),
}

KV_HEADERS = [(b"k", b"v"), (b"RPC_PERSIST_trace", b"abc")]


def encode_thriftpy2(protocol, method, mtype, seqid, body):
    buf = PyMemory()
    proto = PROTOCOLS[protocol][0](buf)
    proto.write_message_begin(method, mtype, seqid)
    body.write(proto)
    proto.write_message_end()
    return buf.getvalue()


def encode_apache_primitives(protocol_cls):
    """The primitives CALL written field by field with Apache's own protocol classes."""
    buf = ApacheMemory()
    p = protocol_cls(buf)
    p.writeMessageBegin("primitives", 1, 7)
    p.writeStructBegin("primitives_args")
    p.writeFieldBegin("p", TType.STRUCT, 1)
    p.writeStructBegin("Primitives")
    for name, ttype, fid, write, value in [
        ("b_true", TType.BOOL, 1, p.writeBool, True),
        ("b_false", TType.BOOL, 2, p.writeBool, False),
        ("i8v", TType.BYTE, 3, p.writeByte, -128),
        ("i16v", TType.I16, 4, p.writeI16, -12345),
        ("i32v", TType.I32, 5, p.writeI32, -2147483648),
        ("i64v", TType.I64, 6, p.writeI64, -34359738368),
        ("dv", TType.DOUBLE, 7, p.writeDouble, -5.235098235),
        ("s", TType.STRING, 8, p.writeString, "Hello, 世界 ✓"),
        ("bin", TType.STRING, 9, p.writeBinary, bytes(range(256))),
        ("color", TType.I32, 10, p.writeI32, 5),
    ]:
        p.writeFieldBegin(name, ttype, fid)
        write(value)
        p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeMessageEnd()
    return buf.getvalue()


def encode_apache_uuid(protocol_cls):
    buf = ApacheMemory()
    p = protocol_cls(buf)
    p.writeMessageBegin("uuid", 1, 7)
    p.writeStructBegin("uuid_args")
    p.writeFieldBegin("u", TType.UUID, 1)
    p.writeUuid(uuid.UUID("00112233-4455-6677-8899-aabbccddeeff"))
    p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeMessageEnd()
    return buf.getvalue()


def theader(protocol, seqid, payload, headers=()):
    out = ApacheMemory()
    trans = THeaderTransport(out, [THeaderClientType.HEADERS], PROTOCOLS[protocol][1])
    trans.sequence_id = seqid
    for k, v in headers:
        trans.set_header(k, v)
    trans.write(payload)
    trans.flush()
    return out.getvalue()


def generate():
    files = {}
    manifest = []

    def add(stem, protocol, framing, data, method, mtype, seqid, generator, headers=()):
        name = "%s.%s.%s.bin" % (stem, protocol, framing)
        files[name] = data
        entry = {
            "file": name, "message": stem, "method": method, "message_type": mtype,
            "seqid": seqid, "protocol": protocol, "framing": framing, "generator": generator,
        }
        if headers:
            entry["headers"] = {k.decode(): v.decode() for k, v in headers}
        manifest.append(entry)

    for stem, method, mtype, seqid, body in MESSAGES:
        for protocol in PROTOCOLS:
            payload = encode_thriftpy2(protocol, method, mtype, seqid, body)
            add(stem, protocol, "unframed", payload, method, mtype, seqid, GEN_PY2)
            add(stem, protocol, "framed", struct.pack(">i", len(payload)) + payload,
                method, mtype, seqid, GEN_PY2)
            add(stem, protocol, "theader", theader(protocol, seqid, payload),
                method, mtype, seqid, "%s + %s THeaderTransport" % (GEN_PY2, GEN_APACHE))
            if stem == "primitives_call":
                add(stem, protocol, "theader_kv", theader(protocol, seqid, payload, KV_HEADERS),
                    method, mtype, seqid, "%s + %s THeaderTransport" % (GEN_PY2, GEN_APACHE),
                    KV_HEADERS)

    # Two implementations agree: Apache's protocol classes write thriftpy2's bytes.
    for protocol, cls in [("binary", ApacheBinary), ("compact", ApacheCompact)]:
        apache = encode_apache_primitives(cls)
        mine = files["primitives_call.%s.unframed.bin" % protocol]
        if apache != mine:
            sys.exit("thriftpy2 and Apache disagree on primitives_call (%s):\n%s\n%s"
                     % (protocol, mine.hex(), apache.hex()))
        # thriftpy2 has no uuid type: the uuid vector comes from Apache alone.
        add("uuid_call", protocol, "unframed", encode_apache_uuid(cls), "uuid", CALL, 7,
            GEN_APACHE)

    manifest.sort(key=lambda e: e["file"])
    files["manifest.json"] = (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False)
                              + "\n").encode()
    return files


def main():
    files = generate()
    if "--check" in sys.argv[1:]:
        stale = []
        committed = set(os.listdir(OUT)) if os.path.isdir(OUT) else set()
        for name, data in sorted(files.items()):
            path = os.path.join(OUT, name)
            if not os.path.exists(path) or open(path, "rb").read() != data:
                stale.append(name)
        stale += sorted(committed - set(files))
        if stale:
            print("golden vectors are stale (run codec/tests/golden/gen_golden.py):", file=sys.stderr)
            for name in stale:
                print("  " + name, file=sys.stderr)
            sys.exit(1)
        print("golden vectors: %d files current" % len(files))
        return
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name not in files:
            os.remove(os.path.join(OUT, name))
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(files), os.path.relpath(OUT, ROOT)))


if __name__ == "__main__":
    main()
