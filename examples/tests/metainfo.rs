//! Metainfo over TTHeader across two hops, Kitex's rules: persistent values reach every
//! server down the chain, transient values only the next one, and backward values come
//! back from the server that sent them to its caller.

use ringrpc::codec::BytesStr;
use ringrpc::metainfo::{self, MetaInfo};
use ringrpc::rt::block_on;
use ringrpc::{Client, Driver, RunningServer, Server};
use ringrpc_examples::echo::echo::{base, echo};

/// What a server saw of the metainfo, as text: `persist=…;transit=…`.
fn seen() -> String {
    metainfo::with(|m| {
        let get = |v: Option<&BytesStr>| v.map_or("-".to_owned(), |v| v.to_string());
        format!(
            "persist={};transit={}",
            get(m.persistent("trace")),
            get(m.transient("tenant"))
        )
    })
    .unwrap_or_else(|| "no scope".into())
}

/// The W3C trace a server saw: `traceparent` and `tracestate`, or `-`.
fn seen_trace() -> String {
    metainfo::with(|m| match m.trace() {
        Some(context) => format!("{context} {}", m.trace_state().map_or("-", |s| s.as_str())),
        None => "-".to_owned(),
    })
    .unwrap_or_default()
}

/// The last hop: answers with what it saw and sends a backward value.
#[derive(Debug, Clone, Default)]
struct Leaf;

impl base::Base for Leaf {
    async fn ping(&self) -> Result<BytesStr, base::PingError> {
        Ok("pong".into())
    }
}

impl echo::Echo for Leaf {
    async fn echo(&self, _msg: BytesStr) -> Result<BytesStr, echo::EchoError> {
        let trace = seen_trace();
        metainfo::with(|m| {
            m.send_backward("served-by", "leaf");
            m.send_backward("leaf-trace", trace);
        });
        Ok(seen().into())
    }
    async fn notify(&self, _event: BytesStr) -> Result<(), echo::NotifyError> {
        Ok(())
    }
    async fn reset(&self) -> Result<(), echo::ResetError> {
        Ok(())
    }
}

/// The middle hop: calls the leaf, then answers with both views.
#[derive(Debug, Clone)]
struct Middle {
    leaf: echo::Client<Client>,
}

impl base::Base for Middle {
    async fn ping(&self) -> Result<BytesStr, base::PingError> {
        Ok("pong".into())
    }
}

impl echo::Echo for Middle {
    async fn echo(&self, msg: BytesStr) -> Result<BytesStr, echo::EchoError> {
        let here = seen();
        let below = self.leaf.echo(msg).await?;
        let leaf_said = metainfo::with(|m| m.received_backward("served-by").cloned()).flatten();
        let leaf_trace = metainfo::with(|m| m.received_backward("leaf-trace").cloned()).flatten();
        let middle_trace = seen_trace();
        metainfo::with(|m| {
            m.send_backward("served-by", "middle");
            m.send_backward("middle-trace", middle_trace);
            if let Some(trace) = leaf_trace {
                m.send_backward("leaf-trace", trace);
            }
        });
        Ok(format!("middle[{here}] leaf[{below}] leaf-backward[{leaf_said:?}]").into())
    }
    async fn notify(&self, _event: BytesStr) -> Result<(), echo::NotifyError> {
        Ok(())
    }
    async fn reset(&self) -> Result<(), echo::ResetError> {
        Ok(())
    }
}

/// A middle server whose handler calls a leaf server: `(middle, leaf)`.
fn two_hops() -> (RunningServer, RunningServer) {
    let leaf = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", || echo::Server::new(Leaf))
        .unwrap();
    let leaf_client = Client::builder(&leaf.address().to_string())
        .build()
        .unwrap();
    let middle = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", move || {
            echo::Server::new(Middle {
                leaf: echo::Client::new(leaf_client.clone()),
            })
        })
        .unwrap();
    (middle, leaf)
}

#[test]
fn persistent_values_follow_the_chain_transient_ones_go_one_hop_backward_ones_come_back() {
    let (middle, leaf) = two_hops();
    let address = middle.address().to_string();
    let (reply, backward, outside) = block_on(Driver::Auto, async move {
        let client = echo::Client::new(Client::builder(&address).build().unwrap());
        let mut info = MetaInfo::new();
        info.set_persistent("trace", "t-42");
        info.set_transient("tenant", "blue");
        let (reply, backward) = metainfo::scope(info, async {
            let reply = client.echo("hi".into()).await.unwrap();
            let backward = metainfo::with(|m| m.received_backward("served-by").cloned());
            (reply, backward.flatten())
        })
        .await;
        // Outside a scope nothing is sent: the server sees an empty scope.
        let outside = client.echo("hi".into()).await.unwrap();
        (reply, backward, outside)
    })
    .unwrap();
    assert_eq!(
        reply.as_str(),
        "middle[persist=t-42;transit=blue] leaf[persist=t-42;transit=-] \
         leaf-backward[Some(\"leaf\")]"
    );
    assert_eq!(backward.as_deref(), Some("middle"));
    assert_eq!(
        outside.as_str(),
        "middle[persist=-;transit=-] leaf[persist=-;transit=-] leaf-backward[Some(\"leaf\")]"
    );
    middle.shutdown().unwrap();
    leaf.shutdown().unwrap();
}

