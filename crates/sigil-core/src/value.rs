//! Sigma string values: escape and wildcard parsing, and the value transformations of the
//! encoding modifiers (`base64`, `base64offset`, `utf16*`/`wide`, `windash`).

use base64::Engine as _;

use crate::ir::{Pattern, Piece};

/// Parse a Sigma string: `*` and `?` are wildcards; a backslash escapes `*`, `?` and `\`;
/// a backslash before anything else is a literal backslash (so `C:\Windows` needs no
/// doubling). With `expand`, `%name%` becomes a placeholder and `\%` a literal `%`.
pub fn parse_sigma_string(s: &str, expand: bool) -> Pattern {
    parse_sigma_string_with(s, expand, 0)
}

/// [`parse_sigma_string`], with room for `extra` more pieces (the stars that
/// `contains`/`startswith`/`endswith` add): lowering parses every value of every rule, and
/// growing each pattern afterwards was a tenth of its allocations.
pub fn parse_sigma_string_with(s: &str, expand: bool, extra: usize) -> Pattern {
    let bytes = s.as_bytes();
    let special = |b: u8| b == b'\\' || b == b'*' || b == b'?' || (expand && b == b'%');
    // Most values are one literal; a wildcard inside grows the list.
    let mut pieces = Vec::with_capacity(1 + extra);
    // The literal being gathered; flushed as one piece before a wildcard and at the end.
    let mut lit = String::new();
    let flush = |lit: &mut String, pieces: &mut Vec<Piece>| {
        if !lit.is_empty() {
            pieces.push(Piece::Lit(std::mem::take(lit)));
        }
    };
    // Runs of ordinary characters are copied as one slice; only the ASCII specials above
    // need a look (they never occur inside a multi-byte UTF-8 sequence).
    let mut i = 0;
    while i < bytes.len() {
        if lit.is_empty() && !matches!(bytes[i], b'*' | b'?') {
            // A literal starts here: room for the rest of the text, its longest length.
            lit.reserve_exact(bytes.len() - i);
        }
        let run = bytes[i..]
            .iter()
            .position(|&b| special(b))
            .map_or(bytes.len(), |n| i + n);
        if run > i {
            lit.push_str(&s[i..run]);
            i = run;
            continue;
        }
        match bytes[i] {
            b'\\' => match s[i + 1..].chars().next() {
                Some(c @ ('*' | '?' | '\\')) => {
                    lit.push(c);
                    i += 2;
                }
                Some('%') if expand => {
                    lit.push('%');
                    i += 2;
                }
                Some(c) => {
                    lit.push('\\');
                    lit.push(c);
                    i += 1 + c.len_utf8();
                }
                None => {
                    lit.push('\\');
                    i += 1;
                }
            },
            b'*' => {
                flush(&mut lit, &mut pieces);
                pieces.push(Piece::Star);
                i += 1;
            }
            b'?' => {
                flush(&mut lit, &mut pieces);
                pieces.push(Piece::Question);
                i += 1;
            }
            _ => {
                // `%` under expand: a placeholder is `%name%` with a non-empty name without `%`.
                let rest = &s[i + 1..];
                match rest.find('%') {
                    Some(end) if end > 0 => {
                        flush(&mut lit, &mut pieces);
                        pieces.push(Piece::Placeholder(rest[..end].to_string()));
                        i += end + 2;
                    }
                    _ => {
                        lit.push('%');
                        i += 1;
                    }
                }
            }
        }
    }
    flush(&mut lit, &mut pieces);
    Pattern::from_normalized(pieces)
}

/// A value on its way through an encoding chain: text, or bytes produced by a UTF-16
/// encoding (stored one byte per `char`, U+0000..U+00FF, so wildcards can sit between
/// runs). Bytes that reach the end of a chain are matched as those characters, which is
/// how pySigma's `wide` behaves for ASCII input.
#[derive(Clone, Debug, PartialEq)]
pub struct Working {
    pub pattern: Pattern,
    pub bytes: bool,
}

/// Encode to UTF-16 (little or big endian, optionally with the FF FE byte-order mark of the
/// specification), keeping wildcards between literal runs.
pub fn utf16(w: &Working, big_endian: bool, bom: bool) -> Working {
    let mut first = true;
    let pattern = Pattern::from_pieces(w.pattern.pieces().iter().map(|piece| match piece {
        Piece::Lit(s) => {
            let mut out = String::new();
            if bom && first {
                out.push('\u{FF}');
                out.push('\u{FE}');
            }
            first = false;
            let units: Vec<u16> = if w.bytes {
                s.chars().map(|c| c as u16).collect()
            } else {
                s.encode_utf16().collect()
            };
            for u in units {
                let [a, b] = if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                };
                out.push(char::from(a));
                out.push(char::from(b));
            }
            Piece::Lit(out)
        }
        other => {
            first = false;
            other.clone()
        }
    }));
    Working {
        pattern,
        bytes: true,
    }
}

