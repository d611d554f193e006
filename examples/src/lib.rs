//! Shared pieces of the ringrpc examples: the code generated from `idl/golden.thrift` and
//! `idl/bench.thrift` by the build script (ringrpc-codegen's build.rs API), and a
//! hand-written `Echo` showing what the generated code does.

pub mod conformance;
pub mod echo_service;

/// Types generated from `idl/golden.thrift`.
pub mod golden {
    ringrpc::include_idl!("golden");
}

/// The echo service generated from `idl/echo.thrift`.
pub mod echo {
    ringrpc::include_idl!("echo");
}

/// Types generated from `idl/bench.thrift`.
pub mod bench {
    ringrpc::include_idl!("bench");
}

/// The same `idl/golden.thrift`, expanded in place by the `include_thrift!` proc-macro.
pub mod golden_by_macro {
    ringrpc::include_thrift!("../idl/golden.thrift");
}

/// Types generated from Apache's conformance IDL, `ThriftTest.thrift`.
pub mod thrift_test {
    ringrpc::include_idl!("ThriftTest");
}

use ringrpc::codec::{
    BytesStr, Decode, DecodeError, DecodeErrorKind, Encode, EncodeError, ProtocolReader,
    ProtocolWriter, TType,
};

/// `struct Echo { 1: required string action, 2: required string msg }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Echo {
    /// What to do.
    pub action: BytesStr,
    /// The payload.
    pub msg: BytesStr,
}

impl Encode for Echo {
    const TTYPE: TType = TType::Struct;

    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        let scope = w.write_struct_begin();
        w.write_field_begin(TType::String, 1);
        w.write_string(&self.action)?;
        w.write_field_begin(TType::String, 2);
        w.write_string(&self.msg)?;
        w.write_struct_end(scope);
        Ok(())
    }
}

impl Decode for Echo {
    const TTYPE: TType = TType::Struct;

    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        let scope = r.read_struct_begin()?;
        let (mut action, mut msg) = (None, None);
        loop {
            let field = r.read_field_begin()?;
            match (field.id, field.ttype) {
                (_, TType::Stop) => break,
                (1, TType::String) => {
                    action = Some(
                        r.read_string()
                            .map_err(|e| e.in_field("Echo", "action", 1))?,
                    )
                }
                (2, TType::String) => {
                    msg = Some(r.read_string().map_err(|e| e.in_field("Echo", "msg", 2))?)
                }
                (_, ttype) => r.skip(ttype)?,
            }
        }
        r.read_struct_end(scope);
        let missing = |field| {
            DecodeError::new(
                DecodeErrorKind::MissingRequiredField {
                    strukt: "Echo",
                    field,
                },
                r.position(),
            )
        };
        Ok(Echo {
            action: action.ok_or_else(|| missing("action"))?,
            msg: msg.ok_or_else(|| missing("msg"))?,
        })
    }
}
