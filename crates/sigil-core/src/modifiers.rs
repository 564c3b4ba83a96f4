//! The value modifiers of Sigma v2.1 and the rules for chaining them.
//!
//! A modifier chain is checked once, at load time, by running it through a small type
//! state machine (what kind of value each modifier accepts and produces). Type errors that
//! depend on the value itself (a wildcard under `base64`, a string under `gt`) are reported
//! by lowering, which sees the values.

use std::fmt;

/// Declares [`Modifier`] from one table: variant, identifier, description.
macro_rules! modifiers {
    ($($variant:ident = $name:literal: $description:literal,)*) => {
        /// Every modifier of the specification (31) — aliases `ignorecase`, `multiline`,
        /// `dotall` parse to `I`, `M`, `S`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Modifier {
            $($variant,)*
        }

        impl Modifier {
            /// All modifiers, in the order of the specification's appendix.
            pub const ALL: [Modifier; 31] = [$(Modifier::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Modifier::$variant => $name,)*
                }
            }

            /// One-line description, for `sigil list modifiers`.
            pub fn description(self) -> &'static str {
                match self {
                    $(Modifier::$variant => $description,)*
                }
            }
        }
    };
}

modifiers! {
    Contains = "contains": "value occurs anywhere in the field (wraps it in wildcards)",
    StartsWith = "startswith": "field starts with the value",
    EndsWith = "endswith": "field ends with the value",
    All = "all": "all values of the list must match (AND instead of OR)",
    Base64 = "base64": "value is base64-encoded before matching",
    Base64Offset = "base64offset": "value is base64-encoded at the three possible byte offsets",
    Utf16le = "utf16le": "value is encoded as UTF-16LE before further encoding",
    Utf16be = "utf16be": "value is encoded as UTF-16BE before further encoding",
    Utf16 = "utf16": "value is encoded as UTF-16LE with a byte-order mark (FF FE)",
    Wide = "wide": "alias of utf16le",
    Windash = "windash": "each leading - or / of a command-line flag also matches / – — ― variants",
    Re = "re": "value is a regular expression",
    I = "i": "regular expression is case-insensitive (alias ignorecase)",
    M = "m": "regular expression is multi-line: ^ and $ match at line breaks (alias multiline)",
    S = "s": "regular expression dot matches newlines (alias dotall)",
    Cidr = "cidr": "field is an IP address in the given network (IPv4 or IPv6)",
    Exists = "exists": "field is present (true) or absent (false)",
    FieldRef = "fieldref": "value names another field whose value must match",
    Gt = "gt": "field is numerically greater than the value",
    Gte = "gte": "field is numerically greater than or equal to the value",
    Lt = "lt": "field is numerically less than the value",
    Lte = "lte": "field is numerically less than or equal to the value",
    Neq = "neq": "negates the whole item: field is different from every value",
    Expand = "expand": "%name% placeholders are resolved by a processing pipeline",
    Cased = "cased": "match is case-sensitive",
    Minute = "minute": "compare the minute (0-59) of a timestamp field",
    Hour = "hour": "compare the hour (0-23) of a timestamp field",
    Day = "day": "compare the day of month (1-31) of a timestamp field",
    Week = "week": "compare the ISO week (1-53) of a timestamp field",
    Month = "month": "compare the month (1-12) of a timestamp field",
    Year = "year": "compare the year of a timestamp field",
}

use Modifier::*;

impl Modifier {
    /// Parse one modifier identifier (case-sensitive, as pySigma).
    pub fn parse(s: &str) -> Option<Modifier> {
        Some(match s {
            "ignorecase" => I,
            "multiline" => M,
            "dotall" => S,
            _ => return Modifier::ALL.iter().copied().find(|m| m.name() == s),
        })
    }

