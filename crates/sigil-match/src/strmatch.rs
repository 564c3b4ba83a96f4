//! Compiled string patterns: exact / prefix / suffix / contains fast paths and a general
//! wildcard matcher (`*` any run of characters, `?` exactly one character).
//!
//! Case-insensitive patterns hold a folded needle ([`crate::fold`]); the haystack is folded
//! on the fly (not at all when it is already lower-case ASCII). Matching never allocates.

use memchr::memmem;
use sigil_core::ir::{Pattern, Piece};

use crate::bytes::same;
use crate::fold;

/// One token of a general wildcard pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Lit(Vec<u8>),
    /// `?`: one character.
    One,
}

#[derive(Clone, Debug)]
enum Kind {
    Exact(Box<[u8]>),
    Prefix(Box<[u8]>),
    Suffix(Box<[u8]>),
    Contains(Box<memmem::Finder<'static>>),
    Any,
    /// Segments separated by `*`; `anchored_start`/`anchored_end` when the pattern does not
    /// begin/end with `*`.
    Glob {
        segs: Vec<Vec<Tok>>,
        anchored_start: bool,
        anchored_end: bool,
    },
}

/// A compiled Sigma string pattern.
#[derive(Clone, Debug)]
pub struct StrMatcher {
    kind: Kind,
    cased: bool,
}

/// Why a pattern cannot be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceholderError(pub String);

impl StrMatcher {
    pub fn new(pattern: &Pattern, cased: bool) -> Result<StrMatcher, PlaceholderError> {
        let lit = |s: &str| -> Vec<u8> {
            if cased {
                s.as_bytes().to_vec()
            } else {
                fold::fold(s).into_bytes()
            }
        };
        // Normalize: collapse runs of `*` (the IR keeps no empty literal but may keep `**`).
        let mut pieces: Vec<&Piece> = Vec::new();
        for p in pattern.pieces() {
            if let Piece::Placeholder(name) = p {
                return Err(PlaceholderError(name.clone()));
            }
            if matches!(p, Piece::Star) && matches!(pieces.last(), Some(Piece::Star)) {
                continue;
            }
            pieces.push(p);
        }
        let kind = match pieces.as_slice() {
            [] => Kind::Exact(Box::default()),
            [Piece::Lit(s)] => Kind::Exact(lit(s).into()),
            [Piece::Star] => Kind::Any,
            [Piece::Lit(s), Piece::Star] => Kind::Prefix(lit(s).into()),
            [Piece::Star, Piece::Lit(s)] => Kind::Suffix(lit(s).into()),
            [Piece::Star, Piece::Lit(s), Piece::Star] => {
                Kind::Contains(Box::new(memmem::Finder::new(&lit(s)).into_owned()))
            }
            _ => {
                let mut segs = vec![vec![]];
                for p in &pieces {
                    match p {
                        Piece::Star => segs.push(vec![]),
                        Piece::Question => segs.last_mut().unwrap_or(&mut vec![]).push(Tok::One),
                        Piece::Lit(s) => {
                            if let Some(seg) = segs.last_mut() {
                                seg.push(Tok::Lit(lit(s)))
                            }
                        }
                        Piece::Placeholder(_) => {}
                    }
                }
                Kind::Glob {
                    anchored_start: !matches!(pieces.first(), Some(Piece::Star)),
                    anchored_end: !matches!(pieces.last(), Some(Piece::Star)),
                    segs: segs.into_iter().filter(|s| !s.is_empty()).collect(),
                }
            }
        };
        Ok(StrMatcher { kind, cased })
    }

    pub fn is_cased(&self) -> bool {
        self.cased
    }

