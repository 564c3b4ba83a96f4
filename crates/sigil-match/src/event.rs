//! Field look-up: the [`Event`] trait and its implementations.
//!
//! The matcher never copies an event. It asks the event for the values of a field through a
//! callback, so an implementation hands out borrowed `&str`s straight from its own storage.
//!
//! # Implementing `Event` on your own type
//!
//! ```
//! use sigil_match::{Event, Value};
//!
//! struct ProcessStart {
//!     image: String,
//!     command_line: String,
//!     pid: u32,
//!     args: Vec<String>,
//! }
//!
//! impl Event for ProcessStart {
//!     fn field<'s>(&'s self, name: &str, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
//!         match name {
//!             "Image" => f(Value::Str(&self.image)),
//!             "CommandLine" => f(Value::Str(&self.command_line)),
//!             "ProcessId" => f(Value::Int(self.pid.into())),
//!             // A multi-valued field: report each element; stop as soon as `f` says so.
//!             "Args" => self.args.iter().any(|a| f(Value::Str(a))),
//!             // Absent fields report nothing.
//!             _ => false,
//!         }
//!     }
//!     fn values<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
//!         f(Value::Str(&self.image))
//!             || f(Value::Str(&self.command_line))
//!             || f(Value::Int(self.pid.into()))
//!             || self.args.iter().any(|a| f(Value::Str(a)))
//!     }
//! }
//!
//! let src = "title: t\nlogsource: {category: process_creation}\n\
//!            detection: {sel: {Image|endswith: '\\cmd.exe', ProcessId: 4}, condition: sel}";
//! let rule = sigil_match::compile_rule_str(src).unwrap();
//! let ev = ProcessStart {
//!     image: r"C:\Windows\System32\CMD.EXE".into(),
//!     command_line: "cmd /c whoami".into(),
//!     pid: 4,
//!     args: vec![],
//! };
//! assert!(rule.matches(&ev));
//! ```
//!
//! The contract: [`Event::field`] calls `f` once per value of the field (each element of a
//! list, in order) and returns `true` as soon as a call returns `true`, `false` when no call
//! did (including when the field is absent). [`Event::values`] does the same for every scalar
//! value of the event (used by keyword searches and the [`crate::RuleSet`] prefilter).

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use serde_json::Value as Json;

/// One value of a field, borrowed from the event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// An explicit null (treated like an absent field by `null`/`exists`).
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a str),
    /// A nested object or other composite value: present (so `exists` holds), but no string,
    /// number or boolean predicate matches it.
    Object,
}

impl Value<'_> {
    /// The value as text for string predicates: strings as they are, numbers in decimal
    /// (`4625`, `1.5`), booleans as `true`/`false`. Null and objects have no text.
    /// Formats numbers on the stack: no allocation.
    #[inline]
    pub fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> Option<R> {
        match *self {
            Value::Str(s) => Some(f(s)),
            Value::Int(i) => Some(f(itoa::Buffer::new().format(i))),
            Value::UInt(u) => Some(f(itoa::Buffer::new().format(u))),
            Value::Float(x) => {
                if x.is_finite() {
                    Some(f(ryu::Buffer::new().format_finite(x)))
                } else {
                    None
                }
            }
            Value::Bool(b) => Some(f(if b { "true" } else { "false" })),
            Value::Null | Value::Object => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Anything the matcher can evaluate rules against. See the module documentation for an
/// example implementation on a user type.
pub trait Event {
    /// Call `f` with each value of the field `name`; return `true` as soon as `f` does.
    fn field<'s>(&'s self, name: &str, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool;

    /// Call `f` with every scalar value (string, number, boolean) anywhere in the event;
    /// return `true` as soon as `f` does.
    fn values<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool;

    /// [`Event::field`], also passing each string value's case-folded text
    /// ([`crate::fold`]) when the event keeps it (`None` otherwise). The default passes
    /// `None`; [`crate::JsonEvent`] folds every string once at parse time.
    #[doc(hidden)]
    fn field_folded<'s>(
        &'s self,
        name: &str,
        f: &mut dyn FnMut(Value<'s>, Option<&'s str>) -> bool,
    ) -> bool {
        self.field(name, &mut |v| f(v, None))
    }

    /// [`Event::values`] with folded text, as [`Event::field_folded`].
    #[doc(hidden)]
    fn values_folded<'s>(&'s self, f: &mut dyn FnMut(Value<'s>, Option<&'s str>) -> bool) -> bool {
        self.values(&mut |v| f(v, None))
    }

    /// Whether a field look-up is so cheap that [`crate::RuleSet`] need not cache
    /// look-ups per event (true for [`crate::JsonEvent`]).
    #[doc(hidden)]
    fn cheap_lookup(&self) -> bool {
        false
    }

    /// [`Event::values_folded`], also passing the field each value belongs to, when the
    /// event knows it: `Some((path, hash))` where `path` is the one name under which
    /// [`Event::field`] reports the value (and under no other name) and `hash` is
    /// [`crate::JsonEvent`]'s path hash of it; `None` = the value may belong to any
    /// field. The default passes `None` (always exact; [`crate::RuleSet`] then cannot
    /// tie a literal to the field it was found in).
    #[doc(hidden)]
    fn values_with_path<'s>(
        &'s self,
        f: &mut dyn FnMut(Option<(&'s str, u64)>, Value<'s>, Option<&'s str>) -> bool,
    ) -> bool {
        self.values_folded(&mut |v, folded| f(None, v, folded))
    }

    /// [`Event::field_folded`] with the name's path hash precomputed (see
    /// [`Event::values_with_path`]); `hash` must be the hash of `name`.
    #[doc(hidden)]
    fn field_folded_hashed<'s>(
        &'s self,
        name: &str,
        hash: u64,
        f: &mut dyn FnMut(Value<'s>, Option<&'s str>) -> bool,
    ) -> bool {
        let _ = hash;
        self.field_folded(name, f)
    }
}

