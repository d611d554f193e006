//! The codec comparison's verdict (`codec-table`): criterion's medians from the `codec`
//! bench, each peer's time divided by ringrpc's, and the targets those ratios are held to.
//!
//! A run of `scripts/codec-bench.sh` is one or more rounds of the bench, each saved as a
//! criterion baseline; a ratio is taken within each round (the machine drifts between
//! rounds, not within one benchmark pair), and the table shows the median over rounds.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// The bench's messages, in table order.
pub const MESSAGES: [&str; 3] = ["echo_64b", "string_1k", "complex"];
/// The protocols, in table order.
pub const PROTOCOLS: [&str; 2] = ["binary", "compact"];
/// The operations, in table order.
pub const OPS: [&str; 2] = ["encode", "decode"];
/// The implementations: ringrpc first, then the peers it is divided into.
pub const IMPLS: [&str; 3] = ["ringrpc", "pilota", "thrift"];

/// One benchmark: message, protocol, operation, implementation.
pub type Key = (&'static str, &'static str, &'static str, &'static str);

/// The least `peer ns ÷ ringrpc ns` each peer must show, per operation (issue #23 for
/// decode, issue #2 for encode).
pub fn goal(op: &str, peer: &str) -> f64 {
    match (op, peer) {
        ("decode", "thrift") => 2.0,
        ("decode", _) => 1.5,
        ("encode", "thrift") => 1.5,
        _ => 1.1,
    }
}

/// Nanoseconds per operation, one map per round.
#[derive(Debug, Default)]
pub struct Rounds(pub Vec<HashMap<Key, f64>>);

impl Rounds {
    /// Reads the rounds saved as criterion baselines `baselines` under `criterion_dir`
    /// (`<dir>/<message>/<protocol>_<op>_<impl>/<baseline>/estimates.json`, the median's
    /// point estimate). A benchmark without its file is left out (pilota's compact reader
    /// cannot decode the complex message, so that one is never run).
    pub fn read(criterion_dir: &Path, baselines: &[String]) -> Result<Self, String> {
        let mut rounds = Vec::new();
        for baseline in baselines {
            let mut round = HashMap::new();
            for key in all_keys() {
                let (message, protocol, op, imp) = key;
                let path = criterion_dir
                    .join(message)
                    .join(format!("{protocol}_{op}_{imp}"))
                    .join(baseline)
                    .join("estimates.json");
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let json: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let median = json["median"]["point_estimate"]
                    .as_f64()
                    .ok_or_else(|| format!("{}: no median.point_estimate", path.display()))?;
                round.insert(key, median);
            }
            if !round.contains_key(&("echo_64b", "binary", "decode", "ringrpc")) {
                return Err(format!(
                    "no results for baseline `{baseline}` under {} (run the codec bench with \
                     --save-baseline {baseline} first)",
                    criterion_dir.display()
                ));
            }
            rounds.push(round);
        }
        Ok(Rounds(rounds))
    }

    /// The median over rounds of `key`'s time, if every round has it.
    fn time(&self, key: Key) -> Option<f64> {
        let times: Option<Vec<f64>> = self.0.iter().map(|r| r.get(&key).copied()).collect();
        times.filter(|t| !t.is_empty()).map(median)
    }

    /// `peer ÷ ringrpc` within each round, then the median and range over rounds.
    fn ratio(
        &self,
        (message, protocol, op): (&'static str, &'static str, &'static str),
        peer: &'static str,
    ) -> Option<Ratio> {
        let ratios: Option<Vec<f64>> = self
            .0
            .iter()
            .map(|r| {
                let ours = r.get(&(message, protocol, op, "ringrpc"))?;
                let theirs = r.get(&(message, protocol, op, peer))?;
                Some(theirs / ours)
            })
            .collect();
        let ratios = ratios.filter(|r| !r.is_empty())?;
        let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Ratio {
            median: median(ratios),
            low,
            high,
        })
    }
}

/// A ratio over rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ratio {
    median: f64,
    low: f64,
    high: f64,
}

