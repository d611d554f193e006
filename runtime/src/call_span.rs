//! How a failed call marks its `rpc.client` or `rpc.server` span, so traces show it.
//!
//! Both spans declare three empty fields that only a failure fills:
//! - `otel.status_code` = `ERROR` and `otel.status_description` = what went wrong, which
//!   `tracing-opentelemetry` turns into the exported span's status (the `otel` feature);
//! - `error.type`, OpenTelemetry's low-cardinality failure class: the word the metrics'
//!   `error` label uses for the same outcome ([`ErrorKind::as_str`]: `timeout`,
//!   `transport`, `application`, `panic`, …).
//!
//! A declared exception is an answer of the method, not a failed call: its span keeps an
//! unset status (the metrics count it as `exception`).

use std::fmt::Display;

use crate::metrics::ErrorKind;

/// Marks `span` as a call that failed with `kind`, described by `description`. Free when
/// the span is disabled (no subscriber wants it).
pub(crate) fn mark_failed(span: &tracing::Span, kind: ErrorKind, description: &dyn Display) {
    if span.is_disabled() {
        return;
    }
    // The code first: `tracing-opentelemetry` reads a later code as a status without a
    // description.
    span.record("otel.status_code", "ERROR");
    span.record(
        "otel.status_description",
        tracing::field::display(description),
    );
    span.record("error.type", kind.as_str());
}
