//! Typed access to a YAML map with paths for errors and a check for unknown keys.

use serde_yaml::{Mapping, Value as Y};
use sigil_core::ast::YamlPath;

/// An error found while reading a pipeline, located by YAML path (resolved to a line and
/// column by the caller).
#[derive(Clone, Debug)]
pub(crate) struct Perr {
    pub path: YamlPath,
    pub msg: String,
}

pub(crate) type PResult<T> = Result<T, Perr>;

pub(crate) fn perr<T>(path: &YamlPath, msg: impl Into<String>) -> PResult<T> {
    Err(Perr {
        path: path.clone(),
        msg: msg.into(),
    })
}

pub(crate) fn type_name(v: &Y) -> &'static str {
    match v {
        Y::Null => "null",
        Y::Bool(_) => "a boolean",
        Y::Number(_) => "a number",
        Y::String(_) => "a string",
        Y::Sequence(_) => "a list",
        Y::Mapping(_) => "a map",
        Y::Tagged(_) => "a tagged value",
    }
}

/// Scalar as text (numbers and booleans as written); `None` for collections and null.
pub(crate) fn scalar_text(v: &Y) -> Option<String> {
    match v {
        Y::String(s) => Some(s.clone()),
        Y::Number(n) => Some(n.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// YAML → JSON (map keys become strings).
pub(crate) fn to_json(v: &Y) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Y::Null => J::Null,
        Y::Bool(b) => J::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                J::from(i)
            } else if let Some(u) = n.as_u64() {
                J::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(J::Number)
                    .unwrap_or(J::Null)
            }
        }
        Y::String(s) => J::String(s.clone()),
        Y::Sequence(s) => J::Array(s.iter().map(to_json).collect()),
        Y::Mapping(m) => J::Object(
            m.iter()
                .map(|(k, v)| (scalar_text(k).unwrap_or_default(), to_json(v)))
                .collect(),
        ),
        Y::Tagged(t) => to_json(&t.value),
    }
}

/// A map being read: every key read is remembered, [`Params::finish`] rejects the rest.
pub(crate) struct Params<'a> {
    pub map: &'a Mapping,
    pub path: YamlPath,
    used: Vec<String>,
}

impl<'a> Params<'a> {
    pub fn new(v: &'a Y, path: YamlPath, what: &str) -> PResult<Self> {
        match v {
            Y::Mapping(map) => {
                for k in map.keys() {
                    if !matches!(k, Y::String(_)) {
                        return perr(&path, format!("{what} keys must be strings"));
                    }
                }
                Ok(Params {
                    map,
                    path,
                    used: vec![],
                })
            }
            other => perr(
                &path,
                format!("{what} must be a map, found {}", type_name(other)),
            ),
        }
    }

    pub fn at(&self, key: &str) -> YamlPath {
        self.path.key(key)
    }

    pub fn get(&mut self, key: &str) -> Option<&'a Y> {
        self.used.push(key.to_string());
        self.map.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn opt_str(&mut self, key: &str) -> PResult<Option<String>> {
        let path = self.at(key);
        match self.get(key) {
            None | Some(Y::Null) => Ok(None),
            Some(Y::String(s)) => Ok(Some(s.clone())),
            Some(v @ (Y::Number(_) | Y::Bool(_))) => Ok(scalar_text(v)),
            Some(other) => perr(
                &path,
                format!("'{key}' must be a string, found {}", type_name(other)),
            ),
        }
    }

    pub fn req_str(&mut self, key: &str) -> PResult<String> {
        match self.opt_str(key)? {
            Some(s) => Ok(s),
            None => perr(&self.path.clone().at_key(), format!("missing '{key}'")),
        }
    }

    pub fn bool(&mut self, key: &str, default: bool) -> PResult<bool> {
        let path = self.at(key);
        match self.get(key) {
            None | Some(Y::Null) => Ok(default),
            Some(Y::Bool(b)) => Ok(*b),
            Some(other) => perr(
                &path,
                format!("'{key}' must be true or false, found {}", type_name(other)),
            ),
        }
    }

    pub fn opt_int(&mut self, key: &str) -> PResult<Option<i64>> {
        let path = self.at(key);
        match self.get(key) {
            None | Some(Y::Null) => Ok(None),
            Some(Y::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(other) => perr(
                &path,
                format!("'{key}' must be an integer, found {}", type_name(other)),
            ),
        }
    }

    /// A string or a list of strings.
    pub fn str_list(&mut self, key: &str) -> PResult<Option<Vec<String>>> {
        let path = self.at(key);
        match self.get(key) {
            None | Some(Y::Null) => Ok(None),
            Some(Y::Sequence(s)) => s
                .iter()
                .enumerate()
                .map(|(i, v)| match scalar_text(v) {
                    Some(t) => Ok(t),
                    None => perr(
                        &path.index(i),
                        format!("'{key}' must list strings, found {}", type_name(v)),
                    ),
                })
                .collect::<PResult<Vec<_>>>()
                .map(Some),
            Some(v) => match scalar_text(v) {
                Some(t) => Ok(Some(vec![t])),
                None => perr(
                    &path,
                    format!(
                        "'{key}' must be a string or a list of strings, found {}",
                        type_name(v)
                    ),
                ),
            },
        }
    }

    /// Reject keys nobody asked for.
    pub fn finish(self, what: &str) -> PResult<()> {
        for k in self.map.keys() {
            let Y::String(k) = k else { continue };
            if !self.used.iter().any(|u| u == k) {
                let known: Vec<&str> = self.used.iter().map(String::as_str).collect();
                let hint = known
                    .iter()
                    .filter(|c| sigil_core::edit_distance(c, k) <= 2)
                    .min_by_key(|c| sigil_core::edit_distance(c, k))
                    .map(|c| format!(" (did you mean '{c}'?)"))
                    .unwrap_or_default();
                return perr(
                    &self.path.key(k).at_key(),
                    format!("unknown key '{k}' in {what}{hint}"),
                );
            }
        }
        Ok(())
    }
}
