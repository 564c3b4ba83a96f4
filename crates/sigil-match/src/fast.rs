//! [`JsonEvent`]: a JSON event parsed straight into a flat, indexed form.
//!
//! `serde_json::Value` allocates a `String` per key and value and a map per object, and a
//! nested field name (`Event.EventData.CommandLine`) costs a hash look-up per level. A
//! `JsonEvent` keeps one text buffer and one list of entries (full dotted path, value,
//! case-folded text) in document order, plus a hash table from path to entries: a field
//! look-up is one hash probe, string predicates read the case-folded text computed once
//! at parse time, and re-parsing into the same `JsonEvent` allocates nothing once the
//! buffers have grown.
//!
//! Semantics are exactly those of the `serde_json::Value` implementation of [`Event`]:
//! a small hand-written reader ([`Reader`]: strings scanned eight bytes at a time,
//! integers, literals) fills the entries through the same calls the serde_json visitors
//! make, and hands anything else (floats, integers beyond 64 bits, `-0`, deep nesting, any
//! error) to serde_json, so values and error messages are serde_json's (a differential
//! proptest and the `json_event` fuzz target check this). Dotted names are paths, arrays are
//! looked through and fanned out, `values` reports every scalar in document order. Two
//! rare layouts, where `Value`'s rules are not a plain path match, are handled by keeping
//! a `serde_json::Value` instead: a key containing a dot (a literal key wins over a path)
//! and a key repeated in one object (the last one wins), as well as a root that is not an
//! object.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;

use crate::event::{Event, Value};
use crate::fold;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// Text at `val`, folded text at `folded`.
    Str,
    Object,
    /// An empty array: no value, but the key was there (duplicate-key detection).
    Empty,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The entry's path in `buf`, and its hash.
    path: (u32, u32),
    hash: u64,
    kind: Kind,
    val: (u32, u32),
    folded: (u32, u32),
    /// The object holding the key, and the key's ordinal (duplicate-key detection).
    parent: u32,
    key: u32,
    /// Next entry with the same path (`NONE`: none).
    next: u32,
}

/// Hash-table slot: path hash, first and last entry with that path.
#[derive(Clone, Copy, Debug)]
struct Slot {
    hash: u64,
    first: u32,
    last: u32,
}

const NONE: u32 = u32::MAX;

/// The key whose value is being read.
#[derive(Clone, Copy, Debug, Default)]
struct Current {
    parent: u32,
    key: u32,
    path: (u32, u32),
    /// The path's hash state before [`finish`] (what a child key extends), and its hash.
    state: u64,
    hash: u64,
}

/// A JSON event in flat, indexed form: one text buffer, the entries (dotted path, value,
/// case-folded text) in document order, and a hash table from path to entries. Parse
/// into the same `JsonEvent` again and again: once its buffers have grown, parsing
/// allocates nothing. Field look-ups have exactly the semantics of the
/// `serde_json::Value` implementation of [`Event`]; a key containing a dot, a key repeated
/// in one object, or a root that is not an object make it keep a `serde_json::Value`
/// instead ([`JsonEvent::is_fallback`]).
///
/// ```
/// use sigil_match::{Event, JsonEvent, Value};
/// let mut ev = JsonEvent::default();
/// ev.parse(r#"{"Event": {"System": {"EventID": 4688}}, "tags": ["a", "B"]}"#).unwrap();
/// let mut seen = vec![];
/// ev.field("Event.System.EventID", &mut |v| { seen.push(v); false });
/// assert_eq!(seen, [Value::Int(4688)]);
/// assert!(ev.field("tags", &mut |v| v == Value::Str("B")));
/// ```
#[derive(Clone, Default)]
pub struct JsonEvent {
    buf: String,
    entries: Vec<Entry>,
    table: Vec<Slot>,
    /// Parser state.
    current: Current,
    keys: u32,
    objects: u32,
    unusual: bool,
    /// Most bytes `buf` may hold for this document: keys' paths repeat their prefixes, so
    /// deep nesting of long keys could otherwise take memory quadratic in the text (such an
    /// event is kept as a `serde_json::Value`).
    budget: usize,
    /// Set when the event is kept as a `serde_json::Value` (see the module documentation).
    fallback: Option<Json>,
    /// The hand-written reader's buffer for strings with escapes, kept across events.
    unescaped: String,
}