fn plain_bytes(w: &Working, modifier: &str) -> Result<Vec<u8>, String> {
    let text = match w.pattern.pieces() {
        [] => String::new(),
        [Piece::Lit(s)] => s.clone(),
        _ => {
            return Err(format!(
                "'{modifier}' cannot encode a value with wildcards or placeholders; \
                 put 'contains', 'startswith' or 'endswith' after '{modifier}'"
            ))
        }
    };
    Ok(if w.bytes {
        text.chars().map(|c| c as u32 as u8).collect()
    } else {
        text.into_bytes()
    })
}

/// `base64`: the standard base64 of the value's bytes.
pub fn base64(w: &Working) -> Result<Working, String> {
    let bytes = plain_bytes(w, "base64")?;
    Ok(Working {
        pattern: Pattern::literal(&base64::engine::general_purpose::STANDARD.encode(bytes)),
        bytes: false,
    })
}

/// `base64offset`: the three base64 renderings of the value at byte offsets 0, 1 and 2 of
/// an unknown surrounding text, cut to the characters that do not depend on that text.
pub fn base64offset(w: &Working) -> Result<Vec<Working>, String> {
    let bytes = plain_bytes(w, "base64offset")?;
    let start = [0usize, 2, 3];
    let len = bytes.len();
    let mut out = Vec::with_capacity(3);
    for (i, &skip) in start.iter().enumerate() {
        let mut padded = vec![b' '; i];
        padded.extend_from_slice(&bytes);
        let enc = base64::engine::general_purpose::STANDARD.encode(&padded);
        // End trims: none, 3 or 2 characters, chosen by (len + i) % 3 as in pySigma.
        let end = match (len + i) % 3 {
            0 => enc.len(),
            1 => enc.len().saturating_sub(3),
            _ => enc.len().saturating_sub(2),
        };
        let s = enc.get(skip..end.max(skip)).unwrap_or("");
        out.push(Working {
            pattern: Pattern::literal(s),
            bytes: false,
        });
    }
    Ok(out)
}

/// The dash variants `windash` substitutes: `-`, `/`, en dash, em dash, horizontal bar.
pub const WINDASH_CHARS: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Most variants one value may expand to under `windash` (5 per dash position).
pub const MAX_WINDASH_VARIANTS: usize = 5usize.pow(6);

