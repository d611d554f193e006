//! Generated services end to end, in process: a generated `Client` calls through a loopback
//! `Channel` that encodes real frames (every dialect), a "server" detects the dialect,
//! decodes and runs the generated `handle` on a handler, and writes the reply through a
//! `ReplySink`; the client decodes it. No mock: every byte goes through the codec.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::marker::PhantomData;
use std::task::{Context, Poll, Waker};

use ringrpc::codec::frame::{Dialect, FrameDecoder, Framing, HeaderInfo, encode_frame};
use ringrpc::codec::{
    ApplicationErrorKind, ApplicationException, Binary, BytesMut, BytesStr, Compact, Decode,
    DecodeLimits, Encode, EncodeError, MessageHeader, MessageType, Protocol, ProtocolId,
    ProtocolReader,
};
use ringrpc::{CallError, Channel, MethodInfo, PolicyConst, ReplySink};
use ringrpc_examples::echo::echo::{self as idl, base, echo as svc};

/// Polls a future that never waits (the loopback does no I/O) to completion.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("the loopback future did not complete");
}

#[derive(Default)]
struct Handler {
    events: RefCell<Vec<String>>,
    resets: Cell<u32>,
}

impl base::Base for Handler {
    async fn ping(&self) -> Result<BytesStr, base::PingError> {
        Ok(BytesStr::from_static("pong"))
    }
}

impl svc::Echo for Handler {
    async fn echo(&self, msg: BytesStr) -> Result<BytesStr, svc::EchoError> {
        match msg.as_str() {
            "fail" => Err(idl::EchoError {
                code: 7,
                message: "asked to fail".into(),
            }
            .into()),
            "undeclared" => {
                Err(ApplicationException::new(ApplicationErrorKind::INTERNAL_ERROR, "boom").into())
            }
            _ => Ok(msg),
        }
    }

    async fn notify(&self, event: BytesStr) -> Result<(), svc::NotifyError> {
        self.events.borrow_mut().push(event.to_string());
        Ok(())
    }

    async fn reset(&self) -> Result<(), svc::ResetError> {
        self.resets.set(self.resets.get() + 1);
        Ok(())
    }
}

/// Writes the reply frame in the caller's dialect.
struct Sink<'a, P> {
    framing: Framing,
    header: Option<HeaderInfo>,
    call: MessageHeader,
    out: &'a mut BytesMut,
    _protocol: PhantomData<P>,
}

impl<P: Protocol> ReplySink for Sink<'_, P> {
    fn reply<T: Encode>(&mut self, result: &T) -> Result<(), EncodeError> {
        let header = MessageHeader {
            kind: MessageType::Reply,
            ..self.call.clone()
        };
        encode_frame::<P, _, _>(
            self.framing,
            self.header.as_ref(),
            &header,
            result,
            self.out,
        )
    }

    fn exception(&mut self, error: &ApplicationException) -> Result<(), EncodeError> {
        let header = MessageHeader {
            kind: MessageType::Exception,
            ..self.call.clone()
        };
        encode_frame::<P, _, _>(self.framing, self.header.as_ref(), &header, error, self.out)
    }
}

/// The server side: one frame in, at most one frame out.
async fn serve(handler: &Handler, mut wire: BytesMut) -> BytesMut {
    let frame = FrameDecoder::default()
        .decode(&mut wire)
        .unwrap()
        .expect("a whole frame");
    let mut out = BytesMut::new();
    async fn go<P: Protocol>(
        handler: &Handler,
        frame: &ringrpc::codec::frame::Frame,
        out: &mut BytesMut,
    ) {
        let mut r = P::reader(&frame.payload, DecodeLimits::default());
        let call = r.read_message_begin().unwrap();
        let name = call.name.clone();
        let mut sink = Sink::<P> {
            framing: frame.dialect.framing,
            header: frame.header.clone(),
            call,
            out,
            _protocol: PhantomData,
        };
        svc::handle(handler, &name, &mut r, &mut sink)
            .await
            .unwrap();
    }
    match frame.dialect.protocol {
        ProtocolId::Binary => go::<Binary>(handler, &frame, &mut out).await,
        ProtocolId::Compact => go::<Compact>(handler, &frame, &mut out).await,
    }
    out
}

/// A client channel wired straight to `serve`.
struct Loopback<'h> {
    handler: &'h Handler,
    dialect: Dialect,
    next_seq: Cell<i32>,
}

