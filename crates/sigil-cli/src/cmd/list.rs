//! `sigil list targets|modifiers|pipelines|validators`.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use sigil_core::modifiers::Modifier;

#[derive(Args, Debug)]
pub struct ListArgs {
    pub what: What,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum What {
    Targets,
    Modifiers,
    Pipelines,
    Validators,
}

pub fn run(args: ListArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Targets => {
            for (name, desc) in crate::targets::list() {
                println!("{name:<12} {desc}");
            }
        }
        What::Modifiers => {
            for m in Modifier::ALL {
                println!("{:<13} {}", m.name(), m.description());
            }
        }
        What::Pipelines => {
            for (name, desc) in sigil_pipeline::builtins() {
                println!("{name:<20} {desc}");
            }
        }
        What::Validators => {
            for v in sigil_check::VALIDATORS {
                let fix = if v.fixable { " (fixable)" } else { "" };
                println!(
                    "{:<32} {:<8} {}{fix}",
                    v.id,
                    v.severity.name(),
                    v.description
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