/// `windash`: every `-` or `/` that starts a word after a non-word character (regex
/// `\B[-/]\b`) also matches the other dash characters. Returns all variants.
pub fn windash(w: &Working) -> Result<Vec<Working>, String> {
    // Render as (char, is_wildcard) so wildcards count as non-word context.
    let mut positions = 0usize;
    let flat: Vec<(Option<char>, &Piece)> = w
        .pattern
        .pieces()
        .iter()
        .flat_map(|p| match p {
            Piece::Lit(s) => s.chars().map(|c| (Some(c), p)).collect::<Vec<_>>(),
            other => vec![(None, other)],
        })
        .collect();
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut targets = vec![false; flat.len()];
    for i in 0..flat.len() {
        if let (Some(c), _) = flat[i] {
            if (c == '-' || c == '/')
                && (i == 0 || !is_word(flat[i - 1].0) || flat[i - 1].0.is_none())
                && i + 1 < flat.len()
                && is_word(flat[i + 1].0)
            {
                targets[i] = true;
                positions += 1;
            }
        }
    }
    let total = 5usize.checked_pow(positions as u32).unwrap_or(usize::MAX);
    if total > MAX_WINDASH_VARIANTS {
        return Err(format!(
            "'windash' would expand this value into {positions} dash positions (5^{positions} variants); \
             the limit is {MAX_WINDASH_VARIANTS} variants"
        ));
    }
    let mut out = Vec::with_capacity(total);
    for mut n in 0..total {
        let mut p = Pattern::new();
        for (i, (c, piece)) in flat.iter().enumerate() {
            match c {
                Some(c) if targets[i] => {
                    p.push_char(WINDASH_CHARS[n % 5]);
                    n /= 5;
                }
                Some(c) => p.push_char(*c),
                None => p.push((*piece).clone()),
            }
        }
        out.push(Working {
            pattern: p,
            bytes: w.bytes,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The original character-at-a-time parser, kept as the reference for the fast one.
    fn reference_parse(s: &str, expand: bool) -> Pattern {
        let mut p = Pattern::new();
        let mut chars = s.char_indices().peekable();
        let mut escaped = false;
        while let Some((i, c)) = chars.next() {
            if escaped {
                escaped = false;
                match c {
                    '*' | '?' | '\\' => p.push_char(c),
                    '%' if expand => p.push_char('%'),
                    _ => {
                        p.push_char('\\');
                        p.push_char(c);
                    }
                }
                continue;
            }
            match c {
                '\\' => escaped = true,
                '*' => p.push(Piece::Star),
                '?' => p.push(Piece::Question),
                '%' if expand => {
                    let rest = &s[i + 1..];
                    match rest.find('%') {
                        Some(end) if end > 0 => {
                            p.push(Piece::Placeholder(rest[..end].to_string()));
                            for _ in 0..rest[..=end].chars().count() {
                                chars.next();
                            }
                        }
                        _ => p.push_char('%'),
                    }
                }
                _ => p.push_char(c),
            }
        }
        if escaped {
            p.push_char('\\');
        }
        p
    }

    proptest::proptest! {
        #[test]
        fn fast_parser_equals_reference(s in "[a-c\\\\*?%é€\\-]{0,16}", expand: bool) {
            proptest::prop_assert_eq!(parse_sigma_string(&s, expand), reference_parse(&s, expand));
        }
    }

    fn show(s: &str) -> String {
        format!("{:?}", parse_sigma_string(s, false).pieces())
    }

    #[test]
    fn escapes_follow_the_spec() {
        assert_eq!(
            parse_sigma_string(r"C:\Windows\x", false).as_literal(),
            Some(r"C:\Windows\x")
        );
        assert_eq!(
            parse_sigma_string(r"C:\\Windows", false).as_literal(),
            Some(r"C:\Windows")
        );
        assert_eq!(parse_sigma_string(r"\*", false).as_literal(), Some("*"));
        assert_eq!(show(r"\\*"), r#"[Lit("\\"), Star]"#);
        assert_eq!(parse_sigma_string(r"\\\*", false).as_literal(), Some(r"\*"));
        assert_eq!(parse_sigma_string(r"\\\\", false).as_literal(), Some(r"\\"));
        assert_eq!(parse_sigma_string(r"\\\", false).as_literal(), Some(r"\\"));
        assert_eq!(
            parse_sigma_string(r"abc\", false).as_literal(),
            Some(r"abc\")
        );
        assert_eq!(
            show("a*b?c"),
            r#"[Lit("a"), Star, Lit("b"), Question, Lit("c")]"#
        );
    }

    #[test]
    fn placeholders_only_with_expand() {
        assert_eq!(
            parse_sigma_string("%TEMP%\\x", false).as_literal(),
            Some("%TEMP%\\x")
        );
        let p = parse_sigma_string("x%Admins%y", true);
        assert_eq!(
            p.pieces(),
            &[
                Piece::Lit("x".into()),
                Piece::Placeholder("Admins".into()),
                Piece::Lit("y".into())
            ]
        );
        assert_eq!(parse_sigma_string("100%", true).as_literal(), Some("100%"));
    }

    fn text(s: &str) -> Working {
        Working {
            pattern: Pattern::literal(s),
            bytes: false,
        }
    }

    #[test]
    fn base64offset_matches_pysigma() {
        let v: Vec<String> = base64offset(&text("/bin/bash"))
            .unwrap()
            .into_iter()
            .map(|w| w.pattern.to_string())
            .collect();
        assert_eq!(v, ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]);
        let v: Vec<String> = base64offset(&utf16(&text("cmd"), false, false))
            .unwrap()
            .into_iter()
            .map(|w| w.pattern.to_string())
            .collect();
        assert_eq!(v, ["YwBtAGQA", "MAbQBkA", "jAG0AZA"]);
        assert_eq!(base64(&text("abc")).unwrap().pattern.to_string(), "YWJj");
    }

    #[test]
    fn utf16_variants() {
        let le = utf16(&text("cmd"), false, false);
        assert_eq!(le.pattern.as_literal(), Some("c\0m\0d\0"));
        let be = utf16(&text("cmd"), true, false);
        assert_eq!(be.pattern.as_literal(), Some("\0c\0m\0d"));
        let bom = utf16(&text("a"), false, true);
        assert_eq!(bom.pattern.as_literal(), Some("\u{FF}\u{FE}a\0"));
        assert_eq!(base64(&bom).unwrap().pattern.to_string(), "//5hAA==");
    }

    #[test]
    fn windash_expands_flags_only() {
        let v = windash(&text(" -exec bypass")).unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(v[1].pattern.as_literal(), Some(" /exec bypass"));
        assert_eq!(windash(&text("a-b")).unwrap().len(), 1);
        assert_eq!(windash(&text("-a -b")).unwrap().len(), 25);
        let mut star = Pattern::new();
        star.push(Piece::Star);
        star.push_lit("-x");
        assert_eq!(
            windash(&Working {
                pattern: star,
                bytes: false
            })
            .unwrap()
            .len(),
            5
        );
        assert!(windash(&text("-a -b -c -d -e -f -g")).is_err());
    }
}
