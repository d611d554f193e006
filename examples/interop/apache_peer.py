#!/usr/bin/env python3
"""ThriftTest peer built on Apache Thrift's Python library (PyPI `thrift`), for ringrpc's
cross tests.

No Thrift compiler is involved: the ThriftTest types and the args/result structs of every
ThriftTest method (and SecondService.secondtestString) are written by hand below as
`TBase`/`TFrozenBase`/`TFrozenExceptionBase` subclasses with the `thrift_spec` tuples that
`thrift --gen py:dynamic` emits for test/ThriftTest.thrift, so Apache's own protocol code
(`TProtocolBase.readStruct`/`writeStruct`, or the C `fastbinary` codec under THeader) does all
the encoding. On top of them: a generic processor (the dispatch Apache's generated
`Processor.process` does) and a hand-written client that chooses its own sequence ids.

    apache_peer.py server --port 0 --port-file PATH
                          --protocol binary|compact|header|multi|multic|multih
                          --transport framed|buffered
    apache_peer.py client --host 127.0.0.1 --port N --protocol … --transport …
                          [--skip NAME,NAME…]

With `--protocol header` the server accepts THeader clients and plain framed and unframed
binary and compact ones (THeaderProtocolFactory with every client type, like Apache's
TestServer); the client speaks THeader (HEADERS client type) with binary inside. THeader does
its own framing, so `--transport` is ignored then.

`multi`, `multic` and `multih` are binary, compact and header plus multiplexing, as in Apache's
cross tests: the server is a TMultiplexedProcessor with "ThriftTest" (also the default, for
unprefixed names) and "SecondService"; the client sends through TMultiplexedProtocol
("ThriftTest", and "SecondService" for the extra check). Replies carry the bare method name,
which is what Apache's processors write. See README.md beside this file.
"""

import logging
import os
import sys

from thrift.TMultiplexedProcessor import TMultiplexedProcessor
from thrift.Thrift import TApplicationException, TException, TMessageType, TProcessor, TType
from thrift.TRecursive import fix_spec
from thrift.protocol import TBinaryProtocol, TCompactProtocol, THeaderProtocol
from thrift.protocol.TMultiplexedProtocol import TMultiplexedProtocol
from thrift.protocol.TBase import TBase, TFrozenBase, TFrozenExceptionBase
from thrift.server import TServer
from thrift.transport import TSocket, TTransport
from thrift.transport.THeaderTransport import THeaderClientType, THeaderSubprotocolID

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the work tree
import thrifttest_common as common  # noqa: E402

log = logging.getLogger("apache_peer")

# --------------------------------------------------------------------------------------
# ThriftTest types, as `thrift --gen py:dynamic` would write them (the ones the methods use).


class Numberz(object):
    ONE = 1
    TWO = 2
    THREE = 3
    FIVE = 5
    SIX = 6
    EIGHT = 8

    _VALUES_TO_NAMES = {1: "ONE", 2: "TWO", 3: "THREE", 5: "FIVE", 6: "SIX", 8: "EIGHT"}
    _NAMES_TO_VALUES = {v: k for k, v in _VALUES_TO_NAMES.items()}


# typedef i64 UserId: a plain int in Python.


class _ByValue(object):
    """__repr__/__eq__/__ne__ over the instance dict, as py:dynamic generates them (no slots)."""

    def __repr__(self):
        fields = ["%s=%r" % (key, value) for key, value in self.__dict__.items()]
        return "%s(%s)" % (self.__class__.__name__, ", ".join(fields))

    def __eq__(self, other):
        return isinstance(other, self.__class__) and self.__dict__ == other.__dict__

    def __ne__(self, other):
        return not (self == other)


class _Frozen(_ByValue):
    """What py:dynamic adds to an immutable struct: fields set once in __init__, then read-only
    (exceptions are immutable by default; Insanity is annotated `python.immutable`)."""

    def _init_fields(self, **fields):
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, *args):
        raise TypeError("can't modify immutable instance")

    def __delattr__(self, *args):
        raise TypeError("can't modify immutable instance")

    def __hash__(self):
        return hash(self.__class__) ^ hash(tuple(self.__dict__.values()))


class Xtruct(_ByValue, TBase):
    def __init__(self, string_thing=None, byte_thing=None, i32_thing=None, i64_thing=None):
        self.string_thing = string_thing
        self.byte_thing = byte_thing
        self.i32_thing = i32_thing
        self.i64_thing = i64_thing


