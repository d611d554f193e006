//! Skipping values of any type: bounded by the same depth and length checks as decoding.

use super::ProtocolReader;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::ttype::TType;

/// Skips one value of `ttype`.
pub(super) fn skip<R: ProtocolReader + ?Sized>(r: &mut R, ttype: TType) -> Result<(), DecodeError> {
    match ttype {
        TType::Bool => r.read_bool().map(drop),
        TType::I8 => r.read_i8().map(drop),
        TType::I16 => r.read_i16().map(drop),
        TType::I32 => r.read_i32().map(drop),
        TType::I64 => r.read_i64().map(drop),
        TType::Double => r.read_double().map(drop),
        TType::Uuid => r.read_uuid().map(drop),
        TType::String => r.skip_binary(),
        TType::Struct => {
            let scope = r.read_struct_begin()?;
            loop {
                let field = r.read_field_begin()?;
                if field.ttype == TType::Stop {
                    break;
                }
                skip(r, field.ttype)?;
            }
            r.read_struct_end(scope);
            Ok(())
        }
        TType::List | TType::Set => {
            let header = if ttype == TType::List {
                r.read_list_begin()?
            } else {
                r.read_set_begin()?
            };
            skip_elements(r, header.elem, header.len)?;
            r.read_list_end();
            Ok(())
        }
        TType::Map => {
            let header = r.read_map_begin()?;
            match (r.fixed_width(header.key), r.fixed_width(header.value)) {
                (Some(k), Some(v)) => skip_fixed(r, k + v, header.len)?,
                _ => {
                    for _ in 0..header.len {
                        skip(r, header.key)?;
                        skip(r, header.value)?;
                    }
                }
            }
            r.read_map_end();
            Ok(())
        }
        TType::Stop | TType::Void => Err(DecodeError::new(
            DecodeErrorKind::InvalidType {
                protocol: "thrift",
                code: ttype as u8,
            },
            r.position(),
        )),
    }
}

fn skip_elements<R: ProtocolReader + ?Sized>(
    r: &mut R,
    elem: TType,
    len: usize,
) -> Result<(), DecodeError> {
    match r.fixed_width(elem) {
        Some(width) => skip_fixed(r, width, len),
        None => {
            for _ in 0..len {
                skip(r, elem)?;
            }
            Ok(())
        }
    }
}

fn skip_fixed<R: ProtocolReader + ?Sized>(
    r: &mut R,
    width: usize,
    len: usize,
) -> Result<(), DecodeError> {
    let total = width.checked_mul(len).ok_or_else(|| {
        DecodeError::new(
            DecodeErrorKind::LengthPastEnd {
                what: "container",
                len: len as u64,
                remaining: r.remaining(),
            },
            r.position(),
        )
    })?;
    r.skip_bytes(total)
}