impl fmt::Debug for JsonEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(v) = &self.fallback {
            return f.debug_tuple("JsonEvent").field(v).finish();
        }
        let mut m = f.debug_map();
        for e in &self.entries {
            m.entry(&self.text(e.path), &self.value(e));
        }
        m.finish()
    }
}

/// The path hash [`Event::values_with_path`] reports and [`Event::field_folded_hashed`]
/// expects: the dot-separated segments mixed in one after the other, so the reader
/// extends its parent's state by one key instead of rehashing the whole path.
#[inline]
pub(crate) fn hash_path(name: &str) -> u64 {
    finish(
        name.split('.')
            .fold(SEED, |h, s| mix_segment(h, s.as_bytes())),
    )
}

const SEED: u64 = 0;
const K: u64 = 0x517c_c1b7_2722_0a95;

/// FxHash-style mixing of one path segment into the state (its length first, which
/// separates segments and tells `a` from `a\0`).
#[inline]
fn mix_segment(mut h: u64, b: &[u8]) -> u64 {
    h = h.rotate_left(5) ^ b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    // The last one to seven bytes as one zero-padded word.
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = (h.rotate_left(5) ^ crate::bytes::low_word(rest)).wrapping_mul(K);
    }
    h
}

/// Final avalanche so the low bits (the table index) depend on every byte.
#[inline]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

impl JsonEvent {
    /// Parse one JSON document.
    pub fn from_json_str(text: &str) -> Result<JsonEvent, serde_json::Error> {
        let mut ev = JsonEvent::default();
        ev.parse(text)?;
        Ok(ev)
    }

    /// Parse one JSON document into `self`, reusing its buffers. On error the event is
    /// left empty (no fields).
    pub fn parse(&mut self, text: &str) -> Result<(), serde_json::Error> {
        self.clear();
        let r = self.parse_inner(text);
        if r.is_err() {
            self.clear();
        }
        r
    }

    /// [`JsonEvent::parse`] through serde_json only, the reference the hand-written
    /// reader is tested against.
    #[doc(hidden)]
    pub fn parse_reference(&mut self, text: &str) -> Result<(), serde_json::Error> {
        self.clear();
        let r = self.parse_serde(text);
        if r.is_err() {
            self.clear();
        }
        r
    }

    /// The same event from an already parsed `serde_json::Value`.
    pub fn from_value(v: &Json) -> JsonEvent {
        let mut ev = JsonEvent::default();
        // Serializing and re-parsing keeps one code path (and exactly the same semantics).
        if ev.parse(&v.to_string()).is_err() {
            ev.clear();
            ev.fallback = Some(v.clone());
        }
        ev
    }

