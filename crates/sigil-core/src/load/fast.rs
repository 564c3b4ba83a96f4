//! A fast reader for the plain block-style YAML that Sigma rules are written in.
//!
//! Reading YAML with `serde_yaml` (libyaml's state machine, one event per node, one
//! character at a time) was half of the time of converting the whole SigmaHQ corpus.
//! Nearly every rule uses a small, regular part of YAML: block mappings and sequences,
//! one-line plain and quoted scalars, literal/folded block scalars, one-line flow sequences
//! of scalars, comments and `---` separators. This module reads exactly that part, straight
//! into the loader's borrowed value, and *declines* everything else: anchors, aliases, tags,
//! tabs, carriage returns, directives, multi-line quoted or flow scalars, explicit keys,
//! duplicate keys, unusual indentation, anything it is not certain about.
//!
//! Declining is not an error: the caller then reads the file with `serde_yaml`, which stays
//! the reference parser, the only source of YAML error messages and positions, and the path
//! for every file outside the subset. The fast path must therefore produce *exactly* the
//! values `serde_yaml` produces (same YAML 1.2 core-schema resolution of plain scalars, same
//! folding, same document numbering); `tests` and the `yaml_fast` fuzz target compare the two
//! on the whole SigmaHQ corpus and on generated input.

use std::borrow::Cow;
use std::num::ParseIntError;

use super::yv::{Mapping, Y};

/// The input is outside the subset (or not valid YAML): read it with `serde_yaml`.
#[derive(Debug)]
pub(crate) struct Decline;

type R<T> = Result<T, Decline>;

/// Deeper nesting is left to `serde_yaml` (its recursion limit is 128).
const MAX_DEPTH: usize = 100;

/// libyaml refuses implicit keys longer than 1024 characters; longer keys (counted in
/// bytes, with a margin) are left to it.
const MAX_KEY_LEN: usize = 1000;

/// Read every document of `src`: `(index in the stream, value)` for non-empty documents,
/// as `serde_yaml::Deserializer::from_str` numbers them.
pub(crate) fn read(src: &str) -> R<Vec<(usize, Y<'_>)>> {
    check_chars(src)?;
    let lines = split_lines(src);
    let mut p = Parser {
        src,
        lines,
        end: 0,
        next: 0,
        depth: 0,
        // Working stacks, sized for a typical rule's nesting (they grew a few times per
        // file otherwise).
        items: Vec::with_capacity(32),
        entries: Vec::with_capacity(32),
    };
    let mut docs = Vec::new();
    // Segments between `---` lines; the first one is a document only if it has content.
    let mut start = 0;
    let mut index = 0;
    let mut first = true;
    let mut saw_marker = false;
    for i in 0..=p.lines.len() {
        let is_marker = i < p.lines.len() && p.marker(i)?;
        if i < p.lines.len() && !is_marker {
            continue;
        }
        let has_content = (start..i).any(|j| p.lines[j].kind == Kind::Content);
        if !first || has_content {
            if index >= super::MAX_DOCUMENTS {
                return Err(Decline);
            }
            if let Some(v) = p.document(start, i)? {
                docs.push((index, v));
            }
            index += 1;
        }
        first = false;
        saw_marker |= is_marker;
        start = i + 1;
    }
    if index == 0 && !saw_marker {
        return Err(Decline); // no document at all: let serde_yaml decide what that is
    }
    Ok(docs)
}