class Xtruct2(_ByValue, TBase):
    def __init__(self, byte_thing=None, struct_thing=None, i32_thing=None):
        self.byte_thing = byte_thing
        self.struct_thing = struct_thing
        self.i32_thing = i32_thing


class Insanity(_Frozen, TFrozenBase):
    def __init__(self, userMap=None, xtructs=None):
        self._init_fields(userMap=userMap, xtructs=xtructs)


class Xception(_Frozen, TFrozenExceptionBase):
    def __init__(self, errorCode=None, message=None):
        self._init_fields(errorCode=errorCode, message=message)

    def __str__(self):
        return repr(self)


class Xception2(_Frozen, TFrozenExceptionBase):
    def __init__(self, errorCode=None, struct_thing=None):
        self._init_fields(errorCode=errorCode, struct_thing=struct_thing)

    def __str__(self):
        return repr(self)


def _spec(*fields):
    """A py:dynamic `thrift_spec`: indexed by field id, None where no field has that id.
    Each field is (id, TType, name, type args, default)."""
    if not fields:
        return ()
    spec = [None] * (max(f[0] for f in fields) + 1)
    for f in fields:
        spec[f[0]] = f
    return tuple(spec)


Xtruct.thrift_spec = _spec(
    (1, TType.STRING, "string_thing", "UTF8", None),
    (4, TType.BYTE, "byte_thing", None, None),
    (9, TType.I32, "i32_thing", None, None),
    (11, TType.I64, "i64_thing", None, None),
)
Xtruct2.thrift_spec = _spec(
    (1, TType.BYTE, "byte_thing", None, None),
    (2, TType.STRUCT, "struct_thing", [Xtruct, None], None),
    (3, TType.I32, "i32_thing", None, None),
)
Insanity.thrift_spec = _spec(
    (1, TType.MAP, "userMap", (TType.I32, None, TType.I64, None, False), None),
    (2, TType.LIST, "xtructs", (TType.STRUCT, [Xtruct, None], False), None),
)
Xception.thrift_spec = _spec(
    (1, TType.I32, "errorCode", None, None),
    (2, TType.STRING, "message", "UTF8", None),
)
Xception2.thrift_spec = _spec(
    (1, TType.I32, "errorCode", None, None),
    (2, TType.STRUCT, "struct_thing", [Xtruct, None], None),
)

# --------------------------------------------------------------------------------------
# Service definitions: one args struct per method and one result struct per two-way method.


class _Struct(_ByValue, TBase):
    """Base of the args/result structs: every field of the spec, positional or by name."""

    thrift_spec = ()

    def __init__(self, *args, **kwargs):
        names = [f[2] for f in self.thrift_spec if f is not None]
        for name, value in zip(names, args):
            kwargs[name] = value
        for name in names:
            setattr(self, name, kwargs.pop(name, None))
        if kwargs:
            raise TypeError("unknown fields %s" % sorted(kwargs))


class Method(object):
    """One service method: its args and result struct classes (result None when oneway)."""

    def __init__(self, name, args, result, oneway=False):
        self.name, self.args, self.result, self.oneway = name, args, result, oneway

    def arg_names(self):
        return [f[2] for f in self.args.thrift_spec if f is not None]

    def has_success(self):
        spec = self.result.thrift_spec
        return bool(spec) and spec[0] is not None

    def exceptions(self):
        """The declared exceptions: (result field name, exception class) pairs."""
        return [(f[2], f[3][0]) for f in self.result.thrift_spec if f is not None and f[0] != 0]


ALL_STRUCTS = [Xtruct, Xtruct2, Insanity, Xception, Xception2]


def _method(name, args=(), success=None, throws=(), oneway=False):
    """Defines `name`_args and `name`_result; `success` is (TType, type args) or None (void)."""
    arg_fields = [(fid, ttype, fname, targs, None) for fid, ttype, fname, targs in args]
    args_cls = type(name + "_args", (_Struct,), {"thrift_spec": _spec(*arg_fields)})
    ALL_STRUCTS.append(args_cls)
    result_cls = None
    if not oneway:
        fields = [(0, success[0], "success", success[1], None)] if success else []
        fields += [(fid, TType.STRUCT, fname, [cls, None], None) for fid, fname, cls in throws]
        result_cls = type(name + "_result", (_Struct,), {"thrift_spec": _spec(*fields)})
        ALL_STRUCTS.append(result_cls)
    return Method(name, args_cls, result_cls, oneway)


