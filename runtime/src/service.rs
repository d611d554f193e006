//! [`Service`] and [`Layer`]: the middleware model ringrpc's client and server stacks are
//! built from, in motore's shape for a thread-per-core runtime: a service is called with
//! `&self` and a mutable per-call context, its future need not be `Send`, and a layer wraps
//! one service in another. Stacks are plain nested types built once per core, so a call
//! through them is static dispatch with no allocation.
//!
//! ```
//! use ringrpc::service::{Service, ServiceBuilder, layer_fn, service_fn};
//!
//! /// Counts the calls that pass through.
//! struct Counted<S> {
//!     inner: S,
//!     calls: std::cell::Cell<u32>,
//! }
//!
//! impl<Cx, Req, S: Service<Cx, Req>> Service<Cx, Req> for Counted<S> {
//!     type Response = S::Response;
//!     type Error = S::Error;
//!     async fn call(&self, cx: &mut Cx, req: Req) -> Result<S::Response, S::Error> {
//!         self.calls.set(self.calls.get() + 1);
//!         self.inner.call(cx, req).await
//!     }
//! }
//!
//! let stack = ServiceBuilder::new()
//!     .layer(layer_fn(|inner| Counted { inner, calls: Default::default() }))
//!     .service(service_fn(async |log: &mut Vec<u32>, n: u32| {
//!         log.push(n);
//!         Ok::<_, std::convert::Infallible>(n * 2)
//!     }));
//! let mut log = Vec::new();
//! let doubled = ringrpc::rt::block_on(ringrpc::Driver::Epoll, stack.call(&mut log, 21)).unwrap();
//! assert_eq!((doubled.unwrap(), log, stack.calls.get()), (42, vec![21], 1));
//! ```

use std::fmt;
use std::future::Future;

/// An asynchronous function from a request to a response, called with a mutable context
/// (deadline, metadata, the chosen endpoint, …) that layers read and write.
pub trait Service<Cx, Req> {
    /// What a successful call returns.
    type Response;
    /// How a call fails.
    type Error;
    /// Handles `req`. The future may borrow `self` and `cx`, and need not be `Send`.
    fn call(
        &self,
        cx: &mut Cx,
        req: Req,
    ) -> impl Future<Output = Result<Self::Response, Self::Error>>;
}

/// Wraps a service in another (a timeout, a retry loop, a circuit breaker, …).
pub trait Layer<S> {
    /// The wrapped service.
    type Service;
    /// Wraps `inner`.
    fn layer(self, inner: S) -> Self::Service;
}

/// The layer that changes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl<S> Layer<S> for Identity {
    type Service = S;
    fn layer(self, inner: S) -> S {
        inner
    }
}

/// Two layers, `inner` applied first (closest to the service), then `outer`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stack<Inner, Outer> {
    inner: Inner,
    outer: Outer,
}

impl<Inner, Outer> Stack<Inner, Outer> {
    /// `outer` around `inner`.
    pub fn new(inner: Inner, outer: Outer) -> Self {
        Stack { inner, outer }
    }
}

impl<S, Inner: Layer<S>, Outer: Layer<Inner::Service>> Layer<S> for Stack<Inner, Outer> {
    type Service = Outer::Service;
    fn layer(self, inner: S) -> Self::Service {
        self.outer.layer(self.inner.layer(inner))
    }
}

/// Composes layers: the first one added is the outermost (it sees each call first and its
/// result last).
#[derive(Debug, Clone, Default)]
pub struct ServiceBuilder<L> {
    layer: L,
}

impl ServiceBuilder<Identity> {
    /// No layers yet.
    pub fn new() -> Self {
        ServiceBuilder { layer: Identity }
    }
}

impl<L> ServiceBuilder<L> {
    /// Adds `layer` inside the ones already added.
    pub fn layer<T>(self, layer: T) -> ServiceBuilder<Stack<T, L>> {
        ServiceBuilder {
            layer: Stack::new(layer, self.layer),
        }
    }

    /// The layers added so far, as one layer (for building the same stack on every core).
    pub fn into_layer(self) -> L {
        self.layer
    }

    /// Wraps `service` in the layers.
    pub fn service<S>(self, service: S) -> L::Service
    where
        L: Layer<S>,
    {
        self.layer.layer(service)
    }
}

/// A service from an async closure `(cx, req) -> Result`; see [`service_fn`].
#[derive(Clone, Copy)]
pub struct ServiceFn<F>(F);

impl<F> fmt::Debug for ServiceFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceFn")
    }
}

/// A service that runs `f`.
pub fn service_fn<F>(f: F) -> ServiceFn<F> {
    ServiceFn(f)
}

impl<Cx, Req, R, E, F> Service<Cx, Req> for ServiceFn<F>
where
    F: AsyncFn(&mut Cx, Req) -> Result<R, E>,
{
    type Response = R;
    type Error = E;
    fn call(&self, cx: &mut Cx, req: Req) -> impl Future<Output = Result<R, E>> {
        (self.0)(cx, req)
    }
}

/// A layer from a closure `inner -> service`; see [`layer_fn`].
#[derive(Clone, Copy)]
pub struct LayerFn<F>(F);

impl<F> fmt::Debug for LayerFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LayerFn")
    }
}

/// A layer that wraps with `f`.
pub fn layer_fn<F>(f: F) -> LayerFn<F> {
    LayerFn(f)
}

impl<S, Out, F: FnOnce(S) -> Out> Layer<S> for LayerFn<F> {
    type Service = Out;
    fn layer(self, inner: S) -> Out {
        (self.0)(inner)
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    fn ready<F: Future>(f: F) -> F::Output {
        match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("the future should be ready"),
        }
    }

    /// Records its name in the context on the way in and out.
    struct Trace<S> {
        name: &'static str,
        inner: S,
    }

    impl<Req, S: Service<Vec<String>, Req>> Service<Vec<String>, Req> for Trace<S> {
        type Response = S::Response;
        type Error = S::Error;
        async fn call(&self, cx: &mut Vec<String>, req: Req) -> Result<S::Response, S::Error> {
            cx.push(format!("{} in", self.name));
            let out = self.inner.call(cx, req).await;
            cx.push(format!("{} out", self.name));
            out
        }
    }

    #[test]
    fn the_first_layer_added_is_the_outermost() {
        let stack = ServiceBuilder::new()
            .layer(layer_fn(|inner| Trace {
                name: "outer",
                inner,
            }))
            .layer(layer_fn(|inner| Trace {
                name: "inner",
                inner,
            }))
            .service(service_fn(async |cx: &mut Vec<String>, n: u32| {
                cx.push(format!("service {n}"));
                Ok::<_, ()>(n + 1)
            }));
        let mut cx = Vec::new();
        assert_eq!(ready(stack.call(&mut cx, 1)), Ok(2));
        assert_eq!(
            cx,
            [
                "outer in",
                "inner in",
                "service 1",
                "inner out",
                "outer out"
            ]
        );
    }

    #[test]
    fn identity_and_errors_pass_through() {
        let service =
            ServiceBuilder::new().service(service_fn(
                async |_: &mut (), n: i32| {
                    if n < 0 { Err("negative") } else { Ok(n) }
                },
            ));
        assert_eq!(ready(service.call(&mut (), 3)), Ok(3));
        assert_eq!(ready(service.call(&mut (), -1)), Err("negative"));
        let reused = ServiceBuilder::new().layer(Identity).into_layer();
        let again = reused.layer(service_fn(async |_: &mut (), n: i32| Ok::<_, ()>(n * 10)));
        assert_eq!(ready(again.call(&mut (), 4)), Ok(40));
    }
}
