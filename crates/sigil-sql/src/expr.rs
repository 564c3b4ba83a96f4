//! IR expression → SQL condition.

use ipnet::IpNet;
use sigil_core::ir::{CmpOp, Expr, Number, Pattern, Piece, Pred, RefKind, Shape, TimePart};

use crate::{
    cloudtrail, quote_ident, quote_str, regex_pg, Dialect, Layout, SqlBackend, UNSUPPORTED,
};

/// One rendered leaf: its SQL and whether it can evaluate to NULL.
struct Leaf {
    sql: String,
    nullable: bool,
}

fn leaf(sql: String, nullable: bool) -> Leaf {
    Leaf { sql, nullable }
}

pub(crate) struct Renderer<'a> {
    b: &'a SqlBackend,
}

impl<'a> Renderer<'a> {
    pub(crate) fn new(b: &'a SqlBackend) -> Self {
        Renderer { b }
    }

    fn d(&self) -> Dialect {
        self.b.dialect
    }

    /// `guard`: inside a NOT, where every nullable leaf must be made two-valued.
    pub(crate) fn expr(&self, e: &Expr, guard: bool) -> Result<String, String> {
        match e {
            Expr::Const(true) => Ok("TRUE".into()),
            Expr::Const(false) => Ok("FALSE".into()),
            Expr::Pred(p) => {
                let l = self.pred(p)?;
                Ok(self.finish(l, guard))
            }
            Expr::Not(inner) => {
                let s = self.expr(inner, true)?;
                Ok(format!("NOT ({s})"))
            }
            Expr::And(items) => {
                let parts = items
                    .iter()
                    .map(|x| {
                        let s = self.expr(x, guard)?;
                        Ok(if matches!(x, Expr::Or(_)) {
                            format!("({s})")
                        } else {
                            s
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(balanced(&parts, " AND "))
            }
            Expr::Or(items) => {
                let mut parts = Vec::new();
                for group in self.in_groups(items) {
                    match group {
                        Group::One(x) => {
                            let s = self.expr(x, guard)?;
                            parts.push(if matches!(x, Expr::And(_)) {
                                format!("({s})")
                            } else {
                                s
                            });
                        }
                        Group::In {
                            field,
                            cased,
                            values,
                        } => {
                            let v = self.value(field)?;
                            let list = values
                                .iter()
                                .map(|s| {
                                    quote_str(&if cased {
                                        s.to_string()
                                    } else {
                                        s.to_lowercase()
                                    })
                                })
                                .collect::<Vec<_>>()
                                .join(", ");
                            let lhs = if cased { v } else { format!("LOWER({v})") };
                            parts
                                .push(self.finish(leaf(format!("{lhs} IN ({list})"), true), guard));
                        }
                    }
                }
                Ok(balanced(&parts, " OR "))
            }
        }
    }

    fn finish(&self, l: Leaf, guard: bool) -> String {
        if guard && l.nullable {
            format!("COALESCE({}, FALSE)", l.sql)
        } else {
            l.sql
        }
    }

    /// Exact string matches of one field inside an OR become `IN (...)` (Athena,
    /// PostgreSQL; SQLite keeps `LIKE`/`GLOB`, which also read JSON numbers as text).
    fn in_groups<'e>(&self, items: &'e [Expr]) -> Vec<Group<'e>> {
        let mut out: Vec<Group<'e>> = Vec::new();
        let key = |e: &'e Expr| -> Option<(&'e str, bool, &'e str)> {
            match e {
                Expr::Pred(Pred::Str {
                    field,
                    pattern,
                    cased,
                }) => match pattern.shape() {
                    Shape::Exact(s) => Some((field.as_str(), *cased, s)),
                    _ => None,
                },
                _ => None,
            }
        };
        let mut counts = std::collections::HashMap::new();
        if self.d() != Dialect::Sqlite {
            for e in items {
                if let Some((f, c, _)) = key(e) {
                    *counts.entry((f, c)).or_insert(0usize) += 1;
                }
            }
        }
        let mut placed: std::collections::HashMap<(&str, bool), usize> = Default::default();
        for e in items {
            match key(e) {
                Some((f, c, s)) if counts.get(&(f, c)).copied().unwrap_or(0) >= 2 => {
                    if let Some(&idx) = placed.get(&(f, c)) {
                        if let Group::In { values, .. } = &mut out[idx] {
                            values.push(s);
                        }
                    } else {
                        placed.insert((f, c), out.len());
                        out.push(Group::In {
                            field: f,
                            cased: c,
                            values: vec![s],
                        });
                    }
                }
                _ => out.push(Group::One(e)),
            }
        }
        out
    }

    // ---------------------------------------------------------------- field access

    /// The SQL expression for a field's value.
    pub(crate) fn value(&self, field: &str) -> Result<String, String> {
        match &self.b.layout {
            Layout::Flat => Ok(quote_ident(field)),
            Layout::CloudTrail => cloudtrail::access(field),
            Layout::Json { column } => {
                let doc = quote_ident(column);
                let parts: Vec<&str> = field.split('.').collect();
                let dotted = parts.len() > 1;
                match self.d() {
                    Dialect::Postgres => {
                        let lit = format!("{doc} ->> {}", quote_str(field));
                        if !dotted {
                            return Ok(format!("({lit})"));
                        }
                        let mut path = doc.clone();
                        for (i, p) in parts.iter().enumerate() {
                            let op = if i + 1 == parts.len() { "->>" } else { "->" };
                            path.push_str(&format!(" {op} {}", quote_str(p)));
                        }
                        Ok(format!("COALESCE({lit}, {path})"))
                    }
                    Dialect::Sqlite => {
                        let ex: Vec<String> = sqlite_paths(field)?
                            .iter()
                            .map(|p| format!("({doc} ->> {})", quote_str(p)))
                            .collect();
                        Ok(coalesce(ex))
                    }
                    Dialect::Athena => {
                        let mut ex = Vec::new();
                        if dotted {
                            ex.push(format!(
                                "json_extract_scalar({doc}, {})",
                                quote_str(&cloudtrail::json_path(&[field])?)
                            ));
                        }
                        ex.push(format!(
                            "json_extract_scalar({doc}, {})",
                            quote_str(&cloudtrail::json_path(&parts)?)
                        ));
                        Ok(coalesce(ex))
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- predicates

    fn pred(&self, p: &Pred) -> Result<Leaf, String> {
        match p {
            Pred::Str {
                field,
                pattern,
                cased,
            } => self.str_pred(&self.value(field)?, pattern, *cased),
            Pred::Keyword { pattern, cased } => self.keyword(pattern, *cased),
            Pred::Regex {
                field,
                regex,
                flags,
            } => {
                let v = self.value(field)?;
                Ok(leaf(
                    match self.d() {
                        Dialect::Athena => format!(
                            "regexp_like({v}, {})",
                            quote_str(&regex_pg::inline(regex, *flags))
                        ),
                        Dialect::Postgres => {
                            format!("{v} ~ {}", quote_str(&regex_pg::postgres(regex, *flags)?))
                        }
                        Dialect::Sqlite => {
                            format!("{v} REGEXP {}", quote_str(&regex_pg::inline(regex, *flags)))
                        }
                    },
                    true,
                ))
            }
            Pred::Cidr { field, net } => self.cidr(&self.value(field)?, net),
            Pred::Num {
                field,
                op,
                value,
                part,
            } => {
                let v = self.value(field)?;
                let lhs = match part {
                    None => self.number(&v),
                    Some(p) => self.time_part(&v, *p),
                };
                Ok(leaf(
                    format!("{lhs} {} {}", op_sql(*op), num_lit(*value)?),
                    true,
                ))
            }
            Pred::Bool { field, value } => {
                let text = if *value { "true" } else { "false" };
                let v = self.value(field)?;
                Ok(match (&self.b.layout, self.d()) {
                    // `->>` gives JSON booleans as 1/0: ask json_type as well
                    (Layout::Json { column }, Dialect::Sqlite) => {
                        let doc = quote_ident(column);
                        let ty: Vec<String> = sqlite_paths(field)?
                            .iter()
                            .map(|p| format!("json_type({doc}, {})", quote_str(p)))
                            .collect();
                        leaf(
                            format!("({} = '{text}' OR LOWER({v}) = '{text}')", coalesce(ty)),
                            true,
                        )
                    }
                    _ => leaf(format!("LOWER({v}) = '{text}'"), true),
                })
            }
            Pred::Null { field } => Ok(leaf(format!("{} IS NULL", self.value(field)?), false)),
            Pred::Exists { field } => {
                Ok(leaf(format!("{} IS NOT NULL", self.value(field)?), false))
            }
            Pred::FieldRef {
                field,
                other,
                kind,
                cased,
            } => self.fieldref(field, other, *kind, *cased),
        }
    }

    fn str_pred(&self, v: &str, pattern: &Pattern, cased: bool) -> Result<Leaf, String> {
        if pattern.has_placeholders() {
            return Err(format!(
                "unresolved placeholder in '{pattern}': apply a pipeline that expands placeholders"
            ));
        }
        if pattern.shape() == Shape::Any {
            return Ok(leaf(format!("{v} IS NOT NULL"), false));
        }
        Ok(leaf(self.match_text(v, pattern, cased), true))
    }

    /// `v` (text) matches the whole pattern.
    fn match_text(&self, v: &str, pattern: &Pattern, cased: bool) -> String {
        match (self.d(), cased) {
            (Dialect::Sqlite, false) => like(v, &like_pattern(pattern, false)),
            (Dialect::Sqlite, true) => format!("{v} GLOB {}", quote_str(&glob_pattern(pattern))),
            (_, cased) => {
                let lhs = if cased {
                    v.to_string()
                } else {
                    format!("LOWER({v})")
                };
                match pattern.shape() {
                    Shape::Exact(s) => {
                        let s = if cased {
                            s.to_string()
                        } else {
                            s.to_lowercase()
                        };
                        format!("{lhs} = {}", quote_str(&s))
                    }
                    _ => like(&lhs, &like_pattern(pattern, !cased)),
                }
            }
        }
    }

    fn keyword(&self, pattern: &Pattern, cased: bool) -> Result<Leaf, String> {
        if pattern.has_placeholders() {
            return Err(format!(
                "unresolved placeholder in keyword '{pattern}': apply a pipeline that expands placeholders"
            ));
        }
        let Layout::Json { column } = &self.b.layout else {
            return Err(format!(
                "{UNSUPPORTED}keyword (full-text) search '{pattern}' needs the whole event: use -O layout=json (the {} layout has no document to search)",
                match self.b.layout {
                    Layout::CloudTrail => "cloudtrail",
                    _ => "flat",
                }
            ));
        };
        let doc = quote_ident(column);
        Ok(match self.d() {
            Dialect::Postgres => leaf(
                format!(
                    "EXISTS (SELECT 1 FROM jsonb_path_query({doc}, 'strict $.**') AS sigil_kw(v) WHERE jsonb_typeof(sigil_kw.v) = 'string' AND {})",
                    self.match_text("(sigil_kw.v #>> '{}')", pattern, cased)
                ),
                false,
            ),
            Dialect::Sqlite => leaf(
                format!(
                    "EXISTS (SELECT 1 FROM json_tree({doc}) AS sigil_kw WHERE sigil_kw.type = 'text' AND {})",
                    self.match_text("sigil_kw.atom", pattern, cased)
                ),
                false,
            ),
            Dialect::Athena => {
                // approximation: the JSON-escaped pattern as a string token of the text
                let escaped = pattern.map_literals(json_escape);
                let mut like = String::from("%\"");
                like.push_str(&like_pattern(&escaped, !cased));
                like.push_str("\"%");
                let lhs = if cased {
                    doc
                } else {
                    format!("LOWER({doc})")
                };
                leaf(self::like(&lhs, &like), true)
            }
        })
    }

    fn cidr(&self, v: &str, net: &IpNet) -> Result<Leaf, String> {
        let net_s = net.trunc().to_string();
        match self.d() {
            Dialect::Athena => Ok(leaf(
                format!(
                    "contains({}, TRY_CAST({v} AS IPADDRESS))",
                    quote_str(&net_s)
                ),
                true,
            )),
            Dialect::Postgres => {
                let re = match net {
                    IpNet::V4(_) => format!("^{IPV4}$"),
                    IpNet::V6(_) => format!("^({})$", ipv6_regex()),
                };
                Ok(leaf(
                    format!(
                        "CASE WHEN {v} ~ {} THEN CAST({v} AS inet) <<= inet {} ELSE FALSE END",
                        quote_str(&re),
                        quote_str(&net_s)
                    ),
                    false,
                ))
            }
            Dialect::Sqlite => Err(format!(
                "{UNSUPPORTED}cidr ({net_s}) is not supported for SQLite: it has no IP address type (expand the network to prefixes with a pipeline)"
            )),
        }
    }

    /// A number read from `v`, NULL when `v` is not numeric (never an error).
    pub(crate) fn number(&self, v: &str) -> String {
        match self.d() {
            Dialect::Athena => format!("TRY_CAST({v} AS DOUBLE)"),
            Dialect::Postgres => format!(
                "CASE WHEN {v} ~ {} THEN CAST({v} AS numeric) END",
                quote_str(PG_NUMBER)
            ),
            Dialect::Sqlite => format!(
                "CASE WHEN json_valid({v}) AND json_type({v}) IN ('integer', 'real') THEN CAST({v} AS REAL) END"
            ),
        }
    }

    fn time_part(&self, v: &str, part: TimePart) -> String {
        match self.d() {
            Dialect::Athena => {
                let f = match part {
                    TimePart::Minute => "minute",
                    TimePart::Hour => "hour",
                    TimePart::Day => "day",
                    TimePart::Week => "week",
                    TimePart::Month => "month",
                    TimePart::Year => "year",
                };
                format!("TRY({f}(from_iso8601_timestamp({v}) AT TIME ZONE 'UTC'))")
            }
            Dialect::Postgres => {
                let f = match part {
                    TimePart::Minute => "MINUTE",
                    TimePart::Hour => "HOUR",
                    TimePart::Day => "DAY",
                    TimePart::Week => "WEEK",
                    TimePart::Month => "MONTH",
                    TimePart::Year => "YEAR",
                };
                format!(
                    "CASE WHEN {v} ~ {} THEN EXTRACT({f} FROM CAST({v} AS timestamptz) AT TIME ZONE 'UTC') END",
                    quote_str(PG_TIMESTAMP)
                )
            }
            Dialect::Sqlite => {
                let f = match part {
                    TimePart::Minute => "%M",
                    TimePart::Hour => "%H",
                    TimePart::Day => "%d",
                    TimePart::Week => "%V",
                    TimePart::Month => "%m",
                    TimePart::Year => "%Y",
                };
                format!("CAST(strftime('{f}', {v}) AS INTEGER)")
            }
        }
    }

    fn fieldref(&self, a: &str, b: &str, kind: RefKind, cased: bool) -> Result<Leaf, String> {
        let (mut x, mut y) = (self.value(a)?, self.value(b)?);
        if self.d() == Dialect::Sqlite && matches!(self.b.layout, Layout::Json { .. }) {
            // json_extract returns numbers as numbers: compare text with text
            x = format!("CAST({x} AS TEXT)");
            y = format!("CAST({y} AS TEXT)");
        }
        if !cased {
            x = format!("LOWER({x})");
            y = format!("LOWER({y})");
        }
        let sql = match (kind, self.d()) {
            (RefKind::Equals, _) => format!("{x} = {y}"),
            (RefKind::Contains, Dialect::Sqlite) => format!("instr({x}, {y}) > 0"),
            (RefKind::Contains, _) => format!("strpos({x}, {y}) > 0"),
            (RefKind::StartsWith, Dialect::Sqlite) => format!("substr({x}, 1, length({y})) = {y}"),
            (RefKind::StartsWith, _) => format!("starts_with({x}, {y})"),
            (RefKind::EndsWith, Dialect::Postgres) => format!("right({x}, length({y})) = {y}"),
            (RefKind::EndsWith, _) => format!(
                "(length({x}) >= length({y}) AND substr({x}, length({x}) - length({y}) + 1) = {y})"
            ),
        };
        Ok(leaf(sql, true))
    }
}

enum Group<'e> {
    One(&'e Expr),
    In {
        field: &'e str,
        cased: bool,
        values: Vec<&'e str>,
    },
}

/// Operands joined by `op`; long lists are nested as a balanced tree of parentheses, since
/// engines parse `a OR b OR c ...` into a left-deep tree and SQLite rejects expressions
/// deeper than 1000 (SigmaHQ has rules with thousands of hashes).
fn balanced(parts: &[String], op: &str) -> String {
    const FLAT: usize = 64;
    if parts.len() <= FLAT {
        return parts.join(op);
    }
    let chunk = parts
        .len()
        .div_ceil(FLAT)
        .max(FLAT.min(parts.len().div_ceil(2)));
    let groups: Vec<String> = parts
        .chunks(chunk)
        .map(|c| format!("({})", balanced(c, op)))
        .collect();
    balanced(&groups, op)
}

fn coalesce(mut ex: Vec<String>) -> String {
    if ex.len() == 1 {
        ex.pop().unwrap_or_default()
    } else {
        format!("COALESCE({})", ex.join(", "))
    }
}

/// SQLite JSON paths for a field: the literal key first when it has dots, then the path.
fn sqlite_paths(field: &str) -> Result<Vec<String>, String> {
    let seg = |s: &str| -> Result<String, String> {
        if cloudtrail::is_plain_key(s) {
            Ok(format!(".{s}"))
        } else if s.contains('"') {
            Err(format!(
                "{UNSUPPORTED}JSON key '{s}' contains a double quote, which a SQLite JSON path cannot spell"
            ))
        } else {
            Ok(format!(".\"{s}\""))
        }
    };
    let mut out = Vec::new();
    if field.contains('.') {
        out.push(format!("${}", seg(field)?));
    }
    let mut p = String::from("$");
    for part in field.split('.') {
        p.push_str(&seg(part)?);
    }
    out.push(p);
    Ok(out)
}

/// `v LIKE 'pattern'`, with `ESCAPE '\'` when the pattern escapes something (without the
/// clause PostgreSQL would still treat `\` as its default escape; the others have none).
fn like(v: &str, pattern: &str) -> String {
    if pattern.contains('\\') {
        format!("{v} LIKE {} ESCAPE '\\'", quote_str(pattern))
    } else {
        format!("{v} LIKE {}", quote_str(pattern))
    }
}

/// `LIKE` pattern with `\` as the escape character; literals lower-cased when `lower`.
fn like_pattern(p: &Pattern, lower: bool) -> String {
    let mut out = String::new();
    for piece in p.pieces() {
        match piece {
            Piece::Lit(s) => {
                let s = if lower { s.to_lowercase() } else { s.clone() };
                for c in s.chars() {
                    if matches!(c, '%' | '_' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
            Piece::Star | Piece::Placeholder(_) => out.push('%'),
            Piece::Question => out.push('_'),
        }
    }
    out
}

/// SQLite `GLOB` pattern (case-sensitive); special characters in brackets.
fn glob_pattern(p: &Pattern) -> String {
    let mut out = String::new();
    for piece in p.pieces() {
        match piece {
            Piece::Lit(s) => {
                for c in s.chars() {
                    match c {
                        '*' => out.push_str("[*]"),
                        '?' => out.push_str("[?]"),
                        '[' => out.push_str("[[]"),
                        c => out.push(c),
                    }
                }
            }
            Piece::Star | Piece::Placeholder(_) => out.push('*'),
            Piece::Question => out.push('?'),
        }
    }
    out
}

/// The text of a JSON string literal's contents, as serializers write it.
fn json_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn op_sql(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Lt => "<",
        CmpOp::Lte => "<=",
        CmpOp::Gt => ">",
        CmpOp::Gte => ">=",
    }
}

fn num_lit(n: Number) -> Result<String, String> {
    match n {
        Number::Int(i) => Ok(i.to_string()),
        Number::Float(f) if f.is_finite() => {
            let s = format!("{f:?}");
            Ok(s)
        }
        Number::Float(f) => Err(format!("{UNSUPPORTED}the number {f} has no SQL literal")),
    }
}

/// Numeric text that `CAST(.. AS numeric)` accepts (no whitespace, exponent ≤ 3 digits).
const PG_NUMBER: &str = r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,3})?$";

/// ISO 8601 date-time text that `CAST(.. AS timestamptz)` accepts.
pub(crate) const PG_TIMESTAMP: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?)?([Zz]|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?$";

const IPV4: &str = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}";

/// A strict IPv6 address regex (every RFC 4291 text form, with embedded IPv4).
pub(crate) fn ipv6_regex() -> String {
    let h = "[0-9a-fA-F]{1,4}";
    let mut alts = vec![
        format!("({h}:){{7}}{h}"),
        format!("({h}:){{1,7}}:"),
        format!("({h}:){{1,6}}:{h}"),
    ];
    for k in 2..=6 {
        alts.push(format!("({h}:){{1,{}}}(:{h}){{1,{k}}}", 7 - k));
    }
    alts.push(format!(":((:{h}){{1,7}}|:)"));
    alts.push(format!("({h}:){{6}}{IPV4}"));
    alts.push(format!("::({h}:){{0,5}}{IPV4}"));
    for k in 1..=5 {
        alts.push(format!("({h}:){{{k}}}:({h}:){{0,{}}}{IPV4}", 5 - k));
    }
    alts.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_regexes_agree_with_rust() {
        let v4 = regex_lite(&format!("^{IPV4}$"));
        let v6 = regex_lite(&format!("^({})$", ipv6_regex()));
        for s in [
            "10.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "01.2.3.4",
            "256.1.1.1",
            "1.2.3",
            "::",
            "::1",
            "fe80::1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1::8",
            "1:2::7:8",
            "::ffff:10.0.0.1",
            "1::1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            ":::",
            "1:2:3:4:5:6:7:8:9",
            "12345::",
            "g::1",
            "not an ip",
        ] {
            let rust_v4 = s.parse::<std::net::Ipv4Addr>().is_ok();
            let rust_v6 = s.parse::<std::net::Ipv6Addr>().is_ok();
            assert_eq!(v4(s), rust_v4, "IPv4 regex on {s}");
            assert_eq!(v6(s), rust_v6, "IPv6 regex on {s}");
        }
    }

    /// A tiny backtracking check via the std-only approach: use sigil-core's regex dep.
    fn regex_lite(re: &str) -> impl Fn(&str) -> bool {
        let r = ::regex::Regex::new(re).expect("valid regex");
        move |s| r.is_match(s)
    }

    #[test]
    fn like_and_glob_escaping() {
        let p = Pattern::from_pieces([
            Piece::Lit("50%_a\\B*[x]?".into()),
            Piece::Star,
            Piece::Question,
        ]);
        assert_eq!(like_pattern(&p, true), r"50\%\_a\\b*[x]?%_");
        assert_eq!(glob_pattern(&p), r"50%_a\B[*][[]x][?]*?");
    }
}
