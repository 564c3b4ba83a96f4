//! sigil-lucene: Sigma IR → Lucene / Elasticsearch `query_string` queries.
//!
//! ```
//! use sigil_core::backend::{Backend, BackendOptions};
//! let src = r#"
//! title: STS Get Caller Identity
//! logsource: { product: aws, service: cloudtrail }
//! detection:
//!     sel:
//!         eventSource|endswith: '.sts.amazonaws.com'
//!         eventName: GetCallerIdentity
//!     condition: sel
//! "#;
//! let file = sigil_core::load::load_str(src, "seed.yml");
//! let sigil_core::Document::Rule(rule) = &file.documents[0] else { unreachable!() };
//! let ir = sigil_core::lower::lower_rule(rule).unwrap();
//! let backend = sigil_lucene::LuceneBackend::new(&BackendOptions::default()).unwrap();
//! assert_eq!(
//!     backend.convert_rule(&ir).unwrap(),
//!     vec!["eventSource:*.sts.amazonaws.com AND eventName:GetCallerIdentity"]
//! );
//! ```
//!
//! # Rendering
//!
//! | IR | query_string |
//! |---|---|
//! | `Str` exact / with wildcards | `field:value`, `field:*value\ with\ spaces?` (every special character `+ - = & \| > < ! ( ) { } [ ] ^ " ~ * ? : \ /` and whitespace escaped with `\`; the words `AND`/`OR`/`NOT` get an escaped first letter; the empty string is `field:""`) |
//! | `Keyword` | the same without a field (an unbound term searches every field) |
//! | `Regex` | `field:/.../`, translated from Rust regex semantics (unanchored search) to Lucene's anchored `RegExp` (see [`regexp`]) |
//! | `Cidr` | `cidr=ip` (default): `field:10.0.0.0\/8` (an ES `ip` field); `cidr=keyword`: a regexp over the dotted text of IPv4 addresses in the network |
//! | `Num` | `field:5`, `field:>5`, `field:>=5`, `field:<5`, `field:<=5` (`\-5` for negative numbers) |
//! | `Bool` | `field:true` |
//! | `Exists` / `Null` | `_exists_:field` / `NOT _exists_:field` |
//! | And / Or / Not | `a AND b`, `a OR b`, `NOT a`; every nested group is parenthesized, and a negation inside `OR` is wrapped (`a OR (NOT b)`) because the classic parser would otherwise read `a OR NOT b` as `a AND NOT b` |
//! | Or of values of one field | `field:(a OR b OR c)` |
//! | `FieldRef`, time parts (`Num` with `part`) | unsupported: an error naming the rule |
//!
//! # Case sensitivity (`-O case=...`)
//!
//! Sigma string matches are case-insensitive, Elasticsearch `keyword` fields are not.
//! There is no setting that makes a `query_string` term case-insensitive, so the backend
//! offers three documented choices:
//!
//! * **`exact`** (default): values are written as they appear in the rule and match
//!   case-sensitively, like pySigma's Elasticsearch backend. `|re|i` is still honoured
//!   (letters become `[aA]` classes). Chosen as the default because it is correct on the
//!   mappings people actually have: plain `keyword` fields (ECS, dynamic mappings), where
//!   rule authors write values in the case the log source produces them
//!   (`GetCallerIdentity`). Lower-casing by default would silently miss every such event
//!   on an index without a normalizer, and `regex` by default would turn every term into a
//!   slow regexp query.
//! * **`lowercase`** (alias `lowercase-normalizer`): assumes keyword fields with a
//!   `lowercase` normalizer (values and query terms lower-cased by Elasticsearch); values
//!   are emitted lower-cased and match with Sigma's case-insensitive semantics exactly.
//!   Case-sensitive predicates (`|cased`, `|re` without `i`) cannot be expressed on such a
//!   field and are reported as unsupported unless they contain no letters.
//! * **`regex`**: exact Sigma semantics on plain keyword fields: every case-insensitive
//!   value that contains a letter becomes a regexp with case classes
//!   (`field:/.*[Ee][Vv][Ii][Ll].*/`). Correct everywhere, but regexp queries are slow.
//!
//! # Other options (`-O key=value`)
//!
//! * `cidr=ip|keyword` (see the table above);
//! * `index=a,b,...`: index patterns of the `siem_rule*` formats;
//! * `kibana_index=...`: index pattern of `kibana_ndjson` (default `beats-*`);
//! * `schedule_interval=5m`: rule interval of the `siem_rule*` formats.
//!
//! # Output formats
//!
//! `default` (one query per line), `kibana_ndjson` (Kibana saved searches),
//! `siem_rule` (Kibana create-rule API bodies, pretty JSON), `siem_rule_ndjson` (Elastic
//! detection rules for the Security app's importer) and `dsl_lucene` (the query wrapped
//! in the query DSL), with the field names of pySigma's Elasticsearch backend.

