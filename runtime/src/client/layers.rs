//! The client's governance layers, outermost first: [`Timeout`] (the call's deadline),
//! [`Retry`] (retries and backup requests within the retry budget), [`Balance`] (which
//! endpoint each attempt goes to; ejection), [`Breaker`] (a circuit breaker per endpoint
//! and method) and [`Fault`] (injected delays and aborts), around the [`Transport`]
//! (`super::transport`). Each is a thin shell: the decisions are the sans-IO types of
//! [`crate::governance`], fed the time, and the state lives in the client's per-core
//! state reached through the [`ClientCx`].

use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use ringrpc_codec::ApplicationErrorKind;
use ringrpc_codec::frame::Frame;

use super::core::{Choice, MethodState};
use super::cx::{Args, ClientCx};
use super::transport::Transport;
use crate::call::CallError;
use crate::governance::balance::hash_bytes;
use crate::governance::breaker::{CircuitBreaker, Outcome, Permit};
use crate::governance::retry::RetryClass;
use crate::service::Service;

/// The built-in stack every client call goes through, inside the user's layers.
pub type Governed = Timeout<Retry<Balance<Breaker<Fault<Transport>>>>>;

/// The built-in stack.
pub(crate) fn governed() -> Governed {
    Timeout {
        inner: Retry {
            inner: Balance {
                inner: Breaker {
                    inner: Fault { inner: Transport },
                },
            },
        },
    }
}

/// How a failed attempt bears on retrying it.
fn retry_class(e: &CallError) -> RetryClass {
    match e {
        CallError::Unavailable(_) => RetryClass::NeverReachedServer,
        CallError::Transport(_) | CallError::Timeout(_) => RetryClass::MayHaveReachedServer,
        _ => RetryClass::ServerAnswered,
    }
}

/// Whether an attempt's outcome counts against its endpoint: `Some(true)` a failure (the
/// transport failed or no reply came in time), `Some(false)` a success (the server
/// answered, even with an exception, unless it reported an internal error), `None` when
/// the call never reached it.
fn endpoint_failed(result: &Result<Frame, CallError>) -> Option<bool> {
    match result {
        Ok(_) => Some(false),
        Err(CallError::Unavailable(_)) => None,
        Err(CallError::Transport(_) | CallError::Timeout(_)) => Some(true),
        Err(CallError::Application(e)) => Some(e.kind == ApplicationErrorKind::INTERNAL_ERROR),
        Err(_) => Some(false),
    }
}

/// Sets the call's deadline: its policy's `timeout_ms` from now, or sooner when the call
/// is made while serving one whose caller gave less time (Kitex's deadline propagation).
/// The layers below keep to it: the transport waits for replies until then, retries and
/// injected delays stop there, and over TTHeader the server is told what is left.
#[derive(Debug, Clone, Copy)]
pub struct Timeout<S> {
    inner: S,
}

impl<'a, S> Service<ClientCx, Args<'a>> for Timeout<S>
where
    S: Service<ClientCx, Args<'a>, Response = Frame, Error = CallError>,
{
    type Response = Frame;
    type Error = CallError;

    async fn call(&self, cx: &mut ClientCx, args: Args<'a>) -> Result<Frame, CallError> {
        let now = Instant::now();
        let mut budget = cx.state.policy.timeout;
        if let Some(upstream) = crate::metainfo::with(|m| m.deadline()).flatten() {
            budget = budget.min(upstream.saturating_duration_since(now));
        }
        cx.budget = budget;
        cx.deadline = now + budget;
        if budget.is_zero() {
            return Err(CallError::Timeout(budget));
        }
        self.inner.call(cx, args).await
    }
}

/// Retries failed attempts the policy allows (`retry.*`: retry-safe failures, or any
/// transport failure of an idempotent method) with jittered exponential backoff, within
/// the method's retry budget and the call's deadline; sends one backup request when an
/// idempotent method's first attempt has no reply after `backup_request_ms` (the first
/// answer wins, the other is cancelled).
#[derive(Debug, Clone, Copy)]
pub struct Retry<S> {
    inner: S,
}

