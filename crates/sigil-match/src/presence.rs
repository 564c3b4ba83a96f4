//! The fields a rule cannot match without: a gate for the rules the literal and key
//! prefilters cannot select.
//!
//! Rules made of negated filters only (`not 1 of filter_*`) have no required literal and
//! no equality key, so [`crate::RuleSet`] used to evaluate them on every event. Most of
//! them still need a field to be present: `not Image: null` fails without `Image`, and so
//! does `TargetFilename|fieldref: Image` or `ContextInfo|contains: '*'`. Such a rule is
//! evaluated only when the event has every field it needs, which costs one look-up per
//! field instead of an evaluation.
//!
//! Exactness rests on the compiled predicates' treatment of a missing field (one with no
//! value under [`crate::Event::field`]): every value predicate is false, `null` is true,
//! `exists` is false, a field reference is false when either side is missing.

use sigil_core::{Expr, Pred};

/// Fields `e` needs present when it holds, sorted and deduplicated.
pub(crate) fn needed(e: &Expr) -> Vec<String> {
    let (mut holds, _) = walk(e);
    holds.sort();
    holds.dedup();
    holds
}

/// (Fields needed for `e` to hold, fields needed for `e` to fail.)
fn walk(e: &Expr) -> (Vec<String>, Vec<String>) {
    match e {
        Expr::Const(_) | Expr::Pred(Pred::Keyword { .. }) => (vec![], vec![]),
        Expr::Pred(Pred::Null { field }) => (vec![], vec![field.clone()]),
        Expr::Pred(Pred::FieldRef { field, other, .. }) => {
            (vec![field.clone(), other.clone()], vec![])
        }
        Expr::Pred(
            Pred::Str { field, .. }
            | Pred::Regex { field, .. }
            | Pred::Cidr { field, .. }
            | Pred::Num { field, .. }
            | Pred::Bool { field, .. }
            | Pred::Exists { field },
        ) => (vec![field.clone()], vec![]),
        Expr::Not(x) => {
            let (holds, fails) = walk(x);
            (fails, holds)
        }
        // An `and` holds when all operands hold (every operand's needs), fails when one
        // fails (only what every operand's failure needs); an `or` the other way round.
        Expr::And(items) => {
            let parts: Vec<_> = items.iter().map(walk).collect();
            (
                union(parts.iter().map(|p| &p.0)),
                common(parts.iter().map(|p| &p.1)),
            )
        }
        Expr::Or(items) => {
            let parts: Vec<_> = items.iter().map(walk).collect();
            (
                common(parts.iter().map(|p| &p.0)),
                union(parts.iter().map(|p| &p.1)),
            )
        }
    }
}

fn union<'a>(sets: impl Iterator<Item = &'a Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = sets.flatten().cloned().collect();
    out.sort();
    out.dedup();
    out
}

fn common<'a>(mut sets: impl Iterator<Item = &'a Vec<String>>) -> Vec<String> {
    let Some(first) = sets.next() else {
        return vec![];
    };
    let mut out = first.clone();
    for s in sets {
        out.retain(|f| s.contains(f));
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_core::{load::load_str, Collection};

    fn needed_by(detection: &str) -> Vec<String> {
        let src = format!("title: t\nlogsource: {{product: test}}\ndetection:\n{detection}");
        let lowered = Collection::from_files(vec![load_str(&src, "r.yml")]).lower();
        assert!(lowered.errors.is_empty(), "{:?}", lowered.errors);
        needed(&Expr::or(lowered.rules[0].conditions.iter().cloned()))
    }

    #[test]
    fn negated_filters() {
        // `not Image: null` needs Image; the other filters need nothing when negated.
        let d = "    f1:\n        Image|startswith: 'C:\\Windows\\'\n    f2:\n        Image: null\n    f3:\n        Device|contains: floppy\n    condition: not 1 of f*\n";
        assert_eq!(needed_by(d), ["Image"]);
        // A filter that may fail without the field needs nothing.
        let d = "    f1:\n        Image|contains: '\\'\n    condition: not f1\n";
        assert!(needed_by(d).is_empty());
        // `not (a or b)`: both negations must hold.
        let d = "    a:\n        A: null\n    b:\n        B: null\n    condition: not (a or b)\n";
        assert_eq!(needed_by(d), ["A", "B"]);
        // `not (A: null and C: null)`: either field is enough, so none is needed.
        let d = "    a:\n        A: null\n        C: null\n    condition: not a\n";
        assert!(needed_by(d).is_empty());
    }

    #[test]
    fn positive_predicates() {
        let d = "    sel:\n        Initiated: 'true'\n        DestinationPort: 9389\n    f:\n        Image: x\n    condition: sel and not f\n";
        assert_eq!(needed_by(d), ["DestinationPort", "Initiated"]);
        let d = "    sel:\n        TargetFilename|fieldref: Image\n    condition: sel\n";
        assert_eq!(needed_by(d), ["Image", "TargetFilename"]);
        // An `or` needs what every branch needs.
        let d = "    a:\n        A: x\n        C: y\n    b:\n        B: x\n        C: z\n    condition: a or b\n";
        assert_eq!(needed_by(d), ["C"]);
        let d = "    a:\n        A: x\n    kw:\n        - evil\n    condition: a or kw\n";
        assert!(needed_by(d).is_empty());
        let d = "    a:\n        A: null\n    condition: a\n";
        assert!(needed_by(d).is_empty());
    }
}