/// Bytes libyaml rejects or that this reader does not handle (tabs, CR) decline the file.
fn check_chars(src: &str) -> R<()> {
    let bytes = src.as_bytes();
    // Branch-free per chunk so it vectorizes: this runs over every byte of every rule.
    let bad = |c: &[u8]| {
        c.iter().fold(false, |acc, &b| {
            acc | ((b < 0x20) & (b != b'\n')) | (b == 0x7f)
        })
    };
    if bytes.chunks(64).any(bad) {
        return Err(Decline);
    }
    if !src.is_ascii() {
        let printable = |c: char| {
            // U+0085, U+2028 and U+2029 are line breaks to libyaml: not handled here.
            matches!(c as u32, 0x20..=0x7e | 0x0a | 0xa0..=0x2027 | 0x202a..=0xd7ff | 0xe000..=0xfffd | 0x10000..)
                && c != '\u{feff}'
        };
        if !src.chars().all(printable) {
            return Err(Decline);
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Only spaces.
    Blank,
    /// Spaces, then `#`.
    Comment,
    Content,
}

#[derive(Clone, Copy, Debug)]
struct Line {
    start: usize,
    end: usize,
    indent: usize,
    kind: Kind,
}

fn split_lines(src: &str) -> Vec<Line> {
    let bytes = src.as_bytes();
    let mut lines = Vec::with_capacity(bytes.len() / 24 + 1);
    let mut start = 0;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        let line = &bytes[start..end];
        let indent = line.iter().take_while(|&&b| b == b' ').count();
        let kind = match line.get(indent) {
            None => Kind::Blank,
            Some(b'#') => Kind::Comment,
            Some(_) => Kind::Content,
        };
        lines.push(Line {
            start,
            end,
            indent,
            kind,
        });
        start = end + 1;
    }
    lines
}

struct Parser<'a> {
    src: &'a str,
    lines: Vec<Line>,
    /// One past the last line of the current document.
    end: usize,
    /// The first line not consumed by the node just read.
    next: usize,
    depth: usize,
    /// Scratch stacks: a node's children are gathered here and moved into a vector of
    /// exactly their number when the node ends (no growth, no spare capacity kept alive).
    items: Vec<Y<'a>>,
    entries: Vec<(Y<'a>, Y<'a>)>,
}

/// What a piece of text in block context starts.
enum Start<'a> {
    Sequence,
    /// A mapping entry: the key and the byte offset (in the text) just after its `:`.
    Entry(Y<'a>, usize),
    Other,
}

