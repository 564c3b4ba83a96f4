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

/// Convert, check and list are short runs that allocate a few tens of MB in small pieces
/// across threads. mimalloc asks for transparent huge pages on its arena, and the kernel
/// then zeroes 2 MiB for each first touch of a region the run fills only in part (the
/// resident size of a SigmaHQ check is 62 instead of 29 MiB), and, worse, compacts memory
/// to find free 2 MiB pages: right after another memory-hungry process (sigma-cli in the
/// benchmark) a corpus check took 100-160 ms instead of 55. On a quiet machine huge pages
/// gave ~5% (fewer faults), not worth that tail. Huge pages are turned off for this process
/// only (`PR_SET_THP_DISABLE`); `match`, which streams events for a long time, keeps them.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE takes plain integers and only sets a flag
    // on this process's memory map; a failure (old kernel) leaves things as they were.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

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
    if !matches!(cli.command, Command::Match(_)) {
        no_huge_pages();
    }
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
