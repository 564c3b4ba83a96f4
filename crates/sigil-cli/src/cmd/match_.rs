//! `sigil match`: evaluate rules against events (built in the matcher issue).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Args, Debug)]
pub struct MatchArgs {
    /// Rule files or directories.
    #[arg(long = "rules", short = 'r', required = true, num_args = 1..)]
    pub rules: Vec<PathBuf>,
    /// Event files (JSON lines or JSON arrays); `-` reads standard input.
    pub events: Vec<PathBuf>,
}

pub fn run(_args: MatchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the matcher backend is not part of this build yet")
}
