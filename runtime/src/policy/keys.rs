//! The `@control_plane` key set at run time: each key's value kind and range (the table of
//! `ringrpc-policy-keys`, the one `ringrpc-codegen` checks IDL annotations against), and
//! [`check`], which turns a value from a builder option, a file or etcd into a
//! [`PolicyValue`] or a [`PolicyError`] naming the key.

use std::fmt;
use std::sync::Arc;

use crate::call::PolicyConst;
use crate::governance::PolicyError;

pub use ringrpc_policy_keys::{KEYS, KeySpec, ValueKind, spec};

/// A policy value, owned (a live override's text outlives no IDL constant).
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyValue {
    /// Milliseconds or a count.
    Int(u64),
    /// A ratio or percentage.
    Number(f64),
    /// A flag.
    Bool(bool),
    /// A choice or text.
    Text(Arc<str>),
}

impl PolicyValue {
    /// The value as a number, for keys that take one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            PolicyValue::Int(n) => Some(n as f64),
            PolicyValue::Number(x) => Some(x),
            _ => None,
        }
    }

    /// The value as a whole number, for keys that take one.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            PolicyValue::Int(n) => Some(n),
            PolicyValue::Number(x) if x >= 0.0 && x.fract() == 0.0 && x <= u64::MAX as f64 => {
                Some(x as u64)
            }
            _ => None,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            PolicyValue::Int(_) => "a whole number",
            PolicyValue::Number(_) => "a number",
            PolicyValue::Bool(_) => "a boolean",
            PolicyValue::Text(_) => "text",
        }
    }
}

impl fmt::Display for PolicyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyValue::Int(n) => write!(f, "{n}"),
            PolicyValue::Number(x) => write!(f, "{x}"),
            PolicyValue::Bool(b) => write!(f, "{b}"),
            PolicyValue::Text(s) => write!(f, "\"{s}\""),
        }
    }
}

impl From<PolicyConst> for PolicyValue {
    fn from(value: PolicyConst) -> Self {
        match value {
            PolicyConst::Int(n) => PolicyValue::Int(n),
            PolicyConst::Number(x) => PolicyValue::Number(x),
            PolicyConst::Bool(b) => PolicyValue::Bool(b),
            PolicyConst::Text(s) => PolicyValue::Text(s.into()),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident $(as $cast:ty)?),* $(,)?) => {$(
        impl From<$t> for PolicyValue {
            fn from(value: $t) -> Self {
                PolicyValue::$variant(value $(as $cast)?.into())
            }
        }
    )*};
}

value_from!(u64 => Int, u32 => Int, f64 => Number, bool => Bool, &str => Text, String => Text);

/// `value` for `key` if the key exists and the value is of its kind and in its range;
/// whole numbers are accepted where a number is expected.
pub fn check(key: &str, value: PolicyValue) -> Result<PolicyValue, PolicyError> {
    let Some(spec) = spec(key) else {
        return Err(PolicyError::UnknownKey {
            key: key.to_owned(),
            suggestion: ringrpc_policy_keys::closest_key(key),
        });
    };
    let wrong = |expected: &'static str| PolicyError::WrongType {
        key: spec.key,
        expected,
        found: value.type_name(),
    };
    match spec.kind {
        ValueKind::Millis { min, max } | ValueKind::Count { min, max } => {
            let n = value.as_u64().ok_or_else(|| wrong("a whole number"))?;
            if (min..=max).contains(&n) {
                Ok(PolicyValue::Int(n))
            } else {
                Err(PolicyError::OutOfRange {
                    key: spec.key,
                    found: n as f64,
                    min: min as f64,
                    max: max as f64,
                })
            }
        }
        ValueKind::Number { min, max } => {
            let x = value.as_f64().ok_or_else(|| wrong("a number"))?;
            if x.is_finite() && x >= min && x <= max {
                Ok(PolicyValue::Number(x))
            } else {
                Err(PolicyError::OutOfRange {
                    key: spec.key,
                    found: x,
                    min,
                    max,
                })
            }
        }
        ValueKind::Bool => match value {
            PolicyValue::Bool(_) => Ok(value),
            _ => Err(wrong("true or false")),
        },
        ValueKind::Choice(choices) => match &value {
            PolicyValue::Text(word) if choices.contains(&&**word) => Ok(value),
            PolicyValue::Text(word) => Err(PolicyError::UnknownChoice {
                key: spec.key,
                found: word.to_string(),
                choices,
            }),
            _ => Err(wrong("one of the choices")),
        },
        ValueKind::Text => match value {
            PolicyValue::Text(_) => Ok(value),
            _ => Err(wrong("text")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_against_their_key() {
        assert_eq!(
            check("timeout_ms", 200u64.into()),
            Ok(PolicyValue::Int(200))
        );
        assert_eq!(
            check("retry.budget_percent", 5u64.into()),
            Ok(PolicyValue::Number(5.0))
        );
        assert_eq!(check("weight.gray", 30u64.into()), Ok(PolicyValue::Int(30)));
        let e = check("timeout_ms", 0u64.into()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`timeout_ms` must be between 1 and 3600000, found 0"
        );
        let e = check("idempotent", 1u64.into()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`idempotent` takes true or false, found a whole number"
        );
        let e = check("load_balance", "random".into()).unwrap_err();
        assert!(e.to_string().contains("p2c"), "{e}");
        let e = check("timeout_ms", 1.5f64.into()).unwrap_err();
        assert!(matches!(e, PolicyError::WrongType { .. }), "{e}");
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let e = check("retry.max_attempt", 2u64.into()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown policy key `retry.max_attempt`; did you mean `retry.max_attempts`?"
        );
        let e = check("colour", 2u64.into()).unwrap_err();
        assert_eq!(e.to_string(), "unknown policy key `colour`");
        assert!(check("weight.", 2u64.into()).is_err());
    }
}
