//! OpenTelemetry export (`--features otel`): a real OTLP/gRPC receiver (tonic, on a tokio
//! thread of its own) in this process; a ringrpc client and server whose `rpc.client` and
//! `rpc.server` spans reach it as one trace, failed calls' spans with an error status;
//! sampling by ratio that follows a caller's decision; a stalled receiver, whose full queue
//! drops and counts spans instead of blocking; and the guard's drop, which exports what is
//! queued.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use ringrpc::codec::frame::Framing;
use ringrpc::metainfo::{self, MetaInfo, TraceContext};
use ringrpc::otel::{OtelError, OtelExporter};
use ringrpc::rt::block_on;
use ringrpc::{Client, Driver, Server};
use ringrpc_examples::echo::echo::echo;
use ringrpc_examples::echo_service::EchoHandler;
use tracing_subscriber::layer::SubscriberExt;

/// A received span with its resource's `service.name`.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

#[derive(Clone)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
    /// While `true`, exports wait (at most 30 s): a stalled receiver.
    stalled: Arc<tokio::sync::watch::Sender<bool>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut stalled = self.stalled.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(30), stalled.wait_for(|s| !*s)).await;
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| text(&r.attributes, "service.name"))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// An OTLP/gRPC receiver on 127.0.0.1 (plain, or TLS), stopped when dropped.
struct Receiver {
    address: SocketAddr,
    tls: bool,
    collector: Collector,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(stalled: bool) -> Receiver {
        Receiver::start_with(stalled, None)
    }

    /// A receiver that takes only TLS connections with this configuration.
    fn start_tls(tls: tonic::transport::ServerTlsConfig) -> Receiver {
        Receiver::start_with(false, Some(tls))
    }

    fn start_with(stalled: bool, tls: Option<tonic::transport::ServerTlsConfig>) -> Receiver {
        let with_tls = tls.is_some();
        let collector = Collector {
            spans: Arc::default(),
            stalled: Arc::new(tokio::sync::watch::channel(stalled).0),
        };
        let service = TraceServiceServer::new(collector.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, address) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            // The receiver's own (h2, tonic) spans are not part of the test.
            let _quiet = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::new());
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let incoming =
                    tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
                        .unwrap();
                bound.send(incoming.local_addr().unwrap()).unwrap();
                let mut server = tonic::transport::Server::builder();
                if let Some(tls) = tls {
                    server = server.tls_config(tls).unwrap();
                }
                server
                    .add_service(service)
                    .serve_with_incoming_shutdown(incoming, async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let address = address.recv_timeout(Duration::from_secs(10)).unwrap();
        Receiver {
            address,
            tls: with_tls,
            collector,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    fn spans(&self) -> Vec<Received> {
        self.collector.spans.lock().unwrap().clone()
    }

    fn release(&self) {
        self.collector.stalled.send_replace(false);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.release();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A port held by a socket that is bound but not listening: connections to it are refused,
/// and no other process can take it while the socket lives.
fn refusing_address() -> (socket2::Socket, SocketAddr) {
    let held = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    held.bind(&any.into()).unwrap();
    let address = held.local_addr().unwrap().as_socket().unwrap();
    (held, address)
}

fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match &kv.value {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => Some(s.clone()),
            _ => None,
        })
}

fn named<'a>(spans: &'a [Received], name: &str) -> Vec<&'a Received> {
    spans.iter().filter(|r| r.span.name == name).collect()
}

