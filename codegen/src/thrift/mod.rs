//! The Thrift front end: lexer, parser and syntax tree.

pub mod ast;
pub mod lexer;
pub mod loader;
pub mod parser;

pub use loader::{LoadedFile, Loader, Program};
pub use parser::{Parsed, parse};