impl<'a> Parser<'a> {
    fn text(&self, line: usize) -> &'a str {
        let l = self.lines[line];
        &self.src[l.start..l.end]
    }

    /// Is line `i` a document marker? Other column-0 markers decline.
    fn marker(&self, i: usize) -> R<bool> {
        let t = self.text(i);
        if t.starts_with('%') || t.starts_with("...") {
            return Err(Decline);
        }
        if let Some(rest) = t.strip_prefix("---") {
            let rest = rest.trim_start_matches(' ');
            if rest.is_empty() || (rest.starts_with('#') && t.len() - rest.len() > 3) {
                return Ok(true);
            }
            return Err(Decline);
        }
        Ok(false)
    }

    /// The document of lines `[start, end)`; `None` when it is empty (null).
    fn document(&mut self, start: usize, end: usize) -> R<Option<Y<'a>>> {
        self.end = end;
        let Some(first) = self.next_content(start) else {
            return Ok(None);
        };
        let indent = self.lines[first].indent;
        let v = match self.start_of(self.text(first), indent)? {
            Start::Sequence => self.sequence(first, indent)?,
            Start::Entry(k, after) => self.mapping(first, indent, k, after)?,
            Start::Other => return Err(Decline), // a bare scalar document: rare, leave it
        };
        if self.next_content(self.next).is_some() {
            return Err(Decline); // something after the root node: an error or a construct we skip
        }
        Ok(match v {
            Y::Null => None,
            v => Some(v),
        })
    }

    fn next_content(&self, from: usize) -> Option<usize> {
        (from..self.end).find(|&i| self.lines[i].kind == Kind::Content)
    }

    /// After a block's entry: the line of its next entry at column `col`, or `None` when
    /// the block ends (a less indented line, or the end of the document). A deeper line
    /// is an error or a continuation this reader leaves to serde_yaml.
    fn next_at(&self, col: usize) -> R<Option<usize>> {
        let Some(n) = self.next_content(self.next) else {
            return Ok(None);
        };
        match self.lines[n].indent {
            i if i < col => Ok(None),
            i if i > col => Err(Decline),
            _ => Ok(Some(n)),
        }
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Decline);
        }
        Ok(())
    }

    /// Classify the text of a line from column `col` on.
    fn start_of(&self, line: &'a str, col: usize) -> R<Start<'a>> {
        let t = &line[col..];
        if t == "-" || t.starts_with("- ") {
            return Ok(Start::Sequence);
        }
        match key_of(t)? {
            Some((k, after)) => Ok(Start::Entry(k, after)),
            None => Ok(Start::Other),
        }
    }

    /// A block sequence whose `-` indicators are at column `col`, first one on line `li`.
    fn sequence(&mut self, mut li: usize, col: usize) -> R<Y<'a>> {
        self.enter()?;
        let base = self.items.len();
        loop {
            let line = self.text(li);
            let rest = &line[col + 1..];
            let item_col = col + 1 + rest.len() - rest.trim_start_matches(' ').len();
            let item = self.entry(li, item_col, col)?;
            self.items.push(item);
            let Some(n) = self.next_at(col)? else {
                break;
            };
            let t = &self.text(n)[col..];
            if !(t == "-" || t.starts_with("- ")) {
                break; // the parent mapping goes on at this column
            }
            li = n;
        }
        self.depth -= 1;
        Ok(Y::Sequence(self.items.drain(base..).collect()))
    }

    /// The node after a `- ` at column `dash` (its text starts at `col` on line `li`).
    fn entry(&mut self, li: usize, col: usize, dash: usize) -> R<Y<'a>> {
        let line = self.text(li);
        let t = &line[col..];
        if t.is_empty() || t.starts_with('#') {
            return self.block_below(li, dash, false);
        }
        match self.start_of(line, col)? {
            Start::Sequence => Err(Decline), // `- - x`
            Start::Entry(k, after) => self.mapping(li, col, k, after),
            Start::Other => self.scalar(li, col, dash),
        }
    }

    /// A block mapping whose keys are at column `col`, the first one on line `li` (already
    /// read by the caller: `key`, and `after`, the offset past its colon).
    fn mapping(&mut self, mut li: usize, col: usize, key: Y<'a>, after: usize) -> R<Y<'a>> {
        self.enter()?;
        let base = self.entries.len();
        let mut next_key = Some((key, after));
        loop {
            let line = self.text(li);
            let (key, after) = match next_key.take() {
                Some(first) => first,
                None => match self.start_of(line, col)? {
                    Start::Entry(key, after) => (key, after),
                    _ => return Err(Decline),
                },
            };
            if self.entries[base..].iter().any(|(k, _)| k.key_eq(&key)) {
                return Err(Decline); // serde_yaml reports duplicates with its own message
            }
            let vcol = col + after;
            let rest = &line[vcol..];
            let vcol = vcol + rest.len() - rest.trim_start_matches(' ').len();
            let t = &line[vcol..];
            let value = if t.is_empty() || t.starts_with('#') {
                self.block_below(li, col, true)?
            } else {
                self.scalar(li, vcol, col)?
            };
            self.entries.push((key, value));
            let Some(n) = self.next_at(col)? else {
                break;
            };
            li = n;
        }
        self.depth -= 1;
        Ok(Y::Mapping(Mapping(self.entries.drain(base..).collect())))
    }

    /// The value of a key (or `-`) at column `parent` whose line `li` ends after the
    /// indicator: a node on the following lines, or null. A mapping's value may be a
    /// sequence at the key's own column (`seq_same_column`).
    fn block_below(&mut self, li: usize, parent: usize, seq_same_column: bool) -> R<Y<'a>> {
        self.next = li + 1;
        let Some(n) = self.next_content(li + 1) else {
            return Ok(Y::Null);
        };
        let indent = self.lines[n].indent;
        let line = self.text(n);
        if indent > parent {
            return match self.start_of(line, indent)? {
                Start::Sequence => self.sequence(n, indent),
                Start::Entry(k, after) => self.mapping(n, indent, k, after),
                Start::Other => self.scalar(n, indent, parent),
            };
        }
        if indent == parent && seq_same_column {
            if let Start::Sequence = self.start_of(line, indent)? {
                return self.sequence(n, indent);
            }
        }
        Ok(Y::Null)
    }

    /// A scalar (or one-line flow sequence) starting at column `col` of line `li`, in a
    /// block whose parent indicator is at column `parent`.
    fn scalar(&mut self, li: usize, col: usize, parent: usize) -> R<Y<'a>> {
        let line = self.text(li);
        let t = &line[col..];
        let first = t.as_bytes()[0];
        let v = match first {
            b'|' | b'>' => return self.block_scalar(li, col, parent),
            b'\'' | b'"' => {
                let (v, len) = quoted(t)?;
                end_of_line(&t[len..])?;
                v
            }
            b'[' => flow_sequence(t)?,
            b'{' => {
                let inner = t[1..].trim_start_matches(' ');
                let Some(rest) = inner.strip_prefix('}') else {
                    return Err(Decline);
                };
                end_of_line(rest)?;
                Y::Mapping(Mapping(Vec::new()))
            }
            _ => return self.plain(li, col, parent),
        };
        self.next = li + 1;
        self.no_deeper_lines(parent)?;
        Ok(v)
    }

    /// After a one-line node: a following content line indented deeper than `parent`
    /// would be an error or a continuation this reader does not handle.
    fn no_deeper_lines(&self, parent: usize) -> R<()> {
        match self.next_content(self.next) {
            Some(n) if self.lines[n].indent > parent => Err(Decline),
            _ => Ok(()),
        }
    }

    /// A plain scalar, possibly continued on more-indented lines (folded with spaces).
    fn plain(&mut self, li: usize, col: usize, parent: usize) -> R<Y<'a>> {
        let line = self.text(li);
        let (first, commented) = plain_text(&line[col..], true)?;
        self.next = li + 1;
        if commented {
            self.no_deeper_lines(parent)?;
            return resolve_plain(first);
        }
        // Continuation lines: more indented than the parent, not comments.
        let mut folded: Option<String> = None;
        let mut empties = 0;
        let mut j = li + 1;
        while j < self.end {
            let l = self.lines[j];
            match l.kind {
                Kind::Blank => empties += 1,
                Kind::Comment => break,
                Kind::Content if l.indent > parent => {
                    let (more, commented) = plain_text(&self.text(j)[l.indent..], false)?;
                    if commented {
                        return Err(Decline);
                    }
                    let s = folded.get_or_insert_with(|| first.to_string());
                    if empties == 0 {
                        s.push(' ');
                    } else {
                        s.extend(std::iter::repeat_n('\n', empties));
                    }
                    s.push_str(more);
                    empties = 0;
                    self.next = j + 1;
                }
                Kind::Content => break,
            }
            j += 1;
        }
        match folded {
            None => resolve_plain(first),
            // A multi-line plain scalar is never null, a bool or a number in practice, but
            // resolve it the same way.
            Some(s) => {
                let scalar: Option<Y<'a>> = match resolve_plain(&s)? {
                    Y::String(_) => None,
                    Y::Null => Some(Y::Null),
                    Y::Bool(b) => Some(Y::Bool(b)),
                    Y::Number(n) => Some(Y::Number(n)),
                    _ => return Err(Decline),
                };
                Ok(scalar.unwrap_or(Y::String(Cow::Owned(s))))
            }
        }
    }

    /// `|`, `|-`, `>`, `>-` block scalars (keep chomping and indentation indicators decline).
    fn block_scalar(&mut self, li: usize, col: usize, parent: usize) -> R<Y<'a>> {
        let header = &self.text(li)[col..];
        let literal = header.starts_with('|');
        let mut rest = &header[1..];
        let strip = rest.starts_with('-');
        if strip {
            rest = &rest[1..];
        }
        if !rest.is_empty() && !rest.starts_with(' ') {
            return Err(Decline); // `+`, an indentation digit, or garbage
        }
        end_of_line(rest)?;
        // Content indentation: the first line that is not all spaces.
        let mut j = li + 1;
        while j < self.end && self.lines[j].kind == Kind::Blank {
            j += 1;
        }
        if j >= self.end || self.lines[j].indent <= parent {
            return Err(Decline); // empty block scalar
        }
        let m = self.lines[j].indent;
        let leading = j - (li + 1);
        if (li + 1..j).any(|k| self.lines[k].end - self.lines[k].start > m) {
            return Err(Decline); // leading blank line longer than the indentation
        }
        if leading > 0 && !literal {
            return Err(Decline);
        }
        // Content lines: up to the first non-blank line indented less than m.
        let mut last = j; // last non-blank content line
        let mut k = j;
        while k < self.end {
            let l = self.lines[k];
            if l.kind == Kind::Blank {
                if l.end - l.start > m {
                    return Err(Decline);
                }
            } else if l.indent < m {
                break;
            } else {
                last = k;
            }
            k += 1;
        }
        let mut s = String::with_capacity(self.lines[last].end - self.lines[li + 1].start);
        for _ in 0..leading {
            s.push('\n');
        }
        let mut empties = 0;
        let mut started = false;
        for k in j..=last {
            let l = self.lines[k];
            if l.kind == Kind::Blank {
                empties += 1;
                continue;
            }
            let text = &self.text(k)[m..];
            if started {
                if literal {
                    s.extend(std::iter::repeat_n('\n', empties + 1));
                } else {
                    if text.starts_with(' ') || self.text(k - 1 - empties)[m..].starts_with(' ') {
                        return Err(Decline); // more-indented lines fold differently
                    }
                    if empties == 0 {
                        s.push(' ');
                    } else {
                        s.extend(std::iter::repeat_n('\n', empties));
                    }
                }
            } else if !literal && text.starts_with(' ') {
                return Err(Decline);
            }
            s.push_str(text);
            started = true;
            empties = 0;
        }
        // Clip keeps the last line break, if the text has one.
        if !strip && self.lines[last].end < self.src.len() {
            s.push('\n');
        }
        self.next = last + 1;
        Ok(Y::String(Cow::Owned(s)))
    }
}

