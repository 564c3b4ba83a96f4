//! Pipeline errors: located in the pipeline file when loading, naming the rule when applying.

use std::fmt;

use sigil_core::ast::Span;

/// A problem with a pipeline (loading) or with applying it to a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineError {
    /// The pipeline file (or `builtin:<name>`).
    pub origin: String,
    /// Line and column in the pipeline file, for load errors.
    pub span: Option<Span>,
    /// For apply errors: the rule's file and its id (or name or title).
    pub rule: Option<(String, String)>,
    pub message: String,
}

impl PipelineError {
    pub(crate) fn load(origin: &str, span: Option<Span>, message: impl Into<String>) -> Self {
        PipelineError {
            origin: origin.to_string(),
            span,
            rule: None,
            message: message.into(),
        }
    }

    pub(crate) fn rule(
        origin: &str,
        meta: &sigil_core::RuleMeta,
        message: impl Into<String>,
    ) -> Self {
        PipelineError {
            origin: origin.to_string(),
            span: None,
            rule: Some((meta.source.path.to_string(), meta.display_id())),
            message: message.into(),
        }
    }
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rule, self.span) {
            (Some((file, id)), _) => {
                let file = if file.is_empty() { "<input>" } else { file };
                write!(
                    f,
                    "{file}: error: {id}: {} (pipeline {})",
                    self.message, self.origin
                )
            }
            (None, Some(s)) => write!(
                f,
                "{}:{}:{}: error: {}",
                self.origin, s.line, s.column, self.message
            ),
            (None, None) => write!(f, "{}: error: {}", self.origin, self.message),
        }
    }
}

impl std::error::Error for PipelineError {}
