#!/usr/bin/env python3
"""Golden vectors for ringrpc-codec, written by independent Thrift implementations.

* thriftpy2 (pure-Python protocol stack, IDL parsed at run time from idl/golden.thrift)
  encodes every message in Binary (strict) and Compact;
* Apache's Python library (PyPI `thrift`) frames the payloads: THeaderTransport for THeader
  (with and without string headers), TFramedTransport for plain framing.

Before anything is written, Apache's library cross-checks thriftpy2's work (the script fails
otherwise):
* its own protocol classes write the primitives CALL field by field, plain and through
  THeaderProtocol: the bytes equal thriftpy2's payload and the THeader frames above;
* its readers decode every payload and every THeader frame (generically: no generated code),
  and its writers re-encode what they read to the same bytes;
* every map and set is in strictly ascending key order (ringrpc re-encodes from BTreeMap/BTreeSet).
The uuid vectors come from Apache's library alone (thriftpy2 has no uuid type).

Usage: gen_golden.py          (re)write codec/tests/golden/vectors/
       gen_golden.py --check  exit 1 if the committed vectors differ from a fresh run
Install the peers first: ./scripts/python-peers.sh
"""

import importlib.metadata
import json
import math
import os
import struct
import sys
import uuid

import thriftpy2
from thriftpy2.protocol.binary import TBinaryProtocol as PyBinary
from thriftpy2.protocol.compact import TCompactProtocol as PyCompact
from thriftpy2.thrift import TApplicationException as PyAppException
from thriftpy2.thrift import TMessageType as PyMessageType
from thriftpy2.transport.memory import TMemoryBuffer as PyMemory

from thrift.protocol.TBinaryProtocol import TBinaryProtocol as ApacheBinary
from thrift.protocol.TCompactProtocol import TCompactProtocol as ApacheCompact
from thrift.protocol.THeaderProtocol import THeaderProtocol
from thrift.Thrift import TApplicationException, TType
from thrift.transport.THeaderTransport import (
    THeaderClientType,
    THeaderSubprotocolID,
    THeaderTransport,
)
from thrift.transport.TTransport import TFramedTransport
from thrift.transport.TTransport import TMemoryBuffer as ApacheMemory

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
IDL = os.path.join(ROOT, "idl", "golden.thrift")
OUT = os.path.join(ROOT, "codec", "tests", "golden", "vectors")

GEN_PY2 = "thriftpy2 %s" % importlib.metadata.version("thriftpy2")
GEN_APACHE = "thrift %s" % importlib.metadata.version("thrift")
GEN_THEADER = "%s + %s THeaderTransport" % (GEN_PY2, GEN_APACHE)

g = thriftpy2.load(IDL, module_name="golden_thrift")

UUID = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
# Written in this order; the manifest keeps it (a list of [key, value] pairs).
KV_HEADERS = [(b"k", b"v"), (b"RPC_PERSIST_trace", b"abc")]

PRIMITIVES = [  # (name, type, id, Apache writer method, value)
    ("b_true", TType.BOOL, 1, "writeBool", True),
    ("b_false", TType.BOOL, 2, "writeBool", False),
    ("i8v", TType.BYTE, 3, "writeByte", -128),
    ("i16v", TType.I16, 4, "writeI16", -12345),
    ("i32v", TType.I32, 5, "writeI32", -2147483648),
    ("i64v", TType.I64, 6, "writeI64", -34359738368),
    ("dv", TType.DOUBLE, 7, "writeDouble", -5.235098235),
    ("s", TType.STRING, 8, "writeString", "Hello, 世界 ✓"),
    ("bin", TType.STRING, 9, "writeBinary", bytes(range(256))),
    ("color", TType.I32, 10, "writeI32", 5),  # Color.BLUE
]


def primitives():
    return g.Primitives(**{name: value for name, _, _, _, value in PRIMITIVES})


def containers():
    # Maps and sets in ascending key order (sets as sorted lists: thriftpy2 writes whatever it
    # iterates), so a BTreeMap/BTreeSet re-encodes identically; checked on the wire below.
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

# (file stem, method, message type, seqid, body). Seqids stay non-negative: thriftpy2's compact
# writer loops forever on a negative one.
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

PROTOCOLS = {  # name: (thriftpy2 writer, Apache class, THeader protocol id)
    "binary": (PyBinary, ApacheBinary, THeaderSubprotocolID.BINARY),
    "compact": (PyCompact, ApacheCompact, THeaderSubprotocolID.COMPACT),
}


class Mismatch(Exception):
    pass


def expect(cond, what, *details):
    if not cond:
        raise Mismatch("\n  ".join([what] + [str(d) for d in details]))


def encode_thriftpy2(protocol, method, mtype, seqid, body):
    buf = PyMemory()
    proto = PROTOCOLS[protocol][0](buf)
    proto.write_message_begin(method, mtype, seqid)
    body.write(proto)
    proto.write_message_end()
    return buf.getvalue()


