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

    thriftpy2_peer.py server --port 0 --port-file PATH --protocol binary|compact
                             --transport framed|buffered
    thriftpy2_peer.py client --host 127.0.0.1 --port N --protocol … --transport …
                             [--skip NAME,NAME…]

See README.md beside this file for the checks and thriftpy2's known limitations.
"""

import io
import os
import re
import sys

import thriftpy2
from thriftpy2.protocol.binary import TBinaryProtocolFactory
from thriftpy2.protocol.compact import TCompactProtocolFactory
from thriftpy2.server import TThreadedServer
from thriftpy2.thrift import TApplicationException, TClient, TProcessor
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


def serve(port, protocol, transport, on_listening, verbose):
    handler = common.ThriftTestHandler(TYPES, _undeclared, verbose)
    tfactory, pfactory = _factories(protocol, transport)
    server = TThreadedServer(TProcessor(_module.ThriftTest, handler),
                             _ReportingServerSocket(port, on_listening),
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
    at the reply's name or seqid, so this checks both after every two-way call."""

    SEQID = 0

    def __init__(self, host, port, protocol, transport, timeout_s):
        tfactory, pfactory = _factories(protocol, transport)
        millis = int(timeout_s * 1000)
        socket = TSocket(host, port, socket_timeout=millis, connect_timeout=millis)
        self._trans = tfactory.get_transport(socket)
        self._proto = _RecordingProtocol(pfactory.get_protocol(self._trans))
        self._trans.open()
        self._client = TClient(_module.ThriftTest, self._proto)

    def close(self):
        self._trans.close()

    def call(self, name, *args):
        oneway = getattr(getattr(_module.ThriftTest, name + "_result"), "oneway")
        self._proto.last_reply = None
        try:
            value = getattr(self._client, name)(*args)
        finally:
            if not oneway:
                self._check_reply(name)
        return value

    def _check_reply(self, name):
        if self._proto.last_reply is None:
            return  # the call failed before a reply arrived; its own error says why
        rname, kind, rseqid = self._proto.last_reply
        if (rname, rseqid) != (name, self.SEQID):
            raise common.ReplyMismatch("sent %s with seqid %d, the reply is %s with seqid %d"
                                       % (name, self.SEQID, rname, rseqid))


def _extra_args(parser):
    parser.add_argument(
        "--idl", default=os.environ.get("RINGRPC_THRIFTTEST_IDL", DEFAULT_IDL),
        help="ThriftTest.thrift to load (default: $RINGRPC_THRIFTTEST_IDL or %(default)s)")


PEER = common.Peer(
    name="thriftpy2",
    protocols=("binary", "compact"),
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
