//! OpenTelemetry export of the `rpc.client` / `rpc.server` call spans over OTLP/gRPC (the
//! `otel` feature), from one low-priority side thread so no monoio worker ever waits on it.
//!
//! [`OtelExporter::builder`] starts the exporter and hands back a guard; its
//! [`layer`](OtelExporter::layer) is a `tracing-opentelemetry` layer to add to *your*
//! subscriber (ringrpc installs none). Spans ended on the workers go to the side thread
//! through a bounded queue: when it is full they are dropped and counted
//! ([`OtelExporter::dropped`]), never waited for. The side thread ("ringrpc-otel", nice 19)
//! runs a current-thread tokio runtime for the OTLP client and exports in batches, by size
//! or every [`batch_interval`](OtelExporterBuilder::batch_interval).
//! [`force_flush`](OtelExporter::force_flush), and dropping the guard, export what is
//! queued and (on drop) stop the thread, each within a bounded wait.
//!
//! With the feature on, spans form one trace across processes: a server's `rpc.server`
//! span is a child of the caller's `traceparent`, a client's `rpc.client` span a child of
//! the current span (or of the [`MetaInfo`](crate::MetaInfo) scope's trace, or a new
//! trace's root), and the `traceparent` a call sends names the `rpc.client` span itself.
//! The `otel-tls` feature adds `https://` receivers: the system's roots or a private CA,
//! and client certificates for mutual TLS.
//! [`sample_ratio`](OtelExporterBuilder::sample_ratio) records a share of new traces; a
//! trace begun elsewhere keeps its own decision. A failed call's spans carry an error
//! status and `error.type`.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let otel = ringrpc::otel::OtelExporter::builder()
//!     .endpoint("http://127.0.0.1:4317")
//!     .service_name("echo")
//!     .start()?;
//! let subscriber = tracing_subscriber::registry().with(otel.layer());
//! tracing::subscriber::set_global_default(subscriber)?;
//! // ... run servers and clients: every call's span is exported ...
//! otel.force_flush()?;
//! drop(otel); // exports what is left and stops the side thread
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Sampler, SpanData, SpanExporter, SpanProcessor};
use ringrpc_codec::BytesStr;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
pub use tracing_opentelemetry::OpenTelemetryLayer;

use crate::metainfo::TraceContext;

/// Why the exporter could not start, or a flush did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtelError {
    /// The OTLP endpoint is not a usable `http://host:port` URL.
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A builder setting is out of range.
    Config(String),
    /// The side thread could not be started, or its OTLP client not built.
    Start(String),
    /// The side thread did not answer in time.
    Timeout {
        /// What was waited for.
        what: &'static str,
        /// How long.
        after: Duration,
    },
    /// The side thread has stopped (after a shutdown, or a panic).
    Stopped,
    /// The OTLP receiver refused or failed an export.
    Export(String),
}

impl fmt::Display for OtelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtelError::Endpoint { endpoint, reason } => {
                write!(f, "invalid OTLP endpoint `{endpoint}`: {reason}")
            }
            OtelError::Config(what) => write!(f, "invalid OpenTelemetry exporter setting: {what}"),
            OtelError::Start(why) => write!(f, "cannot start the OpenTelemetry exporter: {why}"),
            OtelError::Timeout { what, after } => {
                write!(
                    f,
                    "the OpenTelemetry exporter did not {what} within {after:?}"
                )
            }
            OtelError::Stopped => f.write_str("the OpenTelemetry export thread has stopped"),
            OtelError::Export(why) => write!(f, "OTLP export failed: {why}"),
        }
    }
}

impl std::error::Error for OtelError {}

/// Settings of an [`OtelExporter`]; see [`OtelExporter::builder`].
#[derive(Debug, Clone)]
pub struct OtelExporterBuilder {
    endpoint: String,
    service_name: String,
    queue_capacity: usize,
    max_batch: usize,
    batch_interval: Duration,
    export_timeout: Duration,
    shutdown_timeout: Duration,
    sample_ratio: f64,
    #[cfg(feature = "otel-tls")]
    tls: TlsSettings,
}