pub mod formats;
pub mod regexp;

use ipnet::IpNet;
use sigil_core::backend::{Backend, BackendOptions, ConvertError};
use sigil_core::ir::{CmpOp, Number, Pattern, Piece, RegexFlags, RuleIr, Shape};
use sigil_core::{Expr, Pred, RuleMeta};

/// How case-insensitive string predicates are rendered (see the crate docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseMode {
    Exact,
    Lowercase,
    Regex,
}

/// How CIDR predicates are rendered (see the crate docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CidrMode {
    /// `field:10.0.0.0\/8`, for Elasticsearch `ip` fields.
    Ip,
    /// A regexp over the text of IPv4 addresses, for `keyword` fields.
    Keyword,
}

/// Backend options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LuceneOptions {
    pub case: CaseMode,
    pub cidr: CidrMode,
    pub index: Vec<String>,
    pub kibana_index: String,
    pub schedule_interval: String,
}

impl Default for LuceneOptions {
    fn default() -> Self {
        LuceneOptions {
            case: CaseMode::Exact,
            cidr: CidrMode::Ip,
            index: [
                "apm-*-transaction*",
                "auditbeat-*",
                "endgame-*",
                "filebeat-*",
                "logs-*",
                "packetbeat-*",
                "traces-apm*",
                "winlogbeat-*",
                "-*elastic-cloud-logs-*",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            kibana_index: "beats-*".into(),
            schedule_interval: "5m".into(),
        }
    }
}

/// The Lucene / Elasticsearch `query_string` backend.
#[derive(Clone, Debug, Default)]
pub struct LuceneBackend {
    pub opts: LuceneOptions,
}

/// A rendering failure, before it is attached to a rule.
#[derive(Debug)]
struct Fail {
    message: String,
    unsupported: bool,
}

fn unsupported(message: impl Into<String>) -> Fail {
    Fail {
        message: message.into(),
        unsupported: true,
    }
}

type R<T> = Result<T, Fail>;

/// How a rendered sub-expression combines with its parent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A single clause (`field:value`, `field:(a OR b)`, `_exists_:f`).
    Atom,
    /// `NOT x`.
    Neg,
    And,
    Or,
}

impl LuceneBackend {
    /// Reads `-O` options; unknown keys and values are errors.
    pub fn new(opts: &BackendOptions) -> Result<Self, String> {
        if opts.table.is_some() {
            return Err("--table is not used by the lucene target".into());
        }
        let mut o = LuceneOptions::default();
        for (k, v) in &opts.options {
            match k.as_str() {
                "case" => {
                    o.case = match v.as_str() {
                        "exact" => CaseMode::Exact,
                        "lowercase" | "lowercase-normalizer" => CaseMode::Lowercase,
                        "regex" => CaseMode::Regex,
                        _ => {
                            return Err(format!(
                                "invalid value '{v}' for option case: expected exact, \
                                 lowercase (lowercase-normalizer) or regex"
                            ))
                        }
                    }
                }
                "cidr" => {
                    o.cidr = match v.as_str() {
                        "ip" => CidrMode::Ip,
                        "keyword" => CidrMode::Keyword,
                        _ => {
                            return Err(format!(
                                "invalid value '{v}' for option cidr: expected ip or keyword"
                            ))
                        }
                    }
                }
                "index" => {
                    o.index = v
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                }
                "kibana_index" => o.kibana_index = v.clone(),
                "schedule_interval" => {
                    let ok = v.len() >= 2
                        && v[..v.len() - 1].chars().all(|c| c.is_ascii_digit())
                        && matches!(v.chars().last(), Some('s' | 'm' | 'h' | 'd'));
                    if !ok {
                        return Err(format!(
                            "invalid value '{v}' for option schedule_interval: expected a \
                             number and a unit s, m, h or d (e.g. 5m)"
                        ));
                    }
                    o.schedule_interval = v.clone();
                }
                other => {
                    return Err(format!(
                        "unknown option '{other}' for the lucene target; options: case, \
                         cidr, index, kibana_index, schedule_interval"
                    ))
                }
            }
        }
        Ok(LuceneBackend { opts: o })
    }

