//! [`Multiplexed`]: several services behind one server, as Apache's `TMultiplexedProcessor`
//! does: a call named `Service:method` goes to the service registered as `Service`, which
//! sees the bare `method`; a name without a `:` goes to the default service, if one is set.
//! Replies carry the bare method name, as Apache's multiplexed servers' do. Routes are a
//! chain of types, so dispatch is a few string comparisons and no dynamic call.

use std::future::Future;

use ringrpc_codec::{EncodeError, ProtocolReader};

use super::dispatch::Dispatch;
use crate::call::{MethodInfo, ReplySink};
use crate::method::unknown_method;

/// Services registered by name; see [`Multiplexed::service`].
pub trait Routes {
    /// Runs `method` on the service named `service`; `Ok(false)` (with `r` untouched) when
    /// no service has that name.
    fn route<R: ProtocolReader, S: ReplySink>(
        &self,
        service: &str,
        method: &str,
        r: &mut R,
        sink: &mut S,
    ) -> impl Future<Output = Result<bool, EncodeError>>;

    /// What the service named `service` knows about its method `method`.
    fn method(&self, service: &str, method: &str) -> Option<&'static MethodInfo>;

    /// Adds every method of every service to `all` (for introspection).
    fn methods(&self, all: &mut Vec<&'static MethodInfo>) {
        let _ = all;
    }
}

/// The end of the route chain: no service of that name.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRoute;

impl Routes for NoRoute {
    async fn route<R: ProtocolReader, S: ReplySink>(
        &self,
        _service: &str,
        _method: &str,
        _r: &mut R,
        _sink: &mut S,
    ) -> Result<bool, EncodeError> {
        Ok(false)
    }

    fn method(&self, _service: &str, _method: &str) -> Option<&'static MethodInfo> {
        None
    }
}

/// A service registered as `name`, then the routes registered before it.
#[derive(Debug, Clone)]
pub struct Route<D, Next> {
    name: &'static str,
    service: D,
    next: Next,
}

impl<D: Dispatch, Next: Routes> Routes for Route<D, Next> {
    async fn route<R: ProtocolReader, S: ReplySink>(
        &self,
        service: &str,
        method: &str,
        r: &mut R,
        sink: &mut S,
    ) -> Result<bool, EncodeError> {
        if service == self.name {
            self.service.dispatch(method, r, sink).await.map(|()| true)
        } else {
            self.next.route(service, method, r, sink).await
        }
    }

    fn method(&self, service: &str, method: &str) -> Option<&'static MethodInfo> {
        if service == self.name {
            self.service.method(method)
        } else {
            self.next.method(service, method)
        }
    }

    fn methods(&self, all: &mut Vec<&'static MethodInfo>) {
        all.extend(self.service.methods());
        self.next.methods(all);
    }
}

/// No default service: unprefixed names are unknown methods.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDefault;

impl Dispatch for NoDefault {
    async fn dispatch<R: ProtocolReader, S: ReplySink>(
        &self,
        method: &str,
        r: &mut R,
        sink: &mut S,
    ) -> Result<(), EncodeError> {
        unknown_method(r, sink, "(none: calls must name their service)", method)
    }
}

/// Several services behind one server: `Server::builder().serve(address, ||
/// Multiplexed::new().default_service(a::Server::new(A)).service("A", a::Server::new(A))
/// .service("B", b::Server::new(B)))` with generated `a` and `b` services (as
/// `examples/src/bin/thrift-test-server.rs` serves ThriftTest and SecondService, tested in
/// `examples/tests/multiplex.rs`).
#[derive(Debug, Clone, Default)]
pub struct Multiplexed<D = NoDefault, R = NoRoute> {
    default: D,
    routes: R,
}

impl Multiplexed {
    /// No services yet.
    pub fn new() -> Self {
        Multiplexed {
            default: NoDefault,
            routes: NoRoute,
        }
    }
}

impl<D, R> Multiplexed<D, R> {
    /// Serves calls named `name:method` with `service`.
    pub fn service<S: Dispatch>(
        self,
        name: &'static str,
        service: S,
    ) -> Multiplexed<D, Route<S, R>> {
        Multiplexed {
            default: self.default,
            routes: Route {
                name,
                service,
                next: self.routes,
            },
        }
    }

    /// Serves calls whose name has no `Service:` prefix with `service` (plain, non-multiplexed
    /// clients).
    pub fn default_service<S: Dispatch>(self, service: S) -> Multiplexed<S, R> {
        Multiplexed {
            default: service,
            routes: self.routes,
        }
    }
}

impl<D: Dispatch, R: Routes> Dispatch for Multiplexed<D, R> {
    async fn dispatch<Rd: ProtocolReader, S: ReplySink>(
        &self,
        method: &str,
        r: &mut Rd,
        sink: &mut S,
    ) -> Result<(), EncodeError> {
        let Some((service, bare)) = method.split_once(':') else {
            return self.default.dispatch(method, r, sink).await;
        };
        if self.routes.route(service, bare, r, sink).await? {
            Ok(())
        } else {
            unknown_method(r, sink, service, bare)
        }
    }

    fn method(&self, name: &str) -> Option<&'static MethodInfo> {
        match name.split_once(':') {
            Some((service, bare)) => self.routes.method(service, bare),
            None => self.default.method(name),
        }
    }

    fn methods(&self) -> Vec<&'static MethodInfo> {
        let mut all = self.default.methods();
        self.routes.methods(&mut all);
        let mut seen = Vec::with_capacity(all.len());
        all.retain(|m| {
            let first = !seen.iter().any(|s| std::ptr::eq(*s, *m));
            seen.push(*m);
            first
        });
        all
    }
}
