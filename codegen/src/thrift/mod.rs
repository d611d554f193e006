//! The Thrift front end: lexer, parser and syntax tree.

pub mod ast;
pub mod lexer;
pub mod parser;

pub use parser::{Parsed, parse};