#[test]
fn a_call_exports_a_client_and_a_server_span_of_one_trace() {
    let receiver = Receiver::start(false);
    let otel = OtelExporter::builder()
        .endpoint(receiver.endpoint())
        .service_name("otel-test")
        .start()
        .unwrap();
    // The workers' threads report spans too: a global subscriber (this test's own process).
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(otel.layer()))
        .unwrap();
    let server = Server::builder()
        .workers(1)
        // One `ping` a second (so the second of two in a row is refused by a layer).
        .policy("Base.ping", "rate_limit.qps", 1u64)
        .serve("127.0.0.1:0", || echo::Server::new(EchoHandler::default()))
        .unwrap();
    let client = Client::builder(&server.address().to_string())
        .framing(Framing::TTHeader)
        // Tests run in parallel on a small machine: the first call may connect slowly (echo's
        // IDL gives it 200 ms).
        .policy("*", "timeout_ms", 10_000u64)
        .build()
        .unwrap();
    let scope = TraceContext {
        trace_id: [0xab; 16],
        parent_id: [0x01; 8],
        flags: 1,
    };
    block_on(Driver::Auto, async {
        let client = echo::Client::new(client.clone());
        let mut info = MetaInfo::new();
        info.set_trace(scope, None);
        let reply = metainfo::scope(info, async { client.echo("in scope".into()).await }).await;
        assert_eq!(reply.unwrap(), "in scope");
        // Outside any scope the client span starts a trace of its own.
        assert_eq!(client.echo("no scope".into()).await.unwrap(), "no scope");
        for (trace, call, answered, _) in TRACED {
            let mut info = MetaInfo::new();
            info.set_trace(
                TraceContext {
                    trace_id: trace,
                    ..scope
                },
                None,
            );
            let reply = metainfo::scope(info, async {
                match call {
                    "ping" => client.ping().await.map_err(|e| e.to_string()),
                    msg => client.echo(msg.into()).await.map_err(|e| e.to_string()),
                }
            })
            .await;
            assert_eq!(reply.is_ok(), answered, "{call}: {reply:?}");
        }
    })
    .unwrap();
    // Every server span has ended once the workers are gone.
    server.shutdown().unwrap();
    otel.force_flush().unwrap();

    let spans = receiver.spans();
    let (traced, spans): (Vec<Received>, Vec<Received>) = spans
        .into_iter()
        .partition(|r| TRACED.iter().any(|(trace, ..)| r.span.trace_id == trace));
    check_outcomes(&traced);
    let clients = named(&spans, "rpc.client");
    let servers = named(&spans, "rpc.server");
    assert_eq!((clients.len(), servers.len()), (2, 2), "{spans:#?}");
    for received in &spans {
        assert_eq!(received.service, "otel-test");
    }
    // Each server span's parent is one of the client spans.
    let pair = |client: &Span| {
        let server = servers
            .iter()
            .find(|s| s.span.parent_span_id == client.span_id)
            .unwrap_or_else(|| panic!("no server span under {client:?}: {spans:#?}"));
        (client.clone(), server.span.clone())
    };
    let (in_scope, no_scope): (Vec<&Received>, Vec<&Received>) = clients
        .into_iter()
        .partition(|c| c.span.trace_id == [0xab; 16]);
    assert_eq!((in_scope.len(), no_scope.len()), (1, 1), "{spans:#?}");
    // The first call: its trace is the scope's, its parent the scope's span.
    let (client_span, server_span) = &pair(&in_scope[0].span);
    assert_eq!(client_span.trace_id, [0xab; 16]);
    assert_eq!(client_span.parent_span_id, [0x01; 8]);
    assert_eq!(server_span.trace_id, [0xab; 16]);
    assert_eq!(server_span.parent_span_id, client_span.span_id);
    assert_ne!(server_span.span_id, client_span.span_id);
    assert_eq!(client_span.kind, SpanKind::Client as i32);
    assert_eq!(server_span.kind, SpanKind::Server as i32);
    for span in [client_span, server_span] {
        assert_eq!(
            text(&span.attributes, "rpc.method").as_deref(),
            Some("echo")
        );
        assert_eq!(
            text(&span.attributes, "rpc.system").as_deref(),
            Some("apache_thrift")
        );
    }
    assert_eq!(
        text(&client_span.attributes, "rpc.service").as_deref(),
        Some("Echo")
    );
    // The second call: a new trace rooted at the client span, the server span its child.
    let (client_span, server_span) = &pair(&no_scope[0].span);
    assert!(client_span.parent_span_id.is_empty(), "{client_span:?}");
    assert_ne!(client_span.trace_id, [0xab; 16]);
    assert_eq!(server_span.trace_id, client_span.trace_id);
    assert_eq!(server_span.parent_span_id, client_span.span_id);
    // Calls that succeed leave the status unset and name no error type.
    for span in [client_span, server_span] {
        assert_eq!(status(span), (StatusCode::Unset, String::new()), "{span:?}");
        assert_eq!(text(&span.attributes, "error.type"), None, "{span:?}");
    }
    assert_eq!((otel.dropped(), otel.failed()), (0, 0));
    assert_eq!(otel.exported(), 4 + 2 * TRACED.len() as u64);
}