    /// The closest known name to a misspelt one, for "did you mean" hints.
    pub fn suggest(s: &str) -> Option<&'static str> {
        let lower = s.to_ascii_lowercase();
        if let Some(m) = Modifier::parse(&lower) {
            return Some(m.name());
        }
        let names =
            Modifier::ALL
                .iter()
                .map(|m| m.name())
                .chain(["ignorecase", "multiline", "dotall"]);
        let mut best: Option<(usize, &'static str)> = None;
        for n in names {
            let d = crate::edit_distance(&lower, n);
            if d <= 2.max(n.len() / 4) && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, n));
            }
        }
        best.map(|(_, n)| n)
    }

    fn is_time_part(self) -> bool {
        matches!(self, Minute | Hour | Day | Week | Month | Year)
    }
    fn is_compare(self) -> bool {
        matches!(self, Gt | Gte | Lt | Lte)
    }
    fn is_encoding(self) -> bool {
        matches!(
            self,
            Base64 | Base64Offset | Utf16le | Utf16be | Utf16 | Wide
        )
    }
    fn is_position(self) -> bool {
        matches!(self, Contains | StartsWith | EndsWith)
    }
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of value flows through a chain at each step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The raw value as written (string, number, bool or null).
    Plain,
    Regex,
    Cidr,
    Exists,
    FieldRef,
    TimePart,
    Compare,
}

/// Why a modifier chain is invalid: the offending modifier's index and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainError {
    pub index: usize,
    pub message: String,
}

