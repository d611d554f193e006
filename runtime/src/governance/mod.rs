//! Governance decision logic — circuit breaking, retries, rate limiting, load balancing —
//! written sans-IO: nothing here sleeps, spawns or reads the clock. Every decision takes the
//! current time (`now: Instant`) as an argument, so behaviour is tested on virtual time; the
//! thin async layers around these types read a [`clock::Clock`] and pass its time in.
//!
//! Configuration comes from `@control_plane` keys (the `KEYS` table in
//! `ringrpc-codegen`'s `policy` module). Each config has a `from_policy` constructor taking
//! the keys' values as numbers (`None` for an unset key, which takes the default) and
//! rejecting out-of-range values with a [`PolicyError`] that names the key, so a bad value
//! pushed by the control plane at run time is refused as clearly as codegen refuses it at
//! build time. Constructors that take a config directly clamp instead: no input panics.
//!
//! Randomness (retry jitter, power-of-two-choices sampling) is [`splitmix64`] over a `u64`
//! state the caller owns, as in the client's reconnect backoff: no `rand` dependency, and
//! seeded runs are reproducible.

pub mod balance;
pub mod breaker;
pub mod clock;
pub mod rate_limit;
pub mod retry;
pub(crate) mod window;

use std::fmt;

/// A `@control_plane` value the governance layer refuses.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyError {
    /// A value outside its key's documented range.
    OutOfRange {
        /// The key, e.g. `circuit_breaker.failure_rate`.
        key: &'static str,
        /// The value given.
        found: f64,
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// A value below another key's value, which it must not be.
    BelowOther {
        /// The key whose value is too small, e.g. `retry.backoff_max_ms`.
        key: &'static str,
        /// Its value.
        found: u64,
        /// The key it must not be below, e.g. `retry.backoff_base_ms`.
        other_key: &'static str,
        /// That key's value.
        other: u64,
    },
    /// The `weight.<tag>` percentages add up to more than 100.
    WeightsOver100 {
        /// Their sum.
        total: u64,
    },
    /// A word that is not one of the key's choices.
    UnknownChoice {
        /// The key, e.g. `load_balance`.
        key: &'static str,
        /// The word given.
        found: String,
        /// The accepted words.
        choices: &'static [&'static str],
    },
    /// A key `@control_plane` does not have.
    UnknownKey {
        /// The key given.
        key: String,
        /// The documented key it most resembles, if any.
        suggestion: Option<&'static str>,
    },
    /// A value of the wrong type (text for a number, …).
    WrongType {
        /// The key.
        key: &'static str,
        /// What the key takes.
        expected: &'static str,
        /// What was given.
        found: &'static str,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::OutOfRange {
                key,
                found,
                min,
                max,
            } => write!(f, "`{key}` must be between {min} and {max}, found {found}"),
            PolicyError::BelowOther {
                key,
                found,
                other_key,
                other,
            } => write!(f, "`{key}` ({found}) is below `{other_key}` ({other})"),
            PolicyError::WeightsOver100 { total } => write!(
                f,
                "the `weight.<tag>` percentages add up to {total}; lower them to 100 or less"
            ),
            PolicyError::UnknownChoice {
                key,
                found,
                choices,
            } => write!(
                f,
                "`{key}` takes one of {}, found `{found}`",
                choices.join(", ")
            ),
            PolicyError::UnknownKey { key, suggestion } => {
                write!(f, "unknown policy key `{key}`")?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean `{s}`?"),
                    None => Ok(()),
                }
            }
            PolicyError::WrongType {
                key,
                expected,
                found,
            } => write!(f, "`{key}` takes {expected}, found {found}"),
        }
    }
}

impl std::error::Error for PolicyError {}

/// `value` (or `default` when unset) if it lies in `min..=max`.
fn count_in(
    key: &'static str,
    value: Option<u64>,
    min: u64,
    max: u64,
    default: u64,
) -> Result<u64, PolicyError> {
    let v = value.unwrap_or(default);
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(PolicyError::OutOfRange {
            key,
            found: v as f64,
            min: min as f64,
            max: max as f64,
        })
    }
}

/// `value` (or `default` when unset) if it is finite and lies in `min..=max`.
fn number_in(
    key: &'static str,
    value: Option<f64>,
    min: f64,
    max: f64,
    default: f64,
) -> Result<f64, PolicyError> {
    let v = value.unwrap_or(default);
    if v.is_finite() && v >= min && v <= max {
        Ok(v)
    } else {
        Err(PolicyError::OutOfRange {
            key,
            found: v,
            min,
            max,
        })
    }
}

/// Longest millisecond value any `@control_plane` key accepts (one hour).
const HOUR_MS: u64 = 3_600_000;

/// Advances a splitmix64 generator whose whole state is `state` and returns its next
/// output: enough randomness for jitter and sampling, no dependency. Any seed works.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    mix64(*state)
}

/// splitmix64's output function: a fixed bijection of `u64` whose every output bit depends
/// on every input bit. Used to scramble hashes before they are compared or bucketed.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform draw in `0..bound` from the generator in `state` (0 when `bound` is 0).
/// Multiply-high rather than `%`, so the bias is at most `bound / 2^64`.
pub fn random_below(state: &mut u64, bound: u64) -> u64 {
    ((u128::from(splitmix64(state)) * u128::from(bound)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_errors_name_the_key_and_the_fix() {
        let e = count_in("retry.max_attempts", Some(11), 1, 10, 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`retry.max_attempts` must be between 1 and 10, found 11"
        );
        let e = number_in("x", Some(f64::NAN), 0.0, 1.0, 0.5).unwrap_err();
        assert!(matches!(e, PolicyError::OutOfRange { key: "x", .. }));
        assert_eq!(number_in("x", None, 0.0, 1.0, 0.5), Ok(0.5));
        assert_eq!(count_in("x", Some(10), 1, 10, 2), Ok(10));
        let e = PolicyError::BelowOther {
            key: "retry.backoff_max_ms",
            found: 5,
            other_key: "retry.backoff_base_ms",
            other: 10,
        };
        assert_eq!(
            e.to_string(),
            "`retry.backoff_max_ms` (5) is below `retry.backoff_base_ms` (10)"
        );
    }

    #[test]
    fn random_below_stays_in_range_and_covers_it() {
        let mut state = 42;
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            let r = random_below(&mut state, 7);
            seen[r as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        assert_eq!(random_below(&mut state, 0), 0);
        assert_eq!(random_below(&mut state, 1), 0);
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // Reference values of splitmix64 seeded with 0 (Vigna's splitmix64.c).
        let mut state = 0;
        assert_eq!(splitmix64(&mut state), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(&mut state), 0x6e78_9e6a_a1b9_65f4);
    }
}