def apache_primitives_call(p):
    """The primitives CALL written field by field through Apache protocol `p`."""
    p.writeMessageBegin("primitives", CALL, 7)
    p.writeStructBegin("primitives_args")
    p.writeFieldBegin("p", TType.STRUCT, 1)
    p.writeStructBegin("Primitives")
    for name, ttype, fid, method, value in PRIMITIVES:
        p.writeFieldBegin(name, ttype, fid)
        getattr(p, method)(value)
        p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeMessageEnd()


def apache_uuid_call(p):
    p.writeMessageBegin("uuid", CALL, 7)
    p.writeStructBegin("uuid_args")
    p.writeFieldBegin("u", TType.UUID, 1)
    p.writeUuid(UUID)
    p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeMessageEnd()


def apache_plain(protocol, write):
    buf = ApacheMemory()
    write(PROTOCOLS[protocol][1](buf))
    return buf.getvalue()


def apache_header_protocol(protocol, write, headers=()):
    buf = ApacheMemory()
    p = THeaderProtocol(buf, [THeaderClientType.HEADERS], PROTOCOLS[protocol][2])
    for k, v in headers:
        p.set_header(k, v)
    write(p)
    p.trans.flush()
    return buf.getvalue()


def theader(protocol, seqid, payload, headers=()):
    """A finished payload framed by Apache's THeaderTransport (seqid copied as THeaderProtocol does)."""
    out = ApacheMemory()
    trans = THeaderTransport(out, [THeaderClientType.HEADERS], PROTOCOLS[protocol][2])
    trans.sequence_id = seqid
    for k, v in headers:
        trans.set_header(k, v)
    trans.write(payload)
    trans.flush()
    return out.getvalue()


def apache_framed(payload):
    out = ApacheMemory()
    trans = TFramedTransport(out)
    trans.write(payload)
    trans.flush()
    return out.getvalue()


# Generic (schema-less) read and write with Apache's protocol classes.

def read_value(p, ttype):
    simple = {TType.BOOL: p.readBool, TType.BYTE: p.readByte, TType.I16: p.readI16,
              TType.I32: p.readI32, TType.I64: p.readI64, TType.DOUBLE: p.readDouble,
              TType.STRING: p.readBinary, TType.UUID: p.readUuid}
    if ttype in simple:
        return simple[ttype]()
    if ttype == TType.STRUCT:
        fields = []
        p.readStructBegin()
        while True:
            _, ftype, fid = p.readFieldBegin()
            if ftype == TType.STOP:
                break
            fields.append((fid, ftype, read_value(p, ftype)))
            p.readFieldEnd()
        p.readStructEnd()
        return fields
    if ttype in (TType.LIST, TType.SET):
        begin, end = ((p.readListBegin, p.readListEnd) if ttype == TType.LIST
                      else (p.readSetBegin, p.readSetEnd))
        etype, size = begin()
        items = [read_value(p, etype) for _ in range(size)]
        end()
        if ttype == TType.SET:
            expect(all(a < b for a, b in zip(items, items[1:])), "set not in ascending order", items)
        return (etype, items)
    if ttype == TType.MAP:
        ktype, vtype, size = p.readMapBegin()
        items = [(read_value(p, ktype), read_value(p, vtype)) for _ in range(size)]
        p.readMapEnd()
        keys = [k for k, _ in items]
        expect(all(a < b for a, b in zip(keys, keys[1:])), "map not in ascending key order", keys)
        return (ktype, vtype, items)
    raise Mismatch("unexpected type %d" % ttype)


def write_value(p, ttype, value):
    simple = {TType.BOOL: p.writeBool, TType.BYTE: p.writeByte, TType.I16: p.writeI16,
              TType.I32: p.writeI32, TType.I64: p.writeI64, TType.DOUBLE: p.writeDouble,
              TType.STRING: p.writeBinary, TType.UUID: p.writeUuid}
    if ttype in simple:
        simple[ttype](value)
    elif ttype == TType.STRUCT:
        p.writeStructBegin("")
        for fid, ftype, v in value:
            p.writeFieldBegin("", ftype, fid)
            write_value(p, ftype, v)
            p.writeFieldEnd()
        p.writeFieldStop()
        p.writeStructEnd()
    elif ttype in (TType.LIST, TType.SET):
        etype, items = value
        (p.writeListBegin if ttype == TType.LIST else p.writeSetBegin)(etype, len(items))
        for v in items:
            write_value(p, etype, v)
        (p.writeListEnd if ttype == TType.LIST else p.writeSetEnd)()
    else:
        ktype, vtype, items = value
        p.writeMapBegin(ktype, vtype, len(items))
        for k, v in items:
            write_value(p, ktype, k)
            write_value(p, vtype, v)
        p.writeMapEnd()


