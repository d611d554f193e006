"""The part of ringrpc's ThriftTest interop peers that is the same for every library.

`apache_peer.py` (Apache Thrift's Python library) and `thriftpy2_peer.py` (thriftpy2) each
describe themselves as a `Peer`: how to serve ThriftTest, how to open a client connection,
and which struct and exception classes to build values with. This module gives them one
command line, the ThriftTest handler contract (WIRE.md §1.2) in library-neutral terms, and
the client's fixed list of named checks with its runner and report format:

    ok   <name>
    FAIL <name>: <what was expected, what came back>
    skip <name>: <reason>
    N passed, M failed

The `multi*` protocols (Apache's cross-test names) are a base protocol plus
TMultiplexedProtocol: message names are `ThriftTest:method` and `SecondService:method` on one
connection. `MULTIPLEXED` maps each to its base protocol.

Only the standard library is used here; everything that touches the wire is in the peers.
"""

import argparse
import fnmatch
import logging
import math
import os
import signal
import struct
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

HOST = "127.0.0.1"
DEFAULT_TIMEOUT_S = 10.0
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

# Exit codes of the client.
EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2

# The multiplexed protocols of Apache's cross-test runner and the protocol each one wraps.
MULTIPLEXED = {"multi": "binary", "multic": "compact", "multih": "header"}
# The service names a multiplexed client prefixes (`ThriftTest:testVoid`).
THRIFT_TEST, SECOND_SERVICE = "ThriftTest", "SecondService"


def is_multiplexed(protocol):
    return protocol in MULTIPLEXED


def base_protocol(protocol):
    """The protocol under a `multi*` one (`multic` -> `compact`); others are their own base."""
    return MULTIPLEXED.get(protocol, protocol)


class CheckFailed(Exception):
    """A check saw a wrong value; the message says what was expected and what came back."""


class ReplyMismatch(Exception):
    """A reply did not carry the method name, sequence id or message type of its call."""


@dataclass
class Peer:
    """One Thrift implementation, as the shared command line and checks need it."""

    name: str
    protocols: tuple
    # serve(port, protocol, transport, on_listening(port), verbose): blocks until killed.
    serve: Callable
    # connect(host, port, protocol, transport, timeout_s) -> a connection with
    # call(method, *args) (ThriftTest), call_service(service, method, *args) (multiplexed
    # protocols only), close() and, for the `seqid`/`raw_call` capabilities,
    # next_seqid / last_sent_seqid / call_unknown(name).
    connect: Callable
    # Struct, exception and enum classes: Xtruct, Xtruct2, Insanity, Xception, Xception2,
    # TApplicationException, Numberz.
    types: Any
    # Capabilities this peer's client lacks, each with the reason printed on `skip`.
    missing: dict = field(default_factory=dict)
    # Adds peer-specific options to both sub-commands.
    extra_args: Callable = lambda parser: None
    # Called with the parsed options before serving or connecting.
    setup: Callable = lambda options: None


# --------------------------------------------------------------------------------------
# The server side: ThriftTest's contract, written against the peer's classes.


