//! Shared pieces of the ringrpc examples.