/// References and boxes of an event are events: every method forwards to the pointee
/// (the specialised ones too, so a `&JsonEvent` keeps its fast paths).
macro_rules! forward_event {
    ($($ptr:ty),*) => {$(
        impl<T: Event + ?Sized> Event for $ptr {
            fn field<'s>(&'s self, name: &str, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
                (**self).field(name, f)
            }
            fn values<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
                (**self).values(f)
            }
            fn field_folded<'s>(
                &'s self,
                name: &str,
                f: &mut dyn FnMut(Value<'s>, Option<&'s str>) -> bool,
            ) -> bool {
                (**self).field_folded(name, f)
            }
            fn values_folded<'s>(
                &'s self,
                f: &mut dyn FnMut(Value<'s>, Option<&'s str>) -> bool,
            ) -> bool {
                (**self).values_folded(f)
            }
            fn cheap_lookup(&self) -> bool {
                (**self).cheap_lookup()
            }
            fn values_with_path<'s>(
                &'s self,
                f: &mut dyn FnMut(Option<(&'s str, u64)>, Value<'s>, Option<&'s str>) -> bool,
            ) -> bool {
                (**self).values_with_path(f)
            }
            fn field_folded_hashed<'s>(
                &'s self,
                name: &str,
                hash: u64,
                f: &mut dyn FnMut(Value<'s>, Option<&'s str>) -> bool,
            ) -> bool {
                (**self).field_folded_hashed(name, hash, f)
            }
        }
    )*};
}

forward_event!(&T, Box<T>);

// ---------------------------------------------------------------------------------------
// serde_json

/// Nested JSON events.
///
/// * A field name is first looked up as a literal key (so `{"a.b": 1}` is found by `a.b`);
///   only when that key is absent is the name split at its dots and followed as a path
///   (`userIdentity.arn` → `{"userIdentity": {"arn": ...}}`). Every split is tried, so
///   `{"a": {"b.c": 1}}` is found by `a.b.c`.
/// * An array is looked through: an array value reports each element (nested arrays are
///   flattened), and a path crossing an array fans out to every element
///   (`resources.ARN` over `{"resources": [{"ARN": ...}, {"ARN": ...}]}` reports both).
/// * The event root may be any JSON value; a non-object root has no fields.
impl Event for Json {
    fn field<'s>(&'s self, name: &str, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        lookup(self, name, f)
    }
    fn values<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        all_scalars(self, f)
    }
}

impl Event for serde_json::Map<String, Json> {
    fn field<'s>(&'s self, name: &str, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        lookup_map(self, name, f)
    }
    fn values<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        self.values().any(|v| all_scalars(v, f))
    }
}

