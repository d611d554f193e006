//! The `@control_plane` key set: every policy key ringrpc accepts, with the kind and range
//! of its values and what it does. One table serves code generation (`ringrpc-codegen`
//! checks IDL annotations against it) and the runtime (`ringrpc` checks values from
//! builder options, policy files and etcd against it), so the two cannot drift apart.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// What values a key takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueKind {
    /// A duration in whole milliseconds, within `min..=max`.
    Millis {
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// A whole number within `min..=max`.
    Count {
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// A number within `min..=max` (ratios, percentages).
    Number {
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// `true` or `false`.
    Bool,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// Free text (e.g. a metadata key name).
    Text,
}

/// One documented key.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// The key (`retry.max_attempts`). `weight.*` stands for `weight.<tag>`.
    pub key: &'static str,
    /// Its values.
    pub kind: ValueKind,
    /// What it does.
    pub doc: &'static str,
}

const HOUR_MS: u64 = 3_600_000;

/// The words `load_balance` takes.
pub const LOAD_BALANCE_CHOICES: &[&str] = &[
    "round_robin",
    "weighted_round_robin",
    "p2c",
    "consistent_hash",
];

/// Every key `@control_plane` accepts.
pub const KEYS: &[KeySpec] = &[
    KeySpec {
        key: "timeout_ms",
        kind: ValueKind::Millis {
            min: 1,
            max: HOUR_MS,
        },
        doc: "Per-call timeout.",
    },
    KeySpec {
        key: "connect_timeout_ms",
        kind: ValueKind::Millis {
            min: 1,
            max: 600_000,
        },
        doc: "Connection establishment timeout.",
    },
    KeySpec {
        key: "idempotent",
        kind: ValueKind::Bool,
        doc: "The method may be retried after a failure that may have reached the server.",
    },
    KeySpec {
        key: "retry.max_attempts",
        kind: ValueKind::Count { min: 1, max: 10 },
        doc: "Attempts per call, the first included (1: no retry).",
    },
    KeySpec {
        key: "retry.backoff_base_ms",
        kind: ValueKind::Millis {
            min: 0,
            max: 60_000,
        },
        doc: "First retry delay; doubles per attempt, with jitter.",
    },
    KeySpec {
        key: "retry.backoff_max_ms",
        kind: ValueKind::Millis {
            min: 0,
            max: 600_000,
        },
        doc: "Upper bound of the retry delay.",
    },
    KeySpec {
        key: "retry.budget_percent",
        kind: ValueKind::Number {
            min: 0.0,
            max: 100.0,
        },
        doc: "Retries allowed as a percentage of calls (retry budget).",
    },
    KeySpec {
        key: "backup_request_ms",
        kind: ValueKind::Millis {
            min: 1,
            max: HOUR_MS,
        },
        doc: "Send a backup request after this long without a reply (idempotent methods).",
    },
    KeySpec {
        key: "circuit_breaker.failure_rate",
        kind: ValueKind::Number { min: 0.0, max: 1.0 },
        doc: "Failure ratio over the window that opens the breaker.",
    },
    KeySpec {
        key: "circuit_breaker.min_requests",
        kind: ValueKind::Count {
            min: 1,
            max: 1_000_000,
        },
        doc: "Calls in the window before the breaker may open.",
    },
    KeySpec {
        key: "circuit_breaker.window_ms",
        kind: ValueKind::Millis {
            min: 100,
            max: HOUR_MS,
        },
        doc: "Length of the failure-rate window.",
    },
    KeySpec {
        key: "circuit_breaker.open_ms",
        kind: ValueKind::Millis {
            min: 1,
            max: HOUR_MS,
        },
        doc: "How long an open breaker rejects calls before half-open probes.",
    },
    KeySpec {
        key: "circuit_breaker.half_open_probes",
        kind: ValueKind::Count { min: 1, max: 1000 },
        doc: "Probe calls allowed while half-open.",
    },
    KeySpec {
        key: "rate_limit.qps",
        kind: ValueKind::Count {
            min: 1,
            max: 100_000_000,
        },
        doc: "Server-side calls per second (token bucket split across cores).",
    },
    KeySpec {
        key: "rate_limit.burst",
        kind: ValueKind::Count {
            min: 1,
            max: 100_000_000,
        },
        doc: "Token-bucket burst size.",
    },
    KeySpec {
        key: "load_balance",
        kind: ValueKind::Choice(LOAD_BALANCE_CHOICES),
        doc: "Load-balancing strategy.",
    },
    KeySpec {
        key: "load_balance.hash_key",
        kind: ValueKind::Text,
        doc: "Request metadata key hashed by `consistent_hash`.",
    },
    KeySpec {
        key: "weight.*",
        kind: ValueKind::Count { min: 0, max: 100 },
        doc: "Route weight (percent) of endpoints tagged `<tag>` (gray release).",
    },
    KeySpec {
        key: "fault.delay_ms",
        kind: ValueKind::Millis {
            min: 1,
            max: HOUR_MS,
        },
        doc: "Injected delay (chaos testing).",
    },
    KeySpec {
        key: "fault.delay_percent",
        kind: ValueKind::Number {
            min: 0.0,
            max: 100.0,
        },
        doc: "Percentage of calls delayed.",
    },
    KeySpec {
        key: "fault.abort_percent",
        kind: ValueKind::Number {
            min: 0.0,
            max: 100.0,
        },
        doc: "Percentage of calls failed with an injected error.",
    },
];

/// The spec of `key`: an exact key, or `weight.<tag>` (any non-empty tag) for `weight.*`.
pub fn spec(key: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|spec| match spec.key.strip_suffix('*') {
        Some(prefix) => key.len() > prefix.len() && key.starts_with(prefix),
        None => spec.key == key,
    })
}

