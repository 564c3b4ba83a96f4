//! sigil-core: the front end of the sigil Sigma compiler.
//!
//! ```text
//! Sigma YAML ──load──▶ AST ──lower──▶ IR ──(pipelines, backends: other crates)
//! ```
//!
//! * [`load`] reads YAML documents (rules, filters, correlations, collections) into the
//!   faithful [`ast`], with errors that name file, line and column.
//! * [`condition`] parses condition strings with `nom`.
//! * [`lower`] expands modifiers and selectors into the normalized [`ir`].
//! * [`collection`] applies filters and resolves correlation references across files.
//!
//! ```
//! let src = r#"
//! title: STS Get Caller Identity
//! logsource: { product: aws, service: cloudtrail }
//! detection:
//!     sel:
//!         eventSource|endswith: '.sts.amazonaws.com'
//!         eventName: GetCallerIdentity
//!     condition: sel
//! "#;
//! let file = sigil_core::load::load_str(src, "seed.yml");
//! assert!(file.errors.is_empty());
//! let sigil_core::ast::Document::Rule(rule) = &file.documents[0] else { unreachable!() };
//! let ir = sigil_core::lower::lower_rule(rule).unwrap();
//! assert_eq!(
//!     ir.conditions[0].to_string(),
//!     "eventSource = '*.sts.amazonaws.com' and eventName = 'GetCallerIdentity'"
//! );
//! ```

// Errors carry file, path and position; they are the cold path, so their size is fine.
#![allow(clippy::result_large_err)]

pub mod ast;
pub mod backend;
pub mod collection;
pub mod condition;
pub mod error;
pub mod ir;
pub mod load;
pub mod locate;
pub mod lower;
pub mod modifiers;
pub mod value;

pub use ast::{Document, LogSource, Rule, RuleMeta};
pub use collection::{Collection, CorrelationIr, Lowered, RuleRef};
pub use error::{Error, ErrorKind};
pub use ir::{Expr, Pattern, Piece, Pred, RuleIr};

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}