    pub fn with_options(opts: LuceneOptions) -> Self {
        LuceneBackend { opts }
    }

    /// Converts one expression; errors name the construct (the caller adds the rule).
    pub fn convert_expr(&self, e: &Expr) -> Result<String, (String, bool)> {
        self.expr(e)
            .map(|(s, _)| s)
            .map_err(|f| (f.message, f.unsupported))
    }

    fn expr(&self, e: &Expr) -> R<(String, Kind)> {
        match e {
            Expr::Const(true) => Ok(("*:*".into(), Kind::Atom)),
            Expr::Const(false) => Ok(("NOT *:*".into(), Kind::Neg)),
            Expr::Pred(p) => self.pred(p),
            Expr::Not(inner) => {
                if let Expr::Pred(Pred::Null { field }) = inner.as_ref() {
                    return Ok((format!("_exists_:{}", escape_field(field)), Kind::Atom));
                }
                let (s, k) = self.expr(inner)?;
                Ok(match k {
                    Kind::Atom => (format!("NOT {s}"), Kind::Neg),
                    _ => (format!("NOT ({s})"), Kind::Neg),
                })
            }
            Expr::And(v) => {
                let mut parts = Vec::with_capacity(v.len());
                for x in v {
                    let (s, k) = self.expr(x)?;
                    parts.push(match k {
                        Kind::Atom | Kind::Neg => s,
                        Kind::And | Kind::Or => format!("({s})"),
                    });
                }
                Ok((parts.join(" AND "), Kind::And))
            }
            Expr::Or(v) => {
                // Values of one field are grouped as `field:(a OR b)`, at the position
                // of the field's first value.
                let mut groups: Vec<(String, Vec<String>)> = Vec::new();
                let mut slots: Vec<Result<String, usize>> = Vec::new();
                for x in v {
                    if let Expr::Pred(Pred::Str {
                        field,
                        pattern,
                        cased,
                    }) = x
                    {
                        let token = self.str_token(pattern, *cased)?;
                        if let Some(i) = groups.iter().position(|(f, _)| f == field) {
                            groups[i].1.push(token);
                        } else {
                            groups.push((field.clone(), vec![token]));
                            slots.push(Err(groups.len() - 1));
                        }
                        continue;
                    }
                    let (s, k) = self.expr(x)?;
                    slots.push(Ok(match k {
                        Kind::Atom => s,
                        _ => format!("({s})"),
                    }));
                }
                let parts: Vec<String> = slots
                    .into_iter()
                    .map(|slot| match slot {
                        Ok(s) => s,
                        Err(i) => {
                            let (field, tokens) = &groups[i];
                            if tokens.len() == 1 {
                                format!("{}:{}", escape_field(field), tokens[0])
                            } else {
                                format!("{}:({})", escape_field(field), tokens.join(" OR "))
                            }
                        }
                    })
                    .collect();
                if parts.len() == 1 {
                    // Everything collapsed into one `field:(...)` group.
                    return Ok((parts.into_iter().next().unwrap_or_default(), Kind::Atom));
                }
                Ok((parts.join(" OR "), Kind::Or))
            }
        }
    }

    fn pred(&self, p: &Pred) -> R<(String, Kind)> {
        let atom = |s: String| Ok((s, Kind::Atom));
        match p {
            Pred::Str {
                field,
                pattern,
                cased,
            } => atom(format!(
                "{}:{}",
                escape_field(field),
                self.str_token(pattern, *cased)?
            )),
            Pred::Keyword { pattern, cased } => atom(self.str_token(pattern, *cased)?),
            Pred::Regex {
                field,
                regex,
                flags,
            } => atom(format!(
                "{}:{}",
                escape_field(field),
                self.regex_token(regex, *flags)?
            )),
            Pred::Cidr { field, net } => {
                atom(format!("{}:{}", escape_field(field), self.cidr_token(net)?))
            }
            Pred::Num {
                field,
                op,
                value,
                part,
            } => {
                if let Some(part) = part {
                    return Err(unsupported(format!(
                        "timestamp part '{}' ({p}) is not supported by the lucene target: \
                         query_string cannot extract a calendar part of a date",
                        part.name()
                    )));
                }
                let op = match op {
                    CmpOp::Eq => "",
                    CmpOp::Lt => "<",
                    CmpOp::Lte => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Gte => ">=",
                };
                atom(format!("{}:{op}{}", escape_field(field), number(*value)?))
            }
            Pred::Bool { field, value } => atom(format!("{}:{value}", escape_field(field))),
            Pred::Exists { field } => atom(format!("_exists_:{}", escape_field(field))),
            Pred::Null { field } => {
                Ok((format!("NOT _exists_:{}", escape_field(field)), Kind::Neg))
            }
            Pred::FieldRef { .. } => Err(unsupported(format!(
                "fieldref ({p}) is not supported by the lucene target: query_string cannot \
                 compare two fields"
            ))),
        }
    }