/// The TLS settings of an `https://` endpoint (`otel-tls` feature).
#[cfg(feature = "otel-tls")]
#[derive(Debug, Clone, Default)]
struct TlsSettings {
    /// PEM certificates of the CAs to trust instead of the system's roots.
    ca_pem: Vec<Vec<u8>>,
    /// The name the receiver's certificate must carry, if not the endpoint's host.
    domain: Option<String>,
    /// The client's certificate chain and private key (PEM), for mutual TLS.
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

#[cfg(feature = "otel-tls")]
impl TlsSettings {
    fn is_set(&self) -> bool {
        !self.ca_pem.is_empty() || self.domain.is_some() || self.identity.is_some()
    }

    /// Each CA is at least one PEM certificate, the identity a certificate chain and a
    /// private key: checked at start, since tonic skips what it cannot parse (and a CA
    /// skipped would only show as failed handshakes).
    fn check(&self) -> Result<(), OtelError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        // At least one certificate, and none that fails to parse.
        let certificates = |pem: &[u8]| -> Result<(), String> {
            let mut found = false;
            for certificate in CertificateDer::pem_slice_iter(pem) {
                certificate.map_err(|e| e.to_string())?;
                found = true;
            }
            found.then_some(()).ok_or_else(|| "none found".to_owned())
        };
        for (index, pem) in self.ca_pem.iter().enumerate() {
            certificates(pem).map_err(|e| {
                OtelError::Config(format!(
                    "ca_certificate_pem #{}: no PEM certificate in it ({e})",
                    index + 1
                ))
            })?;
        }
        if let Some((chain, key)) = &self.identity {
            certificates(chain).map_err(|e| {
                OtelError::Config(format!(
                    "client_identity_pem: no PEM certificate in the certificate chain ({e})"
                ))
            })?;
            PrivateKeyDer::from_pem_slice(key).map_err(|e| {
                OtelError::Config(format!(
                    "client_identity_pem: no PEM private key (PKCS#8, PKCS#1 or SEC1) in the \
                     key ({e})"
                ))
            })?;
        }
        Ok(())
    }

    /// tonic's client TLS configuration: the CAs given, else the system's roots.
    fn client_config(&self) -> opentelemetry_otlp::tonic_types::transport::ClientTlsConfig {
        use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
        let mut config = if self.ca_pem.is_empty() {
            ClientTlsConfig::new().with_native_roots()
        } else {
            ClientTlsConfig::new().ca_certificates(self.ca_pem.iter().map(Certificate::from_pem))
        };
        if let Some(domain) = &self.domain {
            config = config.domain_name(domain.clone());
        }
        if let Some((cert, key)) = &self.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        config
    }
}

impl Default for OtelExporterBuilder {
    fn default() -> Self {
        OtelExporterBuilder {
            endpoint: "http://127.0.0.1:4317".to_owned(),
            service_name: "ringrpc".to_owned(),
            queue_capacity: 2048,
            max_batch: 512,
            batch_interval: Duration::from_secs(1),
            export_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            sample_ratio: 1.0,
            #[cfg(feature = "otel-tls")]
            tls: TlsSettings::default(),
        }
    }
}

impl OtelExporterBuilder {
    /// The OTLP/gRPC receiver (a collector, Jaeger, …): `http://host:port`, or
    /// `https://host:port` with the `otel-tls` feature (TLS, checking the receiver's
    /// certificate against the system's root certificates, or against the CAs given by
    /// [`ca_certificate_pem`](Self::ca_certificate_pem)). Default `http://127.0.0.1:4317`.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// The `service.name` resource attribute of every exported span. Default `ringrpc`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// How many ended spans may wait for the side thread; more are dropped (and counted).
    /// Default 2048.
    pub fn queue_capacity(mut self, spans: usize) -> Self {
        self.queue_capacity = spans;
        self
    }

    /// The most spans one export request carries. Default 512.
    pub fn max_batch(mut self, spans: usize) -> Self {
        self.max_batch = spans;
        self
    }

    /// How long a span waits at most for a batch to fill before it is exported. Default 1 s.
    pub fn batch_interval(mut self, interval: Duration) -> Self {
        self.batch_interval = interval;
        self
    }