    /// Whether the event is kept as a `serde_json::Value` (a key with a dot, a repeated
    /// key, or a root that is not an object).
    pub fn is_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
        self.table.clear();
        self.current = Current::default();
        self.keys = 0;
        self.objects = 0;
        self.unusual = false;
        self.fallback = None;
    }

    /// The `buf` budget of a document of this text.
    fn budget(text: &str) -> usize {
        text.len()
            .saturating_mul(16)
            .saturating_add(1 << 20)
            .min(u32::MAX as usize)
    }

    fn parse_inner(&mut self, text: &str) -> Result<(), serde_json::Error> {
        self.budget = Self::budget(text);
        if text.len() >= (u32::MAX / 4) as usize {
            return Err(de::Error::custom("event larger than 1 GiB"));
        }
        // The hand-written reader takes the common case; anything it does not handle
        // (an error, a float, a big integer, deep nesting) is read again by serde_json, so
        // results and error messages are serde_json's.
        let mut reader = Reader::new(text, std::mem::take(&mut self.unescaped));
        let read = reader.read(self);
        self.unescaped = reader.unescaped;
        if read.is_some() && !self.unusual {
            // A repeated key makes the table builder give up too.
            self.build_table();
            if !self.unusual {
                return Ok(());
            }
        }
        self.clear();
        self.parse_serde(text)
    }

    /// The serde_json-driven reader (the reference for [`Reader`]).
    fn parse_serde(&mut self, text: &str) -> Result<(), serde_json::Error> {
        self.budget = Self::budget(text);
        let is_object = text
            .bytes()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| b == b'{');
        if is_object {
            let mut d = serde_json::Deserializer::from_str(text);
            RootSeed(self).deserialize(&mut d)?;
            d.end()?;
            if !self.unusual {
                self.build_table();
            }
        }
        if !is_object || self.unusual {
            let v: Json = serde_json::from_str(text)?;
            self.clear();
            self.fallback = Some(v);
        }
        Ok(())
    }

    fn build_table(&mut self) {
        let cap = (self.entries.len() * 2).next_power_of_two().max(8);
        self.table.clear();
        self.table.resize(
            cap,
            Slot {
                hash: 0,
                first: NONE,
                last: NONE,
            },
        );
        let mask = cap - 1;
        for i in 0..self.entries.len() {
            let e = self.entries[i];
            let mut at = e.hash as usize & mask;
            loop {
                let s = self.table[at];
                if s.first == NONE {
                    self.table[at] = Slot {
                        hash: e.hash,
                        first: i as u32,
                        last: i as u32,
                    };
                    break;
                }
                if s.hash == e.hash
                    && crate::bytes::same(
                        self.text(self.entries[s.first as usize].path).as_bytes(),
                        self.text(e.path).as_bytes(),
                    )
                {
                    let last = &mut self.entries[s.last as usize];
                    if last.parent == e.parent && last.key != e.key {
                        // A key repeated in one object: the last one wins in `Value`.
                        self.unusual = true;
                        return;
                    }
                    last.next = i as u32;
                    self.table[at].last = i as u32;
                    break;
                }
                at = (at + 1) & mask;
            }
        }
    }

    #[inline]
    fn text(&self, r: (u32, u32)) -> &str {
        &self.buf[r.0 as usize..(r.0 + r.1) as usize]
    }

    #[inline]
    fn value(&self, e: &Entry) -> Value<'_> {
        match e.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(b),
            Kind::Int(i) => Value::Int(i),
            Kind::UInt(u) => Value::UInt(u),
            Kind::Float(x) => Value::Float(x),
            Kind::Str => Value::Str(self.text(e.val)),
            Kind::Object | Kind::Empty => Value::Object,
        }
    }

    #[inline]
    fn first(&self, name: &str) -> u32 {
        self.first_hashed(name, hash_path(name))
    }

    #[inline]
    fn first_hashed(&self, name: &str, h: u64) -> u32 {
        if self.table.is_empty() {
            return NONE;
        }
        let mask = self.table.len() - 1;
        let mut at = h as usize & mask;
        loop {
            let s = self.table[at];
            if s.first == NONE {
                return NONE;
            }
            if s.hash == h
                && crate::bytes::same(
                    self.text(self.entries[s.first as usize].path).as_bytes(),
                    name.as_bytes(),
                )
            {
                return s.first;
            }
            at = (at + 1) & mask;
        }
    }

    fn push(&mut self, kind: Kind) {
        let c = self.current;
        self.entries.push(Entry {
            path: c.path,
            hash: c.hash,
            kind,
            val: (0, 0),
            folded: (0, 0),
            parent: c.parent,
            key: c.key,
            next: NONE,
        });
    }

    fn push_str(&mut self, s: &str) {
        let start = self.buf.len() as u32;
        self.buf.push_str(s);
        let val = (start, s.len() as u32);
        let folded = if !fold::needs_fold(s) {
            val
        } else if s.is_ascii() {
            let f = self.buf.len();
            self.buf.push_str(s);
            self.buf[f..].make_ascii_lowercase();
            (f as u32, s.len() as u32)
        } else {
            let f = self.buf.len();
            fold::fold_into(s, &mut self.buf);
            (f as u32, (self.buf.len() - f) as u32)
        };
        self.push(Kind::Str);
        if let Some(e) = self.entries.last_mut() {
            e.val = val;
            e.folded = folded;
        }
    }

    /// Start reading the value of key `k` of object `parent` (`root`: no path prefix;
    /// otherwise the prefix is the path of the key holding the object, `self.current`).
    /// The path is built in `buf` itself: one copy per key.
    fn enter_key(&mut self, k: &str, parent: u32, root: bool) {
        if has_dot(k.as_bytes()) {
            self.unusual = true;
        }
        let start = self.buf.len();
        let prefix = if root {
            0
        } else {
            self.current.path.1 as usize + 1
        };
        if start + prefix + k.len() > self.budget {
            self.unusual = true;
            return;
        }
        if root {
            self.buf.push_str(k);
        } else {
            // SAFETY: the bytes appended are a whole earlier path (UTF-8, starting and
            // ending on char boundaries), an ASCII dot and a `&str`: `buf` stays UTF-8.
            // The `Vec` calls skip the char-boundary checks of
            // `String::extend_from_within`, and one reservation serves all three.
            let v = unsafe { self.buf.as_mut_vec() };
            v.reserve(prefix + k.len());
            let (ps, pl) = self.current.path;
            v.extend_from_within(ps as usize..(ps + pl) as usize);
            v.push(b'.');
            v.extend_from_slice(k.as_bytes());
        }
        self.keys += 1;
        let state = mix_segment(if root { SEED } else { self.current.state }, k.as_bytes());
        self.current = Current {
            parent,
            key: self.keys,
            path: (start as u32, (self.buf.len() - start) as u32),
            state,
            hash: finish(state),
        };
    }

    fn read_object<'de, A: MapAccess<'de>>(
        &mut self,
        mut map: A,
        root: bool,
    ) -> Result<(), A::Error> {
        self.objects += 1;
        let id = self.objects;
        let saved = self.current;
        while map.next_key_seed(KeySeed(self, id, root))?.is_some() {
            map.next_value_seed(ValueSeed(self))?;
            self.current = saved;
        }
        Ok(())
    }
}

