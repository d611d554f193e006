#!/usr/bin/env python3
"""ThriftTest peer built on thriftpy2, for ringrpc's cross tests.

thriftpy2 parses IDL at run time, so the service comes from test/ThriftTest.thrift itself
(`--idl`, else $RINGRPC_THRIFTTEST_IDL, else ../shared/idl/ThriftTest.thrift beside the
workspace), read into memory and trimmed of what thriftpy2 cannot parse: `namespace` lines
(the annotated `namespace xsd … (uri = …)` is a grammar error) and the `uuid` members and
method (thriftpy2 has no uuid type). The wire stack is thriftpy2's pure-Python one
(`protocol.binary`/`protocol.compact`, `transport.buffered`/`transport.framed`); the package
level factories are the Cython ones. Serving uses TThreadedServer with no idle timeout
(thriftpy2's make_server closes connections idle for 3 s); the client is thriftpy2's TClient.

    thriftpy2_peer.py server --port 0 --port-file PATH --protocol binary|compact|multi|multic
                             --transport framed|buffered
    thriftpy2_peer.py client --host 127.0.0.1 --port N --protocol … --transport …
                             [--skip NAME,NAME…]

`multi` and `multic` are binary and compact plus thriftpy2's multiplexing: the server is a
`thriftpy2.thrift.TMultiplexedProcessor` with "ThriftTest" and "SecondService" (it has no
default service, so unprefixed names are refused); the client is one TClient per service over
`thriftpy2.protocol.TMultiplexedProtocol` on the one connection.

See README.md beside this file for the checks and thriftpy2's known limitations.
"""

import io
import os
import re
import sys

import thriftpy2
from thriftpy2.protocol.binary import TBinaryProtocolFactory
from thriftpy2.protocol.compact import TCompactProtocolFactory
from thriftpy2.protocol.multiplex import TMultiplexedProtocol
from thriftpy2.server import TThreadedServer
from thriftpy2.thrift import TApplicationException, TClient, TMultiplexedProcessor, TProcessor
from thriftpy2.transport import TServerSocket, TSocket
from thriftpy2.transport.buffered import TBufferedTransportFactory
from thriftpy2.transport.framed import TFramedTransportFactory

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the work tree
import thrifttest_common as common  # noqa: E402

WORKSPACE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_IDL = os.path.join(os.path.dirname(WORKSPACE), "shared", "idl", "ThriftTest.thrift")

# What thriftpy2 0.7 cannot parse in ThriftTest.thrift, one line each.
_UNPARSABLE = [
    ("namespace", re.compile(r"^\s*namespace\s.*$", re.M)),
    ("uuid member", re.compile(r"^\s*-?\d+\s*:\s*(?:required\s+|optional\s+)?uuid\s+\w+[^\n]*$",
                               re.M)),
    ("uuid method", re.compile(r"^\s*uuid\s+\w+\s*\([^)]*\)[^\n]*$", re.M)),
]


def thriftpy2_idl(text):
    """`text` without the lines thriftpy2 cannot parse; returns (text, what was removed)."""
    removed = []
    for what, pattern in _UNPARSABLE:
        text, count = pattern.subn("", text)
        removed.append("%d %s line(s)" % (count, what))
    return text, removed


def load_thrift_test(path):
    with open(path, encoding="utf-8") as f:
        text, _ = thriftpy2_idl(f.read())
    return thriftpy2.load_fp(io.StringIO(text), module_name="ThriftTest_thrift")


class _Types(object):
    """The classes the shared checks and handler build values with (filled by setup)."""

    TApplicationException = TApplicationException


TYPES = _Types()
_module = None


def setup(options):
    global _module
    _module = load_thrift_test(options.idl)
    for name in ("Xtruct", "Xtruct2", "Insanity", "Xception", "Xception2", "Numberz"):
        setattr(TYPES, name, getattr(_module, name))


def _factories(protocol, transport):
    protocol = common.base_protocol(protocol)
    # The pure-Python classes: thriftpy2.protocol.TBinaryProtocolFactory and
    # thriftpy2.transport.T*TransportFactory are the Cython ones. The pure framed factory
    # wraps TFramedTransport (which may return short reads) in TBufferedTransport.
    tfactory = TFramedTransportFactory() if transport == "framed" else TBufferedTransportFactory()
    pfactory = TCompactProtocolFactory() if protocol == "compact" else TBinaryProtocolFactory()
    return tfactory, pfactory


# --------------------------------------------------------------------------------------
# Server side.


class _ReportingServerSocket(TServerSocket):
    """A TServerSocket on 127.0.0.1 with no idle timeout that reports its bound port."""

    def __init__(self, port, on_listening):
        super().__init__(host=common.HOST, port=port, client_timeout=None)
        self._on_listening = on_listening

    def listen(self):
        super().listen()
        self._on_listening(self.sock.getsockname()[1])