    /// Match a raw (unfolded) haystack.
    #[inline]
    pub fn matches(&self, hay: &str) -> bool {
        if self.cased {
            return self.matches_prepared(hay.as_bytes());
        }
        match &self.kind {
            Kind::Any => true,
            // ASCII fast paths: compare ignoring ASCII case, no folding pass.
            Kind::Exact(n) if hay.is_ascii() => hay.as_bytes().eq_ignore_ascii_case(n),
            Kind::Prefix(n) if hay.is_ascii() => {
                hay.len() >= n.len() && hay.as_bytes()[..n.len()].eq_ignore_ascii_case(n)
            }
            Kind::Suffix(n) if hay.is_ascii() => {
                hay.len() >= n.len()
                    && hay.as_bytes()[hay.len() - n.len()..].eq_ignore_ascii_case(n)
            }
            _ => fold::with_folded(hay, |h| self.matches_prepared(h.as_bytes())),
        }
    }

    /// Match a haystack already folded (when the pattern is case-insensitive) or raw (when
    /// it is cased).
    #[inline]
    pub fn matches_prepared(&self, h: &[u8]) -> bool {
        match &self.kind {
            Kind::Exact(n) => same(h, n),
            Kind::Prefix(n) => h.get(..n.len()).is_some_and(|p| same(p, n)),
            Kind::Suffix(n) => h.len() >= n.len() && same(&h[h.len() - n.len()..], n),
            Kind::Contains(f) => f.find(h).is_some(),
            Kind::Any => true,
            Kind::Glob {
                segs,
                anchored_start,
                anchored_end,
            } => glob(segs, *anchored_start, *anchored_end, h),
        }
    }
}

/// Byte length of the UTF-8 character starting with `b` (1 for continuation/invalid bytes,
/// which cannot start a character in valid UTF-8 anyway).
#[inline]
fn char_len(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Match `seg` at exactly `pos`; the end position on success.
fn match_at(seg: &[Tok], h: &[u8], mut pos: usize) -> Option<usize> {
    for t in seg {
        match t {
            Tok::Lit(l) => {
                if h.len() < pos + l.len() || &h[pos..pos + l.len()] != l.as_slice() {
                    return None;
                }
                pos += l.len();
            }
            Tok::One => {
                if pos >= h.len() {
                    return None;
                }
                pos += char_len(h[pos]);
            }
        }
    }
    Some(pos)
}

/// Match `seg` ending exactly at `end`; the start position on success.
fn match_ending_at(seg: &[Tok], h: &[u8], mut end: usize) -> Option<usize> {
    for t in seg.iter().rev() {
        match t {
            Tok::Lit(l) => {
                if end < l.len() || &h[end - l.len()..end] != l.as_slice() {
                    return None;
                }
                end -= l.len();
            }
            Tok::One => {
                if end == 0 {
                    return None;
                }
                end -= 1;
                while end > 0 && (h[end] & 0xC0) == 0x80 {
                    end -= 1;
                }
            }
        }
    }
    Some(end)
}

/// Leftmost match of `seg` at or after `from`, at a character boundary: (start, end).
fn find_seg(seg: &[Tok], h: &[u8], from: usize) -> Option<(usize, usize)> {
    if let Some(Tok::Lit(first)) = seg.first() {
        let mut at = from;
        while let Some(i) = memmem::find(&h[at..], first) {
            let start = at + i;
            if let Some(end) = match_at(seg, h, start) {
                return Some((start, end));
            }
            at = start + 1;
            if at > h.len() {
                break;
            }
        }
        return None;
    }
    let mut start = from;
    while start <= h.len() {
        if let Some(end) = match_at(seg, h, start) {
            return Some((start, end));
        }
        if start == h.len() {
            break;
        }
        start += char_len(h[start]);
    }
    None
}

/// Wildcard match: the segments between stars in order, the first anchored at the start
/// and the last at the end unless the pattern begins/ends with `*`. Greedy leftmost
/// placement of the middle segments is optimal for `*` (classic glob argument), so this
/// runs in O(|h| * |pattern|) at worst without backtracking.
fn glob(segs: &[Vec<Tok>], anchored_start: bool, anchored_end: bool, h: &[u8]) -> bool {
    if segs.is_empty() {
        // Only stars (or the empty pattern, which is `Exact`).
        return !(anchored_start && anchored_end) || h.is_empty();
    }
    let mut lo = 0usize;
    let mut hi = h.len();
    let mut inner = segs;
    if anchored_start && anchored_end && segs.len() == 1 {
        return match_at(&segs[0], h, 0) == Some(h.len());
    }
    if anchored_start {
        match match_at(&inner[0], h, 0) {
            Some(end) => lo = end,
            None => return false,
        }
        inner = &inner[1..];
    }
    if anchored_end {
        let Some(last) = inner.last() else {
            return false;
        };
        match match_ending_at(last, h, h.len()) {
            Some(start) if start >= lo => hi = start,
            _ => return false,
        }
        inner = &inner[..inner.len() - 1];
    }
    let hay = &h[..hi];
    for seg in inner {
        match find_seg(seg, hay, lo) {
            Some((_, end)) => lo = end,
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sigil_core::value::parse_sigma_string;

    fn m(p: &str, cased: bool) -> StrMatcher {
        StrMatcher::new(&parse_sigma_string(p, false), cased).unwrap()
    }

    #[test]
    fn shapes() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "ABC", true),
            ("abc", "abcd", false),
            ("abc*", "ABCdef", true),
            ("abc*", "xabc", false),
            ("*.exe", "C:\\CMD.EXE", true),
            ("*.exe", "cmd.exe2", false),
            ("*cmd*", "c:\\windows\\CMD.exe", true),
            ("*cmd*", "cm d", false),
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXcYYb", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "aéc", true),
            ("*a?c*", "xxaÉcyy", true),
            ("??", "éé", true),
            ("??", "é", false),
            ("*\\*", "a*", true),
            ("*\\*", "ab", false),
            ("a\\?b", "a?b", true),
            ("a\\?b", "axb", false),
            ("*ab*ab", "abab", true),
            ("*ab*ab", "abxab", true),
            ("ab*ab", "ab", false),
            ("a**b", "ab", true),
            ("*?", "", false),
            ("*?", "x", true),
            ("?*", "x", true),
        ];
        for (p, h, want) in cases {
            assert_eq!(m(p, false).matches(h), *want, "{p:?} vs {h:?}");
        }
    }

    #[test]
    fn cased_and_unicode() {
        assert!(!m("ABC", true).matches("abc"));
        assert!(m("ABC", true).matches("ABC"));
        assert!(m("*Ab*", true).matches("xAby"));
        assert!(!m("*Ab*", true).matches("xaby"));
        // Unicode simple case folding, including length-changing folds.
        assert!(m("*system32*", false).matches("C:\\ſYSTEM32\\x"));
        assert!(m("*kelvin", false).matches("\u{212A}ELVIN"));
        assert!(m("ΟΔΥΣΣΕΥΣ", false).matches("οδυσσευς"));
        assert!(m("straße", false).matches("STRAẞE"));
        assert!(!m("strasse", false).matches("straße"));
        assert!(m("é*", false).matches("Été"));
        assert!(m("*é", false).matches("CAFÉ"));
        assert!(!m("i", false).matches("İ"));
    }

    fn naive(p: &[char], h: &[char]) -> bool {
        match p.split_first() {
            None => h.is_empty(),
            Some(('*', rest)) => (0..=h.len()).any(|i| naive(rest, &h[i..])),
            Some(('?', rest)) => !h.is_empty() && naive(rest, &h[1..]),
            Some((c, rest)) => h.first() == Some(c) && naive(rest, &h[1..]),
        }
    }

    proptest! {
        #[test]
        fn glob_agrees_with_naive(p in "[ab*?é]{0,7}", h in "[abé]{0,9}") {
            let pc: Vec<char> = p.chars().collect();
            let hc: Vec<char> = h.chars().collect();
            prop_assert_eq!(m(&p, true).matches(&h), naive(&pc, &hc), "{:?} {:?}", p, h);
        }

        #[test]
        fn insensitive_is_folded_cased(p in "[aBé*?]{0,6}", h in "[AbÉ]{0,8}") {
            let folded_p = crate::fold::fold(&p);
            let folded_h = crate::fold::fold(&h);
            prop_assert_eq!(m(&p, false).matches(&h), m(&folded_p, true).matches(&folded_h));
        }
    }
}