impl Loopback<'_> {
    async fn round_trip<P: Protocol, A: Encode, R: Decode + ringrpc::__codegen::OnewayResult>(
        &self,
        method: &'static MethodInfo,
        args: &A,
    ) -> Result<R, CallError> {
        let seq_id = self.next_seq.get();
        self.next_seq.set(seq_id + 1);
        let kind = if method.oneway {
            MessageType::Oneway
        } else {
            MessageType::Call
        };
        let call = MessageHeader {
            name: BytesStr::from_static(method.name),
            kind,
            seq_id,
        };
        let header = matches!(self.dialect.framing, Framing::TTHeader | Framing::THeader)
            .then(HeaderInfo::default);
        let mut wire = BytesMut::new();
        encode_frame::<P, _, _>(
            self.dialect.framing,
            header.as_ref(),
            &call,
            args,
            &mut wire,
        )
        .map_err(CallError::Encode)?;
        let mut reply = serve(self.handler, wire).await;
        if method.oneway {
            assert!(reply.is_empty(), "a oneway call gets no reply");
            return R::oneway()
                .ok_or_else(|| CallError::Transport("no reply to a oneway call".into()));
        }
        let frame = FrameDecoder::with_dialect(self.dialect, DecodeLimits::default())
            .decode(&mut reply)
            .map_err(CallError::Decode)?
            .expect("a whole reply");
        let mut r = P::reader(&frame.payload, DecodeLimits::default());
        let head = r.read_message_begin().map_err(CallError::Decode)?;
        assert_eq!((head.seq_id, head.name.as_str()), (seq_id, method.name));
        match head.kind {
            MessageType::Exception => Err(CallError::Application(
                ApplicationException::decode(&mut r).map_err(CallError::Decode)?,
            )),
            _ => R::decode(&mut r).map_err(CallError::Decode),
        }
    }
}

impl Channel for Loopback<'_> {
    async fn call<A, R>(&self, method: &'static MethodInfo, args: &A) -> Result<R, CallError>
    where
        A: Encode,
        R: Decode + ringrpc::__codegen::OnewayResult,
    {
        match self.dialect.protocol {
            ProtocolId::Binary => self.round_trip::<Binary, A, R>(method, args).await,
            ProtocolId::Compact => self.round_trip::<Compact, A, R>(method, args).await,
        }
    }
}

const DIALECTS: [Dialect; 6] = [
    Dialect::new(Framing::Unframed, ProtocolId::Binary),
    Dialect::new(Framing::Unframed, ProtocolId::Compact),
    Dialect::new(Framing::Framed, ProtocolId::Binary),
    Dialect::new(Framing::Framed, ProtocolId::Compact),
    Dialect::new(Framing::TTHeader, ProtocolId::Binary),
    Dialect::new(Framing::THeader, ProtocolId::Compact),
];

#[test]
fn generated_client_and_server_talk_in_every_dialect() {
    for dialect in DIALECTS {
        let handler = Handler::default();
        let client = svc::Client::new(Loopback {
            handler: &handler,
            dialect,
            next_seq: Cell::new(1),
        });
        block_on(async {
            // A plain call.
            assert_eq!(client.echo("hello".into()).await.unwrap(), "hello");
            // A declared exception arrives typed.
            match client.echo("fail".into()).await {
                Err(svc::EchoError::Err(e)) => {
                    assert_eq!((e.code, e.message.as_str()), (7, "asked to fail"))
                }
                other => panic!("{dialect:?}: {other:?}"),
            }
            // An undeclared failure travels as a TApplicationException.
            match client.echo("undeclared".into()).await {
                Err(svc::EchoError::Call(CallError::Application(e))) => {
                    assert_eq!(e.kind, ApplicationErrorKind::INTERNAL_ERROR);
                    assert_eq!(e.message, "boom");
                }
                other => panic!("{dialect:?}: {other:?}"),
            }
            // void and oneway.
            client.reset().await.unwrap();
            client.notify("started".into()).await.unwrap();
            // The parent service's method, through Deref and the server's fallback dispatch.
            assert_eq!(client.ping().await.unwrap(), "pong");
        });
        assert_eq!(handler.resets.get(), 1);
        assert_eq!(*handler.events.borrow(), ["started"]);
    }
}

#[test]
fn unknown_methods_get_an_application_exception() {
    static NOPE: MethodInfo = MethodInfo {
        service: "Echo",
        name: "nope",
        oneway: false,
        policy: &[],
    };
    let handler = Handler::default();
    let channel = Loopback {
        handler: &handler,
        dialect: Dialect::new(Framing::Framed, ProtocolId::Binary),
        next_seq: Cell::new(1),
    };
    let err = block_on(channel.call::<_, svc::ResetResult>(&NOPE, &())).unwrap_err();
    let CallError::Application(e) = err else {
        panic!("{err:?}")
    };
    assert_eq!(e.kind, ApplicationErrorKind::UNKNOWN_METHOD);
    assert_eq!(e.message, "unknown method `nope` of service `Echo`");
    // The connection's next call still works.
    let client = svc::Client::new(channel);
    assert_eq!(block_on(client.echo("after".into())).unwrap(), "after");
}

#[test]
fn methods_carry_their_effective_policy() {
    assert_eq!(svc::ECHO.policy("timeout_ms"), Some(PolicyConst::Int(200)));
    assert_eq!(
        svc::RESET.policy("timeout_ms"),
        Some(PolicyConst::Int(1000))
    );
    assert_eq!(
        svc::RESET.policy("retry.max_attempts"),
        Some(PolicyConst::Int(2))
    );
    assert_eq!(
        svc::RESET.policy("idempotent"),
        Some(PolicyConst::Bool(true))
    );
    assert!(svc::NOTIFY.oneway);
    assert_eq!(base::PING.policy("timeout_ms"), None);
    assert_eq!((svc::ECHO.service, svc::ECHO.name), ("Echo", "echo"));
}
