//! `idl-gen`: generate Rust (or a policy dump) from Thrift IDL.
//!
//! ```text
//! idl-gen thrift idl/echo.thrift -I idl -o src/gen           # writes src/gen/echo.rs
//! idl-gen thrift idl/echo.thrift -I idl -o src/gen --check   # exit 1 if src/gen is stale
//! idl-gen thrift idl/echo.thrift --emit policy               # JSON on stdout
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use ringrpc_codegen::{Builder, Error};

#[derive(Parser, Debug)]
#[command(name = "idl-gen", version, about = "Generate ringrpc Rust code from IDL", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate from Thrift IDL files.
    Thrift {
        /// The IDL files (each with what it includes).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// A directory searched for `include`d files (repeatable).
        #[arg(short = 'I', long = "include", value_name = "DIR")]
        include: Vec<PathBuf>,
        /// Where to write `<stem>.rs` (required for `--emit rust`).
        #[arg(short, long, value_name = "OUT_DIR")]
        out: Option<PathBuf>,
        /// Write nothing; exit 1 if a file in OUT_DIR differs from what would be generated.
        #[arg(long)]
        check: bool,
        /// What to produce.
        #[arg(long, value_enum, default_value_t = Emit::Rust)]
        emit: Emit,
    },
    /// Print the documented `@control_plane` keys as a markdown table.
    PolicyKeys,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Emit {
    /// Rust source, one `<stem>.rs` per file.
    Rust,
    /// The effective `@control_plane` policy of every service and method, as JSON on stdout.
    Policy,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let Command::Thrift {
        files,
        include,
        out,
        check,
        emit,
    } = cli.command
    else {
        print!("{}", ringrpc_codegen::policy::keys_markdown());
        return Ok(ExitCode::SUCCESS);
    };
    let builder = include
        .into_iter()
        .fold(Builder::new(), Builder::include_dir);
    let show = |e: Error| e.to_string();
    if emit == Emit::Policy {
        for file in &files {
            print!("{}", builder.policy_json(file).map_err(show)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let out = out.ok_or("--emit rust needs an output directory: -o OUT_DIR")?;
    let mut stale = Vec::new();
    for file in &files {
        let (code, _) = builder.generate(file).map_err(show)?;
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = out.join(format!("{stem}.rs"));
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(code.as_str()) {
                stale.push(path);
            }
        } else {
            std::fs::create_dir_all(&out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
            std::fs::write(&path, code)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    if stale.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &stale {
            eprintln!(
                "stale: {} (regenerate with idl-gen without --check)",
                p.display()
            );
        }
        Ok(ExitCode::FAILURE)
    }
}
