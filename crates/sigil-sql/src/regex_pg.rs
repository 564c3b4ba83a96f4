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
    // where the last atom (char, escape, class, group) starts in `out`, for `{m,n}`
    let mut atom: Option<usize> = None;
    let mut groups: Vec<usize> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && !in_class {
            atom = Some(out.len());
        }
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
            '{' => {
                if let Some((min, max, len)) = counted(&chars[i..]) {
                    let lazy = chars.get(i + len) == Some(&'?');
                    match atom {
                        Some(start) if min > DUP_MAX || max.is_some_and(|m| m > DUP_MAX) => {
                            let a: String = out[start..].to_string();
                            out.truncate(start);
                            out.push_str(&split_count(&a, min, max)?);
                            // greediness does not change whether a match exists
                            i += len + usize::from(lazy);
                        }
                        _ => {
                            out.extend(&chars[i..i + len]);
                            i += len;
                        }
                    }
                    atom = None;
                } else {
                    out.push('{');
                    atom = Some(out.len() - 1);
                    i += 1;
                }
            }
            ')' => {
                out.push(')');
                atom = groups.pop();
                i += 1;
            }
            '*' | '+' | '?' | '|' | '^' | '$' => {
                out.push(c);
                atom = None;
                i += 1;
            }
            '[' => {
                atom = Some(out.len());
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
                groups.push(out.len());
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
            '(' => {
                groups.push(out.len());
                out.push('(');
                i += 1;
            }
            _ => {
                atom = Some(out.len());
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// PostgreSQL's largest repetition count (`RE_DUP_MAX`); Rust allows far more.
const DUP_MAX: u32 = 255;

/// `{m}`, `{m,}`, `{m,n}` at the start of `s`: (min, max, length in chars).
fn counted(s: &[char]) -> Option<(u32, Option<u32>, usize)> {
    let end = s.iter().position(|&c| c == '}')?;
    let body: String = s[1..end].iter().collect();
    let (a, b) = match body.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (body.as_str(), None),
    };
    let min: u32 = a.parse().ok()?;
    let max = match b {
        None => Some(min),
        Some("") => None,
        Some(b) => Some(b.parse().ok()?),
    };
    Some((min, max, end + 1))
}

/// `atom{min,max}` with counts above 255 as a sequence of pieces PostgreSQL accepts:
/// `a{1,256}` = `a{1,255}a{0,1}` (any count splits into counts the pieces allow).
fn split_count(atom: &str, min: u32, max: Option<u32>) -> Result<String, String> {
    let (mut min, mut max) = (min, max);
    let mut out = String::from("(?:");
    let mut pieces = 0;
    loop {
        pieces += 1;
        if pieces > 16 {
            return Err(format!(
                "{UNSUPPORTED}regular expression repetition count too large for PostgreSQL"
            ));
        }
        match max {
            Some(m) if m <= DUP_MAX => {
                out.push_str(&format!("(?:{atom}){{{min},{m}}}"));
                break;
            }
            None if min <= DUP_MAX => {
                out.push_str(&format!("(?:{atom}){{{min},}}"));
                break;
            }
            _ => {
                let lo = min.min(DUP_MAX);
                out.push_str(&format!("(?:{atom}){{{lo},{DUP_MAX}}}"));
                min -= lo;
                max = max.map(|m| m - DUP_MAX);
            }
        }
    }
    out.push(')');
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
    fn large_repetition_counts_are_split() {
        let f0 = f(false, false, true);
        assert_eq!(
            postgres(r"\\[^\\]{1,256}$", f0).unwrap(),
            r"\\(?:(?:[^\\]){1,255}(?:[^\\]){0,1})$"
        );
        assert_eq!(
            postgres(r"(ab){300}x{2,3}", f0).unwrap(),
            r"(?:(?:(ab)){255,255}(?:(ab)){45,45})x{2,3}"
        );
        assert_eq!(
            postgres(r"a{600,}?", f0).unwrap(),
            r"(?:(?:a){255,255}(?:a){255,255}(?:a){90,})"
        );
        for (re, n) in [(r"^[^\\]{1,256}$", 256), (r"^(?:ab){300}$", 600)] {
            let pg = postgres(re, f0).unwrap();
            let rust = regex::Regex::new(re).unwrap();
            let ours = regex::Regex::new(&pg).unwrap();
            let unit = if n == 600 { "ab" } else { "a" };
            for k in [0, 1, n / unit.len() - 1, n / unit.len(), n / unit.len() + 1] {
                let s = unit.repeat(k);
                assert_eq!(ours.is_match(&s), rust.is_match(&s), "{re} on {k}");
            }
        }
    }

    #[test]
    fn inline_prefix() {
        assert_eq!(inline("(?P<n>a)", f(true, false, true)), "(?is)(?<n>a)");
    }
}