/// If `t` (block context, at a node's start) is `key: ...` or `key:`, the key and the
/// offset just after the colon.
fn key_of(t: &str) -> R<Option<(Y<'_>, usize)>> {
    let b = t.as_bytes();
    match b[0] {
        b'\'' | b'"' => {
            let (k, len) = quoted(t)?;
            if len > MAX_KEY_LEN {
                return Err(Decline);
            }
            match b.get(len) {
                Some(b':') if matches!(b.get(len + 1), None | Some(b' ')) => Ok(Some((k, len + 1))),
                // `'a' :` and other spacing: leave it to serde_yaml; anything else is a
                // quoted scalar value.
                Some(b' ') if t[len..].trim_start_matches(' ').starts_with(':') => Err(Decline),
                _ => Ok(None),
            }
        }
        b'?' if matches!(b.get(1), None | Some(b' ')) => Err(Decline),
        _ => {
            // The first `:` followed by a space or the end of the line, unless a comment
            // starts before it.
            let mut i = 0;
            while let Some(off) = memchr::memchr2(b':', b'#', &b[i..]) {
                let at = i + off;
                if b[at] == b'#' {
                    if at > 0 && b[at - 1] == b' ' {
                        return Ok(None);
                    }
                } else if matches!(b.get(at + 1), None | Some(b' ')) {
                    let key = t[..at].trim_end_matches(' ');
                    if key.is_empty() || key.len() > MAX_KEY_LEN || !plain_start(key) {
                        return Err(Decline);
                    }
                    return Ok(Some((resolve_plain(key)?, at + 1)));
                }
                i = at + 1;
            }
            Ok(None)
        }
    }
}