    /// The value part of `field:value` (or an unbound term) for a string pattern.
    fn str_token(&self, pattern: &Pattern, cased: bool) -> R<String> {
        if let Some(Piece::Placeholder(name)) = pattern
            .pieces()
            .iter()
            .find(|p| matches!(p, Piece::Placeholder(_)))
        {
            return Err(Fail {
                message: format!(
                    "unresolved placeholder %{name}% (apply a pipeline that resolves it)"
                ),
                unsupported: false,
            });
        }
        let has_letters = pattern
            .literals()
            .any(|s| s.chars().any(|c| c.to_lowercase().ne(c.to_uppercase())));
        match (self.opts.case, cased) {
            (CaseMode::Exact, _) | (CaseMode::Regex, true) => wildcard_token(pattern),
            (CaseMode::Regex, false) if !has_letters => wildcard_token(pattern),
            (CaseMode::Regex, false) => {
                let re = format!("^{}$", pattern.to_regex_body());
                let flags = RegexFlags {
                    ignore_case: true,
                    multi_line: false,
                    dot_all: true,
                };
                regexp::translate(&re, flags, regexp::Printer::default())
                    .map(|s| format!("/{s}/"))
                    .map_err(|e| unsupported(format!("value '{pattern}': {}", e.0)))
            }
            (CaseMode::Lowercase, false) => {
                wildcard_token(&pattern.map_literals(|s| s.to_lowercase()))
            }
            (CaseMode::Lowercase, true) if !has_letters => wildcard_token(pattern),
            (CaseMode::Lowercase, true) => Err(unsupported(format!(
                "case-sensitive match of '{pattern}' cannot be expressed with case=lowercase \
                 (fields with a lowercase normalizer); use -O case=exact or case=regex"
            ))),
        }
    }

    fn regex_token(&self, regex: &str, flags: RegexFlags) -> R<String> {
        let lower = self.opts.case == CaseMode::Lowercase;
        if lower && !flags.ignore_case && !regexp::is_case_invariant(regex, flags) {
            return Err(unsupported(format!(
                "case-sensitive regular expression /{regex}/ cannot be expressed with \
                 case=lowercase (fields with a lowercase normalizer); use -O case=exact or \
                 case=regex"
            )));
        }
        let flags = RegexFlags {
            ignore_case: flags.ignore_case || lower,
            ..flags
        };
        regexp::translate(regex, flags, regexp::Printer { lowercase: lower })
            .map(|s| format!("/{s}/"))
            .map_err(|e| {
                unsupported(format!(
                    "regular expression /{regex}/ cannot be expressed as a Lucene regexp: {}",
                    e.0
                ))
            })
    }

    fn cidr_token(&self, net: &IpNet) -> R<String> {
        let net = net.trunc();
        match (self.opts.cidr, net) {
            (CidrMode::Ip, _) => Ok(escape_term(&net.to_string())),
            (CidrMode::Keyword, IpNet::V4(v4)) => {
                let addr = v4.network().octets();
                let plen = u32::from(v4.prefix_len());
                let mut parts = Vec::new();
                for (i, &o) in addr.iter().enumerate() {
                    let bits = plen.saturating_sub(8 * i as u32).min(8);
                    let mask: u8 = if bits == 0 { 0 } else { 0xFFu8 << (8 - bits) };
                    parts.push(octet_regex(o & mask, (o & mask) | !mask));
                }
                Ok(format!("/{}/", parts.join("\\.")))
            }
            (CidrMode::Keyword, IpNet::V6(_)) => Err(unsupported(format!(
                "IPv6 network {net} cannot be matched on keyword fields (addresses have many \
                 textual forms); use -O cidr=ip with an Elasticsearch ip field"
            ))),
        }
    }

