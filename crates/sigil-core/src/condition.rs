//! The condition language: `sel and not 1 of filter_*`, parsed with `nom`.
//!
//! Precedence, loosest first: `or`, `and`, `not`, `x of pattern`, parentheses. Operators
//! are lower-case keywords with word boundaries, so identifiers such as `nothing` or
//! `notable` stay identifiers (pySigma splits them; we do not). Identifiers are any run of
//! characters other than whitespace and parentheses: search identifiers in the wild contain
//! `.`, `-` and even `|`. The legacy pipe aggregation (`sel | count() > 5`) is recognised
//! and rejected with a pointer to correlation rules.

use std::cell::Cell;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, multispace0, multispace1};
use nom::combinator::{not, peek};
use nom::error::{ErrorKind, ParseError as NomParseError};
use nom::sequence::terminated;
use nom::{IResult, Parser};

/// Parsed condition, faithful to the text (no identifier resolution yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    /// A search identifier; `offset` is its byte offset in the condition text.
    Ident {
        name: String,
        offset: usize,
    },
    /// `1 of pattern`, `any of pattern`, `all of pattern`; `them` is a pattern too.
    Of {
        quantifier: Quantifier,
        pattern: String,
        offset: usize,
    },
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantifier {
    /// `1 of`
    One,
    /// `any of` (pySigma's synonym of `1 of`)
    Any,
    /// `all of`
    All,
}

/// A condition syntax error at a byte offset of the condition text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CondError {
    pub offset: usize,
    pub message: String,
}

/// Deepest nesting of parentheses and `not` accepted (a bound against stack exhaustion).
pub const MAX_DEPTH: usize = 64;

const KEYWORDS: [&str; 7] = ["and", "or", "not", "of", "1", "any", "all"];

struct Parser_<'a> {
    full: &'a str,
    depth: Cell<usize>,
    /// Furthest error with a friendly message, reported when the parse fails.
    error: Cell<Option<(usize, &'static str)>>,
}

type Res<'a, T> = IResult<&'a str, T, nom::error::Error<&'a str>>;

fn is_ident_char(c: char) -> bool {
    !c.is_whitespace() && c != '(' && c != ')'
}

impl<'a> Parser_<'a> {
    fn offset(&self, rest: &str) -> usize {
        self.full.len() - rest.len()
    }