/// May a plain scalar start with this text? (YAML's indicator rules; `-?:` may start one
/// when a non-space follows.)
fn plain_start(t: &str) -> bool {
    let b = t.as_bytes();
    match b.first() {
        None => false,
        Some(b'-' | b'?' | b':') => matches!(b.get(1), Some(c) if *c != b' '),
        Some(
            b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
            | b'"' | b'%' | b'@' | b'`',
        ) => false,
        Some(_) => true,
    }
}

/// The text of a plain scalar on one line (up to a comment), and whether a comment ended
/// it. Text that would be a mapping indicator declines.
fn plain_text(t: &str, first_line: bool) -> R<(&str, bool)> {
    if !plain_start(t) || (!first_line && t.starts_with(['-', '?', ':'])) {
        return Err(Decline);
    }
    let b = t.as_bytes();
    let mut end = b.len();
    let mut commented = false;
    let mut i = 0;
    while let Some(off) = memchr::memchr2(b':', b'#', &b[i..]) {
        let at = i + off;
        if b[at] == b'#' {
            if b[at - 1] == b' ' {
                end = at;
                commented = true;
                break;
            }
        } else if matches!(b.get(at + 1), None | Some(b' ')) {
            return Err(Decline); // `a: b: c`
        }
        i = at + 1;
    }
    Ok((t[..end].trim_end_matches(' '), commented))
}

