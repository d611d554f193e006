//! [`Overrides`]: policy values set outside the IDL — by builder options or live from a
//! watched file or etcd — per scope: every service (`*`), one service (`Echo`) or one
//! method (`Echo.echo`). Values are checked against the key set when they are set, so a
//! set of overrides is always valid key by key; combinations (a backoff maximum below its
//! base) are checked when a method's effective policy is resolved.

use std::collections::BTreeMap;
use std::fmt;

use super::keys::{PolicyValue, check};
use crate::governance::PolicyError;

/// Where an override applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Every method of every service.
    All,
    /// Every method of one IDL service.
    Service(String),
    /// One method: IDL service and method name.
    Method(String, String),
}

impl Scope {
    /// `*`, `Service` or `Service.method`.
    pub fn parse(text: &str) -> Result<Scope, OverrideError> {
        let bad = |why: &str| OverrideError::BadScope {
            scope: text.to_owned(),
            why: why.to_owned(),
        };
        let valid = |name: &str| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        match text.split_once('.') {
            _ if text == "*" => Ok(Scope::All),
            None if valid(text) => Ok(Scope::Service(text.to_owned())),
            Some((service, method)) if valid(service) && valid(method) => {
                Ok(Scope::Method(service.to_owned(), method.to_owned()))
            }
            _ => Err(bad(
                "expected `*`, `Service` or `Service.method` (IDL names: letters, digits, `_`)",
            )),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str("*"),
            Scope::Service(s) => f.write_str(s),
            Scope::Method(s, m) => write!(f, "{s}.{m}"),
        }
    }
}

/// Why a set of overrides was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum OverrideError {
    /// A scope that is not `*`, `Service` or `Service.method`.
    BadScope {
        /// The scope given.
        scope: String,
        /// What is wrong with it.
        why: String,
    },
    /// A key or value the policy refuses, in `scope`.
    Value {
        /// Where it was set.
        scope: Scope,
        /// What is wrong.
        error: PolicyError,
    },
    /// A document that is not JSON of the expected shape.
    Json(String),
}

impl fmt::Display for OverrideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverrideError::BadScope { scope, why } => {
                write!(f, "bad policy scope `{scope}`: {why}")
            }
            OverrideError::Value { scope, error } => write!(f, "in `{scope}`: {error}"),
            OverrideError::Json(why) => write!(f, "bad policy document: {why}"),
        }
    }
}

impl std::error::Error for OverrideError {}

