//! ringrpc-macros: procedural macros (`include_idl!`) that expand IDL through
//! `ringrpc-codegen`. Empty until the codegen issue lands.