/// Nesting beyond this is left to serde_json (whose limit, 128, then applies).
const MAX_FAST_DEPTH: u32 = 100;

/// A JSON reader for the common event: objects, arrays, strings (escapes included),
/// integers, `true`/`false`/`null`. It fills a [`JsonEvent`] through the same calls the
/// serde visitors make, in the same order, and gives up (`None`) on anything else.
struct Reader<'t> {
    text: &'t str,
    b: &'t [u8],
    i: usize,
    /// Decoded text of a string with escapes.
    unescaped: String,
}

impl<'t> Reader<'t> {
    fn new(text: &'t str, unescaped: String) -> Reader<'t> {
        Reader {
            text,
            b: text.as_bytes(),
            i: 0,
            unescaped,
        }
    }

    fn read(&mut self, ev: &mut JsonEvent) -> Option<()> {
        self.ws();
        if self.peek()? != b'{' {
            return None;
        }
        self.object(ev, true, 1)?;
        self.ws();
        (self.i == self.b.len()).then_some(())
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// At `{`: the object's members, as `JsonEvent::read_object` reads them.
    fn object(&mut self, ev: &mut JsonEvent, root: bool, depth: u32) -> Option<()> {
        if depth > MAX_FAST_DEPTH {
            return None;
        }
        self.i += 1;
        ev.objects += 1;
        let id = ev.objects;
        let saved = ev.current;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.eat(b'"')?;
            let key = self.string()?;
            ev.enter_key(key, id, root);
            self.eat(b':')?;
            self.value(ev, depth)?;
            ev.current = saved;
            if self.next_item(b'}')? {
                return Some(());
            }
        }
    }

    /// After a member or element: `Some(false)` at a comma, `Some(true)` at `close`.
    #[inline]
    fn next_item(&mut self, close: u8) -> Option<bool> {
        self.ws();
        let c = self.peek()?;
        self.i += 1;
        match c {
            b',' => Some(false),
            c if c == close => Some(true),
            _ => None,
        }
    }

    /// One value, as `ValueSeed` reads it.
    fn value(&mut self, ev: &mut JsonEvent, depth: u32) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => {
                self.i += 1;
                let s = self.string()?;
                ev.push_str(s);
            }
            b'{' => {
                ev.push(Kind::Object);
                self.object(ev, false, depth + 1)?;
            }
            b'[' => {
                if depth + 1 > MAX_FAST_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    ev.push(Kind::Empty);
                    return Some(());
                }
                loop {
                    self.value(ev, depth + 1)?;
                    if self.next_item(b']')? {
                        return Some(());
                    }
                }
            }
            b't' => {
                self.word(b"true")?;
                ev.push(Kind::Bool(true));
            }
            b'f' => {
                self.word(b"false")?;
                ev.push(Kind::Bool(false));
            }
            b'n' => {
                self.word(b"null")?;
                ev.push(Kind::Null);
            }
            _ => ev.push(self.integer()?),
        }
        Some(())
    }

    fn word(&mut self, w: &[u8]) -> Option<()> {
        let end = self.i + w.len();
        (self.b.get(self.i..end)? == w).then(|| self.i = end)
    }

    /// An integer that fits 64 bits, typed as the serde visitors type it (`-5` an `i64`,
    /// `5` a `u64` stored as `Int` when it fits). Floats and larger numbers give up.
    fn integer(&mut self) -> Option<Kind> {
        let neg = self.peek()? == b'-';
        if neg {
            self.i += 1;
        }
        let digits = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.b[digits..self.i]).ok()?;
        let leading_zero = text.len() > 1 && text.starts_with('0');
        if text.is_empty()
            || leading_zero
            || matches!(self.peek(), Some(b'.' | b'e' | b'E'))
            || text.len() > 19
        {
            return None;
        }
        let n: u64 = text.parse().ok()?;
        if neg {
            // serde_json reads `-0` as the float -0.0: left to it.
            if n == 0 {
                return None;
            }
            Some(Kind::Int(0i64.checked_sub_unsigned(n)?))
        } else {
            Some(match i64::try_from(n) {
                Ok(i) => Kind::Int(i),
                Err(_) => Kind::UInt(n),
            })
        }
    }

    /// After the opening quote: the string's text, decoded.
    fn string(&mut self) -> Option<&str> {
        let start = self.i;
        let rest = &self.b[start..];
        let end = special(rest)?;
        if rest[end] == b'"' {
            self.i = start + end + 1;
            // The run starts after and ends before an ASCII byte: on char boundaries.
            return self.text.get(start..start + end);
        }
        self.unescaped.clear();
        loop {
            let rest = &self.b[self.i..];
            let end = special(rest)?;
            if rest[end] < 0x20 {
                return None;
            }
            self.unescaped
                .push_str(self.text.get(self.i..self.i + end)?);
            self.i += end + 1;
            if rest[end] == b'"' {
                return Some(&self.unescaped);
            }
            let c = match self.peek()? {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    self.i += 1;
                    let hi = self.hex4()?;
                    let c = match hi {
                        0xD800..=0xDBFF => {
                            self.word(b"\\u")?;
                            let lo = self.hex4()?;
                            if !(0xDC00..=0xDFFF).contains(&lo) {
                                return None;
                            }
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        }
                        0xDC00..=0xDFFF => return None,
                        c => c,
                    };
                    self.unescaped.push(char::from_u32(c)?);
                    continue;
                }
                _ => return None,
            };
            self.i += 1;
            self.unescaped.push(c);
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.b.get(self.i..self.i + 4)?;
        let mut v = 0;
        for &c in h {
            v = v * 16 + char::from(c).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }
}