class ThriftTestHandler:
    """The ThriftTest handler of WIRE.md §1.2: echoes, fixed answers, declared exceptions.

    `undeclared_error()` builds what testException("TException") raises: something the
    service does not declare, which the server must send as a TApplicationException.
    """

    def __init__(self, types, undeclared_error, verbose=False):
        self.t = types
        self._undeclared_error = undeclared_error
        self._verbose = verbose

    def _log(self, text):
        if self._verbose:
            print(text, file=sys.stderr, flush=True)

    def testVoid(self):
        self._log("testVoid()")

    def _echo(name):
        def echo(self, thing):
            self._log("%s(%s)" % (name, brief(thing)))
            return thing

        echo.__name__ = name
        return echo

    testString = _echo("testString")
    testBool = _echo("testBool")
    testByte = _echo("testByte")
    testI32 = _echo("testI32")
    testI64 = _echo("testI64")
    testDouble = _echo("testDouble")
    testBinary = _echo("testBinary")
    testUuid = _echo("testUuid")
    testStruct = _echo("testStruct")
    testNest = _echo("testNest")
    testMap = _echo("testMap")
    testStringMap = _echo("testStringMap")
    testSet = _echo("testSet")
    testList = _echo("testList")
    testEnum = _echo("testEnum")
    testTypedef = _echo("testTypedef")
    del _echo

    def testMapMap(self, hello):
        self._log("testMapMap(%d)" % hello)
        return map_map_answer()

    def testInsanity(self, argument):
        self._log("testInsanity(%s)" % brief(argument))
        return {1: {2: argument, 3: argument}, 2: {6: self.t.Insanity()}}

    def testMulti(self, arg0, arg1, arg2, arg3, arg4, arg5):
        self._log("testMulti(%r, %r, %r, %r, %r, %r)" % (arg0, arg1, arg2, arg3, arg4, arg5))
        return self.t.Xtruct(string_thing="Hello2", byte_thing=arg0, i32_thing=arg1, i64_thing=arg2)

    def testException(self, arg):
        self._log("testException(%r)" % arg)
        if arg == "Xception":
            raise self.t.Xception(errorCode=1001, message=arg)
        if arg == "TException":
            raise self._undeclared_error("This is a TException")

    def testMultiException(self, arg0, arg1):
        self._log("testMultiException(%r, %r)" % (arg0, arg1))
        if arg0 == "Xception":
            raise self.t.Xception(errorCode=1001, message="This is an Xception")
        if arg0 == "Xception2":
            raise self.t.Xception2(
                errorCode=2002, struct_thing=self.t.Xtruct(string_thing="This is an Xception2")
            )
        return self.t.Xtruct(string_thing=arg1)

    def testOneway(self, secondsToSleep):
        self._log("testOneway(%r): sleeping" % secondsToSleep)
        time.sleep(max(0, secondsToSleep or 0))
        self._log("testOneway(%r): done" % secondsToSleep)


class SecondServiceHandler:
    """SecondService: `secondtestString(thing)` returns 'testString("<thing>")'."""

    def __init__(self, verbose=False):
        self._verbose = verbose

    def secondtestString(self, thing):
        if self._verbose:
            print("secondtestString(%s)" % brief(thing), file=sys.stderr, flush=True)
        return second_test_string_answer(thing)


def second_test_string_answer(thing):
    return 'testString("%s")' % thing


def map_map_answer():
    """testMapMap's fixed answer."""
    return {-4: {-4: -4, -3: -3, -2: -2, -1: -1}, 4: {1: 1, 2: 2, 3: 3, 4: 4}}