/// The rest of a line after a complete node: nothing, or a comment after a space.
fn end_of_line(rest: &str) -> R<()> {
    let t = rest.trim_start_matches(' ');
    if t.is_empty() || (t.starts_with('#') && t.len() < rest.len()) {
        Ok(())
    } else {
        Err(Decline)
    }
}

/// A one-line flow sequence of scalars: `[a, 'b', "c"]`.
fn flow_sequence(t: &str) -> R<Y<'_>> {
    let mut items = Vec::new();
    let mut rest = &t[1..];
    loop {
        rest = rest.trim_start_matches(' ');
        let b = rest.as_bytes();
        match b.first() {
            None => return Err(Decline),
            Some(b']') if items.is_empty() => {
                rest = &rest[1..];
                break;
            }
            Some(b'\'' | b'"') => {
                let (v, len) = quoted(rest)?;
                items.push(v);
                rest = &rest[len..];
            }
            Some(_) => {
                let len = rest.find([',', ']']).ok_or(Decline)?;
                let item = rest[..len].trim_end_matches(' ');
                // libyaml reads `?x` in flow context as an explicit key: leave `-?:` starts.
                if !plain_start(item)
                    || item.starts_with(['-', '?', ':'])
                    || item.contains([':', '#', '[', ']', '{', '}'])
                    || item.contains(" #")
                {
                    return Err(Decline);
                }
                items.push(resolve_plain(item)?);
                rest = &rest[len..];
            }
        }
        rest = rest.trim_start_matches(' ');
        match rest.as_bytes().first() {
            Some(b',') => {
                rest = &rest[1..];
                if rest.trim_start_matches(' ').starts_with([']', ',']) {
                    return Err(Decline); // `[a, ]`, `[a,,b]`: leave to serde_yaml
                }
            }
            Some(b']') => {
                rest = &rest[1..];
                break;
            }
            _ => return Err(Decline),
        }
    }
    end_of_line(rest)?;
    Ok(Y::Sequence(items))
}

/// A one-line quoted scalar at the start of `t`: its value and the length of its source.
fn quoted(t: &str) -> R<(Y<'_>, usize)> {
    let b = t.as_bytes();
    if b[0] == b'\'' {
        let mut owned: Option<String> = None;
        let mut i = 1;
        loop {
            let off = memchr::memchr(b'\'', &b[i..]).ok_or(Decline)?;
            let at = i + off;
            if b.get(at + 1) == Some(&b'\'') {
                owned.get_or_insert_with(String::new).push_str(&t[i..=at]);
                i = at + 2;
                continue;
            }
            let v = match owned {
                None => Cow::Borrowed(&t[1..at]),
                Some(mut s) => {
                    s.push_str(&t[i..at]);
                    Cow::Owned(s)
                }
            };
            return Ok((Y::String(v), at + 1));
        }
    }
    let mut owned: Option<String> = None;
    let mut i = 1;
    loop {
        let off = memchr::memchr2(b'"', b'\\', &b[i..]).ok_or(Decline)?;
        let at = i + off;
        if b[at] == b'"' {
            let v = match owned {
                None => Cow::Borrowed(&t[1..at]),
                Some(mut s) => {
                    s.push_str(&t[i..at]);
                    Cow::Owned(s)
                }
            };
            return Ok((Y::String(v), at + 1));
        }
        let s = owned.get_or_insert_with(String::new);
        s.push_str(&t[i..at]);
        let esc = *b.get(at + 1).ok_or(Decline)?;
        let hex = |n: usize| -> R<char> {
            let digits = t.get(at + 2..at + 2 + n).ok_or(Decline)?;
            if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(Decline);
            }
            let code = u32::from_str_radix(digits, 16).map_err(|_| Decline)?;
            char::from_u32(code).ok_or(Decline)
        };
        let (c, len) = match esc {
            b'0' => ('\0', 2),
            b'a' => ('\x07', 2),
            b'b' => ('\x08', 2),
            b't' => ('\t', 2),
            b'n' => ('\n', 2),
            b'v' => ('\x0b', 2),
            b'f' => ('\x0c', 2),
            b'r' => ('\r', 2),
            b'e' => ('\x1b', 2),
            b' ' => (' ', 2),
            b'"' => ('"', 2),
            b'/' => ('/', 2),
            b'\\' => ('\\', 2),
            b'N' => ('\u{85}', 2),
            b'_' => ('\u{a0}', 2),
            b'L' => ('\u{2028}', 2),
            b'P' => ('\u{2029}', 2),
            b'x' => (hex(2)?, 4),
            b'u' => (hex(4)?, 6),
            b'U' => (hex(8)?, 10),
            _ => return Err(Decline),
        };
        s.push(c);
        i = at + len;
    }
}

