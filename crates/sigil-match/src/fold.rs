//! Case folding for case-insensitive matching.
//!
//! Sigma values are case-insensitive. The matcher folds needles once, at compile time, and
//! folds event text on the fly: ASCII bytes with a table-free `to_ascii_lowercase`, other
//! characters with Unicode *simple* case folding (one character to one character, the `C`
//! and `S` entries of `CaseFolding.txt`), so `Σ`, `σ` and `ς` are equal, as are `K`, `k` and
//! the Kelvin sign `K`, `S`, `s` and `ſ`, `ß` and `ẞ`. Full folding (`ß` = `ss`) and the
//! Turkic `T` entries (`I` = `ı`) are not applied: `İ` and `ı` only equal themselves.

use std::cell::RefCell;

/// Simple case folding of one character.
#[inline]
pub fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    // Latin-1 (`©`, `é`, `Ü` in Windows product strings and paths) from a table built
    // once: the Unicode case tables are searched per character otherwise.
    if let Some(&f) = latin1().get(c as usize - 0x80) {
        return f;
    }
    fold_non_ascii(c)
}

/// Folding of U+0080..=U+00FF.
fn latin1() -> &'static [char; 128] {
    static TABLE: std::sync::OnceLock<[char; 128]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| char::from_u32(0x80 + i as u32).map_or('\u{fffd}', fold_non_ascii))
    })
}

fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
    let a = it.next()?;
    match it.next() {
        None => Some(a),
        Some(_) => None,
    }
}

#[cold]
fn fold_non_ascii(c: char) -> char {
    // Dotless i upper-cases to ASCII `I`, but has no simple folding of its own.
    if c == '\u{131}' {
        return c;
    }
    // The representative of a character's case class: the lower case of its upper case
    // (`ς` → `Σ` → `σ`, `ſ` → `S` → `s`, `K` → `k`), when both mappings are one character.
    let upper = single(c.to_uppercase()).unwrap_or(c);
    single(upper.to_lowercase())
        .or_else(|| single(c.to_lowercase()))
        .unwrap_or(c)
}

/// Whether folding could change `s` (it has an ASCII upper-case letter or any non-ASCII
/// character).
#[inline]
pub fn needs_fold(s: &str) -> bool {
    use crate::bytes::{HIGH, ONES};
    let mut chunks = s.as_bytes().chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        // With no byte at or above 0x80, a byte is in `A..=Z` when adding 0x3f sets its
        // high bit (>= 0x41) and adding 0x25 does not (< 0x5b); no carry crosses bytes.
        if w & HIGH != 0 || w.wrapping_add(ONES * 0x3f) & !w.wrapping_add(ONES * 0x25) & HIGH != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|b| b.is_ascii_uppercase() || *b >= 0x80)
}

/// Append the folded form of `s` to `out`.
pub fn fold_into(s: &str, out: &mut String) {
    out.reserve(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        // A run of ASCII: copied, then lowered in place.
        let ascii = rest.bytes().position(|b| b >= 0x80).unwrap_or(rest.len());
        let at = out.len();
        out.push_str(&rest[..ascii]);
        out[at..].make_ascii_lowercase();
        rest = &rest[ascii..];
        // Then characters up to the next ASCII byte, one by one.
        let other = rest.bytes().position(|b| b < 0x80).unwrap_or(rest.len());
        out.extend(rest[..other].chars().map(fold_char));
        rest = &rest[other..];
    }
}

/// The folded form of `s` as a new string (compile time only).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

thread_local! {
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Run `f` on the folded form of `s` without allocating: `s` itself when folding changes
/// nothing, else a reused per-thread buffer.
#[inline]
pub fn with_folded<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    if !needs_fold(s) {
        return f(s);
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            fold_into(s, &mut buf);
            f(&buf)
        }
        // Re-entered (a user `Event` evaluating rules inside a callback): allocate.
        Err(_) => f(&fold(s)),
    })
}

/// Case-insensitive equality under simple folding, without allocating.
pub fn eq_folded(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars().map(fold_char).eq(b.chars().map(fold_char))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_folding_classes() {
        let classes: &[&[char]] = &[
            &['A', 'a'],
            &['Σ', 'σ', 'ς'],
            &['K', 'k', '\u{212A}'],
            &['S', 's', 'ſ'],
            &['ß', 'ẞ'],
            &['Å', 'å', '\u{212B}'],
            &['Ω', 'ω', '\u{2126}'],
            &['µ', 'μ', 'Μ'],
            &['Ж', 'ж'],
            &['Ǆ', 'ǅ', 'ǆ'],
            &['θ', 'Θ', 'ϑ', 'ϴ'],
            &['Ꭰ', 'ꭰ'],
            &['Ա', 'ա'],
            &['Ä', 'ä'],
        ];
        for class in classes {
            for a in *class {
                for b in *class {
                    assert_eq!(fold_char(*a), fold_char(*b), "{a} ~ {b}");
                }
            }
        }
        for (a, b) in [
            ('İ', 'i'),
            ('ı', 'i'),
            ('ı', 'I'),
            ('ß', 's'),
            ('a', 'ä'),
            ('σ', 's'),
        ] {
            assert_ne!(fold_char(a), fold_char(b), "{a} !~ {b}");
        }
        // The Latin-1 table is the general folding.
        for c in (0x80..=0xFFu32).filter_map(char::from_u32) {
            assert_eq!(fold_char(c), fold_non_ascii(c), "{c}");
        }
    }

    #[test]
    fn fold_strings() {
        assert_eq!(fold("C:\\Windows\\ΣΥΣ.EXE"), "c:\\windows\\συσ.exe");
        assert_eq!(fold("ſystem"), "system");
        assert!(eq_folded("ΟΔΥΣΣΕΥΣ", "οδυσσευς"));
        assert!(!eq_folded("abc", "abd"));
        assert!(!needs_fold("c:\\x"));
        assert!(needs_fold("C"));
        assert_eq!(with_folded("AbC", str::to_string), "abc");
        assert_eq!(with_folded("abc", str::to_string), "abc");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// Folding by runs is folding character by character, appended after what the
        /// buffer held.
        #[test]
        fn fold_into_is_per_character(s in "[aZ\\\\.é©ΣſK\u{130}ß]{0,30}") {
            let mut out = String::from("x");
            fold_into(&s, &mut out);
            let slow: String = std::iter::once('x').chain(s.chars().map(fold_char)).collect();
            proptest::prop_assert_eq!(out, slow);
        }

        /// The eight-bytes-at-a-time test agrees with the byte loop, on text around the
        /// letters' edges (`@` `A` `Z` `[` `` ` `` `a` `z` `{`) and non-ASCII.
        #[test]
        fn needs_fold_agrees_with_bytes(s in "[@AZ\\[`az{0-9 .é\u{7f}]{0,40}") {
            let slow = s.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80);
            proptest::prop_assert_eq!(needs_fold(&s), slow);
            // And text it calls fold-free is its own folded form.
            proptest::prop_assert!(slow || fold(&s) == s);
        }
    }
}