fn lookup<'s>(v: &'s Json, name: &str, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
    match v {
        Json::Object(map) => lookup_map(map, name, f),
        Json::Array(items) => items.iter().any(|x| lookup(x, name, f)),
        _ => false,
    }
}

fn lookup_map<'s>(
    map: &'s serde_json::Map<String, Json>,
    name: &str,
    f: &mut dyn FnMut(Value<'s>) -> bool,
) -> bool {
    if let Some(x) = map.get(name) {
        return visit_json(x, f);
    }
    for dot in memchr::memchr_iter(b'.', name.as_bytes()) {
        if let Some(child) = map.get(&name[..dot]) {
            if lookup(child, &name[dot + 1..], f) {
                return true;
            }
        }
    }
    false
}

/// Report a JSON value found at a field: arrays element by element.
pub(crate) fn visit_json<'s>(v: &'s Json, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
    match v {
        Json::Null => f(Value::Null),
        Json::Bool(b) => f(Value::Bool(*b)),
        Json::Number(n) => f(number(n)),
        Json::String(s) => f(Value::Str(s)),
        Json::Array(items) => items.iter().any(|x| visit_json(x, f)),
        Json::Object(_) => f(Value::Object),
    }
}

fn number(n: &serde_json::Number) -> Value<'static> {
    if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else if let Some(u) = n.as_u64() {
        Value::UInt(u)
    } else {
        Value::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

fn all_scalars<'s>(v: &'s Json, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
    match v {
        Json::Null => false,
        Json::Bool(b) => f(Value::Bool(*b)),
        Json::Number(n) => f(number(n)),
        Json::String(s) => f(Value::Str(s)),
        Json::Array(items) => items.iter().any(|x| all_scalars(x, f)),
        Json::Object(map) => map.values().any(|x| all_scalars(x, f)),
    }
}

// ---------------------------------------------------------------------------------------
// flat maps

/// A value stored in a flat map event.
pub trait FieldValue {
    /// Report the value (each element for a list); `true` as soon as `f` returns `true`.
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool;
}

impl FieldValue for String {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        f(Value::Str(self))
    }
}
impl FieldValue for str {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        f(Value::Str(self))
    }
}
impl<T: FieldValue + ?Sized> FieldValue for &T {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        (**self).visit(f)
    }
}
impl FieldValue for i64 {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        f(Value::Int(*self))
    }
}
impl FieldValue for u64 {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        f(Value::UInt(*self))
    }
}
impl FieldValue for f64 {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        f(Value::Float(*self))
    }
}
impl FieldValue for bool {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        f(Value::Bool(*self))
    }
}
impl FieldValue for Json {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        visit_json(self, f)
    }
}
impl<T: FieldValue> FieldValue for Option<T> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        match self {
            Some(v) => v.visit(f),
            None => f(Value::Null),
        }
    }
}
impl<T: FieldValue> FieldValue for Vec<T> {
    fn visit<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        self.iter().any(|v| v.visit(f))
    }
}

/// Flat maps: a field name is a key, verbatim (dots are not paths).
impl<K, V, S> Event for HashMap<K, V, S>
where
    K: Borrow<str> + Hash + Eq,
    V: FieldValue,
    S: BuildHasher,
{
    fn field<'s>(&'s self, name: &str, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        match self.get(name) {
            Some(v) => v.visit(f),
            None => false,
        }
    }
    fn values<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        self.values()
            .any(|v| v.visit(&mut |x| !x.is_null() && f(x)))
    }
}

/// Flat maps: a field name is a key, verbatim (dots are not paths).
impl<K, V> Event for BTreeMap<K, V>
where
    K: Borrow<str> + Ord,
    V: FieldValue,
{
    fn field<'s>(&'s self, name: &str, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        match self.get(name) {
            Some(v) => v.visit(f),
            None => false,
        }
    }
    fn values<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        self.values()
            .any(|v| v.visit(&mut |x| !x.is_null() && f(x)))
    }
}

/// A per-evaluation cache of field look-ups, keyed by the address of the (interned) field
/// name: many rules read the same few fields, and a nested JSON path costs several hash
/// look-ups. Only used inside [`crate::RuleSet`], where every name comes from the set's own
/// closures (live, interned allocations: equal address and length means equal name).
pub(crate) struct Cached<'e> {
    inner: &'e dyn Event,
    slots: std::cell::RefCell<Vec<(usize, usize, Vec<Value<'e>>)>>,
}