    /// Converts every condition of a rule.
    pub fn convert(&self, rule: &RuleIr) -> Result<Vec<String>, ConvertError> {
        rule.conditions
            .iter()
            .map(|c| {
                self.expr(c).map(|(s, _)| s).map_err(|f| ConvertError {
                    rule: rule.meta.display_id(),
                    message: f.message,
                    unsupported: f.unsupported,
                })
            })
            .collect()
    }
}

/// Regexp alternatives for the decimal text of the integers `lo..=hi` (0..=255), as
/// Rust's `Ipv4Addr` parser accepts them (no leading zeros).
fn octet_regex(lo: u8, hi: u8) -> String {
    if lo == hi {
        return lo.to_string();
    }
    if lo == 0 && hi == 255 {
        return "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])".into();
    }
    let alts: Vec<String> = (lo..=hi).map(|n| n.to_string()).collect();
    format!("({})", alts.join("|"))
}

fn number(n: Number) -> R<String> {
    match n {
        Number::Float(f) if !f.is_finite() => Err(unsupported(format!(
            "the number {f} cannot be written in a query"
        ))),
        _ => {
            let s = n.to_string();
            Ok(match s.strip_prefix('-') {
                Some(rest) => format!("\\-{rest}"),
                None => s,
            })
        }
    }
}

/// Characters with a meaning in `query_string` (Lucene's list plus Elasticsearch's
/// `=`, `<`, `>`).
const SPECIAL: &[char] = &[
    '+', '-', '=', '&', '|', '>', '<', '!', '(', ')', '{', '}', '[', ']', '^', '"', '~', '*', '?',
    ':', '\\', '/',
];

/// `SPECIAL` and ASCII whitespace as a table: escaping runs over every character of every
/// value of the corpus, and a scan of the list per character showed in profiles.
const NEEDS_ESCAPE: [bool; 128] = {
    let mut t = [false; 128];
    let mut i = 0;
    while i < SPECIAL.len() {
        t[SPECIAL[i] as usize] = true;
        i += 1;
    }
    let mut c = 0;
    while c < 128 {
        if (c as u8 as char).is_whitespace() {
            t[c] = true;
        }
        c += 1;
    }
    t
};

fn push_escaped(out: &mut String, c: char) {
    let escape = match NEEDS_ESCAPE.get(c as usize) {
        Some(&e) => e,
        None => c.is_whitespace(),
    };
    if escape {
        out.push('\\');
    }
    out.push(c);
}

/// A field name with every special character and whitespace escaped.
pub fn escape_field(field: &str) -> String {
    escape_term(field)
}

/// A literal term: every special character and whitespace escaped. Line breaks are
/// written as `\u000A` escapes (the parser decodes them in terms and prefixes), so a query
/// always fits on one line.
pub fn escape_term(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\u000A"),
            '\r' => out.push_str("\\u000D"),
            c => push_escaped(&mut out, c),
        }
    }
    if matches!(s, "AND" | "OR" | "NOT") {
        out.insert(0, '\\');
    }
    out
}

/// A term with `*`/`?` wildcards, literals escaped.
fn wildcard_token(pattern: &Pattern) -> R<String> {
    match pattern.shape() {
        Shape::Exact("") => return Ok("\"\"".into()),
        Shape::Exact(s) => return Ok(escape_term(s)),
        Shape::Prefix(s) => return Ok(format!("{}*", escape_term(s))),
        _ => {}
    }
    let mut out = String::new();
    for piece in pattern.pieces() {
        match piece {
            Piece::Lit(s) => {
                if s.contains(['\n', '\r']) {
                    return Err(unsupported(format!(
                        "value '{pattern}': a line break inside a wildcard pattern cannot be \
                         written in a one-line query"
                    )));
                }
                for c in s.chars() {
                    push_escaped(&mut out, c);
                }
            }
            Piece::Star => out.push('*'),
            Piece::Question => out.push('?'),
            Piece::Placeholder(name) => {
                return Err(Fail {
                    message: format!("unresolved placeholder %{name}%"),
                    unsupported: false,
                })
            }
        }
    }
    Ok(out)
}

impl Backend for LuceneBackend {
    fn name(&self) -> &'static str {
        "lucene"
    }

    fn formats(&self) -> &'static [&'static str] {
        formats::FORMATS
    }

    fn convert_rule(&self, rule: &RuleIr) -> Result<Vec<String>, ConvertError> {
        self.convert(rule)
    }

    fn render(
        &self,
        format: &str,
        meta: &RuleMeta,
        queries: &[String],
    ) -> Result<String, ConvertError> {
        formats::render(&self.opts, format, meta, queries)
    }
}