#[test]
fn a_w3c_trace_follows_the_chain_with_a_fresh_span_per_hop() {
    use ringrpc::metainfo::TraceContext;

    let (middle, leaf) = two_hops();
    let address = middle.address().to_string();
    let origin =
        TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    let (middle_trace, leaf_trace, untraced) = block_on(Driver::Auto, async move {
        let client = echo::Client::new(Client::builder(&address).build().unwrap());
        let mut info = MetaInfo::new();
        info.set_trace(origin, Some("vendor=opaque".into()));
        let traced = metainfo::scope(info, async {
            client.echo("hi".into()).await.unwrap();
            let back = |key| metainfo::with(|m| m.received_backward(key).cloned()).flatten();
            (back("middle-trace"), back("leaf-trace"))
        })
        .await;
        let untraced = metainfo::scope(MetaInfo::new(), async {
            client.echo("hi".into()).await.unwrap();
            metainfo::with(|m| m.received_backward("middle-trace").cloned()).flatten()
        })
        .await;
        (traced.0, traced.1, untraced)
    })
    .unwrap();
    let parse = |seen: Option<BytesStr>| {
        let seen = seen.expect("the hop reported its trace");
        let (parent, state) = seen.split_once(' ').unwrap();
        (TraceContext::parse(parent).unwrap(), state.to_owned())
    };
    let (at_middle, middle_state) = parse(middle_trace);
    let (at_leaf, leaf_state) = parse(leaf_trace);
    for (hop, context) in [("middle", at_middle), ("leaf", at_leaf)] {
        assert_eq!(
            context.trace_id, origin.trace_id,
            "{hop} is in the same trace"
        );
        assert_eq!(context.flags, origin.flags);
    }
    assert_ne!(
        at_middle.parent_id, origin.parent_id,
        "the client call is a new span"
    );
    assert_ne!(
        at_leaf.parent_id, at_middle.parent_id,
        "so is the middle's call"
    );
    assert_eq!(
        (middle_state.as_str(), leaf_state.as_str()),
        ("vendor=opaque", "vendor=opaque")
    );
    assert_eq!(untraced.as_deref(), Some("-"), "no trace is invented");
    middle.shutdown().unwrap();
    leaf.shutdown().unwrap();
}

/// Sends back a value too long for a TTHeader string (over 65,535 bytes).
#[derive(Debug, Clone, Default)]
struct Oversized;

impl base::Base for Oversized {
    async fn ping(&self) -> Result<BytesStr, base::PingError> {
        Ok("pong".into())
    }
}

impl echo::Echo for Oversized {
    async fn echo(&self, msg: BytesStr) -> Result<BytesStr, echo::EchoError> {
        metainfo::with(|m| m.send_backward("big", "x".repeat(70_000)));
        Ok(msg)
    }
    async fn notify(&self, _event: BytesStr) -> Result<(), echo::NotifyError> {
        Ok(())
    }
    async fn reset(&self) -> Result<(), echo::ResetError> {
        Ok(())
    }
}

#[test]
fn a_backward_value_too_long_for_the_header_fails_the_call_with_an_exception_not_silence() {
    use ringrpc::CallError;
    use ringrpc::codec::ApplicationErrorKind;

    let server = Server::builder()
        .workers(1)
        .serve("127.0.0.1:0", || echo::Server::new(Oversized))
        .unwrap();
    let address = server.address().to_string();
    block_on(Driver::Auto, async move {
        let client = echo::Client::new(
            Client::builder(&address)
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap(),
        );
        let started = std::time::Instant::now();
        match client.echo("hi".into()).await {
            Err(echo::EchoError::Call(CallError::Application(e))) => {
                assert_eq!(e.kind, ApplicationErrorKind::INTERNAL_ERROR, "{e:?}")
            }
            other => panic!("expected an INTERNAL_ERROR exception, got {other:?}"),
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "answered, not timed out"
        );
        // The connection still serves.
        assert_eq!(client.channel().stats().connects, 1);
    })
    .unwrap();
    server.shutdown().unwrap();
}
