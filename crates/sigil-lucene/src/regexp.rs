//! Rust regular expressions (unanchored search, as Sigma's `re` means) → Lucene `RegExp`
//! syntax (anchored full match over one keyword term).
//!
//! The pattern is parsed with `regex-syntax` (the parser of the `regex` crate the matcher
//! uses), so flags, case folding (`i`: letters become classes such as `[Kk\u{212A}]`),
//! Unicode classes (`\d`, `\w`, `\s`) and escapes mean exactly what they mean to the
//! matcher. The HIR is then printed in Lucene's syntax:
//!
//! * the search is turned into a full match by placing `.*` where the expression is not
//!   anchored: `^` / `$` at the start / end of the expression (also inside leading /
//!   trailing alternations and groups, e.g. `(^|\\)cmd\.exe$`) remove it;
//! * anchors anywhere else, multi-line anchors (`(?m)^`, which would need a raw line
//!   feed in the query), word boundaries and byte-oriented classes (`(?-u)`) have no
//!   Lucene equivalent and are reported as unsupported;
//! * every ASCII character that is not a letter or digit is escaped with `\` (Lucene's
//!   `RegExp` gives special meaning to `# @ & < > ~ "` as well); `/` is escaped too so
//!   the text can sit between the `/.../` delimiters of `query_string`; a literal
//!   backslash is written `[\\]` so it can never form `\/` with a following slash;
//! * the Perl classes `\d`, `\w`, `\s` (and `\D`, `\W`, `\S`) are read as their ASCII
//!   classes `[0-9]`, `[0-9A-Za-z_]`, `[\t\n\v\f\r ]`: the Unicode classes the matcher
//!   uses would print as hundreds of ranges of raw characters. This narrows the meaning
//!   for non-ASCII digits, letters and spaces only (SigmaHQ rules mean ASCII);
//! * classes are printed as ranges, or as `[^...]` of the complement when that is shorter.
//!   The class "any character but a line feed" (`.` without the `s` flag) is written as
//!   Lucene's `.` (which also matches a line feed): a deliberate approximation,
//!   since the exact class cannot be written without raw control characters and keyword
//!   values with line breaks are rare. Other line feeds and carriage returns are rejected,
//!   because a query must fit on one line.
//!
//! In `lowercase` mode (keyword fields with a lowercase normalizer) Elasticsearch
//! lower-cases the whole regexp text before using it, so the printer never emits an
//! ASCII upper-case letter (they cannot occur in normalized values anyway): `A-Z` is
//! removed from every printed set.

use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look};
use sigil_core::ir::RegexFlags;

/// Why a regular expression could not be translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexpError(pub String);

/// Printing options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    /// Drop ASCII upper-case letters from every set (see the module docs).
    pub lowercase: bool,
}