/// Checked policy values by scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    scopes: BTreeMap<Scope, BTreeMap<String, PolicyValue>>,
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.scopes.values().all(BTreeMap::is_empty)
    }

    /// Sets `key` to `value` in `scope` (`*`, `Service` or `Service.method`), after
    /// checking both.
    pub fn set(
        &mut self,
        scope: &str,
        key: &str,
        value: impl Into<PolicyValue>,
    ) -> Result<&mut Self, OverrideError> {
        let scope = Scope::parse(scope)?;
        let value = check(key, value.into()).map_err(|error| OverrideError::Value {
            scope: scope.clone(),
            error,
        })?;
        self.scopes
            .entry(scope)
            .or_default()
            .insert(key.to_owned(), value);
        Ok(self)
    }

    /// Overrides from a JSON document: an object from scope to an object of keys, e.g.
    /// `{"*": {"timeout_ms": 500}, "Echo.echo": {"retry.max_attempts": 3}}`.
    pub fn from_json(text: &str) -> Result<Self, OverrideError> {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| OverrideError::Json(e.to_string()))?;
        let serde_json::Value::Object(scopes) = doc else {
            return Err(OverrideError::Json(
                "expected an object from scope (`*`, `Service`, `Service.method`) to policy keys"
                    .into(),
            ));
        };
        let mut overrides = Overrides::new();
        for (scope, keys) in &scopes {
            overrides.set_json(scope, keys)?;
        }
        Ok(overrides)
    }

    /// Sets every key of the JSON object `keys` in `scope` (one etcd key's value).
    pub fn set_json(
        &mut self,
        scope: &str,
        keys: &serde_json::Value,
    ) -> Result<&mut Self, OverrideError> {
        let serde_json::Value::Object(keys) = keys else {
            return Err(OverrideError::Json(format!(
                "the policy of `{scope}` must be an object of keys, found {keys}"
            )));
        };
        Scope::parse(scope)?;
        for (key, value) in keys {
            let value = match value {
                serde_json::Value::Bool(b) => PolicyValue::Bool(*b),
                serde_json::Value::Number(n) => match n.as_u64() {
                    Some(n) => PolicyValue::Int(n),
                    None => PolicyValue::Number(n.as_f64().unwrap_or(f64::NAN)),
                },
                serde_json::Value::String(s) => PolicyValue::Text(s.as_str().into()),
                other => {
                    return Err(OverrideError::Json(format!(
                        "`{key}` in `{scope}` must be a number, a boolean or a string, found {other}"
                    )));
                }
            };
            self.set(scope, key, value)?;
        }
        Ok(self)
    }

    /// The value of `key` for `method` of `service`: the method's, else the service's,
    /// else the one set for every service.
    pub fn lookup(&self, service: &str, method: &str, key: &str) -> Option<&PolicyValue> {
        self.scope_keys(service, method)
            .find_map(|keys| keys.get(key))
    }

    /// Every `weight.<tag>` that applies to `method` of `service`, the most specific
    /// scope winning per tag.
    pub fn weights(&self, service: &str, method: &str) -> BTreeMap<String, u64> {
        let mut weights = BTreeMap::new();
        for keys in self.scope_keys(service, method) {
            for (key, value) in keys.range::<str, _>((
                std::ops::Bound::Included("weight."),
                std::ops::Bound::Unbounded,
            )) {
                let Some(tag) = key.strip_prefix("weight.") else {
                    break;
                };
                if let Some(n) = value.as_u64() {
                    weights.entry(tag.to_owned()).or_insert(n);
                }
            }
        }
        weights
    }

    /// Every scope and its keys, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Scope, &BTreeMap<String, PolicyValue>)> {
        self.scopes.iter()
    }

    /// The key maps that apply to `method` of `service`, most specific first.
    fn scope_keys<'a>(
        &'a self,
        service: &str,
        method: &str,
    ) -> impl Iterator<Item = &'a BTreeMap<String, PolicyValue>> {
        let method_scope = Scope::Method(service.to_owned(), method.to_owned());
        let service_scope = Scope::Service(service.to_owned());
        [
            self.scopes.get(&method_scope),
            self.scopes.get(&service_scope),
            self.scopes.get(&Scope::All),
        ]
        .into_iter()
        .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_scope_wins() {
        let o = Overrides::from_json(
            r#"{"*": {"timeout_ms": 500, "weight.gray": 5},
                "Echo": {"timeout_ms": 300, "idempotent": true},
                "Echo.echo": {"timeout_ms": 100, "weight.gray": 20, "weight.blue": 1}}"#,
        )
        .unwrap();
        let get = |s, m, k| o.lookup(s, m, k).cloned();
        assert_eq!(
            get("Echo", "echo", "timeout_ms"),
            Some(PolicyValue::Int(100))
        );
        assert_eq!(
            get("Echo", "reset", "timeout_ms"),
            Some(PolicyValue::Int(300))
        );
        assert_eq!(get("Other", "x", "timeout_ms"), Some(PolicyValue::Int(500)));
        assert_eq!(
            get("Echo", "echo", "idempotent"),
            Some(PolicyValue::Bool(true))
        );
        assert_eq!(get("Other", "x", "idempotent"), None);
        let w = o.weights("Echo", "echo");
        assert_eq!(
            w.into_iter().collect::<Vec<_>>(),
            [("blue".into(), 1), ("gray".into(), 20)]
        );
        assert_eq!(o.weights("Echo", "reset").get("gray"), Some(&5));
    }

    #[test]
    fn bad_documents_say_where_and_what() {
        let e = Overrides::from_json(r#"{"Echo.echo": {"timeout_ms": 0}}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "in `Echo.echo`: `timeout_ms` must be between 1 and 3600000, found 0"
        );
        let e = Overrides::from_json(r#"{"Echo": {"retries": 2}}"#).unwrap_err();
        assert_eq!(e.to_string(), "in `Echo`: unknown policy key `retries`");
        let e = Overrides::from_json(r#"{"Echo..x": {}}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("bad policy scope `Echo..x`"),
            "{e}"
        );
        let e = Overrides::from_json("[1]").unwrap_err();
        assert!(matches!(e, OverrideError::Json(_)));
        let e = Overrides::from_json(r#"{"Echo": {"timeout_ms": [1]}}"#).unwrap_err();
        assert!(e.to_string().contains("`timeout_ms` in `Echo`"), "{e}");
        let e = Overrides::from_json("{").unwrap_err();
        assert!(e.to_string().starts_with("bad policy document: EOF"), "{e}");
    }
}
