//! Regular expressions for each engine, written so that they mean what Rust's `regex`
//! crate (the matcher's engine) means: an unanchored search with flags i/m/s.

use sigil_core::ir::RegexFlags;

use crate::UNSUPPORTED;

/// Leading inline flags (`(?i)`, `(?ims)`) are merged into `flags` and removed, so engines
/// that only accept options at the very start (PostgreSQL) can place them there.
fn split_leading_flags(re: &str, mut flags: RegexFlags) -> (RegexFlags, &str) {
    let mut rest = re;
    while let Some(after) = rest.strip_prefix("(?") {
        let Some(end) = after.find(')') else { break };
        let letters = &after[..end];
        if letters.is_empty() || !letters.chars().all(|c| matches!(c, 'i' | 'm' | 's')) {
            break;
        }
        for c in letters.chars() {
            match c {
                'i' => flags.ignore_case = true,
                'm' => flags.multi_line = true,
                _ => flags.dot_all = true,
            }
        }
        rest = &after[end + 1..];
    }
    (flags, rest)
}

/// The pattern for PostgreSQL's `~` (an ARE), with embedded options that reproduce
/// Rust's defaults: `.` and negated classes do not match `\n` and `^`/`$` anchor at the
/// ends of the text (`p`), `m` → newline-sensitive (`n`), `s` → the ARE default, `ms` →
/// `w`; `i` adds `i`. `\b`, `\B`, `\z` become `\y`, `\Y`, `\Z` (in an ARE `\b` is a
/// backspace). Named groups become plain groups.
pub(crate) fn postgres(re: &str, flags: RegexFlags) -> Result<String, String> {
    let (flags, body) = split_leading_flags(re, flags);
    let mut opts = String::new();
    match (flags.multi_line, flags.dot_all) {
        (false, false) => opts.push('p'),
        (true, false) => opts.push('n'),
        (false, true) => {}
        (true, true) => opts.push('w'),
    }
    if flags.ignore_case {
        opts.push('i');
    }
    let mut out = String::new();
    if !opts.is_empty() {
        out.push_str(&format!("(?{opts})"));
    }
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&n) = chars.get(i + 1) else {
                return Err("regular expression ends with a lone backslash".into());
            };
            match n {
                'b' if !in_class => out.push_str("\\y"),
                'B' if !in_class => out.push_str("\\Y"),
                'z' if !in_class => out.push_str("\\Z"),
                'p' | 'P' => {
                    return Err(format!(
                        "{UNSUPPORTED}PostgreSQL regular expressions have no Unicode classes (\\{n}{{..}})"
                    ))
                }
                'x' if chars.get(i + 2) == Some(&'{') => {
                    // \x{hex} → \x hex digits; PostgreSQL reads up to 8 hex digits after \x,
                    // so use \u / \U with a fixed width instead.
                    let Some(close) = chars[i + 3..].iter().position(|&c| c == '}') else {
                        return Err("unterminated \\x{..} in regular expression".into());
                    };
                    let hex: String = chars[i + 3..i + 3 + close].iter().collect();
                    let v = u32::from_str_radix(&hex, 16)
                        .map_err(|_| format!("bad escape \\x{{{hex}}} in regular expression"))?;
                    out.push_str(&format!("\\U{v:08X}"));
                    i += 4 + close;
                    continue;
                }
                _ => {
                    out.push('\\');
                    out.push(n);
                }
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == '[' && chars.get(i + 1) == Some(&':') {
                // POSIX class [:alpha:] inside a bracket expression
                if let Some(end) = (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == ':' && chars[j + 1] == ']')
                {
                    out.extend(&chars[i..end + 2]);
                    i = end + 2;
                    continue;
                }
            }
            if c == ']' {
                in_class = false;
            }
            out.push(c);
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                // a leading ^ and a leading ] are part of the class syntax
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push(']');
                    i += 1;
                }
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                let rest: String = chars[i + 2..].iter().take(3).collect();
                if rest.starts_with("P<")
                    || (rest.starts_with('<') && !rest.starts_with("<=") && !rest.starts_with("<!"))
                {
                    // named group → plain group
                    let start = i + if rest.starts_with('P') { 4 } else { 3 };
                    let Some(close) = chars[start..].iter().position(|&c| c == '>') else {
                        return Err("unterminated group name in regular expression".into());
                    };
                    out.push('(');
                    i = start + close + 1;
                } else if rest.starts_with(':')
                    || rest.starts_with('=')
                    || rest.starts_with('!')
                    || rest.starts_with("<=")
                    || rest.starts_with("<!")
                {
                    out.push_str("(?");
                    i += 2;
                } else {
                    return Err(format!(
                        "{UNSUPPORTED}PostgreSQL regular expressions take inline flags only at the start (found '(?{rest}...')"
                    ));
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The pattern for Trino's `regexp_like` (Joni, Java syntax) and SQLite's `REGEXP`
/// (an application function; sigil's tests use Rust's `regex`): flags as an inline prefix;
/// Rust's `(?P<name>` becomes `(?<name>`, which Java, RE2 and Rust all accept.
pub(crate) fn inline(re: &str, flags: RegexFlags) -> String {
    format!("{}{}", flags.inline_prefix(), re.replace("(?P<", "(?<"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(i: bool, m: bool, s: bool) -> RegexFlags {
        RegexFlags {
            ignore_case: i,
            multi_line: m,
            dot_all: s,
        }
    }

    #[test]
    fn postgres_options_and_escapes() {
        assert_eq!(postgres("a.b", f(false, false, false)).unwrap(), "(?p)a.b");
        assert_eq!(postgres("a.b", f(true, true, false)).unwrap(), "(?ni)a.b");
        assert_eq!(postgres("a.b", f(false, false, true)).unwrap(), "a.b");
        assert_eq!(postgres("(?i)x", f(false, true, true)).unwrap(), "(?wi)x");
        assert_eq!(
            postgres(r"\bcmd\B[\b]\z", f(false, false, false)).unwrap(),
            r"(?p)\ycmd\Y[\b]\Z"
        );
        assert_eq!(
            postgres(r"(?P<x>a)(?<y>b)(?:c)(?=d)(?<!e)", f(false, false, true)).unwrap(),
            r"(a)(b)(?:c)(?=d)(?<!e)"
        );
        assert_eq!(
            postgres(r"[[:alpha:]\]x]", f(false, false, true)).unwrap(),
            r"[[:alpha:]\]x]"
        );
        assert_eq!(
            postgres(r"\x{41}", f(false, false, true)).unwrap(),
            r"\U00000041"
        );
        assert!(postgres(r"\p{L}", f(false, false, false))
            .unwrap_err()
            .starts_with(UNSUPPORTED));
        assert!(postgres(r"a(?i)b", f(false, false, false))
            .unwrap_err()
            .starts_with(UNSUPPORTED));
    }

    #[test]
    fn inline_prefix() {
        assert_eq!(inline("(?P<n>a)", f(true, false, true)), "(?is)(?<n>a)");
    }
}
