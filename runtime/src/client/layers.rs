//! The client's governance layers, outermost first: [`Timeout`] (the call's deadline),
//! [`Retry`] (retries and backup requests within the retry budget) and [`Balance`] (which
//! endpoint each attempt goes to, its circuit breaker, outlier ejection), around the
//! [`Transport`] (`super::transport`, which also injects the policy's faults). Each is a
//! thin shell: the decisions are the sans-IO types of [`crate::governance`], fed the time,
//! and the state lives in the client's per-core state reached through the [`ClientCx`].
//!
//! Breakers and faults are steps of the balancer and the transport rather than layers of
//! their own: every layer nests the future of the one inside it, and a call's future is
//! moved into place once per level, so each level costs every call a copy of all below it
//! (measured: two fewer levels raise the multiplexed QPS of `rpc-bench` by about 10 %).

use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use ringrpc_codec::ApplicationErrorKind;
use ringrpc_codec::frame::Frame;

use super::core::{Choice, CoreEndpoint, MethodState, WatchedBreaker};
use super::cx::{Args, ClientCx};
use super::transport::Transport;
use crate::call::CallError;
use crate::governance::balance::{LoadBalance, hash_bytes};
use crate::governance::breaker::{Outcome, Permit};
use crate::governance::retry::RetryClass;
use crate::service::Service;

/// The built-in stack every client call goes through, inside the user's layers.
pub type Governed = Timeout<Retry<Balance<Transport>>>;