def _echo(name, ttype, targs=None):
    return _method(name, [(1, ttype, "thing", targs)], success=(ttype, targs))


_I32_MAP = (TType.I32, None, TType.I32, None, False)
_XCEPTION = (1, "err1", Xception)

THRIFT_TEST = {m.name: m for m in [
    _method("testVoid"),
    _echo("testString", TType.STRING, "UTF8"),
    _echo("testBool", TType.BOOL),
    _echo("testByte", TType.BYTE),
    _echo("testI32", TType.I32),
    _echo("testI64", TType.I64),
    _echo("testDouble", TType.DOUBLE),
    _echo("testBinary", TType.STRING, "BINARY"),
    _echo("testUuid", TType.UUID),
    _echo("testStruct", TType.STRUCT, [Xtruct, None]),
    _echo("testNest", TType.STRUCT, [Xtruct2, None]),
    _echo("testMap", TType.MAP, _I32_MAP),
    _echo("testStringMap", TType.MAP, (TType.STRING, "UTF8", TType.STRING, "UTF8", False)),
    _echo("testSet", TType.SET, (TType.I32, None, False)),
    _echo("testList", TType.LIST, (TType.I32, None, False)),
    _echo("testEnum", TType.I32),
    _echo("testTypedef", TType.I64),
    _method("testMapMap", [(1, TType.I32, "hello", None)],
            success=(TType.MAP, (TType.I32, None, TType.MAP, _I32_MAP, False))),
    _method("testInsanity", [(1, TType.STRUCT, "argument", [Insanity, None])],
            success=(TType.MAP, (TType.I64, None, TType.MAP,
                                 (TType.I32, None, TType.STRUCT, [Insanity, None], False),
                                 False))),
    _method("testMulti", [
        (1, TType.BYTE, "arg0", None),
        (2, TType.I32, "arg1", None),
        (3, TType.I64, "arg2", None),
        (4, TType.MAP, "arg3", (TType.I16, None, TType.STRING, "UTF8", False)),
        (5, TType.I32, "arg4", None),
        (6, TType.I64, "arg5", None),
    ], success=(TType.STRUCT, [Xtruct, None])),
    _method("testException", [(1, TType.STRING, "arg", "UTF8")], throws=[_XCEPTION]),
    _method("testMultiException",
            [(1, TType.STRING, "arg0", "UTF8"), (2, TType.STRING, "arg1", "UTF8")],
            success=(TType.STRUCT, [Xtruct, None]),
            throws=[_XCEPTION, (2, "err2", Xception2)]),
    _method("testOneway", [(1, TType.I32, "secondsToSleep", None)], oneway=True),
]}

SECOND_SERVICE = {m.name: m for m in [
    _echo("secondtestString", TType.STRING, "UTF8"),
]}

fix_spec(ALL_STRUCTS)  # fills the thrift_spec of every [StructClass, None] type argument

# --------------------------------------------------------------------------------------
# Server side.


class Processor(TProcessor):
    """Dispatches one message to `handler` the way Apache's generated processors do: unknown
    method → skip the args and reply TApplicationException UNKNOWN_METHOD; oneway → no reply;
    a declared exception → the result struct; any other handler error → TApplicationException
    INTERNAL_ERROR. Replies echo the request's name and seqid. Under TMultiplexedProcessor the
    name read is the one with the `Service:` prefix removed, so replies carry the bare name, as
    the generated processors' `writeMessageBegin("testVoid", …)` do."""

    def __init__(self, handler, methods):
        self._handler, self._methods = handler, methods

    def process(self, iprot, oprot):
        name, _type, seqid = iprot.readMessageBegin()
        method = self._methods.get(name)
        if method is None:
            iprot.skip(TType.STRUCT)
            iprot.readMessageEnd()
            error = TApplicationException(TApplicationException.UNKNOWN_METHOD,
                                          "Unknown function %s" % name)
            return self._reply(oprot, name, TMessageType.EXCEPTION, seqid, error)
        args = method.args()
        args.read(iprot)
        iprot.readMessageEnd()
        call = getattr(self._handler, name)
        values = [getattr(args, n) for n in method.arg_names()]
        if method.oneway:
            return self._run_oneway(name, call, values)
        kind, result = self._run(method, call, values)
        self._reply(oprot, name, kind, seqid, result)

    @staticmethod
    def _run_oneway(name, call, values):
        try:
            call(*values)
        except TTransport.TTransportException:
            raise
        except Exception as e:  # noqa: BLE001
            log.warning("oneway %s raised %r", name, e)

    @staticmethod
    def _run(method, call, values):
        result = method.result()
        try:
            success = call(*values)
            if method.has_success():
                result.success = success
            return TMessageType.REPLY, result
        except TTransport.TTransportException:
            raise
        except TApplicationException as e:
            return TMessageType.EXCEPTION, e
        except Exception as e:  # noqa: BLE001 - classified below
            for fname, declared in method.exceptions():
                if isinstance(e, declared):
                    setattr(result, fname, e)
                    return TMessageType.REPLY, result
            log.info("%s raised the undeclared %r: replying INTERNAL_ERROR", method.name, e)
            return TMessageType.EXCEPTION, TApplicationException(
                TApplicationException.INTERNAL_ERROR, "Internal error")

    @staticmethod
    def _reply(oprot, name, kind, seqid, body):
        oprot.writeMessageBegin(name, kind, seqid)
        body.write(oprot)
        oprot.writeMessageEnd()
        oprot.trans.flush()