/// Position of the first byte that ends a string's plain run: a quote, a backslash or a
/// control character (the caller tells them apart). Eight bytes at a time: a byte `x` is
/// flagged when `x ^ '"'` or `x ^ '\\'` is zero or `x` is below 0x20 (the lowest flagged
/// byte of the classic "has less than" test is exact).
#[inline]
fn special(b: &[u8]) -> Option<usize> {
    use crate::bytes::{below, equal};
    let mut i = 0;
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let x = u64::from_le_bytes(w);
        let m = equal(x, b'"') | equal(x, b'\\') | below(x, 0x20);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| i + p)
}

/// Whether a key holds a dot, eight bytes at a time (keys are short: no call to memchr).
#[inline]
fn has_dot(b: &[u8]) -> bool {
    use crate::bytes::equal;
    let word = |c: &[u8; 8]| equal(u64::from_le_bytes(*c), b'.') != 0;
    let half = |c: &[u8; 4]| u64::from(u32::from_le_bytes(*c));
    if let Some(last) = b.last_chunk::<8>() {
        // Eight bytes at a time, the last word overlapping the one before.
        b.chunks_exact(8)
            .any(|c| c.first_chunk::<8>().is_some_and(word))
            || word(last)
    } else if let (Some(a), Some(z)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        // Four to seven bytes: the first and last four in one word.
        word(&(half(a) | half(z) << 32).to_le_bytes())
    } else {
        b.contains(&b'.')
    }
}

