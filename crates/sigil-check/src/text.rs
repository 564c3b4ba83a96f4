//! A cheap scan of a file's text for top-level `key: value` lines, to see how scalars
//! were written (case of `status`, `level`, `id`) without a second YAML parse.

use sigil_core::ast::Span;

/// One `key: value` line at column 1 of a block-style document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawScalar<'a> {
    pub document: usize,
    pub key: &'a str,
    /// The value as written, quotes removed.
    pub value: &'a str,
    /// Position of the value (after its opening quote, if any).
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct TopLevel<'a> {
    pub scalars: Vec<RawScalar<'a>>,
}

impl<'a> TopLevel<'a> {
    pub fn scan(src: &'a str) -> TopLevel<'a> {
        let mut out = TopLevel {
            scalars: Vec::with_capacity(16),
        };
        let mut document = 0usize;
        let mut seen_content = false;
        // Line by line as `str::lines` (LF, CRLF), but located with memchr: this scan runs
        // over every byte of every rule.
        let bytes = src.as_bytes();
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
        for (i, end) in ends.enumerate() {
            if start >= bytes.len() {
                break;
            }
            let line = &src[start..end];
            let line = match end < bytes.len() {
                true => line.strip_suffix('\r').unwrap_or(line),
                false => line,
            };
            start = end + 1;
            // Indented, blank and comment lines (most lines) are out at the first byte.
            if matches!(line.as_bytes().first(), None | Some(b' ' | b'\t' | b'#')) {
                continue;
            }
            if line.starts_with("---") && line[3..].trim().is_empty() {
                if seen_content {
                    document += 1;
                    seen_content = false;
                }
                continue;
            }
            if line == "..." {
                continue;
            }
            seen_content = true;
            // `key: value` with no space in the key: the first ':' comes before any ' '.
            let Some(colon) = line.bytes().position(|b| b == b':' || b == b' ') else {
                continue;
            };
            let (key, rest) = (&line[..colon], &line[colon + 1..]);
            if line.as_bytes()[colon] != b':' || !(rest.is_empty() || rest.starts_with(' ')) {
                continue;
            }
            let lead = rest.len() - rest.trim_start().len();
            let mut value = rest.trim_start();
            // A comment: " #" (a plain loop; `str::find` sets up a searcher per call).
            if let Some(pos) = value.as_bytes().windows(2).position(|w| w == b" #") {
                value = &value[..pos];
            }
            let value = value.trim_end();
            if value.is_empty() {
                continue;
            }
            let (value, quoted) = match value.chars().next() {
                Some(q @ ('\'' | '"')) if value.len() >= 2 && value.ends_with(q) => {
                    (&value[1..value.len() - 1], true)
                }
                _ => (value, false),
            };
            let key_width = if key.is_ascii() {
                key.len()
            } else {
                key.chars().count()
            };
            let column = key_width + 1 + lead + usize::from(quoted) + 1;
            out.scalars.push(RawScalar {
                document,
                key,
                value,
                span: Span {
                    line: i as u32 + 1,
                    column: column as u32,
                },
            });
        }
        out
    }

    pub fn get(&self, document: usize, key: &str) -> Option<&RawScalar<'a>> {
        self.scalars
            .iter()
            .find(|s| s.document == document && s.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_top_level_values_per_document() {
        let t = TopLevel::scan(
            "title: a\nstatus: Test # c\nlogsource:\n    product: x\n---\nlevel: 'High'\n",
        );
        let s = t.get(0, "status").unwrap();
        assert_eq!(s.value, "Test");
        assert_eq!(s.span, Span { line: 2, column: 9 });
        let l = t.get(1, "level").unwrap();
        assert_eq!(l.value, "High");
        assert_eq!(l.span, Span { line: 6, column: 9 });
        assert!(t.get(0, "product").is_none());
    }

    /// The scan as first written (`str::lines`, `split_once`, `find`, `chars`): the fast
    /// one must find exactly the same scalars.
    fn reference(src: &str) -> Vec<RawScalar<'_>> {
        let mut out = vec![];
        let (mut document, mut seen_content) = (0, false);
        for (i, line) in src.lines().enumerate() {
            if line.starts_with("---") && line[3..].trim().is_empty() {
                if seen_content {
                    document += 1;
                    seen_content = false;
                }
                continue;
            }
            if matches!(line.chars().next(), None | Some(' ' | '\t' | '#')) || line == "..." {
                continue;
            }
            seen_content = true;
            let Some((key, rest)) = line.split_once(':') else {
                continue;
            };
            if key.contains(' ') || !(rest.is_empty() || rest.starts_with(' ')) {
                continue;
            }
            let lead = rest.len() - rest.trim_start().len();
            let mut value = rest.trim_start();
            if let Some(pos) = value.find(" #") {
                value = &value[..pos];
            }
            let value = value.trim_end();
            if value.is_empty() {
                continue;
            }
            let (value, quoted) = match value.chars().next() {
                Some(q @ ('\'' | '"')) if value.len() >= 2 && value.ends_with(q) => {
                    (&value[1..value.len() - 1], true)
                }
                _ => (value, false),
            };
            let column = key.chars().count() + 1 + lead + usize::from(quoted) + 1;
            out.push(RawScalar {
                document,
                key,
                value,
                span: Span {
                    line: i as u32 + 1,
                    column: column as u32,
                },
            });
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn scan_equals_reference(src in "([a-c é:#'\"\t.-]{0,12}(\r?\n)){0,8}[a-c :#-]{0,6}") {
            proptest::prop_assert_eq!(TopLevel::scan(&src).scalars, reference(&src));
        }
    }
}