impl<'a, S> Service<ClientCx, Args<'a>> for Retry<S>
where
    S: Service<ClientCx, Args<'a>, Response = Frame, Error = CallError>,
{
    type Response = Frame;
    type Error = CallError;

    async fn call(&self, cx: &mut ClientCx, args: Args<'a>) -> Result<Frame, CallError> {
        let state = cx.state.clone();
        let policy = &state.policy;
        if cx.method.oneway || (policy.retry.max_attempts <= 1 && policy.backup_after.is_none()) {
            return self.inner.call(cx, args).await;
        }
        state.budget.borrow_mut().deposit(Instant::now());
        let mut attempt = 1;
        loop {
            cx.attempt = attempt;
            let result = match policy.backup_after {
                Some(after) if policy.retry.idempotent && attempt == 1 => {
                    self.hedged(cx, args, after).await
                }
                _ => self.inner.call(cx, args).await,
            };
            let error = match result {
                Ok(frame) => return Ok(frame),
                Err(e) => e,
            };
            let now = Instant::now();
            if !policy.retry.should_retry(attempt, retry_class(&error)) {
                return Err(error);
            }
            let mut rng = cx.core.random();
            let delay = policy.retry.delay(attempt, &mut rng);
            if now + delay >= cx.deadline || !state.budget.borrow_mut().try_withdraw(now) {
                return Err(error);
            }
            tracing::debug!(
                method = cx.method.name,
                attempt,
                delay_ms = delay.as_millis() as u64,
                "retrying: {error}"
            );
            monoio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

impl<S> Retry<S> {
    /// The first attempt, and a second one if the first has no answer after `after`
    /// (budget allowing): the first success wins; if one fails the other is awaited.
    async fn hedged<'a>(
        &self,
        cx: &mut ClientCx,
        args: Args<'a>,
        after: Duration,
    ) -> Result<Frame, CallError>
    where
        S: Service<ClientCx, Args<'a>, Response = Frame, Error = CallError>,
    {
        let mut backup_cx = cx.clone();
        let mut first = pin!(self.inner.call(cx, args));
        let mut timer = pin!(monoio::time::sleep(after));
        let raced = std::future::poll_fn(|task| {
            if let Poll::Ready(result) = first.as_mut().poll(task) {
                return Poll::Ready(Err(result));
            }
            timer.as_mut().poll(task).map(Ok)
        })
        .await;
        let first_failure = match raced {
            Err(result) => return result,
            Ok(()) => None::<CallError>,
        };
        let state = backup_cx.state.clone();
        if first_failure.is_none() && !state.budget.borrow_mut().try_withdraw(Instant::now()) {
            return first.await;
        }
        backup_cx.attempt = 2;
        backup_cx.avoid = backup_cx.endpoint.as_ref().map(|e| e.id);
        let mut second = pin!(self.inner.call(&mut backup_cx, args));
        let mut first_done: Option<CallError> = None;
        let mut second_done: Option<CallError> = None;
        std::future::poll_fn(|task| {
            if first_done.is_none() {
                if let Poll::Ready(result) = first.as_mut().poll(task) {
                    match result {
                        Ok(frame) => return Poll::Ready(Ok(frame)),
                        Err(e) => first_done = Some(e),
                    }
                }
            }
            if second_done.is_none() {
                if let Poll::Ready(result) = second.as_mut().poll(task) {
                    match result {
                        Ok(frame) => return Poll::Ready(Ok(frame)),
                        Err(e) => second_done = Some(e),
                    }
                }
            }
            match (first_done.take(), second_done.take()) {
                (Some(e), Some(_)) => Poll::Ready(Err(e)),
                (a, b) => {
                    first_done = a;
                    second_done = b;
                    Poll::Pending
                }
            }
        })
        .await
    }
}

/// Chooses the endpoint of each attempt (the `load_balance` strategy over the instances
/// of the call's group: its route tag's, a gray split's, or the stable set), skipping
/// ejected ones, those whose breaker is open and, on a retry, the one that just failed;
/// reports each outcome for outlier ejection and latency-aware balancing.
#[derive(Debug, Clone, Copy)]
pub struct Balance<S> {
    inner: S,
}

impl<'a, S> Service<ClientCx, Args<'a>> for Balance<S>
where
    S: Service<ClientCx, Args<'a>, Response = Frame, Error = CallError>,
{
    type Response = Frame;
    type Error = CallError;

    async fn call(&self, cx: &mut ClientCx, args: Args<'a>) -> Result<Frame, CallError> {
        let core = cx.core.clone();
        let route_key = &core.config.settings.route_tag_key;
        let hash_key = cx.state.policy.hash_key.as_deref();
        let (route_tag, hash) = crate::metainfo::with(|m| {
            let tag = m.persistent(route_key).cloned();
            let hash = hash_key.and_then(|k| {
                m.persistent(k)
                    .or_else(|| m.transient(k))
                    .map(|v| hash_bytes(v.as_bytes()))
            });
            (tag, hash)
        })
        .unwrap_or_default();
        let endpoint = core.pick(&Choice {
            method: cx.method,
            state: &cx.state,
            route_tag: route_tag.as_deref(),
            hash_key: hash,
            avoid: cx.avoid,
        })?;
        cx.endpoint = Some(endpoint.clone());
        let started = Instant::now();
        let result = self.inner.call(cx, args).await;
        // An endpoint that could not take the call (not connected) counts against it
        // here, unlike in its breaker, which counts only calls that reached it.
        let failed = endpoint_failed(&result).unwrap_or(true);
        core.report(&endpoint, failed, started.elapsed());
        if failed {
            cx.avoid = Some(endpoint.id);
        }
        result
    }
}

/// A circuit breaker per endpoint and method (on when the policy sets a
/// `circuit_breaker.*` key): an open breaker fails the attempt at once with
/// [`CallError::Unavailable`] (so it is retried elsewhere), and the balancer stops
/// choosing that endpoint for the method until it half-opens.
#[derive(Debug, Clone, Copy)]
pub struct Breaker<S> {
    inner: S,
}

/// Gives a breaker permit back if its call is cancelled (a backup request won).
struct PermitGuard {
    state: Rc<MethodState>,
    endpoint: u64,
    permit: Option<Permit>,
}

impl PermitGuard {
    fn finish(mut self, outcome: Option<Outcome>) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let mut breakers = self.state.breakers.borrow_mut();
        let Some(breaker) = breakers.get_mut(&self.endpoint) else {
            return;
        };
        match outcome {
            Some(outcome) => {
                if let Some(to) = breaker.record(permit, outcome, Instant::now()) {
                    tracing::warn!(endpoint = self.endpoint, "circuit breaker now {to:?}");
                }
            }
            None => breaker.cancel(permit),
        }
    }
}

impl Drop for PermitGuard {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            if let Some(breaker) = self.state.breakers.borrow_mut().get_mut(&self.endpoint) {
                breaker.cancel(permit);
            }
        }
    }
}