/// The built-in stack.
pub(crate) fn governed() -> Governed {
    Timeout {
        inner: Retry {
            inner: Balance { inner: Transport },
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
        // The call's deadline came from its policy's timeout; an outer layer may have
        // shortened it, and the caller's caller may have less time still.
        let now = cx.started;
        if let Some(upstream) = crate::metainfo::with(|m| m.deadline()).flatten() {
            cx.deadline = cx.deadline.min(upstream);
        }
        let budget = cx.deadline.saturating_duration_since(now);
        cx.budget = budget;
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
        state.budget.borrow_mut().deposit(cx.started);
        let mut attempt = 1;
        loop {
            cx.attempt = attempt;
            // No `result` local: a frame held across the backoff sleep would grow every
            // call's future by its size.
            let error = match policy.backup_after {
                // Boxed: the race holds two attempts, and inline it would make every
                // call's future (moved on each poll's way in) three times as large.
                Some(after) if policy.retry.idempotent && attempt == 1 => {
                    let (result, sent) = Box::pin(self.hedged(cx, args, after)).await;
                    // A backup request counts as an attempt. Its end is on its own context:
                    // the call's end is read afresh.
                    attempt = sent;
                    if sent > 1 {
                        cx.ended_tsc = None;
                    }
                    match result {
                        Ok(frame) => return Ok(frame),
                        Err(e) => e,
                    }
                }
                _ => match self.inner.call(cx, args).await {
                    Ok(frame) => return Ok(frame),
                    Err(e) => e,
                },
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
            // Boxed, like every rare timer here: an inline one would grow every call's
            // future by a cache-padded timer entry.
            Box::pin(monoio::time::sleep(delay)).await;
            attempt += 1;
        }
    }
}

impl<S> Retry<S> {
    /// The first attempt, and a second one to another endpoint if the first has no answer
    /// after `after` (budget allowing): the first success wins and the other attempt is
    /// cancelled; if one fails the other is awaited. Returns the outcome and the attempts
    /// sent.
    async fn hedged<'a>(
        &self,
        cx: &mut ClientCx,
        args: Args<'a>,
        after: Duration,
    ) -> (Result<Frame, CallError>, u32)
    where
        S: Service<ClientCx, Args<'a>, Response = Frame, Error = CallError>,
    {
        let mut backup_cx = cx.clone();
        // The balancer tells which endpoint the first attempt went to.
        let first_endpoint = Rc::new(std::cell::Cell::new(None));
        cx.picked = Some(first_endpoint.clone());
        let mut first = pin!(self.inner.call(cx, args));
        let mut timer = pin!(monoio::time::sleep(after));
        let raced = std::future::poll_fn(|task| {
            if let Poll::Ready(result) = first.as_mut().poll(task) {
                return Poll::Ready(Some(result));
            }
            timer.as_mut().poll(task).map(|()| None)
        })
        .await;
        if let Some(result) = raced {
            return (result, 1);
        }
        let state = backup_cx.state.clone();
        if !state.budget.borrow_mut().try_withdraw(Instant::now()) {
            return (first.await, 1);
        }
        backup_cx.attempt = 2;
        backup_cx.avoid = first_endpoint.get();
        let mut second = pin!(self.inner.call(&mut backup_cx, args));
        let mut first_done: Option<CallError> = None;
        let mut second_done: Option<CallError> = None;
        let result = std::future::poll_fn(|task| {
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
        .await;
        (result, 2)
    }
}

/// Chooses the endpoint of each attempt (the `load_balance` strategy over the instances
/// of the call's group: its route tag's, a gray split's, or the stable set), skipping
/// ejected ones, those whose breaker is open and, on a retry, the one that just failed;
/// takes a permit from the endpoint's circuit breaker for the method (when the policy sets
/// a `circuit_breaker.*` key: an open one fails the attempt with
/// [`CallError::Unavailable`], so it is retried elsewhere); reports each outcome to the
/// breaker, to outlier ejection and to latency-aware balancing.
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
        let policy = &cx.state.policy;
        let endpoint = choose(cx)?;
        cx.endpoint = Some(endpoint.clone());
        if let Some(picked) = &cx.picked {
            picked.set(Some(endpoint.id));
        }
        let permit = match policy.breaker {
            Some(config) => match breaker_permit(cx, &endpoint, config) {
                Ok(permit) => Some(permit),
                Err(e) => {
                    cx.avoid = Some(endpoint.id);
                    return Err(e);
                }
            },
            None => None,
        };
        let p2c = (policy.load_balance == LoadBalance::PowerOfTwoChoices)
            .then(|| core.p2c_start(&endpoint));
        let result = self.inner.call(cx, args).await;
        if let Some(p2c) = p2c {
            p2c.finish();
        }
        if let Some(permit) = permit {
            permit.finish(endpoint_failed(&result).map(|failed| {
                if failed {
                    Outcome::Failure
                } else {
                    Outcome::Success
                }
            }));
        }
        // An endpoint that could not take the call (not connected) counts against it
        // here, unlike in its breaker, which counts only calls that reached it.
        let failed = endpoint_failed(&result).unwrap_or(true);
        core.report(&endpoint, failed);
        if failed {
            cx.avoid = Some(endpoint.id);
        }
        result
    }
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
            Some(outcome) => breaker.record(permit, outcome, Instant::now()),
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

/// The endpoint of the current attempt of `cx`'s call. Not async: the call's metadata it
/// reads never becomes part of every call's future.
fn choose(cx: &ClientCx) -> Result<Rc<CoreEndpoint>, CallError> {
    let core = &cx.core;
    // Once per attempt: the instances as discovery lists them now.
    core.refresh_endpoints();
    let hash_key = cx.state.policy.hash_key.as_deref();
    // The call's metadata matters only to tag routing and hashing.
    let (route_tag, hash) = if core.any_tagged() || hash_key.is_some() {
        let route_key = &core.config.settings.route_tag_key;
        crate::metainfo::with(|m| {
            let tag = m.persistent(route_key).cloned();
            let hash = hash_key.and_then(|k| {
                m.persistent(k)
                    .or_else(|| m.transient(k))
                    .map(|v| hash_bytes(v.as_bytes()))
            });
            (tag, hash)
        })
        .unwrap_or_default()
    } else {
        (None, None)
    };
    let now = if cx.attempt == 1 {
        cx.started
    } else {
        Instant::now()
    };
    core.pick(
        &Choice {
            method: cx.method,
            state: &cx.state,
            route_tag: route_tag.as_deref(),
            hash_key: hash,
            avoid: cx.avoid,
        },
        now,
    )
}

/// A permit of `endpoint`'s breaker for the call's method, or why there is none.
fn breaker_permit(
    cx: &ClientCx,
    endpoint: &CoreEndpoint,
    config: crate::governance::breaker::BreakerConfig,
) -> Result<PermitGuard, CallError> {
    let acquired = cx
        .state
        .breakers
        .borrow_mut()
        .entry(endpoint.id)
        .or_insert_with(|| {
            WatchedBreaker::new(
                config,
                &cx.core.config.target,
                cx.method,
                endpoint.address(),
            )
        })
        .try_acquire(Instant::now());
    let permit = acquired.map_err(|rejected| {
        CallError::Unavailable(format!(
            "{} for `{}`: {rejected}",
            endpoint.address(),
            cx.method.name
        ))
    })?;
    Ok(PermitGuard {
        state: cx.state.clone(),
        endpoint: endpoint.id,
        permit: Some(permit),
    })
}
