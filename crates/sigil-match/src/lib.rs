//! sigil-match: the in-process Sigma matcher, and the reference semantics every other
//! sigil backend is tested against.
//!
//! * [`compile_expr`] / [`CompiledRule::compile`] turn the IR of `sigil-core` into boxed
//!   closures; evaluating an event never walks the IR.
//! * [`Event`] is how the matcher reads fields; it is implemented for `serde_json::Value`
//!   (dotted names are paths, arrays are looked through), for flat maps, and easily for your
//!   own types without copying (see [`event`]).
//! * [`JsonEvent`] is the fast event type: JSON parsed into a flat, indexed, reusable form
//!   (strings case-folded once), with exactly the semantics of the `serde_json::Value`
//!   implementation.
//! * [`RuleSet`] holds many rules behind two exact prefilters, an index of equality keys
//!   (`EventID`, `Channel`, ...) and a scanner for the literals each rule requires (one
//!   per field, `grams.rs`); [`Engine`] adds correlation rules over a stream of events.
//!
//! # Semantics (where Sigma and pySigma leave a choice, this is the choice)
//!
//! | case | decision |
//! |---|---|
//! | string pattern vs. string | the whole value matches the pattern; case-insensitive by Unicode simple case folding unless `cased` |
//! | string pattern vs. number | the number's decimal text is matched (`EventID\|contains: 46` matches `4625`; floats as shortest round-trip text, `1.5`) |
//! | string pattern vs. boolean | matched against `true` / `false` |
//! | string pattern vs. null / object | never matches |
//! | number (`EventID: 4625`) vs. event value | numbers compare by value; a string holding a decimal number counts as that number (`"4625"`); other strings never match; integers compare exactly, otherwise as `f64` |
//! | boolean (`Field: true`) | matches JSON `true`, and the strings `true` (any case); likewise `false` |
//! | array value | a predicate holds when it holds for **any** element (nested arrays flattened); a path through an array of objects fans out (`resources.ARN`) |
//! | empty array | has no element: like an absent field (`null` holds, `exists` does not) |
//! | missing field | every value predicate is false; `null` is true; so `not Field: x` is **true** when `Field` is absent (two-valued logic, as SQL's `coalesce`-free backends would need to emulate) |
//! | `null` | the field is absent, JSON `null`, or an empty array |
//! | `exists` | exactly `not null` |
//! | keywords | match any **string** value anywhere in the event (numbers and booleans are not searched; field names are not searched) |
//! | `re` | unanchored search with the `regex` crate (`i`, `m`, `s` flags); numbers/booleans as text |
//! | `cidr` | the value must be a plain IPv4/IPv6 address string (no port, no brackets, no zone); an IPv4-mapped IPv6 address matches IPv4 networks and vice versa |
//! | `fieldref` | some value of the field equals (contains, starts/ends with) some value of the other field, compared as text, case-insensitively unless `cased`; false if either is missing |
//! | time parts (`minute` … `year`) | the value is parsed as a timestamp ([`time`]: ISO-8601/RFC 3339, `YYYY-MM-DD HH:MM:SS(.fff)`, epoch numbers), parts taken in UTC; `week` is the ISO week |
//! | dotted field names | a literal key with dots wins over the nested path; otherwise every split is tried |
//! | `?` wildcard | exactly one Unicode character (not byte) |

// Errors are the cold path.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use sigil_core::ast::RuleMeta;
use sigil_core::ir::RuleIr;

mod bytes;
mod compile;
pub mod correlation;
pub mod event;
mod fast;
pub mod fold;
mod grams;
mod keyindex;
mod presence;
mod ruleset;
pub mod strmatch;
pub mod time;

pub use compile::{compile_expr, CompiledExpr};
pub use correlation::{Detection, DetectionKind, Engine, EngineOptions};
pub use event::{Event, FieldValue, Value};
pub use fast::JsonEvent;
pub use ruleset::{RuleMatch, RuleSet, RuleSetStats, Scratch};

/// Why a rule (or expression) cannot be compiled or evaluated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", rule.as_ref().map(|r| format!("{r}: ")).unwrap_or_default())]
pub struct MatchError {
    /// The rule's id (or name or title), when known.
    pub rule: Option<String>,
    pub message: String,
}

impl MatchError {
    pub fn new(message: impl Into<String>) -> Self {
        MatchError {
            rule: None,
            message: message.into(),
        }
    }

    /// Attach the rule that failed.
    pub fn in_rule(mut self, meta: &RuleMeta) -> Self {
        self.rule = Some(meta.display_id());
        self
    }
}

/// A detection rule compiled to closures.
#[derive(Debug)]
pub struct CompiledRule {
    pub meta: Arc<RuleMeta>,
    conditions: Vec<CompiledExpr>,
}

impl CompiledRule {
    /// Compile every condition of the rule; the error names the rule.
    pub fn compile(rule: &RuleIr) -> Result<CompiledRule, MatchError> {
        let conditions = rule
            .conditions
            .iter()
            .map(compile_expr)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.in_rule(&rule.meta))?;
        Ok(CompiledRule {
            meta: rule.meta.clone(),
            conditions,
        })
    }

    /// True if any of the rule's conditions holds.
    #[inline]
    pub fn matches<E: Event>(&self, ev: &E) -> bool {
        self.conditions.iter().any(|c| c.matches(ev))
    }

    /// [`CompiledRule::matches`] for a trait object.
    #[inline]
    pub fn matches_dyn(&self, ev: &dyn Event) -> bool {
        self.conditions.iter().any(|c| c.matches_dyn(ev))
    }
}

/// Load, lower and compile a single rule from YAML text (the first rule document), for
/// examples and tests.
pub fn compile_rule_str(yaml: &str) -> Result<CompiledRule, MatchError> {
    let file = sigil_core::load::load_str(yaml, "<rule>");
    if let Some(e) = file.errors.first() {
        return Err(MatchError::new(e.to_string()));
    }
    let rule = file
        .documents
        .iter()
        .find_map(|d| match d {
            sigil_core::Document::Rule(r) => Some(r),
            _ => None,
        })
        .ok_or_else(|| MatchError::new("no rule document"))?;
    let ir = sigil_core::lower::lower_rule(rule).map_err(|errs| {
        MatchError::new(
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    CompiledRule::compile(&ir)
}
