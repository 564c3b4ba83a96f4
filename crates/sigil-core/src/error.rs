//! Errors that point into the source, printed like a compiler:
//! `rules/x.yml:12:7: error: unknown modifier 'contians' (did you mean 'contains'?)`.

use std::fmt;
use std::sync::Arc;

use crate::ast::{Span, YamlPath};

/// What went wrong, without the where.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    #[error("YAML syntax error: {0}")]
    Yaml(String),
    #[error("file is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("file is not valid UTF-8")]
    NotUtf8,
    #[error("cannot read file: {0}")]
    Io(String),
    #[error("the file contains no Sigma document")]
    Empty,
    #[error("unknown modifier '{name}'{}", hint(.suggestion))]
    UnknownModifier {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("invalid modifier chain '{chain}': {message}")]
    ModifierChain { chain: String, message: String },
    #[error("missing required attribute '{0}'")]
    Missing(&'static str),
    #[error("'{key}' must be {expected}, found {found}")]
    Type {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("invalid {what}{}: {reason}", quoted(.value))]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("condition: {0}")]
    Condition(String),
    #[error("search identifier '{name}' is not defined in 'detection'{}", hint(.suggestion))]
    UndefinedIdentifier {
        name: String,
        suggestion: Option<String>,
    },
    #[error("pattern '{0}' matches no search identifier")]
    PatternMatchesNothing(String),
    #[error("{0}")]
    Value(String),
    #[error("{0}")]
    Detection(String),
    #[error("{0}")]
    Collection(String),
    #[error("{0}")]
    Reference(String),
}

fn quoted(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(" '{s}'")
    }
}

fn hint<S: AsRef<str>>(s: &Option<S>) -> String {
    match s {
        Some(s) => format!(" (did you mean '{}'?)", s.as_ref()),
        None => String::new(),
    }
}

/// An error with its location: the file, the document inside it, and either a line/column
/// or a YAML path still to be resolved (see [`crate::locate`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub file: Arc<str>,
    pub document: usize,
    pub span: Option<Span>,
    /// Where in the document, for errors found after parsing.
    pub path: Option<YamlPath>,
    /// For condition errors: byte offset inside the condition string at `path`.
    pub offset: Option<usize>,
}

impl Error {
    pub fn new(kind: ErrorKind) -> Error {
        Error {
            kind,
            file: Arc::from(""),
            document: 0,
            span: None,
            path: None,
            offset: None,
        }
    }

    pub fn at(kind: ErrorKind, path: YamlPath) -> Error {
        Error {
            path: Some(path),
            ..Error::new(kind)
        }
    }

    pub fn message(&self) -> String {
        self.kind.to_string()
    }

    pub fn line(&self) -> Option<u32> {
        self.span.map(|s| s.line)
    }

    pub fn column(&self) -> Option<u32> {
        self.span.map(|s| s.column)
    }

    /// Fill in line and column from a locator built over the file's text.
    pub fn resolve(&mut self, locator: &crate::locate::Locator) {
        if self.span.is_some() {
            return;
        }
        if let Some(path) = &self.path {
            self.span = match self.offset {
                Some(off) => locator.locate_in_scalar(self.document, path, off),
                None => locator.locate(self.document, path),
            };
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = if self.file.is_empty() {
            "<input>"
        } else {
            &self.file
        };
        match self.span {
            Some(s) => write!(f, "{file}:{}:{}: error: {}", s.line, s.column, self.kind),
            None => write!(f, "{file}: error: {}", self.kind),
        }
    }
}

impl std::error::Error for Error {}

/// Several errors (one file can have many).
#[derive(Clone, Debug, PartialEq)]
pub struct Errors(pub Vec<Error>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}
