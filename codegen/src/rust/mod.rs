//! The Rust back end: [`names`] maps IDL names to idiomatic Rust; the generators that turn
//! the [`Ir`](crate::ir::Ir) into Rust items come next.

pub mod names;
