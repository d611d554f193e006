//! `codec-table`: reads the rounds of the `codec` bench (criterion baselines), prints each
//! peer's time ÷ ringrpc's with a verdict per target, and exits 1 when a target is missed.
//! Run by `scripts/codec-bench.sh`, which runs the rounds first.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ringrpc_bench_peers::codec_table::{Rounds, verdict};

#[derive(Parser)]
#[command(
    about = "The codec bench's ratios to pilota and the Apache thrift crate, and their verdicts"
)]
struct Args {
    /// Criterion's output directory (of the `benches/peers` workspace).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/target/criterion"))]
    criterion_dir: PathBuf,
    /// The rounds: criterion baselines saved with `--save-baseline NAME`.
    #[arg(required = true)]
    baselines: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rounds = match Rounds::read(&args.criterion_dir, &args.baselines) {
        Ok(rounds) => rounds,
        Err(e) => {
            eprintln!("codec-table: {e}");
            return ExitCode::from(2);
        }
    };
    let v = verdict(&rounds);
    println!(
        "Criterion medians, ns per operation (median over {} round(s)); ratios are peer ÷ \
         ringrpc within a round, median [range] over rounds, with the goal.",
        rounds.0.len()
    );
    println!();
    print!("{}", v.table);
    println!();
    if v.missed.is_empty() {
        println!("All {} targets met.", v.checked);
        ExitCode::SUCCESS
    } else {
        println!("{} of {} targets missed:", v.missed.len(), v.checked);
        for missed in &v.missed {
            println!("- {missed}");
        }
        ExitCode::FAILURE
    }
}