class _ReportingServerSocket(TSocket.TServerSocket):
    """A TServerSocket on 127.0.0.1 that reports the bound port once it listens."""

    def __init__(self, port, on_listening):
        super().__init__(host=common.HOST, port=port)
        self._on_listening = on_listening

    def listen(self):
        super().listen()
        self._on_listening(self.handle.getsockname()[1])


ALL_CLIENT_TYPES = [
    THeaderClientType.HEADERS,
    THeaderClientType.FRAMED_BINARY,
    THeaderClientType.UNFRAMED_BINARY,
    THeaderClientType.FRAMED_COMPACT,
    THeaderClientType.UNFRAMED_COMPACT,
]


def _server_factories(protocol, transport):
    if protocol == "header":
        # THeaderTransport reads frame lengths itself and detects unframed clients, so it sits
        # directly on the (buffered) socket, whatever --transport says.
        return (TTransport.TBufferedTransportFactory(),
                THeaderProtocol.THeaderProtocolFactory(ALL_CLIENT_TYPES))
    tfactory = (TTransport.TFramedTransportFactory() if transport == "framed"
                else TTransport.TBufferedTransportFactory())
    pfactory = (TCompactProtocol.TCompactProtocolFactory() if protocol == "compact"
                else TBinaryProtocol.TBinaryProtocolFactory())
    return tfactory, pfactory


def _multiplexed(thrift_test, verbose):
    """Apache's TMultiplexedProcessor set up as Apache's TestServer does for `multi*`: ThriftTest
    and SecondService by name, and ThriftTest as the default for unprefixed names. An unknown
    service name, or an unprefixed one without a default, makes it raise TProtocolException:
    the connection closes without a reply."""
    processor = TMultiplexedProcessor()
    processor.registerDefault(thrift_test)
    processor.registerProcessor(common.THRIFT_TEST, thrift_test)
    processor.registerProcessor(common.SECOND_SERVICE,
                                Processor(common.SecondServiceHandler(verbose), SECOND_SERVICE))
    return processor


def serve(port, protocol, transport, on_listening, verbose):
    def undeclared(message):
        return TException(message=message)

    handler = common.ThriftTestHandler(TYPES, undeclared, verbose)
    processor = Processor(handler, THRIFT_TEST)
    if common.is_multiplexed(protocol):
        processor = _multiplexed(processor, verbose)
    tfactory, pfactory = _server_factories(common.base_protocol(protocol), transport)
    server = TServer.TThreadedServer(processor, _ReportingServerSocket(port, on_listening),
                                     tfactory, pfactory, daemon=True)
    server.serve()


# --------------------------------------------------------------------------------------
# Client side.


def _next_i32(seqid):
    """The sequence id after `seqid`, wrapping from 2^31-1 to -2^31."""
    return ((seqid + 1 + 2**31) % 2**32) - 2**31


SERVICES = {common.THRIFT_TEST: THRIFT_TEST, common.SECOND_SERVICE: SECOND_SERVICE}


