//! The contract between the front end and the query backends (Lucene, SQL, ...).
//!
//! A backend turns lowered rules into query text. It never sees YAML or the AST, only
//! [`RuleIr`] (after any processing pipeline), and reports what it cannot express as a
//! [`ConvertError`] naming the rule and the construct, instead of dropping it.

use std::collections::BTreeMap;

use crate::ast::RuleMeta;
use crate::collection::{CorrelationIr, Lowered};
use crate::ir::RuleIr;

/// Why a rule could not be converted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {message}")]
pub struct ConvertError {
    /// The rule's id (or name or title).
    pub rule: String,
    pub message: String,
    /// True when the target cannot express the rule at all (`--skip-unsupported` skips
    /// these); false for real errors (unresolved placeholders, bad options).
    pub unsupported: bool,
}

impl ConvertError {
    pub fn unsupported(meta: &RuleMeta, message: impl Into<String>) -> Self {
        ConvertError {
            rule: meta.display_id(),
            message: message.into(),
            unsupported: true,
        }
    }
    pub fn error(meta: &RuleMeta, message: impl Into<String>) -> Self {
        ConvertError {
            rule: meta.display_id(),
            message: message.into(),
            unsupported: false,
        }
    }
}

/// Options given on the command line (`--table`, `-O key=value`), passed to a backend's
/// constructor; each backend documents the keys it reads and rejects unknown ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackendOptions {
    pub table: Option<String>,
    pub options: BTreeMap<String, String>,
}

/// A query backend.
pub trait Backend: Send + Sync {
    /// The target name, as given to `-t`.
    fn name(&self) -> &'static str;

    /// Output formats; the first is the default.
    fn formats(&self) -> &'static [&'static str] {
        &["default"]
    }

    /// One query per condition of the rule.
    fn convert_rule(&self, rule: &RuleIr) -> Result<Vec<String>, ConvertError>;

    /// A correlation rule (its referenced rules are in `set`).
    fn convert_correlation(
        &self,
        corr: &CorrelationIr,
        _set: &Lowered,
    ) -> Result<Vec<String>, ConvertError> {
        Err(ConvertError::unsupported(
            &corr.meta,
            format!(
                "the {} target does not support correlation rules",
                self.name()
            ),
        ))
    }

    /// Render one converted rule in an output format. The default format prints the
    /// queries one per line.
    fn render(
        &self,
        format: &str,
        meta: &RuleMeta,
        queries: &[String],
    ) -> Result<String, ConvertError> {
        match format {
            "default" => Ok(queries.join("\n")),
            other => Err(ConvertError::error(
                meta,
                format!("unknown output format '{other}' for target {}", self.name()),
            )),
        }
    }
}