def write_port_file(path, port):
    """Writes `port` to `path` atomically: a reader sees no file or the whole number."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w") as out:
        out.write("%d\n" % port)
    os.replace(tmp, path)


def exit_on_signals():
    """SIGTERM and SIGINT end the process with status 0 (the serving threads are daemons)."""

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


class _BoundedLog(logging.Filter):
    """Keeps a server's stderr small: one line per record (tracebacks only with --verbose)
    and at most `limit` records. A test harness may pipe stderr without reading it, and a
    full pipe would block the server."""

    def __init__(self, verbose, limit=100, width=240):
        super().__init__()
        self._verbose, self._limit, self._width, self._count = verbose, limit, width, 0

    def filter(self, record):
        self._count += 1
        if self._count > self._limit + 1:
            return False
        if self._count == self._limit + 1:
            record.msg, record.args, record.exc_info = "further log records suppressed", (), None
        elif record.exc_info and not self._verbose:
            kind, value = record.exc_info[0], record.exc_info[1]
            record.msg = "%s (%s: %s)" % (record.getMessage(), kind.__name__, value)
            record.args, record.exc_info, record.exc_text = (), None, None
        if not self._verbose:
            record.msg, record.args = brief_text(record.getMessage(), self._width), ()
        return True


def configure_server_logging(peer, verbose):
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(peer.name + " server: %(name)s: %(message)s"))
    handler.addFilter(_BoundedLog(verbose))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


def run_server(peer, options):
    def on_listening(port):
        print("%s server: listening on %s:%d (%s/%s)"
              % (peer.name, HOST, port, options.protocol, options.transport),
              file=sys.stderr, flush=True)
        if options.port_file:
            write_port_file(options.port_file, port)

    exit_on_signals()
    configure_server_logging(peer, options.verbose)
    try:
        peer.serve(options.port, options.protocol, options.transport, on_listening,
                   options.verbose)
    except OSError as e:
        print("%s server: cannot serve on %s:%d: %s" % (peer.name, HOST, options.port, e),
              file=sys.stderr)
        return EXIT_SETUP
    return EXIT_OK


# --------------------------------------------------------------------------------------
# The client side: named checks.


def brief(value, limit=160):
    """`repr(value)`, cut to a readable length (values under test reach 1 MiB)."""
    return brief_text(repr(value), limit)


def brief_text(text, limit):
    if len(text) <= limit:
        return text
    return "%s… (%d characters)" % (text[:limit], len(text))


def expect_equal(got, want, sent=None):
    """`got` must equal `want`, with the same Python type (True is not 1)."""
    if got == want and type(got) is type(want):
        return
    if sent is None or sent == want:
        raise CheckFailed("sent %s, got %s back" % (brief(want), brief(got)))
    raise CheckFailed("sent %s, expected %s, got %s back" % (brief(sent), brief(want), brief(got)))


def echo(conn, method, value, want=None):
    """Calls `method(value)` and expects `want` (default: `value`) back."""
    got = conn.call(method, value)
    expect_equal(got, value if want is None else want, sent=value)


def double_bits(x):
    return struct.unpack(">Q", struct.pack(">d", x))[0]


def echo_double(conn, value):
    got = conn.call("testDouble", value)
    if not isinstance(got, float):
        raise CheckFailed("sent %r, got %s back" % (value, brief(got)))
    if math.isnan(value) and math.isnan(got):
        return
    if double_bits(got) != double_bits(value):
        raise CheckFailed("sent %r (%#018x), got %r (%#018x) back"
                          % (value, double_bits(value), got, double_bits(got)))


def xtruct_fields(x):
    return (x.string_thing, x.byte_thing, x.i32_thing, x.i64_thing)


def insanity_fields(x):
    """An Insanity by value; an absent container counts as an empty one."""
    return (dict(x.userMap or {}), [xtruct_fields(e) for e in (x.xtructs or [])])


def expect_xtruct(got, want):
    if not hasattr(got, "string_thing") or xtruct_fields(got) != xtruct_fields(want):
        raise CheckFailed("expected %s, got %s" % (brief(want), brief(got)))


def expect_app_exception(t, call, what):
    """Runs `call`, which must raise a TApplicationException; returns it."""
    try:
        got = call()
    except t.TApplicationException as e:
        return e
    except Exception as e:  # noqa: BLE001 - anything else is the failure we report
        raise CheckFailed("expected a TApplicationException from %s, got %r" % (what, e))
    raise CheckFailed("expected a TApplicationException from %s, got the reply %s"
                      % (what, brief(got)))


def test_strings():
    return [
        ("empty", ""),
        ("python", "Python" * 20),
        ("multilingual", "Ünïcödé ☃ 日本語 العربية Ελληνικά Русский 한국어 🦀 \u0000 \"\\\n\t"),
        ("64k", "ringrpc " * (8 * 1024)),
    ]


def mebibyte():
    return bytes((i * 7 + i // 256) & 0xFF for i in range(1 << 20))


def insanity_argument(t):
    return t.Insanity(
        userMap={t.Numberz.FIVE: 5, t.Numberz.EIGHT: 8},
        xtructs=[
            t.Xtruct(string_thing="Goodbye4", byte_thing=4, i32_thing=4, i64_thing=4),
            t.Xtruct(string_thing="Hello2", byte_thing=2, i32_thing=2, i64_thing=2),
        ],
    )


@dataclass
class Check:
    name: str
    run: Callable  # run(conn, types)
    needs: str = ""  # a capability the client must have, or ""
    multiplexed_only: bool = False  # runs only with a `multi*` protocol


def _value_checks():
    checks = [Check("testVoid", lambda c, t: expect_equal(c.call("testVoid"), None))]
    for name, s in test_strings():
        checks.append(Check("testString." + name, lambda c, t, s=s: echo(c, "testString", s)))
    for b in (True, False):
        checks.append(Check("testBool.%s" % str(b).lower(),
                            lambda c, t, b=b: echo(c, "testBool", b)))
    for method, values in (
        ("testByte", [("zero", 0), ("one", 1), ("minus_one", -1), ("max", 127), ("min", -128)]),
        ("testI32", [("zero", 0), ("one", 1), ("minus_one", -1), ("max", I32_MAX),
                     ("min", I32_MIN)]),
        ("testI64", [("zero", 0), ("minus_one", -1), ("max", I64_MAX), ("min", I64_MIN),
                     ("apache", -34359738368)]),
    ):
        for name, v in values:
            checks.append(Check("%s.%s" % (method, name),
                                lambda c, t, m=method, v=v: echo(c, m, v)))
    for name, v in [
        ("zero", 0.0), ("negative_zero", -0.0), ("apache", -5.235098235), ("tiny", 1e-308),
        ("subnormal", 5e-324), ("max", 1.7976931348623157e308), ("inf", math.inf),
        ("negative_inf", -math.inf), ("nan", math.nan),
    ]:
        checks.append(Check("testDouble." + name, lambda c, t, v=v: echo_double(c, v)))
    for name, v in [("empty", b""), ("all_bytes", bytes(range(256))), ("1mib", mebibyte())]:
        checks.append(Check("testBinary." + name, lambda c, t, v=v: echo(c, "testBinary", v)))
    for name, v in [
        ("apache", uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")),
        ("nil", uuid.UUID(int=0)),
        ("ff", uuid.UUID(bytes=b"\xff" * 16)),
    ]:
        checks.append(Check("testUuid." + name, lambda c, t, v=v: echo(c, "testUuid", v),
                            needs="uuid"))
    return checks


def _check_struct(conn, t, fields):
    x = t.Xtruct(**fields)
    expect_xtruct(conn.call("testStruct", x), x)


def _check_nest(conn, t):
    inner = t.Xtruct(string_thing="Zero", byte_thing=1, i32_thing=-3, i64_thing=-5)
    nest = t.Xtruct2(byte_thing=1, struct_thing=inner, i32_thing=5)
    got = conn.call("testNest", nest)
    if (getattr(got, "byte_thing", None), getattr(got, "i32_thing", None)) != (1, 5):
        raise CheckFailed("expected %s, got %s" % (brief(nest), brief(got)))
    expect_xtruct(got.struct_thing, inner)


def _check_set(conn, values):
    got = conn.call("testSet", set(values))
    # thriftpy2 reads a set as a list; either way it must hold each value once.
    if got is None or len(got) != len(values) or set(got) != set(values):
        raise CheckFailed("sent %s, got %s back" % (brief(set(values)), brief(got)))


def _struct_checks():
    zero = dict(string_thing="Zero", byte_thing=1, i32_thing=-3, i64_thing=-5)
    extremes = dict(string_thing="", byte_thing=-128, i32_thing=I32_MIN, i64_thing=I64_MAX)
    checks = [
        Check("testStruct.apache", lambda c, t: _check_struct(c, t, zero)),
        Check("testStruct.extremes", lambda c, t: _check_struct(c, t, extremes)),
        Check("testNest", _check_nest),
    ]
    for name, v in [
        ("empty", {}),
        ("apache", {0: 1, 1: 2, 2: 3, 3: 4, -1: -2}),
        ("extremes", {I32_MIN: I32_MAX, I32_MAX: I32_MIN}),
    ]:
        checks.append(Check("testMap." + name, lambda c, t, v=v: echo(c, "testMap", v)))
    multilingual = {"a": "2", "b": "blah", "日本語": "ελληνικά", "": "🦀", "empty": ""}
    for name, v in [("empty", {}), ("multilingual", multilingual)]:
        checks.append(Check("testStringMap." + name,
                            lambda c, t, v=v: echo(c, "testStringMap", v)))
    for name, v in [("empty", []), ("apache", [8, 1, 42, I32_MIN])]:
        checks.append(Check("testSet." + name, lambda c, t, v=v: _check_set(c, v)))
    for name, v in [("empty", []), ("apache", [1, 4, 9, -42, I32_MAX, I32_MIN])]:
        checks.append(Check("testList." + name, lambda c, t, v=v: echo(c, "testList", v)))
    for name in ("ONE", "TWO", "THREE", "FIVE", "SIX", "EIGHT"):
        checks.append(Check("testEnum." + name,
                            lambda c, t, n=name: echo(c, "testEnum", getattr(t.Numberz, n))))
    for name, v in [("apache", 0xFFFFFFFFFFFFFF), ("min", I64_MIN)]:
        checks.append(Check("testTypedef." + name, lambda c, t, v=v: echo(c, "testTypedef", v)))
    checks += [
        Check("testMapMap", lambda c, t: expect_equal(c.call("testMapMap", 42), map_map_answer(),
                                                      sent=42)),
        Check("testInsanity", _check_insanity),
        Check("testMulti", _check_multi),
    ]
    return checks


def _check_insanity(conn, t):
    argument = insanity_argument(t)
    got = conn.call("testInsanity", argument)
    arg, empty = insanity_fields(argument), ({}, [])
    want = {1: {2: arg, 3: arg}, 2: {6: empty}}
    try:
        shape = {k: {n: insanity_fields(i) for n, i in v.items()} for k, v in got.items()}
    except (AttributeError, TypeError):
        shape = got
    if shape != want:
        raise CheckFailed("expected %s, got %s" % (brief(want), brief(got)))


def _check_multi(conn, t):
    got = conn.call("testMulti", 74, 0xFF00FF, 0xFFFFFFFFD0D0, {0: "abc"}, t.Numberz.FIVE,
                    0xF0F0F0)
    expect_xtruct(got, t.Xtruct(string_thing="Hello2", byte_thing=74, i32_thing=0xFF00FF,
                                i64_thing=0xFFFFFFFFD0D0))


def _expect_declared(call, cls, describe, matches):
    try:
        got = call()
    except cls as e:
        if matches(e):
            return
        raise CheckFailed("expected %s, got %r" % (describe, e))
    except Exception as e:  # noqa: BLE001
        raise CheckFailed("expected %s, got %r" % (describe, e))
    raise CheckFailed("expected %s, got the reply %s" % (describe, brief(got)))


def _check_exception_xception(conn, t):
    _expect_declared(lambda: conn.call("testException", "Xception"), t.Xception,
                     'Xception(1001, "Xception")',
                     lambda e: (e.errorCode, e.message) == (1001, "Xception"))


def _check_exception_texception(conn, t):
    e = expect_app_exception(t, lambda: conn.call("testException", "TException"),
                             'testException("TException")')
    try:
        expect_equal(conn.call("testString", "still there"), "still there")
    except Exception as after:  # noqa: BLE001
        raise CheckFailed("got %r, but the next call on the connection failed: %r" % (e, after))


def _check_multi_exception_xception(conn, t):
    _expect_declared(lambda: conn.call("testMultiException", "Xception", "test 1"),
                     t.Xception, 'Xception(1001, "This is an Xception")',
                     lambda e: (e.errorCode, e.message) == (1001, "This is an Xception"))


def _check_multi_exception_xception2(conn, t):
    def matches(e):
        thing = getattr(e.struct_thing, "string_thing", None)
        return (e.errorCode, thing) == (2002, "This is an Xception2")

    _expect_declared(lambda: conn.call("testMultiException", "Xception2", "test 2"),
                     t.Xception2, 'Xception2(2002, Xtruct("This is an Xception2"))', matches)


def _check_multi_exception_success(conn, t):
    got = conn.call("testMultiException", "success", "test 3")
    if getattr(got, "string_thing", None) != "test 3":
        raise CheckFailed('expected Xtruct(string_thing="test 3"), got %s' % brief(got))


def _check_oneway(conn, t):
    started = time.monotonic()
    conn.call("testOneway", 1)
    took = time.monotonic() - started
    if took >= 1.0:
        raise CheckFailed("testOneway(1) took %.3f s to return; a oneway call must not wait"
                          % took)
    try:
        conn.call("testVoid")
    except Exception as e:  # noqa: BLE001
        raise CheckFailed("testVoid right after testOneway(1) failed: %r" % e)


def _check_oneway_no_reply(conn, t):
    # A reply to the oneway call would be read as testI32's and fail the name/seqid check.
    conn.call("testOneway", 0)
    expect_equal(conn.call("testI32", 101), 101)


def _exception_checks():
    return [
        Check("testException.Xception", _check_exception_xception),
        Check("testException.TException", _check_exception_texception),
        Check("testException.success",
              lambda c, t: expect_equal(c.call("testException", "success"), None)),
        Check("testMultiException.Xception", _check_multi_exception_xception),
        Check("testMultiException.Xception2", _check_multi_exception_xception2),
        Check("testMultiException.success", _check_multi_exception_success),
        Check("testOneway", _check_oneway),
        Check("oneway.no_reply", _check_oneway_no_reply),
    ]


def _check_unknown_method(conn, t):
    e = expect_app_exception(t, lambda: conn.call_unknown("noSuchMethod"), "noSuchMethod()")
    if e.type != t.TApplicationException.UNKNOWN_METHOD:
        raise CheckFailed("expected TApplicationException UNKNOWN_METHOD (1), got type %r: %r"
                          % (e.type, e))
    try:
        expect_equal(conn.call("testI32", 7), 7)
    except Exception as after:  # noqa: BLE001
        raise CheckFailed("the call after the unknown method failed: %r" % after)


def _seqid_calls(conn, t, first, calls):
    """Sends `calls` (method, args, expected result) with seqids from `first` on, wrapping
    at 32 bits; the connection checks each reply's name and seqid. testException calls must
    raise a TApplicationException. Returns the last seqid sent."""
    conn.next_seqid = first
    for method, args, want in calls:
        sent = conn.next_seqid
        if method == "testException":
            expect_app_exception(t, lambda: conn.call(method, *args), "%s%r" % (method, args))
        else:
            got = conn.call(method, *args)
            if got != want:
                raise CheckFailed("seqid %d: %s%s returned %s, expected %s"
                                  % (sent, method, brief(args), brief(got), brief(want)))
    return conn.last_sent_seqid


def _check_seqid_zero(conn, t):
    _seqid_calls(conn, t, 0, [("testI32", (0,), 0)])


def _check_seqid_max(conn, t):
    first = I32_MAX - 2
    _seqid_calls(conn, t, first, [("testI32", (v,), v) for v in range(first, I32_MAX + 1)])


def _check_seqid_wrap(conn, t):
    last = _seqid_calls(conn, t, I32_MAX, [("testString", ("max",), "max"),
                                           ("testString", ("wrapped",), "wrapped")])
    if last != I32_MIN:
        raise CheckFailed("the client's seqid after %d was %d, expected %d"
                          % (I32_MAX, last, I32_MIN))


def _check_seqid_negative(conn, t):
    x = t.Xtruct(string_thing="negative", byte_thing=-1, i32_thing=-1, i64_thing=-1)
    _seqid_calls(conn, t, I32_MIN + 1, [
        ("testI64", (I64_MIN,), I64_MIN),
        ("testVoid", (), None),
        ("testException", ("TException",), None),
        ("testString", ("after the exception",), "after the exception"),
    ])
    conn.next_seqid = -2
    for _ in range(2):
        expect_xtruct(conn.call("testStruct", x), x)


def _raw_checks():
    return [
        Check("unknownMethod", _check_unknown_method, needs="raw_call"),
        Check("seqid.zero", _check_seqid_zero, needs="seqid"),
        Check("seqid.max", _check_seqid_max, needs="seqid"),
        Check("seqid.wrap", _check_seqid_wrap, needs="seqid"),
        Check("seqid.negative", _check_seqid_negative, needs="seqid"),
    ]


def _check_second_service(conn, t):
    # SecondService through its own TMultiplexedProtocol, on the ThriftTest checks' connection;
    # then a ThriftTest call on it again, so the two services interleave on one stream.
    expect_equal(conn.call_service(SECOND_SERVICE, "secondtestString", "foobar"),
                 second_test_string_answer("foobar"), sent="foobar")
    try:
        expect_equal(conn.call("testString", "after SecondService"), "after SecondService")
    except Exception as after:  # noqa: BLE001
        raise CheckFailed("secondtestString worked, but the next ThriftTest call failed: %r"
                          % after)


def _multiplexed_checks():
    return [
        Check("SecondService.secondtestString", _check_second_service, multiplexed_only=True),
    ]


def all_checks():
    """Every check, in the order the client runs them."""
    return (_value_checks() + _struct_checks() + _exception_checks() + _raw_checks()
            + _multiplexed_checks())


class Session:
    """The client's connection, reopened after any failure (the stream may be out of step)."""

    def __init__(self, peer, options):
        self._peer, self._options, self._conn = peer, options, None

    def conn(self):
        if self._conn is None:
            o = self._options
            self._conn = self._peer.connect(o.host, o.port, o.protocol, o.transport, o.timeout)
        return self._conn

    def drop(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - it is broken already
                pass
            self._conn = None


def parse_skip(values):
    names = []
    for value in values or []:
        names += [n.strip() for n in value.split(",") if n.strip()]
    return names


def run_checks(peer, options, out=sys.stdout):
    """Runs every check once; returns (passed, failed)."""
    checks = all_checks()
    skip = parse_skip(options.skip)
    for pattern in skip:
        if not any(fnmatch.fnmatchcase(c.name, pattern) for c in checks):
            print("warning: --skip %s matches no check" % pattern, file=sys.stderr)
    session = Session(peer, options)
    passed = failed = 0
    for check in checks:
        if any(fnmatch.fnmatchcase(check.name, p) for p in skip):
            line = "skip %s: skipped on request (--skip)" % check.name
        elif check.needs and check.needs in peer.missing:
            line = "skip %s: %s" % (check.name, peer.missing[check.needs])
        elif check.multiplexed_only and not is_multiplexed(options.protocol):
            line = "skip %s: not multiplexed" % check.name
        else:
            try:
                check.run(session.conn(), peer.types)
                line, passed = "ok   %s" % check.name, passed + 1
            except CheckFailed as e:
                line, failed = "FAIL %s: %s" % (check.name, e), failed + 1
                session.drop()
            except Exception as e:  # noqa: BLE001 - a check that raises fails, the rest run
                line, failed = "FAIL %s: %s: %s" % (check.name, type(e).__name__, brief(e, 300)), \
                    failed + 1
                session.drop()
        print(line, file=out, flush=True)
    session.drop()
    print("%d passed, %d failed" % (passed, failed), file=out, flush=True)
    return passed, failed


def run_client(peer, options):
    try:
        peer.connect(options.host, options.port, options.protocol, options.transport,
                     options.timeout).close()
    except Exception as e:  # noqa: BLE001
        print("%s client: cannot connect to %s:%d: %s" % (peer.name, options.host, options.port, e),
              file=sys.stderr)
        return EXIT_SETUP
    _, failed = run_checks(peer, options)
    return EXIT_FAILED if failed else EXIT_OK


# --------------------------------------------------------------------------------------
# The command line.


def build_parser(peer, description):
    parser = argparse.ArgumentParser(description=description)
    roles = parser.add_subparsers(dest="role", required=True, metavar="{server,client}")

    server = roles.add_parser("server", help="serve ThriftTest on %s until killed" % HOST)
    server.add_argument("--port", type=int, default=9090, help="0 binds an ephemeral port")
    server.add_argument("--port-file", help="write the bound port here once listening")
    client = roles.add_parser("client", help="run the named checks against a ThriftTest server")
    client.add_argument("--host", default=HOST)
    client.add_argument("--port", type=int, default=9090)
    client.add_argument("--skip", action="append", metavar="NAME,NAME…",
                        help="check names (or fnmatch patterns) to skip; repeatable")
    client.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="socket timeout in seconds (default %(default)s)")
    for sub in (server, client):
        sub.add_argument("--protocol", choices=peer.protocols, default="binary",
                         help="multi, multic, multih: binary, compact, header plus "
                              "TMultiplexedProtocol (services ThriftTest and SecondService)")
        sub.add_argument("--transport", choices=("buffered", "framed"), default="buffered",
                         help="ignored with --protocol header or multih (THeader frames "
                              "itself)")
        sub.add_argument("-v", "--verbose", action="store_true", help="log calls on stderr")
        peer.extra_args(sub)
    return parser


def main(peer, description, argv=None):
    options = build_parser(peer, description).parse_args(argv)
    try:
        peer.setup(options)
    except Exception as e:  # noqa: BLE001
        print("%s %s: setup failed: %s" % (peer.name, options.role, e), file=sys.stderr)
        return EXIT_SETUP
    if options.role == "server":
        return run_server(peer, options)
    return run_client(peer, options)
