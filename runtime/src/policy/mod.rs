//! `@control_plane` policy at run time: the key set ([`keys`]), values set outside the IDL
//! ([`Overrides`], by scope), the live overrides every core reads ([`LivePolicy`], fed by a
//! watched file or etcd) and the typed policy a method runs with ([`MethodPolicy`]).
//! Precedence: live override > builder option > IDL default; within each, a method's
//! value over its service's over the one set for every service (`*`).

pub mod effective;
pub mod keys;
pub mod live;
pub mod overrides;

pub use effective::{FaultPolicy, Layers, MethodPolicy, Source};
pub use keys::PolicyValue;
pub use live::{FileWatch, LivePolicy};
pub use overrides::{OverrideError, Overrides, Scope};