    /// How long one export request may take. Default 10 s.
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = timeout;
        self
    }

    /// How long a flush, or the guard's drop, waits for the side thread. Default 5 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The share of new traces to record, from 0.0 (none) to 1.0 (all, the default), chosen
    /// by trace id. A span whose trace began elsewhere follows that decision instead — a
    /// server span its caller's `traceparent` sampled flag, a client span the current span's
    /// or the [`MetaInfo`](crate::MetaInfo) scope's — so a trace is recorded whole or not at
    /// all (OpenTelemetry's `ParentBased(TraceIdRatioBased)` sampler). The `traceparent` a
    /// call sends carries the decision on.
    pub fn sample_ratio(mut self, ratio: f64) -> Self {
        self.sample_ratio = ratio;
        self
    }

    /// Trusts the CA whose certificate this is (PEM), instead of the system's roots, when
    /// checking an `https://` receiver's certificate: for a collector behind a private CA
    /// (as the OpenTelemetry Collector's `ca_file`). May be given several times, one CA
    /// each. `otel-tls` feature.
    #[cfg(feature = "otel-tls")]
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca_pem.push(pem.into());
        self
    }

    /// The name the receiver's certificate must be issued to, when it is not the endpoint's
    /// host (an endpoint given by IP address, say). `otel-tls` feature.
    #[cfg(feature = "otel-tls")]
    pub fn tls_domain(mut self, name: impl Into<String>) -> Self {
        self.tls.domain = Some(name.into());
        self
    }

    /// Presents this certificate chain and private key (both PEM) to a receiver that asks
    /// for client certificates (mutual TLS). `otel-tls` feature.
    #[cfg(feature = "otel-tls")]
    pub fn client_identity_pem(
        mut self,
        certificate_chain: impl Into<Vec<u8>>,
        private_key: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.identity = Some((certificate_chain.into(), private_key.into()));
        self
    }

    /// Checks the settings, starts the side thread and its OTLP client (which connects
    /// lazily: a receiver that is down only makes exports fail).
    pub fn start(self) -> Result<OtelExporter, OtelError> {
        check_endpoint(&self.endpoint)?;
        #[cfg(feature = "otel-tls")]
        self.tls.check()?;
        #[cfg(feature = "otel-tls")]
        let tls = match (self.endpoint.starts_with("https://"), self.tls.is_set()) {
            (true, _) => Some(self.tls.client_config()),
            (false, false) => None,
            (false, true) => {
                return Err(OtelError::Config(format!(
                    "TLS settings (CA certificate, TLS domain, client identity) need an \
                     https:// endpoint, not `{}`",
                    self.endpoint
                )));
            }
        };
        for (name, value) in [
            ("queue_capacity", self.queue_capacity),
            ("max_batch", self.max_batch),
        ] {
            if value == 0 {
                return Err(OtelError::Config(format!("{name} must be at least 1")));
            }
        }
        for (name, value) in [
            ("batch_interval", self.batch_interval),
            ("export_timeout", self.export_timeout),
            ("shutdown_timeout", self.shutdown_timeout),
        ] {
            if value.is_zero() {
                return Err(OtelError::Config(format!("{name} must not be zero")));
            }
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(OtelError::Config(format!(
                "sample_ratio must be from 0.0 to 1.0, not {}",
                self.sample_ratio
            )));
        }
        let resource = Resource::builder_empty()
            .with_service_name(self.service_name.clone())
            .with_attribute(KeyValue::new("telemetry.sdk.name", "ringrpc"))
            .build();
        let (spans_tx, spans_rx) = tokio::sync::mpsc::channel(self.queue_capacity);
        let (control_tx, control_rx) = tokio::sync::mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let side = SideThread {
            endpoint: self.endpoint.clone(),
            resource: resource.clone(),
            spans: spans_rx,
            control: control_rx,
            stats: stats.clone(),
            max_batch: self.max_batch,
            batch_interval: self.batch_interval,
            export_timeout: self.export_timeout,
            #[cfg(feature = "otel-tls")]
            tls,
        };
        let thread = std::thread::Builder::new()
            .name("ringrpc-otel".to_owned())
            .spawn(move || side.run(ready_tx))
            .map_err(|e| OtelError::Start(format!("cannot spawn the ringrpc-otel thread: {e}")))?;
        match ready_rx.recv_timeout(self.shutdown_timeout) {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                let _ = thread.join();
                return Err(error);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(OtelError::Timeout {
                    what: "start",
                    after: self.shutdown_timeout,
                });
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(OtelError::Stopped),
        }
        let processor = ChannelProcessor {
            spans: spans_tx,
            control: control_tx,
            stats: stats.clone(),
            wait: self.shutdown_timeout,
            thread: Mutex::new(Some(thread)),
        };
        let root = Sampler::TraceIdRatioBased(self.sample_ratio);
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_sampler(Sampler::ParentBased(Box::new(root)))
            .with_span_processor(processor)
            .build();
        Ok(OtelExporter {
            provider,
            stats,
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

/// `endpoint` is `http://host[:port][/path]` (or `https://…` with the `otel-tls` feature)
/// with a host and, if given, a numeric port.
fn check_endpoint(endpoint: &str) -> Result<(), OtelError> {
    let refuse = |reason: &str| {
        Err(OtelError::Endpoint {
            endpoint: endpoint.to_owned(),
            reason: reason.to_owned(),
        })
    };
    let rest = match endpoint.split_once("://") {
        Some(("http", rest)) => rest,
        #[cfg(feature = "otel-tls")]
        Some(("https", rest)) => rest,
        #[cfg(not(feature = "otel-tls"))]
        Some(("https", _)) => {
            return refuse("https needs TLS: build ringrpc with its `otel-tls` feature");
        }
        Some((scheme, _)) => {
            return refuse(&format!("scheme `{scheme}` is neither http nor https"));
        }
        None => return refuse("expected http://host:port"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let port = match authority.rsplit_once(':') {
        // An IPv6 literal without a port (`[::1]`) has colons inside its brackets.
        Some((host, port)) if !port.contains(']') => {
            if host.is_empty() {
                return refuse("no host");
            }
            Some(port)
        }
        _ => None,
    };
    if authority.is_empty() {
        return refuse("no host");
    }
    if let Some(port) = port {
        if port.parse::<u16>().is_err() {
            return refuse(&format!("port `{port}` is not a number from 0 to 65535"));
        }
    }
    Ok(())
}

/// A running OTLP exporter (the guard): dropping it exports what is queued and stops the
/// side thread, waiting at most the [`shutdown_timeout`](OtelExporterBuilder::shutdown_timeout).
#[derive(Debug)]
pub struct OtelExporter {
    provider: SdkTracerProvider,
    stats: Arc<Stats>,
    shutdown_timeout: Duration,
}

impl OtelExporter {
    /// Settings with their defaults.
    pub fn builder() -> OtelExporterBuilder {
        OtelExporterBuilder::default()
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans exported here; add it
    /// to your subscriber (`tracing_subscriber::registry().with(exporter.layer())`).
    pub fn layer<S>(&self) -> OpenTelemetryLayer<S, SdkTracer>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.tracer())
    }

    /// A tracer of this exporter (instrumentation scope `ringrpc`), for spans made with
    /// the OpenTelemetry API directly.
    pub fn tracer(&self) -> SdkTracer {
        self.provider.tracer("ringrpc")
    }

    /// The tracer provider behind [`layer`](Self::layer).
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Exports every span queued so far, waiting at most the shutdown timeout.
    pub fn force_flush(&self) -> Result<(), OtelError> {
        self.provider.force_flush().map_err(from_sdk)
    }

    /// Spans dropped because the queue to the side thread was full (or it had stopped).
    pub fn dropped(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }

    /// Spans the receiver accepted.
    pub fn exported(&self) -> u64 {
        self.stats.exported.load(Ordering::Relaxed)
    }

    /// Spans lost to failed exports (receiver down, refused, timed out).
    pub fn failed(&self) -> u64 {
        self.stats.failed.load(Ordering::Relaxed)
    }

    /// Exports what is queued and stops the side thread (what dropping does), with the
    /// outcome.
    pub fn shutdown(self) -> Result<(), OtelError> {
        self.provider
            .shutdown_with_timeout(self.shutdown_timeout)
            .map_err(from_sdk)
    }
}

impl Drop for OtelExporter {
    fn drop(&mut self) {
        // A second shutdown (after `shutdown`) is refused by the provider; nothing to do.
        let _ = self.provider.shutdown_with_timeout(self.shutdown_timeout);
    }
}

fn from_sdk(error: OTelSdkError) -> OtelError {
    match error {
        OTelSdkError::AlreadyShutdown => OtelError::Stopped,
        OTelSdkError::Timeout(after) => OtelError::Timeout {
            what: "flush",
            after,
        },
        OTelSdkError::InternalFailure(why) => OtelError::Export(why),
    }
}

/// Counters shared by the workers (drops) and the side thread (exports).
#[derive(Debug, Default)]
struct Stats {
    dropped: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
}

/// Asks of the side thread, each answered once done.
enum Control {
    Flush(mpsc::SyncSender<OTelSdkResult>),
    Shutdown(mpsc::SyncSender<OTelSdkResult>),
}

/// The span processor of the workers: hands each ended span to the side thread, or drops
/// and counts it when the queue is full; never blocks.
#[derive(Debug)]
struct ChannelProcessor {
    spans: tokio::sync::mpsc::Sender<SpanData>,
    control: tokio::sync::mpsc::UnboundedSender<Control>,
    stats: Arc<Stats>,
    /// How long a flush waits for the side thread.
    wait: Duration,
    /// Joined once the side thread answered a shutdown.
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Control::Flush(_) => "Flush",
            Control::Shutdown(_) => "Shutdown",
        })
    }
}

impl ChannelProcessor {
    /// Sends `make(reply)` to the side thread and waits at most `wait` for its answer.
    fn ask(
        &self,
        make: fn(mpsc::SyncSender<OTelSdkResult>) -> Control,
        wait: Duration,
    ) -> OTelSdkResult {
        let (reply, answer) = mpsc::sync_channel(1);
        self.control
            .send(make(reply))
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        match answer.recv_timeout(wait) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(wait)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(OTelSdkError::InternalFailure(
                "the ringrpc-otel thread stopped".to_owned(),
            )),
        }
    }
}

