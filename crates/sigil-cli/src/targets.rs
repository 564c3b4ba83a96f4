//! The registry of conversion targets: one entry per backend crate.

use sigil_core::backend::{Backend, BackendOptions};

/// Target names accepted by `-t`, with a one-line description.
pub fn list() -> Vec<(&'static str, &'static str)> {
    // Backends register here (one line each).
    vec![]
}

/// Construct the backend for a target name.
pub fn make(name: &str, _opts: &BackendOptions) -> anyhow::Result<Box<dyn Backend>> {
    // Backends register here (one match arm each).
    match name {
        other => anyhow::bail!(
            "unknown target '{other}'; known targets: {}",
            list()
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