fn all_keys() -> impl Iterator<Item = Key> {
    MESSAGES.into_iter().flat_map(|m| {
        PROTOCOLS.into_iter().flat_map(move |p| {
            OPS.into_iter()
                .flat_map(move |o| IMPLS.into_iter().map(move |i| (m, p, o, i)))
        })
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// The verdict: the markdown table and the targets that were missed.
#[derive(Debug)]
pub struct Verdict {
    /// The table, one line per message, protocol and operation.
    pub table: String,
    /// Each missed target, as "echo_64b binary decode ÷ thrift 1.93× < 2×".
    pub missed: Vec<String>,
    /// How many targets were checked.
    pub checked: usize,
}

/// Builds the table and checks every target whose two figures are present.
pub fn verdict(rounds: &Rounds) -> Verdict {
    let mut table = String::new();
    let n = rounds.0.len();
    let _ = writeln!(
        table,
        "| message | protocol | op | ringrpc ns | pilota ns | thrift ns | vs pilota | vs thrift | met |"
    );
    let _ = writeln!(table, "|---|---|---|---:|---:|---:|---:|---:|---|");
    let mut missed = Vec::new();
    let mut checked = 0;
    for message in MESSAGES {
        for protocol in PROTOCOLS {
            for op in OPS {
                let time = |imp| {
                    rounds
                        .time((message, protocol, op, imp))
                        .map_or("n/a".to_string(), format_ns)
                };
                let mut cells = Vec::new();
                let mut met = true;
                for peer in ["pilota", "thrift"] {
                    let goal = goal(op, peer);
                    match rounds.ratio((message, protocol, op), peer) {
                        None => cells.push(format!("n/a (≥ {goal}×)")),
                        Some(r) => {
                            checked += 1;
                            let range = if n > 1 {
                                format!(" [{:.2}–{:.2}]", r.low, r.high)
                            } else {
                                String::new()
                            };
                            cells.push(format!("{:.2}×{range} (≥ {goal}×)", r.median));
                            if r.median < goal {
                                met = false;
                                missed.push(format!(
                                    "{message} {protocol} {op} ÷ {peer} {:.2}× < {goal}×",
                                    r.median
                                ));
                            }
                        }
                    }
                }
                let _ = writeln!(
                    table,
                    "| {message} | {protocol} | {op} | {} | {} | {} | {} | {} | {} |",
                    time("ringrpc"),
                    time("pilota"),
                    time("thrift"),
                    cells[0],
                    cells[1],
                    if met { "yes" } else { "**no**" },
                );
            }
        }
    }
    Verdict {
        table,
        missed,
        checked,
    }
}

/// Nanoseconds with three significant figures.
fn format_ns(ns: f64) -> String {
    if ns >= 100.0 {
        format!("{ns:.0}")
    } else {
        format!("{ns:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A round where every peer is `factor` times ringrpc's 10 ns, except the given
    /// overrides of peer time.
    fn round(factor: f64, overrides: &[(Key, f64)]) -> HashMap<Key, f64> {
        let mut round: HashMap<Key, f64> = all_keys()
            .map(|k| {
                (
                    k,
                    if k.3 == "ringrpc" {
                        10.0
                    } else {
                        10.0 * factor
                    },
                )
            })
            .collect();
        round.remove(&("complex", "compact", "decode", "pilota"));
        for &(k, v) in overrides {
            round.insert(k, v);
        }
        round
    }

    #[test]
    fn every_present_pair_is_checked_and_a_comfortable_run_meets_all() {
        let v = verdict(&Rounds(vec![round(3.0, &[])]));
        // 3 messages × 2 protocols × 2 ops × 2 peers, less pilota's complex compact decode.
        assert_eq!(v.checked, 23);
        assert!(v.missed.is_empty(), "{:?}", v.missed);
        assert!(v.table.contains("| complex | compact | decode | 10.0 | n/a | 30.0 | n/a (≥ 1.5×) | 3.00× (≥ 2×) | yes |"), "{}", v.table);
    }

    #[test]
    fn a_ratio_below_its_goal_is_named_and_the_bound_itself_is_met() {
        let slow = ("echo_64b", "binary", "decode", "thrift");
        let at_bound = ("echo_64b", "binary", "decode", "pilota");
        let v = verdict(&Rounds(vec![round(3.0, &[(slow, 19.0), (at_bound, 15.0)])]));
        assert_eq!(v.missed, ["echo_64b binary decode ÷ thrift 1.90× < 2×"]);
        assert!(v.table.contains("| echo_64b | binary | decode | 10.0 | 15.0 | 19.0 | 1.50× (≥ 1.5×) | 1.90× (≥ 2×) | **no** |"), "{}", v.table);
    }

    #[test]
    fn ratios_are_taken_within_rounds_and_their_median_decides() {
        // ringrpc and the peer both slow in round 2 (the machine's drift): the per-round
        // ratio stays 2.5 there, and the medians over rounds are 2.1, 2.5, 1.8 → 2.1.
        let key = ("string_1k", "compact", "decode", "thrift");
        let ours = ("string_1k", "compact", "decode", "ringrpc");
        let r1 = round(3.0, &[(key, 21.0)]);
        let r2 = round(3.0, &[(key, 50.0), (ours, 20.0)]);
        let r3 = round(3.0, &[(key, 18.0)]);
        let v = verdict(&Rounds(vec![r1, r2, r3]));
        assert!(v.missed.is_empty(), "{:?}", v.missed);
        assert!(v.table.contains("2.10× [1.80–2.50] (≥ 2×)"), "{}", v.table);
    }

    #[test]
    fn goals_follow_the_issues() {
        assert_eq!(goal("decode", "thrift"), 2.0);
        assert_eq!(goal("decode", "pilota"), 1.5);
        assert_eq!(goal("encode", "thrift"), 1.5);
        assert_eq!(goal("encode", "pilota"), 1.1);
    }

    #[test]
    fn a_missing_round_is_an_error_that_says_how_to_make_it() {
        let dir = std::env::temp_dir().join("codec-table-empty");
        let err = Rounds::read(&dir, &["r1".into()]).unwrap_err();
        assert!(err.contains("--save-baseline r1"), "{err}");
    }
}