impl SpanProcessor for ChannelProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if self.spans.try_send(span).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.ask(Control::Flush, self.wait)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.ask(Control::Shutdown, timeout);
        if result.is_ok() {
            // The thread returns right after answering.
            if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
                let _ = thread.join();
            }
        }
        result
    }
}

/// What the side thread owns.
struct SideThread {
    endpoint: String,
    resource: Resource,
    spans: tokio::sync::mpsc::Receiver<SpanData>,
    control: tokio::sync::mpsc::UnboundedReceiver<Control>,
    stats: Arc<Stats>,
    max_batch: usize,
    batch_interval: Duration,
    export_timeout: Duration,
    #[cfg(feature = "otel-tls")]
    tls: Option<opentelemetry_otlp::tonic_types::transport::ClientTlsConfig>,
}

impl SideThread {
    fn run(mut self, ready: mpsc::SyncSender<Result<(), OtelError>>) {
        crate::rt::lower_thread_priority();
        // The OTLP client's own spans (h2, tonic) must not be exported in turn.
        let _quiet = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::new());
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                let _ = ready.send(Err(OtelError::Start(format!("tokio runtime: {e}"))));
                return;
            }
        };
        runtime.block_on(async move {
            // The channel connects lazily, but is built inside the runtime.
            let builder = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(self.endpoint.clone())
                .with_timeout(self.export_timeout);
            #[cfg(feature = "otel-tls")]
            let builder = match self.tls.take() {
                Some(tls) => opentelemetry_otlp::WithTonicConfig::with_tls_config(builder, tls),
                None => builder,
            };
            let built = builder.build();
            let mut exporter = match built {
                Ok(exporter) => exporter,
                Err(e) => {
                    let _ = ready.send(Err(OtelError::Endpoint {
                        endpoint: self.endpoint.clone(),
                        reason: e.to_string(),
                    }));
                    return;
                }
            };
            exporter.set_resource(&self.resource);
            let _ = ready.send(Ok(()));
            self.serve(&exporter).await;
            let _ = exporter.shutdown();
        });
    }

    /// Batches and exports until a shutdown, or until every sender is gone (the provider
    /// dropped): the thread's event loop, bounded by the guard's lifetime.
    async fn serve(&mut self, exporter: &opentelemetry_otlp::SpanExporter) {
        let mut batch = Vec::with_capacity(self.max_batch);
        let mut due = tokio::time::Instant::now() + self.batch_interval;
        loop {
            tokio::select! {
                biased;
                control = self.control.recv() => match control {
                    Some(Control::Flush(reply)) => {
                        let result = self.drain(exporter, &mut batch).await;
                        let _ = reply.send(result);
                    }
                    Some(Control::Shutdown(reply)) => {
                        let result = self.drain(exporter, &mut batch).await;
                        let _ = reply.send(result);
                        return;
                    }
                    None => {
                        let _ = self.drain(exporter, &mut batch).await;
                        return;
                    }
                },
                span = self.spans.recv() => match span {
                    Some(span) => {
                        batch.push(span);
                        if batch.len() >= self.max_batch {
                            let _ = self.export(exporter, &mut batch).await;
                            due = tokio::time::Instant::now() + self.batch_interval;
                        }
                    }
                    None => {
                        let _ = self.drain(exporter, &mut batch).await;
                        return;
                    }
                },
                () = tokio::time::sleep_until(due) => {
                    if !batch.is_empty() {
                        let _ = self.export(exporter, &mut batch).await;
                    }
                    due = tokio::time::Instant::now() + self.batch_interval;
                }
            }
        }
    }

    /// Exports the batch and every span queued now (at most the queue's capacity more).
    async fn drain(
        &mut self,
        exporter: &opentelemetry_otlp::SpanExporter,
        batch: &mut Vec<SpanData>,
    ) -> OTelSdkResult {
        let mut result = Ok(());
        for _ in 0..self.spans.max_capacity() {
            match self.spans.try_recv() {
                Ok(span) => batch.push(span),
                Err(_) => break,
            }
            if batch.len() >= self.max_batch {
                result = result.and(self.export(exporter, batch).await);
            }
        }
        if !batch.is_empty() {
            result = result.and(self.export(exporter, batch).await);
        }
        result
    }

    async fn export(
        &self,
        exporter: &opentelemetry_otlp::SpanExporter,
        batch: &mut Vec<SpanData>,
    ) -> OTelSdkResult {
        let spans = std::mem::replace(batch, Vec::with_capacity(self.max_batch));
        let count = spans.len() as u64;
        let result = exporter.export(spans).await;
        let counter = match result {
            Ok(()) => &self.stats.exported,
            Err(_) => &self.stats.failed,
        };
        counter.fetch_add(count, Ordering::Relaxed);
        result
    }
}