impl<'a, S> Service<ClientCx, Args<'a>> for Breaker<S>
where
    S: Service<ClientCx, Args<'a>, Response = Frame, Error = CallError>,
{
    type Response = Frame;
    type Error = CallError;

    async fn call(&self, cx: &mut ClientCx, args: Args<'a>) -> Result<Frame, CallError> {
        let (Some(config), Some(endpoint)) = (cx.state.policy.breaker, cx.endpoint.clone()) else {
            return self.inner.call(cx, args).await;
        };
        let acquired = cx
            .state
            .breakers
            .borrow_mut()
            .entry(endpoint.id)
            .or_insert_with(|| CircuitBreaker::new(config))
            .try_acquire(Instant::now());
        let permit = acquired.map_err(|rejected| {
            CallError::Unavailable(format!(
                "{} for `{}`: {rejected}",
                endpoint.address(),
                cx.method.name
            ))
        })?;
        let guard = PermitGuard {
            state: cx.state.clone(),
            endpoint: endpoint.id,
            permit: Some(permit),
        };
        let result = self.inner.call(cx, args).await;
        guard.finish(endpoint_failed(&result).map(|failed| {
            if failed {
                Outcome::Failure
            } else {
                Outcome::Success
            }
        }));
        result
    }
}

/// Injects the policy's faults (`fault.*`), for chaos tests: delays a share of calls
/// before sending them (within the deadline) and fails a share as if the transport had
/// failed, so retries, breakers and ejection see them like real failures.
#[derive(Debug, Clone, Copy)]
pub struct Fault<S> {
    inner: S,
}

impl<'a, S> Service<ClientCx, Args<'a>> for Fault<S>
where
    S: Service<ClientCx, Args<'a>, Response = Frame, Error = CallError>,
{
    type Response = Frame;
    type Error = CallError;

    async fn call(&self, cx: &mut ClientCx, args: Args<'a>) -> Result<Frame, CallError> {
        let fault = cx.state.policy.fault;
        if fault.is_active() {
            if let Some(delay) = fault.delay.filter(|_| cx.core.chance(fault.delay_percent)) {
                let left = cx.deadline.saturating_duration_since(Instant::now());
                monoio::time::sleep(delay.min(left)).await;
                if delay >= left {
                    return Err(CallError::Timeout(cx.budget));
                }
            }
            if cx.core.chance(fault.abort_percent) {
                return Err(CallError::Transport(format!(
                    "fault injected: abort (fault.abort_percent = {})",
                    fault.abort_percent
                )));
            }
        }
        self.inner.call(cx, args).await
    }
}
