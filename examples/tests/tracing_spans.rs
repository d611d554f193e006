//! `tracing` spans around calls: a server runs each handler inside an `rpc.server` span
//! carrying the method and the caller's W3C `traceparent`, a client each call inside an
//! `rpc.client` span, so logs written while handling a call say which call and trace they
//! belong to; a failed call marks both with `error.type` and OpenTelemetry's error status. A small subscriber records spans and events (the workers' threads included).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ringrpc::metainfo::{self, MetaInfo, TraceContext};
use ringrpc::rt::block_on;
use ringrpc::{Client, Driver, Server};
use ringrpc_examples::echo::echo::echo;
use ringrpc_examples::echo_service::EchoHandler;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

#[derive(Default)]
struct Seen {
    /// Span id → name and fields.
    spans: HashMap<u64, (String, HashMap<String, String>)>,
    /// Event message → the span it happened in.
    events: Vec<(String, Option<u64>)>,
}

#[derive(Default, Clone)]
struct Capture {
    seen: Arc<Mutex<Seen>>,
    next: Arc<AtomicU64>,
}

thread_local! {
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("ringrpc")
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = HashMap::new();
        span.record(&mut Fields(&mut fields));
        let mut seen = self.seen.lock().unwrap();
        seen.spans
            .insert(id, (span.metadata().name().to_owned(), fields));
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut seen = self.seen.lock().unwrap();
        if let Some((_, fields)) = seen.spans.get_mut(&span.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let current = ENTERED.with(|e| e.borrow().last().copied());
        let message = fields.remove("message").unwrap_or_default();
        self.seen.lock().unwrap().events.push((message, current));
    }
    fn enter(&self, span: &Id) {
        ENTERED.with(|e| e.borrow_mut().push(span.into_u64()));
    }
    fn exit(&self, _: &Id) {
        ENTERED.with(|e| {
            e.borrow_mut().pop();
        });
    }
}

#[test]
fn handlers_log_inside_a_span_that_names_the_call_and_its_trace() {
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).unwrap();
    let server = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", || echo::Server::new(EchoHandler::default()))
        .unwrap();
    let client = Client::builder(&server.address().to_string())
        .build()
        .unwrap();
    let trace = TraceContext {
        trace_id: [0xab; 16],
        parent_id: [0x01; 8],
        flags: 1,
    };
    block_on(Driver::Auto, async {
        let client = echo::Client::new(client.clone());
        let mut info = MetaInfo::new();
        info.set_trace(trace, None);
        metainfo::scope(info, async { client.echo("hi".into()).await.unwrap() }).await;
        // A call that fails marks both its spans.
        client.echo("undeclared".into()).await.unwrap_err();
    })
    .unwrap();
    server.shutdown().unwrap();

    let seen = capture.seen.lock().unwrap();
    let (_, in_span) = seen
        .events
        .iter()
        .find(|(message, _)| message == "echoing")
        .expect("the handler logged");
    let (name, fields) = &seen.spans[&in_span.expect("the handler's log is inside a span")];
    assert_eq!(name, "rpc.server");
    assert_eq!(fields["rpc.method"], "echo");
    assert_eq!(fields["rpc.system"], "apache_thrift");
    let trace_id = "ab".repeat(16);
    assert!(
        fields["traceparent"].starts_with(&format!("00-{trace_id}-")),
        "the caller's trace: {fields:?}"
    );
    // The successful call's client span (the one in the scope's trace) and the failed call's
    // two spans.
    let spans = |name: &str| -> Vec<&HashMap<String, String>> {
        let mut spans: Vec<_> = seen.spans.iter().filter(|(_, (n, _))| n == name).collect();
        spans.sort_by_key(|(id, _)| **id);
        spans.into_iter().map(|(_, (_, fields))| fields).collect()
    };
    let (clients, servers) = (spans("rpc.client"), spans("rpc.server"));
    assert_eq!(
        (clients.len(), servers.len()),
        (2, 2),
        "{clients:?} {servers:?}"
    );
    let client_span = clients[0];
    assert_eq!(client_span["rpc.service"], "Echo");
    assert_eq!(client_span["rpc.method"], "echo");
    assert_eq!(client_span["traceparent"], trace.to_string());
    assert!(!client_span.contains_key("error.type"), "{client_span:?}");
    assert!(!fields.contains_key("otel.status_code"), "{fields:?}");
    for failed in [clients[1], servers[1]] {
        assert_eq!(
            failed.get("error.type").map(String::as_str),
            Some("application"),
            "{failed:?} {clients:?} {servers:?}"
        );
        assert_eq!(failed["otel.status_code"], "ERROR", "{failed:?}");
        assert!(
            failed["otel.status_description"].contains("asked for an undeclared failure"),
            "{failed:?}"
        );
    }
}