/// Rewrites the Perl classes `\d \w \s` (and negations) to their ASCII classes, as
/// nested classes so the result is valid inside and outside brackets.
pub fn ascii_perl_classes(regex: &str) -> Result<String, RegexpError> {
    use regex_syntax::ast::{self, Ast, ClassPerl, ClassPerlKind, ClassSetItem};
    struct Spans(Vec<(usize, usize, &'static str)>);
    fn replacement(c: &ClassPerl) -> &'static str {
        match (&c.kind, c.negated) {
            (ClassPerlKind::Digit, false) => "[0-9]",
            (ClassPerlKind::Digit, true) => "[^0-9]",
            (ClassPerlKind::Word, false) => "[0-9A-Za-z_]",
            (ClassPerlKind::Word, true) => "[^0-9A-Za-z_]",
            (ClassPerlKind::Space, false) => "[\\t\\n\\x0B\\f\\r ]",
            (ClassPerlKind::Space, true) => "[^\\t\\n\\x0B\\f\\r ]",
        }
    }
    impl ast::Visitor for Spans {
        type Output = Vec<(usize, usize, &'static str)>;
        type Err = ();
        fn finish(self) -> Result<Self::Output, ()> {
            Ok(self.0)
        }
        fn visit_pre(&mut self, a: &Ast) -> Result<(), ()> {
            if let Ast::ClassPerl(c) = a {
                self.0
                    .push((c.span.start.offset, c.span.end.offset, replacement(c)));
            }
            Ok(())
        }
        fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), ()> {
            if let ClassSetItem::Perl(c) = item {
                self.0
                    .push((c.span.start.offset, c.span.end.offset, replacement(c)));
            }
            Ok(())
        }
    }
    let parsed = ast::parse::Parser::new()
        .parse(regex)
        .map_err(|e| RegexpError(format!("invalid regular expression: {}", e.kind())))?;
    let mut spans = ast::visit(&parsed, Spans(Vec::new())).unwrap_or_default();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = regex.to_string();
    for (a, b, r) in spans {
        out.replace_range(a..b, r);
    }
    Ok(out)
}

/// Parses `regex` with `flags` as the matcher does, except that Perl classes are ASCII
/// (see [`ascii_perl_classes`]).
pub fn parse(regex: &str, flags: RegexFlags, force_ci: bool) -> Result<Hir, RegexpError> {
    let regex = ascii_perl_classes(regex)?;
    regex_syntax::ParserBuilder::new()
        .case_insensitive(flags.ignore_case || force_ci)
        .multi_line(flags.multi_line)
        .dot_matches_new_line(flags.dot_all)
        .build()
        .parse(&regex)
        .map_err(|e| {
            let msg = e.to_string();
            let last = msg.lines().last().unwrap_or("").trim().to_string();
            RegexpError(format!("invalid regular expression: {last}"))
        })
}

/// Translates an unanchored regular expression into a Lucene regexp body (without the
/// surrounding slashes) that matches a whole term exactly when the original finds a match
/// in it.
pub fn translate(regex: &str, flags: RegexFlags, printer: Printer) -> Result<String, RegexpError> {
    let hir = parse(regex, flags, false)?;
    printer.full(&hir)
}

/// True when the expression means the same with and without case-insensitivity.
pub fn is_case_invariant(regex: &str, flags: RegexFlags) -> bool {
    match (parse(regex, flags, false), parse(regex, flags, true)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    /// Alternation: needs parentheses inside a concatenation or repetition.
    Alt,
    /// Concatenation: needs parentheses under a repetition.
    Concat,
    /// A single atom.
    Atom,
}

fn group(s: String, p: Prec, need: Prec) -> String {
    if p < need {
        format!("({s})")
    } else {
        s
    }
}

impl Printer {
    /// `.* e .*` with leading / trailing anchors absorbed.
    pub fn full(&self, h: &Hir) -> Result<String, RegexpError> {
        match h.kind() {
            HirKind::Capture(c) => self.full(&c.sub),
            HirKind::Alternation(v) => {
                let parts = v
                    .iter()
                    .map(|x| {
                        self.full(x)
                            .map(|s| if s.is_empty() { "()".into() } else { s })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(format!("({})", parts.join("|")))
            }
            HirKind::Concat(v) if v.len() >= 2 => {
                let mut s = self.lead(&v[0])?;
                for x in &v[1..v.len() - 1] {
                    let (t, p) = self.tr(x)?;
                    s.push_str(&group(t, p, Prec::Concat));
                }
                s.push_str(&self.trail(&v[v.len() - 1])?);
                Ok(s)
            }
            HirKind::Concat(v) if v.len() == 1 => self.full(&v[0]),
            HirKind::Empty
            | HirKind::Look(Look::Start | Look::End | Look::StartLF | Look::EndLF) => {
                Ok(".*".into())
            }
            _ => {
                let (t, p) = self.tr(h)?;
                Ok(format!(".*{}.*", group(t, p, Prec::Concat)))
            }
        }
    }

    /// `.* e` with leading anchors absorbed.
    fn lead(&self, h: &Hir) -> Result<String, RegexpError> {
        match h.kind() {
            HirKind::Look(Look::Start) => Ok(String::new()),
            HirKind::Look(Look::StartLF) => Err(line_anchor()),
            HirKind::Capture(c) => self.lead(&c.sub),
            HirKind::Alternation(v) => {
                let parts = v
                    .iter()
                    .map(|x| {
                        self.lead(x)
                            .map(|s| if s.is_empty() { "()".into() } else { s })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(format!("({})", parts.join("|")))
            }
            HirKind::Concat(v) if !v.is_empty() => {
                let mut s = self.lead(&v[0])?;
                for x in &v[1..] {
                    let (t, p) = self.tr(x)?;
                    s.push_str(&group(t, p, Prec::Concat));
                }
                Ok(s)
            }
            _ => {
                let (t, p) = self.tr(h)?;
                Ok(format!(".*{}", group(t, p, Prec::Concat)))
            }
        }
    }

    /// `e .*` with trailing anchors absorbed.
    fn trail(&self, h: &Hir) -> Result<String, RegexpError> {
        match h.kind() {
            HirKind::Look(Look::End) => Ok(String::new()),
            HirKind::Look(Look::EndLF) => Err(line_anchor()),
            HirKind::Capture(c) => self.trail(&c.sub),
            HirKind::Alternation(v) => {
                let parts = v
                    .iter()
                    .map(|x| {
                        self.trail(x)
                            .map(|s| if s.is_empty() { "()".into() } else { s })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(format!("({})", parts.join("|")))
            }
            HirKind::Concat(v) if !v.is_empty() => {
                let mut s = String::new();
                for x in &v[..v.len() - 1] {
                    let (t, p) = self.tr(x)?;
                    s.push_str(&group(t, p, Prec::Concat));
                }
                s.push_str(&self.trail(&v[v.len() - 1])?);
                Ok(s)
            }
            _ => {
                let (t, p) = self.tr(h)?;
                Ok(format!("{}.*", group(t, p, Prec::Concat)))
            }
        }
    }

    /// Plain translation of a sub-expression (no anchors allowed).
    fn tr(&self, h: &Hir) -> Result<(String, Prec), RegexpError> {
        Ok(match h.kind() {
            HirKind::Empty => ("()".into(), Prec::Atom),
            HirKind::Literal(lit) => {
                let text = std::str::from_utf8(&lit.0).map_err(|_| {
                    RegexpError("byte-oriented literal (not UTF-8) in regular expression".into())
                })?;
                let mut s = String::new();
                let mut n = 0;
                for c in text.chars() {
                    s.push_str(&self.lit_char(c)?);
                    n += 1;
                }
                (s, if n == 1 { Prec::Atom } else { Prec::Concat })
            }
            HirKind::Class(Class::Unicode(c)) => (self.class(c)?, Prec::Atom),
            HirKind::Class(Class::Bytes(_)) => {
                return Err(RegexpError(
                    "byte-oriented class ((?-u)) in regular expression".into(),
                ))
            }
            HirKind::Look(l) => {
                return Err(RegexpError(format!(
                    "{} inside a regular expression (Lucene regexps are anchored and have no \
                     assertions)",
                    look_name(*l)
                )))
            }
            HirKind::Repetition(r) => {
                let (t, p) = self.tr(&r.sub)?;
                let t = group(t, p, Prec::Atom);
                let op = match (r.min, r.max) {
                    (0, None) => "*".to_string(),
                    (1, None) => "+".to_string(),
                    (0, Some(1)) => "?".to_string(),
                    (n, None) => format!("{{{n},}}"),
                    (n, Some(m)) if n == m => format!("{{{n}}}"),
                    (n, Some(m)) => format!("{{{n},{m}}}"),
                };
                (format!("{t}{op}"), Prec::Atom)
            }
            HirKind::Capture(c) => self.tr(&c.sub)?,
            HirKind::Concat(v) => {
                let mut s = String::new();
                for x in v {
                    let (t, p) = self.tr(x)?;
                    s.push_str(&group(t, p, Prec::Concat));
                }
                (s, Prec::Concat)
            }
            HirKind::Alternation(v) => {
                let parts = v
                    .iter()
                    .map(|x| {
                        self.tr(x)
                            .map(|(t, _)| if t.is_empty() { "()".into() } else { t })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (parts.join("|"), Prec::Alt)
            }
        })
    }

    fn lit_char(&self, c: char) -> Result<String, RegexpError> {
        if self.lowercase && c.is_ascii_uppercase() {
            // Unreachable for case-folded expressions (letters become classes); kept so a
            // literal never leaks an upper-case letter the normalizer would rewrite.
            return Ok(c.to_ascii_lowercase().to_string());
        }
        if c == '\\' {
            return Ok("[\\\\]".into());
        }
        class_char(c)
    }

    fn class(&self, c: &ClassUnicode) -> Result<String, RegexpError> {
        let mut set: Vec<(u32, u32)> = c
            .ranges()
            .iter()
            .map(|r: &ClassUnicodeRange| (r.start() as u32, r.end() as u32))
            .collect();
        if self.lowercase {
            set = subtract(&set, 'A' as u32, 'Z' as u32);
        }
        if set.is_empty() {
            return Err(RegexpError("a character class that matches nothing".into()));
        }
        // "anything but \n" is `.` (see the module docs); "anything" too.
        let all_but_lf = [(0, 9), (11, 0x10FFFF)];
        let mut with_surrogates = add(&set, 0xD800, 0xDFFF);
        if self.lowercase {
            with_surrogates = add(&with_surrogates, 'A' as u32, 'Z' as u32);
        }
        if with_surrogates == [(0, 0x10FFFF)] || with_surrogates == all_but_lf {
            return Ok(".".into());
        }
        if set.len() == 1 && set[0].0 == set[0].1 {
            let ch = char::from_u32(set[0].0).unwrap_or('\u{FFFD}');
            return if ch == '\\' {
                Ok("[\\\\]".into())
            } else {
                class_char(ch)
            };
        }
        // The complement of a class never lists surrogates separately (they never occur).
        let mut comp = complement(&set);
        if self.lowercase {
            comp = subtract(&comp, 'A' as u32, 'Z' as u32);
        }
        let direct = print_ranges(&set);
        let negated = if comp.is_empty() {
            None
        } else {
            print_ranges(&comp).ok().map(|s| format!("^{s}"))
        };
        match (direct, negated) {
            (Ok(d), Some(n)) if n.len() < d.len() => Ok(format!("[{n}]")),
            (Ok(d), _) => Ok(format!("[{d}]")),
            (Err(_), Some(n)) => Ok(format!("[{n}]")),
            (Err(e), None) => Err(e),
        }
    }
}

fn line_anchor() -> RegexpError {
    RegexpError(
        "a multi-line anchor ((?m)^ or (?m)$) needs a line feed, which cannot be written in a \
         one-line query"
            .into(),
    )
}

fn look_name(l: Look) -> &'static str {
    match l {
        Look::Start | Look::StartLF | Look::StartCRLF => "a start-of-text/line anchor",
        Look::End | Look::EndLF | Look::EndCRLF => "an end-of-text/line anchor",
        _ => "a word boundary",
    }
}

/// One character, escaped for Lucene `RegExp` inside `/.../` of `query_string`.
fn class_char(c: char) -> Result<String, RegexpError> {
    if c == '\n' || c == '\r' {
        return Err(RegexpError(
            "a line break in a regular expression cannot be written in a one-line query".into(),
        ));
    }
    Ok(
        if c.is_ascii_alphanumeric() || !c.is_ascii() || c.is_ascii_control() {
            c.to_string()
        } else {
            format!("\\{c}")
        },
    )
}

fn print_ranges(set: &[(u32, u32)]) -> Result<String, RegexpError> {
    let mut s = String::new();
    for &(lo, hi) in set {
        let a = char::from_u32(lo).unwrap_or('\u{FFFD}');
        let b = char::from_u32(hi).unwrap_or('\u{FFFD}');
        if lo == hi {
            s.push_str(&class_char(a)?);
        } else if hi == lo + 1 {
            s.push_str(&class_char(a)?);
            s.push_str(&class_char(b)?);
        } else {
            s.push_str(&class_char(a)?);
            s.push('-');
            s.push_str(&class_char(b)?);
        }
    }
    Ok(s)
}

fn complement(set: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut next = 0u32;
    for &(lo, hi) in set {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = hi.saturating_add(1);
    }
    if next <= 0x10FFFF {
        out.push((next, 0x10FFFF));
    }
    out
}

fn add(set: &[(u32, u32)], lo: u32, hi: u32) -> Vec<(u32, u32)> {
    let mut v: Vec<(u32, u32)> = set.to_vec();
    v.push((lo, hi));
    v.sort();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn subtract(set: &[(u32, u32)], lo: u32, hi: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for &(a, b) in set {
        if b < lo || a > hi {
            out.push((a, b));
            continue;
        }
        if a < lo {
            out.push((a, lo - 1));
        }
        if b > hi {
            out.push((hi + 1, b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(re: &str) -> String {
        translate(re, RegexFlags::default(), Printer::default()).unwrap()
    }

    #[test]
    fn anchoring() {
        assert_eq!(t("abc"), ".*abc.*");
        assert_eq!(t("^abc"), "abc.*");
        assert_eq!(t("abc$"), ".*abc");
        assert_eq!(t("^abc$"), "abc");
        assert_eq!(t("^a|b$"), "(a.*|.*b)");
        assert_eq!(t("(^|x)cmd$"), "(()|.*x)cmd");
        assert_eq!(t(""), ".*");
    }

    #[test]
    fn escaping_and_classes() {
        assert_eq!(t(r"a\.b/c"), r".*a\.b\/c.*");
        assert_eq!(t(r"\\"), r".*[\\].*");
        assert_eq!(t("[0-9]+"), ".*[0-9]+.*");
        assert_eq!(t("a.c"), ".*a.c.*");
        assert_eq!(t("[^a]"), ".*[^a].*");
        assert_eq!(t("x{2,3}y{4}z{5,}"), ".*x{2,3}y{4}z{5,}.*");
        assert_eq!(t("(ab)+"), ".*(ab)+.*");
        assert_eq!(t("a#@&<>~\""), r#".*a\#\@\&\<\>\~\".*"#);
    }

    #[test]
    fn case_folding() {
        let f = RegexFlags {
            ignore_case: true,
            ..Default::default()
        };
        assert_eq!(
            translate("ab", f, Printer::default()).unwrap(),
            ".*[Aa][Bb].*"
        );
        assert_eq!(
            translate("ab", f, Printer { lowercase: true }).unwrap(),
            ".*ab.*"
        );
        assert!(is_case_invariant("[0-9]+", RegexFlags::default()));
        assert!(!is_case_invariant("a", RegexFlags::default()));
    }

    #[test]
    fn unsupported() {
        assert!(t_err(r"\bword\b").contains("word boundary"));
        assert!(t_err("a^b").contains("anchor"));
        assert!(t_err("a\nb").contains("line break"));
    }

    fn t_err(re: &str) -> String {
        translate(re, RegexFlags::default(), Printer::default())
            .unwrap_err()
            .0
    }
}