impl<'e> Cached<'e> {
    pub(crate) fn new(inner: &'e dyn Event) -> Self {
        Cached {
            inner,
            slots: std::cell::RefCell::new(Vec::new()),
        }
    }
}

impl<'e> Event for Cached<'e> {
    fn field<'s>(&'s self, name: &str, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        let key = (name.as_ptr() as usize, name.len());
        if let Ok(slots) = self.slots.try_borrow() {
            if let Some((_, _, vals)) = slots.iter().find(|s| (s.0, s.1) == key) {
                return vals.iter().any(|v| f(*v));
            }
        }
        let mut vals: Vec<Value<'e>> = Vec::new();
        self.inner.field(name, &mut |v| {
            vals.push(v);
            false
        });
        let found = vals.iter().any(|v| f(*v));
        if let Ok(mut slots) = self.slots.try_borrow_mut() {
            slots.push((key.0, key.1, vals));
        }
        found
    }
    fn values<'s>(&'s self, f: &mut dyn FnMut(Value<'s>) -> bool) -> bool {
        self.inner.values(f)
    }
}

/// The first value of a field as owned text (numbers in decimal), for correlation keys.
pub fn first_text(ev: &(impl Event + ?Sized), name: &str) -> Option<String> {
    let mut out = None;
    ev.field(name, &mut |v| {
        out = v.with_text(str::to_string);
        out.is_some()
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(ev: &impl Event, name: &str) -> Vec<String> {
        let mut out = vec![];
        ev.field(name, &mut |v| {
            out.push(match v {
                Value::Null => "null".to_string(),
                Value::Object => "{}".to_string(),
                other => other.with_text(str::to_string).unwrap_or_default(),
            });
            false
        });
        out
    }

    #[test]
    fn nested_paths_literal_dots_and_arrays() {
        let ev = json!({
            "userIdentity": {"arn": "arn:aws:iam::1:user/x", "type": "IAMUser"},
            "a.b": "literal",
            "a": {"b": "nested", "c.d": "inner-dot"},
            "requestParameters": {"layers": ["x", ["y", 3]]},
            "resources": [{"ARN": "r1"}, {"ARN": "r2"}, {"other": 1}],
            "n": null
        });
        assert_eq!(texts(&ev, "userIdentity.arn"), ["arn:aws:iam::1:user/x"]);
        assert_eq!(texts(&ev, "a.b"), ["literal"], "literal key wins");
        assert_eq!(texts(&ev, "a.c.d"), ["inner-dot"]);
        assert_eq!(texts(&ev, "requestParameters.layers"), ["x", "y", "3"]);
        assert_eq!(texts(&ev, "resources.ARN"), ["r1", "r2"]);
        assert_eq!(texts(&ev, "n"), ["null"]);
        assert_eq!(texts(&ev, "userIdentity"), ["{}"]);
        assert!(texts(&ev, "missing").is_empty());
        assert!(texts(&ev, "userIdentity.arn.more").is_empty());
        assert!(texts(&json!([1, 2]), "x").is_empty());
    }

    #[test]
    fn all_values_visits_every_scalar() {
        let ev = json!({"a": "x", "b": {"c": [1, "y", null, true]}});
        let mut seen = vec![];
        ev.values(&mut |v| {
            seen.push(v.with_text(str::to_string).unwrap_or_default());
            false
        });
        assert_eq!(seen, ["x", "1", "y", "true"]);
    }

    #[test]
    fn flat_maps() {
        let mut m: HashMap<&str, &str> = HashMap::new();
        m.insert("a.b", "v");
        assert_eq!(texts(&m, "a.b"), ["v"]);
        assert!(texts(&m, "a").is_empty());
        let mut b: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        b.insert("x".into(), vec![1, 2]);
        assert_eq!(texts(&b, "x"), ["1", "2"]);
        assert_eq!(first_text(&b, "x").as_deref(), Some("1"));
    }

    #[test]
    fn number_text() {
        assert_eq!(Value::Float(1.5).with_text(str::to_string).unwrap(), "1.5");
        assert_eq!(
            Value::UInt(u64::MAX).with_text(str::to_string).unwrap(),
            "18446744073709551615"
        );
        assert_eq!(Value::Float(f64::NAN).with_text(str::to_string), None);
    }
}