/// Check a modifier chain against the chaining rules of the specification.
pub fn check_chain(mods: &[Modifier], keyword: bool) -> Result<(), ChainError> {
    let err = |index: usize, message: String| Err(ChainError { index, message });
    let mut kind = Kind::Plain;
    let mut seen: Vec<Modifier> = Vec::with_capacity(mods.len());
    let mut position: Option<Modifier> = None;
    for (i, &m) in mods.iter().enumerate() {
        let canonical = if m == Wide { Utf16le } else { m };
        if m != Base64
            && seen
                .iter()
                .any(|&s| (if s == Wide { Utf16le } else { s }) == canonical)
        {
            return err(i, format!("modifier '{m}' is applied twice"));
        }
        seen.push(m);
        if keyword && matches!(m, Cidr | Exists | FieldRef | Re) {
            return err(i, format!("modifier '{m}' needs a field name"));
        }
        match m {
            Re | Cidr | Exists | FieldRef => {
                if seen[..i].iter().any(|x| !matches!(x, All | Neq)) {
                    return err(i, format!("modifier '{m}' must come first in the chain"));
                }
                kind = match m {
                    Re => Kind::Regex,
                    Cidr => Kind::Cidr,
                    Exists => Kind::Exists,
                    _ => Kind::FieldRef,
                };
            }
            I | M | S => {
                if kind != Kind::Regex {
                    return err(
                        i,
                        format!("regular-expression flag '{m}' is only allowed after 're'"),
                    );
                }
            }
            Contains | StartsWith | EndsWith => {
                if !matches!(kind, Kind::Plain | Kind::Regex | Kind::FieldRef) {
                    return err(
                        i,
                        format!("modifier '{m}' cannot follow {}", kind_name(kind)),
                    );
                }
                if let Some(p) = position {
                    return err(
                        i,
                        format!("modifiers '{p}' and '{m}' contradict each other"),
                    );
                }
                position = Some(m);
            }
            Base64 | Base64Offset | Utf16le | Utf16be | Utf16 | Wide | Windash => {
                if kind != Kind::Plain {
                    return err(
                        i,
                        format!("modifier '{m}' cannot follow {}", kind_name(kind)),
                    );
                }
                if position.is_some() && m.is_encoding() {
                    return err(
                        i,
                        format!(
                            "encoding modifier '{m}' must come before '{}' (wildcards cannot be encoded)",
                            position.map(|p| p.name()).unwrap_or_default()
                        ),
                    );
                }
            }
            Cased => {
                if !matches!(kind, Kind::Plain | Kind::FieldRef) {
                    return err(
                        i,
                        format!("modifier 'cased' cannot follow {}", kind_name(kind)),
                    );
                }
            }
            Expand => {
                if !matches!(kind, Kind::Plain | Kind::Regex) {
                    return err(
                        i,
                        format!("modifier 'expand' cannot follow {}", kind_name(kind)),
                    );
                }
            }
            Gt | Gte | Lt | Lte => {
                if !matches!(kind, Kind::Plain | Kind::TimePart) {
                    return err(
                        i,
                        format!("modifier '{m}' cannot follow {}", kind_name(kind)),
                    );
                }
                if seen[..i].iter().any(|x| x.is_position() || x.is_encoding()) {
                    return err(
                        i,
                        format!(
                            "modifier '{m}' compares numbers; it cannot follow string modifiers"
                        ),
                    );
                }
                kind = Kind::Compare;
            }
            Minute | Hour | Day | Week | Month | Year => {
                if kind != Kind::Plain || seen[..i].iter().any(|x| !matches!(x, All | Neq)) {
                    return err(
                        i,
                        format!("time modifier '{m}' must come first (e.g. 'field|{m}|gt: 5')"),
                    );
                }
                if keyword {
                    return err(i, format!("modifier '{m}' needs a field name"));
                }
                kind = Kind::TimePart;
            }
            All | Neq => {}
        }
        debug_assert!(!m.is_time_part() || kind == Kind::TimePart);
        debug_assert!(!m.is_compare() || kind == Kind::Compare);
    }
    Ok(())
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Plain => "a plain value",
        Kind::Regex => "'re'",
        Kind::Cidr => "'cidr'",
        Kind::Exists => "'exists'",
        Kind::FieldRef => "'fieldref'",
        Kind::TimePart => "a time-part modifier",
        Kind::Compare => "a comparison modifier",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(s: &str) -> Result<(), String> {
        let mods: Vec<Modifier> = s.split('|').map(|m| Modifier::parse(m).unwrap()).collect();
        check_chain(&mods, false).map_err(|e| e.message)
    }

    #[test]
    fn parses_every_modifier_and_alias() {
        for m in Modifier::ALL {
            assert_eq!(Modifier::parse(m.name()), Some(m));
        }
        assert_eq!(Modifier::parse("ignorecase"), Some(I));
        assert_eq!(Modifier::parse("dotall"), Some(S));
        assert_eq!(Modifier::parse("Contains"), None);
        assert_eq!(Modifier::suggest("contians"), Some("contains"));
        assert_eq!(Modifier::suggest("endwith"), Some("endswith"));
        assert_eq!(Modifier::suggest("Contains"), Some("contains"));
        assert_eq!(Modifier::suggest("zzzzzzzz"), None);
    }

    #[test]
    fn valid_chains() {
        for c in [
            "contains",
            "contains|all",
            "all|contains",
            "re|i",
            "re|i|m|s",
            "re|contains",
            "wide|base64offset|contains",
            "utf16le|base64offset|contains",
            "base64|contains",
            "contains|windash",
            "windash|contains",
            "cidr",
            "neq|cidr",
            "fieldref|contains",
            "fieldref|cased",
            "hour|gt",
            "hour",
            "gte",
            "contains|cased",
            "cased|contains",
            "expand",
            "contains|expand",
            "base64|base64",
            "neq",
            "exists",
        ] {
            assert_eq!(chain(c), Ok(()), "{c}");
        }
    }

    #[test]
    fn invalid_chains() {
        for (c, msg) in [
            ("contains|re", "must come first"),
            ("i", "only allowed after 're'"),
            ("contains|i", "only allowed after 're'"),
            ("gt|hour", "must come first"),
            ("contains|contains", "twice"),
            ("startswith|endswith", "contradict"),
            ("contains|base64", "must come before"),
            ("re|cased", "cannot follow 're'"),
            ("cidr|contains", "cannot follow 'cidr'"),
            ("exists|contains", "cannot follow 'exists'"),
            ("contains|gt", "cannot follow string modifiers"),
            ("wide|utf16le", "twice"),
        ] {
            let e = chain(c).unwrap_err();
            assert!(e.contains(msg), "{c}: {e}");
        }
    }
}