    fn fail<T>(&self, rest: &'a str, message: &'static str) -> Res<'a, T> {
        let off = self.offset(rest);
        match self.error.get() {
            Some((o, _)) if o > off => {}
            _ => self.error.set(Some((off, message))),
        }
        Err(nom::Err::Error(nom::error::Error::from_error_kind(
            rest,
            ErrorKind::Verify,
        )))
    }

    /// A keyword followed by a word boundary.
    fn keyword(&self, k: &'static str) -> impl Fn(&'a str) -> Res<'a, &'a str> {
        move |i| terminated(tag(k), peek(not(take_while1(is_ident_char)))).parse(i)
    }

    fn or_expr(&self, i: &'a str) -> Res<'a, Cond> {
        let (mut i, first) = self.and_expr(i)?;
        let mut items = vec![first];
        loop {
            let attempt: Res<'a, &str> = (|i| {
                let (i, _) = multispace0(i)?;
                self.keyword("or")(i)
            })(i);
            match attempt {
                Ok((rest, _)) => {
                    let (rest, e) = self.and_expr(rest)?;
                    items.push(e);
                    i = rest;
                }
                Err(_) => break,
            }
        }
        Ok((
            i,
            if items.len() == 1 {
                items.remove(0)
            } else {
                Cond::Or(items)
            },
        ))
    }

    fn and_expr(&self, i: &'a str) -> Res<'a, Cond> {
        let (mut i, first) = self.not_expr(i)?;
        let mut items = vec![first];
        loop {
            let attempt: Res<'a, &str> = (|i| {
                let (i, _) = multispace0(i)?;
                self.keyword("and")(i)
            })(i);
            match attempt {
                Ok((rest, _)) => {
                    let (rest, e) = self.not_expr(rest)?;
                    items.push(e);
                    i = rest;
                }
                Err(_) => break,
            }
        }
        Ok((
            i,
            if items.len() == 1 {
                items.remove(0)
            } else {
                Cond::And(items)
            },
        ))
    }

    fn not_expr(&self, i: &'a str) -> Res<'a, Cond> {
        let (i, _) = multispace0(i)?;
        if let Ok((rest, _)) = self.keyword("not")(i) {
            self.enter(i)?;
            let r = self.not_expr(rest);
            self.leave();
            let (rest, inner) = r?;
            return Ok((rest, Cond::Not(Box::new(inner))));
        }
        self.primary(i)
    }

    fn enter(&self, at: &'a str) -> Res<'a, ()> {
        let d = self.depth.get() + 1;
        if d > MAX_DEPTH {
            return self.fail(at, "condition is nested too deeply");
        }
        self.depth.set(d);
        Ok((at, ()))
    }

    fn leave(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }

    fn primary(&self, i: &'a str) -> Res<'a, Cond> {
        let (i, _) = multispace0(i)?;
        if i.is_empty() {
            return self.fail(i, "expected a search identifier, '(' or 'not'");
        }
        if let Ok((rest, _)) = char::<&str, nom::error::Error<&str>>('(')(i) {
            self.enter(i)?;
            let r = self.or_expr(rest);
            self.leave();
            let (rest, inner) = r?;
            let (rest, _) = multispace0(rest)?;
            return match char::<&str, nom::error::Error<&str>>(')')(rest) {
                Ok((rest, _)) => Ok((rest, inner)),
                Err(_) => self.fail(rest, "expected ')' to close '('"),
            };
        }
        if i.starts_with(')') {
            return self.fail(i, "unexpected ')'");
        }
        if let Ok(r) = self.selector(i) {
            return Ok(r);
        }
        let (rest, word) = take_while1(is_ident_char)(i)?;
        if KEYWORDS.contains(&word) {
            return self.fail(i, "expected a search identifier, found a keyword");
        }
        Ok((
            rest,
            Cond::Ident {
                name: word.to_string(),
                offset: self.offset(i),
            },
        ))
    }

    fn selector(&self, i: &'a str) -> Res<'a, Cond> {
        let start = i;
        let (i, q) = alt((self.keyword("1"), self.keyword("any"), self.keyword("all"))).parse(i)?;
        let quantifier = match q {
            "1" => Quantifier::One,
            "any" => Quantifier::Any,
            _ => Quantifier::All,
        };
        let (i, _) = multispace1(i)?;
        let Ok((i, _)) = self.keyword("of")(i) else {
            return self.fail(i, "expected 'of' after the quantifier");
        };
        let (i, _) = multispace0(i)?;
        let Ok((rest, pattern)) = take_while1::<_, &str, nom::error::Error<&str>>(is_ident_char)(i)
        else {
            return self.fail(i, "expected a pattern or 'them' after 'of'");
        };
        if KEYWORDS.contains(&pattern) {
            return self.fail(i, "expected a pattern or 'them' after 'of'");
        }
        Ok((
            rest,
            Cond::Of {
                quantifier,
                pattern: pattern.to_string(),
                offset: self.offset(start),
            },
        ))
    }
}

/// Parse a condition string.
pub fn parse(text: &str) -> Result<Cond, CondError> {
    if let Some(offset) = find_pipe_aggregation(text) {
        return Err(CondError {
            offset,
            message: "the pipe aggregation syntax ('| count() ...', '| near ...') was removed \
                      in Sigma 2.0; express it as a correlation rule (type event_count, \
                      value_count, temporal, ...)"
                .into(),
        });
    }
    if text.trim().is_empty() {
        return Err(CondError {
            offset: 0,
            message: "condition is empty".into(),
        });
    }
    let p = Parser_ {
        full: text,
        depth: Cell::new(0),
        error: Cell::new(None),
    };
    match p.or_expr(text) {
        Ok((rest, cond)) => {
            let trimmed = rest.trim_start();
            if trimmed.is_empty() {
                return Ok(cond);
            }
            let offset = p.offset(trimmed);
            let message = if trimmed.starts_with(')') {
                "unexpected ')' without a matching '('".to_string()
            } else if let Some((o, m)) = p.error.get().filter(|(o, _)| *o >= offset) {
                return Err(CondError {
                    offset: o,
                    message: m.to_string(),
                });
            } else {
                let word: String = trimmed.chars().take_while(|c| is_ident_char(*c)).collect();
                let word = if word.is_empty() {
                    trimmed.chars().next().map(String::from).unwrap_or_default()
                } else {
                    word
                };
                if word == "("
                    && matches!(&cond, Cond::Ident { name, .. } if ["count", "min", "max", "avg", "sum", "near"].contains(&name.as_str()))
                {
                    return Err(CondError {
                        offset: 0,
                        message: "aggregation functions are not part of Sigma 2 conditions; \
                                  express this as a correlation rule"
                            .into(),
                    });
                }
                if ["and", "or", "not"].contains(&word.to_ascii_lowercase().as_str()) {
                    format!(
                        "operators are lower case: write '{}' instead of '{word}'",
                        word.to_ascii_lowercase()
                    )
                } else {
                    format!("expected 'and', 'or' or the end of the condition, found '{word}'")
                }
            };
            Err(CondError { offset, message })
        }
        Err(_) => {
            let (offset, message) = p.error.get().unwrap_or((0, "cannot parse the condition"));
            Err(CondError {
                offset,
                message: message.to_string(),
            })
        }
    }
}

/// Byte offset of a legacy `|` aggregation: a `|` standing alone or followed by one of the
/// v1 aggregation functions. A `|` inside an identifier (`select_x|endswith`) is not one.
fn find_pipe_aggregation(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b != b'|' {
            continue;
        }
        let before_ws = i == 0 || (bytes[i - 1] as char).is_whitespace() || bytes[i - 1] == b')';
        let after = text[i + 1..].trim_start();
        let after_ws = i + 1 == bytes.len() || (bytes[i + 1] as char).is_whitespace();
        let agg = ["count", "min", "max", "avg", "sum", "near"]
            .iter()
            .any(|f| after.starts_with(f));
        if before_ws || after_ws || (agg && after[..].contains('(')) {
            return Some(i);
        }
    }
    None
}

impl Cond {
    /// Every identifier and pattern the condition references, with offsets.
    pub fn references(&self) -> Vec<(&str, usize, bool)> {
        let mut out = Vec::new();
        fn walk<'c>(c: &'c Cond, out: &mut Vec<(&'c str, usize, bool)>) {
            match c {
                Cond::Ident { name, offset } => out.push((name, *offset, false)),
                Cond::Of {
                    pattern, offset, ..
                } => out.push((pattern, *offset, true)),
                Cond::Not(x) => walk(x, out),
                Cond::And(v) | Cond::Or(v) => v.iter().for_each(|x| walk(x, out)),
            }
        }
        walk(self, &mut out);
        out
    }
}

/// Whether a selector pattern (`*` wildcards; `them` = everything) matches an identifier.
/// Identifiers starting with `_` only match patterns that start with `_`.
pub fn pattern_matches(pattern: &str, ident: &str) -> bool {
    if pattern == "them" {
        return !ident.starts_with('_');
    }
    if ident.starts_with('_') && !pattern.starts_with('_') {
        return false;
    }
    glob(pattern.as_bytes(), ident.as_bytes())
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    // Iterative wildcard match with backtracking on the last '*'.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(c: &Cond) -> String {
        match c {
            Cond::Ident { name, .. } => name.clone(),
            Cond::Of {
                quantifier,
                pattern,
                ..
            } => format!("{quantifier:?}({pattern})"),
            Cond::Not(x) => format!("NOT({})", show(x)),
            Cond::And(v) => format!("AND({})", v.iter().map(show).collect::<Vec<_>>().join(",")),
            Cond::Or(v) => format!("OR({})", v.iter().map(show).collect::<Vec<_>>().join(",")),
        }
    }

    fn p(s: &str) -> String {
        show(&parse(s).unwrap())
    }

    #[test]
    fn precedence() {
        assert_eq!(p("a or b and not c"), "OR(a,AND(b,NOT(c)))");
        assert_eq!(p("a and b and c"), "AND(a,b,c)");
        assert_eq!(p("(a or b) and c"), "AND(OR(a,b),c)");
        assert_eq!(p("not not a"), "NOT(NOT(a))");
        assert_eq!(p("not(s1)and(s2)"), "AND(NOT(s1),s2)");
        assert_eq!(
            p("sel and not 1 of filter_*"),
            "AND(sel,NOT(One(filter_*)))"
        );
        assert_eq!(p("all of them"), "All(them)");
        assert_eq!(p("any of sel*"), "Any(sel*)");
    }

    #[test]
    fn odd_identifiers() {
        assert_eq!(p("nothing and notable"), "AND(nothing,notable)");
        assert_eq!(p("filter_main_mdadm.conf"), "filter_main_mdadm.conf");
        assert_eq!(p("sel-1 or sel-2"), "OR(sel-1,sel-2)");
        assert_eq!(p("select_tree|endswith"), "select_tree|endswith");
        assert_eq!(p("andy or oreo"), "OR(andy,oreo)");
        assert_eq!(p("1 of sel-*"), "One(sel-*)");
    }

    #[test]
    fn errors_have_offsets() {
        let e = parse("sel and (a or b").unwrap_err();
        assert_eq!(e.offset, 15, "{e:?}");
        let e = parse("sel and a)").unwrap_err();
        assert_eq!(e.offset, 9);
        let e = parse("sel and").unwrap_err();
        assert_eq!(e.offset, 7, "{e:?}");
        let e = parse("sel | count() > 5").unwrap_err();
        assert_eq!(e.offset, 4);
        assert!(e.message.contains("correlation"));
        let e = parse("1 of").unwrap_err();
        assert!(e.message.contains("pattern"), "{e:?}");
        let e = parse("sel or or b").unwrap_err();
        assert_eq!(e.offset, 7, "{e:?}");
        assert!(parse("").is_err());
        let deep = format!("{}a{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&deep).unwrap_err().message.contains("deeply"));
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("sel*", "selection"));
        assert!(pattern_matches("*", "a"));
        assert!(!pattern_matches("*", "_a"));
        assert!(pattern_matches("_filt*", "_filt_x"));
        assert!(pattern_matches("them", "x"));
        assert!(!pattern_matches("them", "_x"));
        assert!(pattern_matches("a*b*c", "axxbyyc"));
        assert!(!pattern_matches("a*b", "ab c"));
    }
}