struct RootSeed<'a>(&'a mut JsonEvent);

impl<'de> DeserializeSeed<'de> for RootSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.0.read_object(map, true)
    }
}

struct KeySeed<'a>(&'a mut JsonEvent, u32, bool);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, k: &str) -> Result<(), E> {
        self.0.enter_key(k, self.1, self.2);
        Ok(())
    }
}

struct ValueSeed<'a>(&'a mut JsonEvent);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.0.push(Kind::Bool(b));
        Ok(())
    }
    fn visit_i64<E>(self, i: i64) -> Result<(), E> {
        self.0.push(Kind::Int(i));
        Ok(())
    }
    fn visit_u64<E>(self, u: u64) -> Result<(), E> {
        // As `serde_json::Number::as_i64` first, like the `Value` implementation.
        self.0.push(match i64::try_from(u) {
            Ok(i) => Kind::Int(i),
            Err(_) => Kind::UInt(u),
        });
        Ok(())
    }
    fn visit_f64<E>(self, x: f64) -> Result<(), E> {
        // `Value` turns a non-finite float into null.
        self.0.push(if x.is_finite() {
            Kind::Float(x)
        } else {
            Kind::Null
        });
        Ok(())
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.0.push_str(s);
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push(Kind::Null);
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.0.push(Kind::Null);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut any = false;
        while seq.next_element_seed(ValueSeed(&mut *self.0))?.is_some() {
            any = true;
        }
        if !any {
            self.0.push(Kind::Empty);
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.0.push(Kind::Object);
        self.0.read_object(map, false)
    }
}

