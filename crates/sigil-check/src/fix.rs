//! `--fix`: mechanical repairs applied to the file text at the located spans (never by
//! re-serialising YAML, so comments and formatting elsewhere stay as written). Writing the
//! result back is the caller's (the CLI replaces the file through a temporary file and an
//! atomic rename).

use crate::Finding;

/// The result of applying fixes to one file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub text: String,
    pub applied: usize,
    /// Fixes whose text was not found where expected (left alone).
    pub skipped: usize,
}

/// Byte offset of a 1-based line and (character) column.
fn offset(src: &str, line: u32, column: u32) -> Option<usize> {
    let mut start = 0usize;
    for _ in 1..line {
        start += src[start..].find('\n')? + 1;
    }
    let line_text = &src[start..];
    let mut chars = line_text.char_indices();
    let mut off = 0;
    for _ in 1..column {
        let (_, c) = chars.next()?;
        if c == '\n' {
            return None;
        }
        off += c.len_utf8();
    }
    Some(start + off)
}

/// Apply the fixes of `findings` (those with a span and a [`crate::Fix`]) to `src`.
pub fn apply(src: &str, findings: &[&Finding]) -> Outcome {
    let mut edits: Vec<(usize, usize, &str)> = vec![];
    let mut skipped = 0;
    for f in findings {
        let (Some(fix), Some(span)) = (&f.fix, f.span) else {
            continue;
        };
        let Some(mut at) = offset(src, span.line, span.column) else {
            skipped += 1;
            continue;
        };
        if !src[at..].starts_with(fix.old.as_str())
            && matches!(src[at..].chars().next(), Some('\'' | '"'))
        {
            at += 1;
        }
        if fix.old.is_empty() || !src[at..].starts_with(fix.old.as_str()) {
            skipped += 1;
            continue;
        }
        edits.push((at, at + fix.old.len(), fix.new.as_str()));
    }
    edits.sort();
    edits.dedup();
    // Drop overlapping edits (keep the first).
    let mut kept: Vec<(usize, usize, &str)> = vec![];
    for e in edits {
        if kept.last().is_some_and(|k| e.0 < k.1) {
            skipped += 1;
            continue;
        }
        kept.push(e);
    }
    let mut text = src.to_string();
    for (s, e, new) in kept.iter().rev() {
        text.replace_range(*s..*e, new);
    }
    Outcome {
        text,
        applied: kept.len(),
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Fix, Severity};
    use sigil_core::ast::Span;

    fn finding(line: u32, column: u32, old: &str, new: &str) -> Finding {
        Finding {
            validator: "tag_case",
            severity: Severity::Warning,
            message: String::new(),
            help: None,
            file: "x".into(),
            document: 0,
            path: None,
            offset: None,
            span: Some(Span { line, column }),
            rule: None,
            fix: Some(Fix {
                old: old.into(),
                new: new.into(),
            }),
        }
    }

    #[test]
    fn edits_only_the_spans() {
        let src = "# keep me\ntags:\n    - attack.T1059   # comment\n    - 'attack.G0016'\n";
        let a = finding(3, 7, "attack.T1059", "attack.t1059");
        let b = finding(4, 7, "attack.G0016", "attack.g0016");
        let out = apply(src, &[&a, &b]);
        assert_eq!(
            out.text,
            "# keep me\ntags:\n    - attack.t1059   # comment\n    - 'attack.g0016'\n"
        );
        assert_eq!((out.applied, out.skipped), (2, 0));
        // Text not where expected: left alone.
        let c = finding(1, 1, "attack.T1059", "x");
        let out = apply(src, &[&c]);
        assert_eq!((out.text.as_str(), out.applied, out.skipped), (src, 0, 1));
    }
}