/// Resolve a plain scalar the way `serde_yaml` does (YAML 1.2 core schema with its
/// specific rules for signs, radix prefixes and leading zeros).
fn resolve_plain(s: &str) -> R<Y<'_>> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Y::Null),
        "true" | "True" | "TRUE" => return Ok(Y::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Y::Bool(false)),
        _ => {}
    }
    // Only text that starts like a number can be one.
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Ok(Y::String(Cow::Borrowed(s)));
    }
    if let Some(u) = unsigned(s, u64::from_str_radix) {
        return Ok(Y::Number(u.into()));
    }
    if let Some(i) = negative(s, i64::from_str_radix) {
        return Ok(Y::Number(i.into()));
    }
    // 128-bit integers make serde_yaml's value visitor fail: leave them to it.
    if unsigned(s, u128::from_str_radix).is_some() || negative(s, i128::from_str_radix).is_some() {
        return Err(Decline);
    }
    if !leading_zero_digits(s) {
        if let Some(f) = float(s) {
            return Ok(Y::Number(f.into()));
        }
    }
    Ok(Y::String(Cow::Borrowed(s)))
}

/// `0` followed by digits (after an optional sign) is a string in YAML 1.2.
fn leading_zero_digits(s: &str) -> bool {
    let d = s.strip_prefix(['-', '+']).unwrap_or(s);
    d.len() > 1 && d.starts_with('0') && d.bytes().skip(1).all(|b| b.is_ascii_digit())
}

/// `rest` of a radix-prefixed integer must not carry its own sign.
fn radix<T>(rest: &str, r: u32, parse: fn(&str, u32) -> Result<T, ParseIntError>) -> Option<T> {
    parse(rest, r).ok()
}

fn unsigned<T>(s: &str, parse: fn(&str, u32) -> Result<T, ParseIntError>) -> Option<T> {
    let body = s.strip_prefix('+').unwrap_or(s);
    for (prefix, r) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = body.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Some(v) = radix(rest, r, parse) {
                return Some(v);
            }
        }
    }
    if body.starts_with(['+', '-']) || leading_zero_digits(s) {
        return None;
    }
    parse(body, 10).ok()
}

fn negative<T>(s: &str, parse: fn(&str, u32) -> Result<T, ParseIntError>) -> Option<T> {
    for (prefix, r) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = s.strip_prefix(prefix) {
            if let Some(v) = radix(&format!("-{rest}"), r, parse) {
                return Some(v);
            }
        }
    }
    if leading_zero_digits(s) {
        return None;
    }
    parse(s, 10).ok()
}

fn float(s: &str) -> Option<f64> {
    let body = match s.strip_prefix('+') {
        Some(b) if b.starts_with(['+', '-']) => return None,
        Some(b) => b,
        None => s,
    };
    match body {
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        _ => {}
    }
    match s {
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    body.parse::<f64>().ok().filter(|f| f.is_finite())
}