impl Event for JsonEvent {
    fn field<'s>(&'s self, name: &str, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        if let Some(v) = &self.fallback {
            return v.field(name, f);
        }
        let mut i = self.first(name);
        while i != NONE {
            let e = &self.entries[i as usize];
            if !matches!(e.kind, Kind::Empty) && f(self.value(e)) {
                return true;
            }
            i = e.next;
        }
        false
    }

    fn values<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        if let Some(v) = &self.fallback {
            return v.values(f);
        }
        self.entries
            .iter()
            .any(|e| !matches!(e.kind, Kind::Null | Kind::Object | Kind::Empty) && f(self.value(e)))
    }

    fn field_folded<'s>(
        &'s self,
        name: &str,
        f: &mut dyn FnMut(Value<'s>, Option<&'s str>) -> bool,
    ) -> bool {
        self.field_folded_hashed(name, hash_path(name), f)
    }

    fn values_folded<'s>(&'s self, f: &mut dyn FnMut(Value<'s>, Option<&'s str>) -> bool) -> bool {
        if let Some(v) = &self.fallback {
            return v.values(&mut |x| f(x, None));
        }
        self.entries.iter().any(|e| match e.kind {
            Kind::Null | Kind::Object | Kind::Empty => false,
            Kind::Str => f(Value::Str(self.text(e.val)), Some(self.text(e.folded))),
            _ => f(self.value(e), None),
        })
    }

    fn cheap_lookup(&self) -> bool {
        true
    }

    fn values_with_path<'s>(
        &'s self,
        f: &mut dyn FnMut(Option<(&'s str, u64)>, Value<'s>, Option<&'s str>) -> bool,
    ) -> bool {
        if let Some(v) = &self.fallback {
            return v.values(&mut |x| f(None, x, None));
        }
        // Without a fallback no key contains a dot and no key repeats, so an entry is
        // reported by `field` under its path and no other name.
        self.entries.iter().any(|e| match e.kind {
            Kind::Null | Kind::Object | Kind::Empty => false,
            Kind::Str => f(
                Some((self.text(e.path), e.hash)),
                Value::Str(self.text(e.val)),
                Some(self.text(e.folded)),
            ),
            _ => f(Some((self.text(e.path), e.hash)), self.value(e), None),
        })
    }

    fn field_folded_hashed<'s>(
        &'s self,
        name: &str,
        hash: u64,
        f: &mut dyn FnMut(Value<'s>, Option<&'s str>) -> bool,
    ) -> bool {
        if let Some(v) = &self.fallback {
            return v.field(name, &mut |x| f(x, None));
        }
        let mut i = self.first_hashed(name, hash);
        while i != NONE {
            let e = &self.entries[i as usize];
            let hit = match e.kind {
                Kind::Empty => false,
                Kind::Str => f(Value::Str(self.text(e.val)), Some(self.text(e.folded))),
                _ => f(self.value(e), None),
            };
            if hit {
                return true;
            }
            i = e.next;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The word-wise dot test is a byte search, at every length around the word sizes.
        #[test]
        fn has_dot_is_a_byte_search(b in proptest::collection::vec(proptest::sample::select(vec![0u8, b'.', b'-', b'a', 0xae, 0xff]), 0..40)) {
            prop_assert_eq!(has_dot(&b), b.contains(&b'.'));
        }

        /// A nested key's hash, built from its parent's state, is the hash of its dotted
        /// path (what rules' field names are hashed with).
        #[test]
        fn nested_paths_hash_like_dotted_names(keys in proptest::collection::vec("[a-zA-Z_]{0,12}", 1..6)) {
            let mut doc = serde_json::json!(1);
            for k in keys.iter().rev() {
                doc = serde_json::json!({ k.as_str(): doc });
            }
            let ev = JsonEvent::from_json_str(&doc.to_string()).expect("parse");
            let mut seen = vec![];
            ev.values_with_path(&mut |path, _, _| {
                seen.extend(path.map(|(p, h)| (p.to_string(), h)));
                false
            });
            prop_assert_eq!(seen.len(), 1);
            prop_assert_eq!(&seen[0].0, &keys.join("."));
            prop_assert_eq!(seen[0].1, hash_path(&keys.join(".")));
        }
    }
}