/// The first test's calls besides its two plain echoes, each in a trace of its own so its
/// spans can be told apart: (trace, call, whether it returns a value, and for a call that
/// fails: the client span's and the server span's `error.type` and what both status
/// descriptions contain). `echo` fails as its message asks; `ping` is rate limited to one
/// call per second.
const TRACED: [Traced; 5] = [
    (
        [0xc1; 16],
        "undeclared",
        false,
        Some((
            "application",
            "application",
            "asked for an undeclared failure",
        )),
    ),
    (
        [0xc2; 16],
        "panic",
        false,
        Some(("application", "panic", "panicked: asked to panic")),
    ),
    // The declared exception: an answer, not a failed call.
    ([0xc3; 16], "fail", false, None),
    // Takes the rate limit's token; the next `ping` finds none.
    ([0xc4; 16], "ping", true, None),
    (
        [0xc5; 16],
        "ping",
        false,
        Some(("application", "rejected", "rate limited: `ping`")),
    ),
];

type Traced = (
    [u8; 16],
    &'static str,
    bool,
    Option<(&'static str, &'static str, &'static str)>,
);

fn status(span: &Span) -> (StatusCode, String) {
    span.status
        .as_ref()
        .map_or((StatusCode::Unset, String::new()), |s| {
            (
                StatusCode::try_from(s.code).unwrap_or(StatusCode::Unset),
                s.message.clone(),
            )
        })
}

/// A failed call's client and server spans carry OpenTelemetry's error status, with what
/// went wrong, and `error.type`; the others (the declared exception too) neither.
fn check_outcomes(traced: &[Received]) {
    for (trace, call, _, failed) in TRACED {
        for side in [0, 1] {
            let name = ["rpc.client", "rpc.server"][side];
            let mut found = traced
                .iter()
                .filter(|r| r.span.trace_id == trace && r.span.name == name);
            let span = &found
                .next()
                .unwrap_or_else(|| panic!("no {name} span for {call}: {traced:#?}"))
                .span;
            assert!(found.next().is_none(), "{call}: {traced:#?}");
            let (code, description) = status(span);
            let error_type = text(&span.attributes, "error.type");
            let Some((client_type, server_type, described)) = failed else {
                assert_eq!(code, StatusCode::Unset, "{call}: {span:?}");
                assert_eq!(error_type, None, "{call}: {span:?}");
                continue;
            };
            assert_eq!(code, StatusCode::Error, "{call}: {span:?}");
            assert!(description.contains(described), "{call}: {description:?}");
            let expected = [client_type, server_type][side];
            assert_eq!(error_type.as_deref(), Some(expected), "{call}: {span:?}");
        }
    }
}

#[test]
fn a_full_queue_drops_and_counts_spans_instead_of_blocking() {
    let receiver = Receiver::start(true);
    let otel = OtelExporter::builder()
        .endpoint(receiver.endpoint())
        .queue_capacity(8)
        .max_batch(8)
        .start()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(otel.layer());
    let burst = 200;
    let started = Instant::now();
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..burst {
            tracing::info_span!("burst", i).in_scope(|| {});
        }
    });
    let took = started.elapsed();
    // The side thread took at most one batch before its export stalled, the queue 8 more.
    let dropped = otel.dropped();
    assert!(dropped >= burst - 16, "dropped {dropped} of {burst}");
    assert!(
        took < Duration::from_secs(5),
        "ending spans waited for the stalled receiver: {took:?}"
    );
    receiver.release();
    drop(otel);
    let got = named(&receiver.spans(), "burst").len() as u64;
    assert_eq!(got + dropped, burst, "every span not dropped was exported");
}