/// The key a mistyped `key` most likely meant, for a "did you mean" hint: the closest
/// documented key by [`edit_distance`] (see [`closest`]), or `weight.<tag>` for a
/// misspelt `weight.` prefix.
pub fn closest_key(key: &str) -> Option<&'static str> {
    if key.starts_with("weights.") || key.starts_with("weigth.") {
        return Some("weight.<tag>");
    }
    closest(
        key,
        KEYS.iter().map(|k| k.key).filter(|k| !k.ends_with('*')),
    )
}

/// The candidate closest to `word`, if it is within edit distance 3 and closer than the
/// length of `word` (a short word is not "corrected" into an unrelated one).
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, _)| d <= 3 && d < word.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// The Levenshtein distance between `a` and `b`, in characters: what "did you mean"
/// suggestions rank candidates by.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn keys_are_unique_documented_and_have_sane_ranges() {
        let mut seen = HashSet::new();
        for spec in KEYS {
            assert!(seen.insert(spec.key), "`{}` twice", spec.key);
            assert!(!spec.doc.is_empty(), "`{}` has no doc", spec.key);
            let sane = match spec.kind {
                ValueKind::Millis { min, max } | ValueKind::Count { min, max } => min <= max,
                ValueKind::Number { min, max } => min.is_finite() && max.is_finite() && min <= max,
                ValueKind::Choice(words) => !words.is_empty(),
                ValueKind::Bool | ValueKind::Text => true,
            };
            assert!(sane, "`{}`: {:?}", spec.key, spec.kind);
        }
    }

    #[test]
    fn specs_are_found_by_key_and_weights_by_tag() {
        assert_eq!(spec("timeout_ms").map(|s| s.key), Some("timeout_ms"));
        assert_eq!(spec("weight.gray").map(|s| s.key), Some("weight.*"));
        assert!(spec("weight.").is_none(), "a weight needs a tag");
        assert!(spec("timeout").is_none());
        assert!(spec("").is_none());
    }

    #[test]
    fn mistyped_keys_get_the_key_they_most_likely_meant() {
        assert_eq!(closest_key("retry.max_attempt"), Some("retry.max_attempts"));
        assert_eq!(closest_key("timout_ms"), Some("timeout_ms"));
        assert_eq!(closest_key("weigth.gray"), Some("weight.<tag>"));
        assert_eq!(closest_key("colour"), None);
        assert_eq!(closest_key("ab"), None, "too short to correct");
        assert_eq!(
            closest("p2x", ["p2c", "round_robin"].into_iter()),
            Some("p2c")
        );
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("timeout_ms", "timeout_ms"), 0);
        assert_eq!(edit_distance("timout_ms", "timeout_ms"), 1);
        assert_eq!(edit_distance("timeout_mss", "timeout_ms"), 1);
        assert_eq!(edit_distance("tineout_ms", "timeout_ms"), 1);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("héllo", "hello"), 1, "counted in characters");
    }
}