class Connection(object):
    """A hand-written ThriftTest client: sends its own seqids (`next_seqid`, wrapping at 32
    bits) and rejects a reply whose name, seqid or message type is not its call's.

    With a `multi*` protocol each service writes and reads through its own
    TMultiplexedProtocol over the one connection, as Apache's TestClient does; the seqid counter
    is shared. Names go out as `ThriftTest:testVoid`, and the reply must carry the bare
    `testVoid`: Apache's processors write that, and Apache's Go and Rust clients reject
    any other name (WRONG_METHOD_NAME)."""

    def __init__(self, host, port, protocol, transport, timeout_s):
        multiplexed = common.is_multiplexed(protocol)
        protocol = common.base_protocol(protocol)
        socket = TSocket.TSocket(host, port)
        socket.setTimeout(timeout_s * 1000)
        if protocol == "header":
            self._trans = TTransport.TBufferedTransport(socket)
            self._proto = THeaderProtocol.THeaderProtocol(
                self._trans, [THeaderClientType.HEADERS], THeaderSubprotocolID.BINARY)
        else:
            self._trans = (TTransport.TFramedTransport(socket) if transport == "framed"
                           else TTransport.TBufferedTransport(socket))
            self._proto = (TCompactProtocol.TCompactProtocol(self._trans) if protocol == "compact"
                           else TBinaryProtocol.TBinaryProtocol(self._trans))
        if multiplexed:
            self._protos = {name: TMultiplexedProtocol(self._proto, name) for name in SERVICES}
        else:
            self._protos = {common.THRIFT_TEST: self._proto}
        self._trans.open()
        self.next_seqid = 1
        self.last_sent_seqid = None

    def close(self):
        self._trans.close()

    def call(self, name, *args):
        """Calls ThriftTest's `name`; returns its result or raises what the server sent."""
        return self.call_service(common.THRIFT_TEST, name, *args)

    def call_service(self, service, name, *args):
        """Calls `service`'s `name` (a service other than ThriftTest needs a multi protocol)."""
        if service not in self._protos:
            raise common.CheckFailed("%s needs a multiplexed protocol" % service)
        method = SERVICES[service][name]
        return self._invoke(self._protos[service], name, method, method.args(*args))

    def call_unknown(self, name):
        """Calls a method ThriftTest does not have, with empty args; expects no reply struct."""
        return self._invoke(self._protos[common.THRIFT_TEST], name, THRIFT_TEST["testVoid"],
                            THRIFT_TEST["testVoid"].args())

    def _invoke(self, proto, name, method, args):
        seqid = self.next_seqid
        self.next_seqid = _next_i32(seqid)
        self.last_sent_seqid = seqid
        kind = TMessageType.ONEWAY if method.oneway else TMessageType.CALL
        proto.writeMessageBegin(name, kind, seqid)  # TMultiplexedProtocol adds `Service:`
        args.write(proto)
        proto.writeMessageEnd()
        proto.trans.flush()
        if method.oneway:
            return None
        return self._receive(proto, name, seqid, method)

    def _receive(self, proto, name, seqid, method):
        rname, kind, rseqid = proto.readMessageBegin()
        if kind == TMessageType.EXCEPTION:
            body = TApplicationException()
        else:
            body = method.result()
        body.read(proto)
        proto.readMessageEnd()
        if (rname, rseqid) != (name, seqid):
            sent = getattr(proto, "serviceName", None)
            sent = "%s:%s" % (sent, name) if sent else name
            raise common.ReplyMismatch("sent %s with seqid %d, the reply is %s with seqid %d%s"
                                       % (sent, seqid, rname, rseqid,
                                          " (expected the bare name %s)" % name
                                          if sent != name else ""))
        if kind == TMessageType.EXCEPTION:
            raise body
        if kind != TMessageType.REPLY:
            raise common.ReplyMismatch("the reply to %s has message type %d" % (name, kind))
        return self._unpack(name, method, body)

    @staticmethod
    def _unpack(name, method, result):
        if method.has_success() and result.success is not None:
            return result.success
        for fname, _ in method.exceptions():
            if getattr(result, fname) is not None:
                raise getattr(result, fname)
        if not method.has_success():
            return None  # void
        raise TApplicationException(TApplicationException.MISSING_RESULT,
                                    "%s failed: unknown result" % name)


class TYPES(object):
    """The classes the shared checks and handler build values with."""

    Xtruct, Xtruct2, Insanity, Xception, Xception2 = Xtruct, Xtruct2, Insanity, Xception, Xception2
    TApplicationException = TApplicationException
    Numberz = Numberz


PEER = common.Peer(
    name="apache",
    protocols=("binary", "compact", "header") + tuple(common.MULTIPLEXED),
    serve=serve,
    connect=Connection,
    types=TYPES,
)

if __name__ == "__main__":
    sys.exit(common.main(PEER, __doc__.split("\n\n")[0]))