#[test]
fn sample_ratio_records_that_share_of_new_traces_and_follows_a_callers_decision() {
    // About half of 400 new traces (each span here is a root).
    let receiver = Receiver::start(false);
    let otel = OtelExporter::builder()
        .endpoint(receiver.endpoint())
        .sample_ratio(0.5)
        .start()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(otel.layer());
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..400 {
            tracing::info_span!("new trace", i).in_scope(|| {});
        }
    });
    otel.force_flush().unwrap();
    let recorded = named(&receiver.spans(), "new trace").len();
    assert!((100..=300).contains(&recorded), "{recorded} of 400");

    // None of the new traces, but a call made in a caller's sampled trace is recorded. The
    // calls go to a port that refuses connections: each fails, its client span ends all the
    // same (on this thread; no server spans, which would reach the first test's exporter).
    let receiver = Receiver::start(false);
    let otel = OtelExporter::builder()
        .endpoint(receiver.endpoint())
        .sample_ratio(0.0)
        .start()
        .unwrap();
    let (_held, refusing) = refusing_address();
    let client = Client::builder(&refusing.to_string()).build().unwrap();
    let subscriber = tracing_subscriber::registry().with(otel.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("new trace").in_scope(|| {});
        block_on(Driver::Auto, async {
            let client = echo::Client::new(client.clone());
            assert!(client.echo("new trace".into()).await.is_err());
            for (trace_id, flags) in [([0xe1; 16], 1), ([0xe2; 16], 0)] {
                let mut info = MetaInfo::new();
                let caller = TraceContext {
                    trace_id,
                    parent_id: [0x01; 8],
                    flags,
                };
                info.set_trace(caller, None);
                let reply = metainfo::scope(info, async { client.echo("hi".into()).await }).await;
                assert!(reply.is_err(), "{reply:?}");
            }
        })
        .unwrap();
    });
    otel.force_flush().unwrap();
    let spans = receiver.spans();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0].span.name, "rpc.client");
    assert_eq!(spans[0].span.trace_id, [0xe1; 16]);
    assert_eq!(status(&spans[0].span).0, StatusCode::Error);
}

/// A private CA, and certificates it issued: the receiver's for `localhost` and a client's.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

impl Pki {
    fn new() -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let issue = |name: &str, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        Pki {
            ca: ca.pem(),
            server: issue("localhost", ExtendedKeyUsagePurpose::ServerAuth),
            client: issue("otel-client", ExtendedKeyUsagePurpose::ClientAuth),
        }
    }

    fn server_tls(&self) -> tonic::transport::ServerTlsConfig {
        let (cert, key) = &self.server;
        tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(cert, key))
    }
}

/// Exports one span to `receiver` with `builder`'s TLS settings: the flush's outcome, `Ok`
/// exactly when the span arrived.
fn export_one(
    receiver: &Receiver,
    builder: ringrpc::otel::OtelExporterBuilder,
) -> Result<(), OtelError> {
    let otel = builder
        .endpoint(receiver.endpoint())
        // The receiver listens on 127.0.0.1; its certificate names `localhost`.
        .tls_domain("localhost")
        .export_timeout(Duration::from_secs(5))
        .start()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(otel.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("over tls").in_scope(|| {});
    });
    let flushed = otel.force_flush();
    let arrived = named(&receiver.spans(), "over tls").len() == 1;
    assert_eq!(flushed.is_ok(), arrived, "{flushed:?}");
    assert_eq!(otel.failed(), u64::from(!arrived));
    flushed
}

#[test]
fn spans_reach_a_tls_receiver_that_the_exporter_trusts() {
    let pki = Pki::new();
    let receiver = Receiver::start_tls(pki.server_tls());
    assert!(receiver.endpoint().starts_with("https://"));
    // The system's roots do not know the private CA: the handshake fails, the export with it.
    let error = export_one(&receiver, OtelExporter::builder()).unwrap_err();
    assert!(error.to_string().contains("UnknownIssuer"), "{error}");
    let trusting = OtelExporter::builder().ca_certificate_pem(pki.ca.clone());
    export_one(&receiver, trusting).unwrap();
}