def apache_roundtrip(name, protocol, payload, method, mtype, seqid):
    """Apache decodes `payload` and re-encodes what it read: the bytes must not change."""
    cls = PROTOCOLS[protocol][1]
    r = cls(ApacheMemory(payload))
    header = r.readMessageBegin()
    expect(header == (method, mtype, seqid), name + ": message header", header)
    body = read_value(r, TType.STRUCT)
    r.readMessageEnd()
    expect(r.trans.read(1) == b"", name + ": trailing bytes")
    out = ApacheMemory()
    w = cls(out)
    w.writeMessageBegin(method, mtype, seqid)
    write_value(w, TType.STRUCT, body)
    w.writeMessageEnd()
    expect(out.getvalue() == payload, name + ": Apache re-encodes different bytes",
           payload.hex(), out.getvalue().hex())
    if mtype == EXCEPTION:  # and Apache's own TApplicationException reads it
        r = cls(ApacheMemory(payload))
        r.readMessageBegin()
        exc = TApplicationException()
        exc.read(r)
        expect((exc.message, exc.type) == ("boom", TApplicationException.INTERNAL_ERROR),
               name + ": TApplicationException", exc.message, exc.type)


def apache_read_theader(name, protocol, frame, seqid, payload, headers):
    wire = ApacheMemory(frame)
    trans = THeaderTransport(wire, [THeaderClientType.HEADERS])
    expect(trans.read(len(payload)) == payload, name + ": THeader payload")
    expect(wire.read(1) == b"", name + ": bytes after the THeader frame")
    expect(trans.protocol_id == PROTOCOLS[protocol][2], name + ": THeader protocol id")
    expect(trans.sequence_id == seqid, name + ": THeader seqid", trans.sequence_id)
    expect(trans.get_headers() == dict(headers), name + ": THeader headers", trans.get_headers())


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
            entry["headers"] = [[k.decode(), v.decode()] for k, v in headers]
        manifest.append(entry)
        return name

    for stem, method, mtype, seqid, body in MESSAGES:
        for protocol in PROTOCOLS:
            payload = encode_thriftpy2(protocol, method, mtype, seqid, body)
            name = add(stem, protocol, "unframed", payload, method, mtype, seqid, GEN_PY2)
            apache_roundtrip(name, protocol, payload, method, mtype, seqid)

            framed = struct.pack(">i", len(payload)) + payload
            expect(apache_framed(payload) == framed, stem + ": Apache TFramedTransport differs")
            add(stem, protocol, "framed", framed, method, mtype, seqid, GEN_PY2)

            variants = [("theader", ())]
            if stem == "primitives_call":
                variants.append(("theader_kv", KV_HEADERS))
            for framing, headers in variants:
                frame = theader(protocol, seqid, payload, headers)
                name = add(stem, protocol, framing, frame, method, mtype, seqid, GEN_THEADER,
                           headers)
                apache_read_theader(name, protocol, frame, seqid, payload, headers)
                if stem == "primitives_call":
                    # Apache end to end: THeaderProtocol writing the values by hand.
                    own = apache_header_protocol(protocol, apache_primitives_call, headers)
                    expect(own == frame, name + ": Apache THeaderProtocol differs",
                           frame.hex(), own.hex())

        if stem == "primitives_call":
            # Two implementations agree: Apache's protocol classes write thriftpy2's bytes.
            for protocol in PROTOCOLS:
                mine = files["primitives_call.%s.unframed.bin" % protocol]
                own = apache_plain(protocol, apache_primitives_call)
                expect(own == mine, "thriftpy2 and Apache disagree on primitives_call (%s)"
                       % protocol, mine.hex(), own.hex())

    # thriftpy2 has no uuid type: this vector comes from Apache's library alone.
    for protocol in PROTOCOLS:
        payload = apache_plain(protocol, apache_uuid_call)
        name = add("uuid_call", protocol, "unframed", payload, "uuid", CALL, 7, GEN_APACHE)
        apache_roundtrip(name, protocol, payload, "uuid", CALL, 7)

    manifest.sort(key=lambda e: e["file"])
    files["manifest.json"] = (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False)
                              + "\n").encode()
    return files


def main():
    args = sys.argv[1:]
    if args not in ([], ["--check"]):
        sys.exit(__doc__)
    try:
        files = generate()
    except Mismatch as e:
        sys.exit("gen_golden.py: cross-check failed: %s" % e)
    committed = set(os.listdir(OUT)) if os.path.isdir(OUT) else set()
    if args == ["--check"]:
        problems = []
        for name, data in sorted(files.items()):
            path = os.path.join(OUT, name)
            if name not in committed:
                problems.append("missing:    " + name)
            elif open(path, "rb").read() != data:
                problems.append("differs:    " + name)
        problems += ["unexpected: " + name for name in sorted(committed - set(files))]
        if problems:
            print("golden vectors in %s are stale; regenerate with "
                  "`.venv/bin/python codec/tests/golden/gen_golden.py`:"
                  % os.path.relpath(OUT, ROOT), file=sys.stderr)
            for line in problems:
                print("  " + line, file=sys.stderr)
            sys.exit(1)
        print("golden vectors: all %d files current" % len(files))
        return
    os.makedirs(OUT, exist_ok=True)
    for name in committed - set(files):
        os.remove(os.path.join(OUT, name))
    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(files), os.path.relpath(OUT, ROOT)))


if __name__ == "__main__":
    main()