def _undeclared(message):
    # thriftpy2's TProcessor re-raises an exception the method does not declare, and its
    # server then drops the connection without a reply; a TApplicationException raised by
    # the handler is sent as is. So testException("TException") raises that directly.
    return TApplicationException(TApplicationException.INTERNAL_ERROR, message)


def _multiplexed(thrift_test, verbose):
    """thriftpy2's TMultiplexedProcessor with ThriftTest and SecondService. It has no default
    service: an unprefixed name raises TException and the server closes the connection without
    a reply. An unknown service gets TApplicationException UNKNOWN_METHOD; an unknown method of
    a known service raises AttributeError (no `<method>_args`), which also closes the
    connection. Replies carry the bare method name."""
    processor = TMultiplexedProcessor()
    processor.register_processor(common.THRIFT_TEST, thrift_test)
    processor.register_processor(common.SECOND_SERVICE,
                                 TProcessor(_module.SecondService,
                                            common.SecondServiceHandler(verbose)))
    return processor


def serve(port, protocol, transport, on_listening, verbose):
    handler = common.ThriftTestHandler(TYPES, _undeclared, verbose)
    processor = TProcessor(_module.ThriftTest, handler)
    if common.is_multiplexed(protocol):
        processor = _multiplexed(processor, verbose)
    tfactory, pfactory = _factories(protocol, transport)
    server = TThreadedServer(processor, _ReportingServerSocket(port, on_listening),
                             itrans_factory=tfactory, iprot_factory=pfactory, daemon=True)
    server.serve()


# --------------------------------------------------------------------------------------
# Client side.


class _RecordingProtocol(object):
    """Wraps a protocol and remembers the last message header read (TClient checks none)."""

    def __init__(self, protocol):
        self._protocol = protocol
        self.last_reply = None

    def read_message_begin(self):
        self.last_reply = self._protocol.read_message_begin()
        return self.last_reply

    def __getattr__(self, name):
        return getattr(self._protocol, name)


class Connection(object):
    """thriftpy2's TClient on one connection. TClient always sends seqid 0 and never looks
    at the reply's name or seqid, so this checks both after every two-way call.

    With `multi`/`multic` there is one TClient per service, each over its own
    TMultiplexedProtocol (which prefixes `Service:` to outgoing calls) on the same protocol
    and connection; a reply must carry the bare method name, as Apache's processors write it."""

    SEQID = 0

    def __init__(self, host, port, protocol, transport, timeout_s):
        tfactory, pfactory = _factories(protocol, transport)
        millis = int(timeout_s * 1000)
        socket = TSocket(host, port, socket_timeout=millis, connect_timeout=millis)
        self._trans = tfactory.get_transport(socket)
        self._proto = _RecordingProtocol(pfactory.get_protocol(self._trans))
        self._trans.open()
        self._multiplexed = common.is_multiplexed(protocol)
        services = [common.THRIFT_TEST]
        if self._multiplexed:
            services.append(common.SECOND_SERVICE)
        self._clients = {}
        for name in services:
            proto = TMultiplexedProtocol(self._proto, name) if self._multiplexed else self._proto
            self._clients[name] = TClient(getattr(_module, name), proto)

    def close(self):
        self._trans.close()

    def call(self, name, *args):
        return self.call_service(common.THRIFT_TEST, name, *args)

    def call_service(self, service, name, *args):
        if service not in self._clients:
            raise common.CheckFailed("%s needs a multiplexed protocol" % service)
        oneway = getattr(getattr(getattr(_module, service), name + "_result"), "oneway")
        self._proto.last_reply = None
        try:
            value = getattr(self._clients[service], name)(*args)
        finally:
            if not oneway:
                self._check_reply(service, name)
        return value

    def _check_reply(self, service, name):
        if self._proto.last_reply is None:
            return  # the call failed before a reply arrived; its own error says why
        rname, kind, rseqid = self._proto.last_reply
        if (rname, rseqid) != (name, self.SEQID):
            sent = "%s:%s" % (service, name) if self._multiplexed else name
            raise common.ReplyMismatch("sent %s with seqid %d, the reply is %s with seqid %d%s"
                                       % (sent, self.SEQID, rname, rseqid,
                                          " (expected the bare name %s)" % name
                                          if self._multiplexed else ""))


def _extra_args(parser):
    parser.add_argument(
        "--idl", default=os.environ.get("RINGRPC_THRIFTTEST_IDL", DEFAULT_IDL),
        help="ThriftTest.thrift to load (default: $RINGRPC_THRIFTTEST_IDL or %(default)s)")


PEER = common.Peer(
    name="thriftpy2",
    protocols=("binary", "compact", "multi", "multic"),
    serve=serve,
    connect=Connection,
    types=TYPES,
    missing={
        "uuid": "thriftpy2 has no uuid type",
        "seqid": "thriftpy2's TClient always sends seqid 0",
        "raw_call": "thriftpy2's TClient only calls methods of the loaded IDL",
    },
    extra_args=_extra_args,
    setup=setup,
)

if __name__ == "__main__":
    sys.exit(common.main(PEER, __doc__.split("\n\n")[0]))