#[test]
fn a_receiver_that_asks_for_client_certificates_gets_the_exporters() {
    let pki = Pki::new();
    let ca = tonic::transport::Certificate::from_pem(&pki.ca);
    let receiver = Receiver::start_tls(pki.server_tls().client_ca_root(ca));
    let trusting = || OtelExporter::builder().ca_certificate_pem(pki.ca.clone());
    let refused = export_one(&receiver, trusting());
    assert!(refused.is_err(), "no client certificate, yet {refused:?}");
    let (cert, key) = &pki.client;
    export_one(
        &receiver,
        trusting().client_identity_pem(cert.clone(), key.clone()),
    )
    .unwrap();
}

#[test]
fn dropping_the_guard_exports_what_is_queued() {
    let receiver = Receiver::start(false);
    let otel = OtelExporter::builder()
        .endpoint(receiver.endpoint())
        .batch_interval(Duration::from_secs(600))
        .start()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(otel.layer());
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..3 {
            tracing::info_span!("queued", i).in_scope(|| {});
        }
    });
    assert!(receiver.spans().is_empty(), "nothing due before the drop");
    let started = Instant::now();
    drop(otel);
    assert_eq!(named(&receiver.spans(), "queued").len(), 3);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_receiver_that_is_down_fails_exports_without_stopping_calls() {
    let (_held, refusing) = refusing_address();
    let endpoint = format!("http://{refusing}");
    let otel = OtelExporter::builder()
        .endpoint(endpoint)
        .export_timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(otel.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("lost").in_scope(|| {});
    });
    let error = otel.force_flush().unwrap_err();
    assert!(error.to_string().contains("OTLP export failed"), "{error}");
    assert_eq!((otel.exported(), otel.failed()), (0, 1));
}

#[test]
fn bad_settings_are_refused_by_name() {
    for (endpoint, reason) in [
        ("127.0.0.1:4317", "expected http://host:port"),
        ("grpc://collector:4317", "scheme `grpc`"),
        ("http://", "no host"),
        ("http://:4317", "no host"),
        ("http://collector:43x7", "port `43x7`"),
    ] {
        let error = OtelExporter::builder()
            .endpoint(endpoint)
            .start()
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(&format!("OTLP endpoint `{endpoint}`")) && text.contains(reason),
            "{endpoint}: {text}"
        );
    }
    let error = OtelExporter::builder()
        .queue_capacity(0)
        .start()
        .unwrap_err();
    assert_eq!(
        error,
        OtelError::Config("queue_capacity must be at least 1".into())
    );
    let error = OtelExporter::builder()
        .endpoint("http://collector:4317")
        .tls_domain("collector")
        .start()
        .unwrap_err();
    assert!(
        matches!(&error, OtelError::Config(what) if what.contains("need an https:// endpoint")),
        "{error}"
    );
    // TLS material that is not what it claims is refused at start, by setting.
    let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    for (builder, reason) in [
        (
            OtelExporter::builder().ca_certificate_pem("not a certificate"),
            "ca_certificate_pem #1: no PEM certificate in it",
        ),
        (
            OtelExporter::builder().client_identity_pem("not a certificate", key),
            "client_identity_pem: no PEM certificate in the certificate chain",
        ),
        (
            OtelExporter::builder().client_identity_pem(Pki::new().client.0, "not a key"),
            "client_identity_pem: no PEM private key",
        ),
    ] {
        let error = builder
            .endpoint("https://collector:4317")
            .start()
            .unwrap_err();
        assert!(
            matches!(&error, OtelError::Config(what) if what.starts_with(reason)),
            "{reason}: {error}"
        );
    }
    for ratio in [-0.1, 1.5, f64::NAN] {
        let error = OtelExporter::builder()
            .sample_ratio(ratio)
            .start()
            .unwrap_err();
        assert_eq!(
            error,
            OtelError::Config(format!("sample_ratio must be from 0.0 to 1.0, not {ratio}"))
        );
    }
    // Good endpoints start (the client connects lazily, so nothing needs to listen).
    for endpoint in [
        "http://127.0.0.1:9",
        "http://[::1]:9",
        "http://localhost",
        "https://collector:4317",
    ] {
        let otel = OtelExporter::builder().endpoint(endpoint).start();
        assert!(otel.is_ok(), "{endpoint}: {:?}", otel.err());
    }
}
