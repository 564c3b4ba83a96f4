//! `sigil`: convert, check and match Sigma rules.
//!
//! Exit codes: 0 success; 1 a rule or an event had a problem (reported); 2 usage or I/O
//! error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOC: alloc::Mimalloc = alloc::Mimalloc;

mod alloc;
mod atomic;
mod cmd;
mod targets;

#[derive(Parser)]
#[command(
    name = "sigil",
    version,
    about = "Sigma rule compiler: convert, check and match Sigma rules"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert rules into queries for a target (Lucene, SQL dialects).
    Convert(cmd::convert::ConvertArgs),
    /// Check rules: syntax (--syntax) and, by default, every validator.
    Check(cmd::check::CheckArgs),
    /// Evaluate rules against events (JSON lines or arrays) in process.
    Match(cmd::match_::MatchArgs),
    /// List targets, pipelines, modifiers or validators.
    List(cmd::list::ListArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Convert(args) => cmd::convert::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Match(args) => cmd::match_::run(args),
        Command::List(args) => cmd::list::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sigil: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