/// `context` as a remote parent (what arrived in a `traceparent`), with its `tracestate`.
fn remote_parent(context: &TraceContext, state: Option<&BytesStr>) -> Context {
    let state = state
        .and_then(|s| TraceState::from_str(s.as_str()).ok())
        .unwrap_or_default();
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_bytes(context.trace_id),
        SpanId::from_bytes(context.parent_id),
        TraceFlags::new(context.flags),
        true,
        state,
    ))
}

/// Server side: makes an enabled `rpc.server` span a child of the caller's `traceparent`.
pub(crate) fn link_server_span(
    span: &tracing::Span,
    caller: &TraceContext,
    state: Option<&BytesStr>,
) {
    // Without the OpenTelemetry layer there is nothing to link.
    let _ = span.set_parent(remote_parent(caller, state));
}

/// Client side: parents an enabled `rpc.client` span — the current span when it belongs
/// to the scope's trace (a handler calling on), else the scope's trace, else whatever
/// `tracing` gives (the current span, or a new trace) — and returns the span's own
/// context, which the call sends as its `traceparent`. `None` without the layer.
pub(crate) fn link_client_span(
    span: &tracing::Span,
    scope: Option<&TraceContext>,
    state: Option<&BytesStr>,
) -> Option<TraceContext> {
    if let Some(scope) = scope {
        let current = tracing::Span::current().context();
        let current = current.span();
        let current = current.span_context();
        if !current.is_valid() || current.trace_id().to_bytes() != scope.trace_id {
            let _ = span.set_parent(remote_parent(scope, state));
        }
    }
    let own = span.context();
    let own = own.span();
    let own = own.span_context();
    own.is_valid().then(|| TraceContext {
        trace_id: own.trace_id().to_bytes(),
        parent_id: own.span_id().to_bytes(),
        flags: own.trace_flags().to_u8(),
    })
}
