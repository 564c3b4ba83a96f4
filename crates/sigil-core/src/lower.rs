//! AST → IR: modifiers applied, searches expanded, `x of` resolved, constants folded.

use indexmap::IndexMap;

use crate::ast::*;
use crate::condition::{pattern_matches, Cond, Quantifier};
use crate::error::{Error, ErrorKind};
use crate::ir::{CmpOp, Expr, Number, Pattern, Pred, RefKind, RegexFlags, RuleIr, TimePart};
use crate::modifiers::Modifier;
use crate::value::{self, Working};

/// Most leaves one rule may lower to (windash and base64offset multiply values).
pub const MAX_LEAVES: usize = 200_000;

/// Lower a rule: one expression per condition.
pub fn lower_rule(rule: &Rule) -> Result<RuleIr, Vec<Error>> {
    let conditions = lower_detection(&rule.detection)?;
    Ok(RuleIr {
        meta: rule.meta.clone(),
        logsource: rule.logsource.clone(),
        conditions,
        fields: rule.fields.clone(),
    })
}

/// Lower every search of a detection and every condition over them.
pub fn lower_detection(d: &Detection) -> Result<Vec<Expr>, Vec<Error>> {
    let mut errors = vec![];
    let mut lowered: IndexMap<&str, Slot> = IndexMap::with_capacity(d.searches.len());
    let mut leaves = 0usize;
    for (name, search) in &d.searches {
        match lower_search(search) {
            Ok(e) => {
                leaves += e.leaf_count();
                lowered.insert(
                    name.as_str(),
                    Slot {
                        expr: Some(e),
                        uses: 0,
                    },
                );
            }
            Err(e) => errors.push(e),
        }
    }
    if leaves > MAX_LEAVES {
        errors.push(Error::at(
            ErrorKind::Detection(format!(
                "the detection expands to {leaves} predicates; the limit is {MAX_LEAVES}"
            )),
            YamlPath::of(&["detection"]),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Count the references to each search so the last one takes the lowered expression
    // instead of cloning it (most searches are referenced once).
    for c in &d.conditions {
        count_uses(&c.tree, &mut lowered);
    }
    let mut out = Vec::with_capacity(d.conditions.len());
    for c in &d.conditions {
        match lower_cond(&c.tree, &mut lowered, c) {
            Ok(e) => out.push(e),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A lowered search and how many condition references to it are still to be lowered.
struct Slot {
    expr: Option<Expr>,
    uses: usize,
}

impl Slot {
    /// The expression for one reference: moved out at the last one, cloned before.
    fn fetch(&mut self) -> Expr {
        self.uses = self.uses.saturating_sub(1);
        if self.uses == 0 {
            if let Some(e) = self.expr.take() {
                return e;
            }
        }
        // `uses` counts every reference lowering can make, so the expression is still
        // here; the fallback keeps this total anyway.
        self.expr.clone().unwrap_or(Expr::Const(false))
    }
}

fn count_uses(cond: &Cond, searches: &mut IndexMap<&str, Slot>) {
    match cond {
        Cond::Ident { name, .. } => {
            if let Some(s) = searches.get_mut(name.as_str()) {
                s.uses += 1;
            }
        }
        Cond::Of { pattern, .. } => {
            for (k, s) in searches.iter_mut() {
                if pattern_matches(pattern, k) {
                    s.uses += 1;
                }
            }
        }
        Cond::Not(x) => count_uses(x, searches),
        Cond::And(v) | Cond::Or(v) => v.iter().for_each(|x| count_uses(x, searches)),
    }
}

fn lower_cond(
    cond: &Cond,
    searches: &mut IndexMap<&str, Slot>,
    c: &Condition,
) -> Result<Expr, Error> {
    let at = |kind: ErrorKind, offset: usize| Error {
        offset: Some(offset),
        ..Error::at(kind, c.path.clone())
    };
    Ok(match cond {
        Cond::Ident { name, offset } => match searches.get_mut(name.as_str()) {
            Some(slot) => slot.fetch(),
            None => {
                let lower = name.to_ascii_lowercase();
                if matches!(lower.as_str(), "and" | "or" | "not" | "of" | "them") {
                    return Err(at(
                        ErrorKind::Condition(format!(
                            "operators are lower case: write '{lower}' instead of '{name}'"
                        )),
                        *offset,
                    ));
                }
                let suggestion = searches
                    .keys()
                    .map(|k| (crate::edit_distance(k, name), *k))
                    .filter(|(d, k)| *d <= 2.max(k.len() / 3))
                    .min()
                    .map(|(_, k)| k.to_string());
                return Err(at(
                    ErrorKind::UndefinedIdentifier {
                        name: name.clone(),
                        suggestion,
                    },
                    *offset,
                ));
            }
        },
        Cond::Of {
            quantifier,
            pattern,
            offset,
        } => {
            let matched: Vec<Expr> = searches
                .iter_mut()
                .filter(|(k, _)| pattern_matches(pattern, k))
                .map(|(_, slot)| slot.fetch())
                .collect();
            if matched.is_empty() {
                return Err(at(
                    ErrorKind::PatternMatchesNothing(pattern.clone()),
                    *offset,
                ));
            }
            match quantifier {
                Quantifier::All => Expr::and(matched),
                Quantifier::One | Quantifier::Any => Expr::or(matched),
            }
        }
        Cond::Not(x) => Expr::not(lower_cond(x, searches, c)?),
        Cond::And(v) => Expr::and(
            v.iter()
                .map(|x| lower_cond(x, searches, c))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Cond::Or(v) => Expr::or(
            v.iter()
                .map(|x| lower_cond(x, searches, c))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    })
}

/// Lower one search identifier's definition.
pub fn lower_search(s: &Search) -> Result<Expr, Error> {
    match s {
        Search::AllOf(items) => Ok(Expr::and(
            items
                .iter()
                .map(lower_item)
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Search::AnyOf(alts) => Ok(Expr::or(
            alts.iter()
                .map(lower_search)
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Search::Keywords(item) => lower_item(item),
    }
}

fn verr(item: &DetectionItem, msg: String) -> Error {
    Error::at(ErrorKind::Value(msg), item.path.clone())
}

/// Lower a detection item: each value to a predicate (or an OR of expansions), linked by
/// OR (AND under `all`), negated under `neq`.
pub fn lower_item(item: &DetectionItem) -> Result<Expr, Error> {
    let negate = item.has(Modifier::Neq);
    let expr = if item.has(Modifier::Exists) {
        let field = item
            .field
            .clone()
            .ok_or_else(|| verr(item, "'exists' needs a field name".into()))?;
        match item.values.as_slice() {
            [Value::Bool(true)] => Expr::pred(Pred::Exists { field }),
            [Value::Bool(false)] => Expr::not(Expr::pred(Pred::Exists { field })),
            _ => {
                return Err(verr(
                    item,
                    "'exists' takes a single boolean value: true or false".into(),
                ))
            }
        }
    } else if item.values.is_empty() {
        match &item.field {
            Some(field) => Expr::pred(Pred::Null {
                field: field.clone(),
            }),
            None => return Err(verr(item, "an empty keyword list matches nothing".into())),
        }
    } else if let [v] = item.values.as_slice() {
        // One value (most items): the junction of one operand is the operand, unless it
        // is itself a junction to splice; no list built.
        match lower_value(item, v)? {
            e @ (Expr::And(_) | Expr::Or(_)) if item.has(Modifier::All) => Expr::and([e]),
            e @ (Expr::And(_) | Expr::Or(_)) => Expr::or([e]),
            e => e,
        }
    } else {
        let mut parts = Vec::with_capacity(item.values.len());
        for v in &item.values {
            parts.push(lower_value(item, v)?);
        }
        if item.has(Modifier::All) {
            Expr::and(parts)
        } else {
            Expr::or(parts)
        }
    };
    Ok(if negate { Expr::not(expr) } else { expr })
}

fn time_part(mods: &[Modifier]) -> Option<TimePart> {
    mods.iter().find_map(|m| match m {
        Modifier::Minute => Some(TimePart::Minute),
        Modifier::Hour => Some(TimePart::Hour),
        Modifier::Day => Some(TimePart::Day),
        Modifier::Week => Some(TimePart::Week),
        Modifier::Month => Some(TimePart::Month),
        Modifier::Year => Some(TimePart::Year),
        _ => None,
    })
}

fn cmp_op(mods: &[Modifier]) -> Option<CmpOp> {
    mods.iter().find_map(|m| match m {
        Modifier::Gt => Some(CmpOp::Gt),
        Modifier::Gte => Some(CmpOp::Gte),
        Modifier::Lt => Some(CmpOp::Lt),
        Modifier::Lte => Some(CmpOp::Lte),
        _ => None,
    })
}

/// Modifiers that make a value a string match (numbers become their decimal text).
fn is_string_modifier(m: Modifier) -> bool {
    use Modifier::*;
    matches!(
        m,
        Contains
            | StartsWith
            | EndsWith
            | Base64
            | Base64Offset
            | Utf16le
            | Utf16be
            | Utf16
            | Wide
            | Windash
            | Re
            | Cased
            | Expand
            | Cidr
            | FieldRef
    )
}

fn lower_value(item: &DetectionItem, v: &Value) -> Result<Expr, Error> {
    let mods = &item.modifiers;
    let field = item.field.as_deref();
    let need_field = |what: &str| {
        field
            .map(str::to_string)
            .ok_or_else(|| verr(item, format!("{what} needs a field name")))
    };
    let part = time_part(mods);
    let op = cmp_op(mods);
    if part.is_some() || op.is_some() {
        let number = match v {
            Value::Int(i) => Number::Int(*i),
            Value::Float(f) => Number::Float(*f),
            other => {
                let m = mods
                    .iter()
                    .find(|m| {
                        matches!(
                            m,
                            Modifier::Gt | Modifier::Gte | Modifier::Lt | Modifier::Lte
                        )
                    })
                    .or_else(|| mods.iter().find(|m| time_part(&[**m]).is_some()))
                    .map(|m| m.name())
                    .unwrap_or("compare");
                return Err(verr(
                    item,
                    format!("modifier '{m}' needs a number, found {other}"),
                ));
            }
        };
        return Ok(Expr::pred(Pred::Num {
            field: need_field("a numeric comparison")?,
            op: op.unwrap_or(CmpOp::Eq),
            value: number,
            part,
        }));
    }
    let stringish = mods.iter().any(|m| is_string_modifier(*m));
    // Borrowed for a string value: most values only feed a pattern, which copies.
    let text: std::borrow::Cow<'_, str> = match v {
        Value::Null => {
            if let Some(m) = mods
                .iter()
                .find(|m| !matches!(m, Modifier::All | Modifier::Neq))
            {
                return Err(verr(
                    item,
                    format!("null cannot be combined with modifier '{m}'"),
                ));
            }
            return Ok(Expr::pred(Pred::Null {
                field: need_field("null")?,
            }));
        }
        Value::Bool(b) => {
            if stringish {
                return Err(verr(
                    item,
                    "a boolean cannot be used with string modifiers; quote it to match the text"
                        .into(),
                ));
            }
            return Ok(Expr::pred(Pred::Bool {
                field: need_field("a boolean")?,
                value: *b,
            }));
        }
        Value::Int(i) if !stringish => {
            return Ok(match field {
                Some(f) => Expr::pred(Pred::Num {
                    field: f.to_string(),
                    op: CmpOp::Eq,
                    value: Number::Int(*i),
                    part: None,
                }),
                None => keyword(Pattern::literal(&i.to_string()).contains(), false),
            })
        }
        Value::Float(x) if !stringish => {
            return Ok(match field {
                Some(f) => Expr::pred(Pred::Num {
                    field: f.to_string(),
                    op: CmpOp::Eq,
                    value: Number::Float(*x),
                    part: None,
                }),
                None => keyword(Pattern::literal(&x.to_string()).contains(), false),
            })
        }
        Value::Int(i) => i.to_string().into(),
        Value::Float(x) => x.to_string().into(),
        Value::Str(s) => s.as_str().into(),
    };
    let cased = item.has(Modifier::Cased);

    if item.has(Modifier::Re) {
        let mut regex = text.into_owned();
        let mut flags = RegexFlags::default();
        for m in mods {
            match m {
                Modifier::I => flags.ignore_case = true,
                Modifier::M => flags.multi_line = true,
                Modifier::S => flags.dot_all = true,
                Modifier::Contains => {
                    if !(regex.starts_with(".*") || regex.starts_with('^')) {
                        regex.insert_str(0, ".*");
                    }
                    if !(regex.ends_with(".*") || regex.ends_with('$')) {
                        regex.push_str(".*");
                    }
                }
                Modifier::StartsWith if !(regex.ends_with(".*") || regex.ends_with('$')) => {
                    regex.push_str(".*");
                }
                Modifier::EndsWith if !(regex.starts_with(".*") || regex.starts_with('^')) => {
                    regex.insert_str(0, ".*");
                }
                _ => {}
            }
        }
        // Syntax and Unicode classes only (regex-syntax's parser and translator, the same
        // errors the regex crate reports): compiling the automaton here cost a quarter of a
        // whole-corpus conversion, and its size limit is a property of the engine that
        // runs the regex, checked by each backend (the matcher compiles it; Lucene has its
        // own automaton limit).
        let parsed = regex_syntax::ParserBuilder::new()
            .case_insensitive(flags.ignore_case)
            .multi_line(flags.multi_line)
            .dot_matches_new_line(flags.dot_all)
            .build()
            .parse(&regex);
        if let Err(e) = parsed {
            let msg = e.to_string();
            let last = msg.lines().last().unwrap_or("").trim();
            let last = last.strip_prefix("error: ").unwrap_or(last);
            return Err(verr(
                item,
                format!("invalid regular expression '{regex}': {last}"),
            ));
        }
        return Ok(Expr::pred(Pred::Regex {
            field: need_field("'re'")?,
            regex,
            flags,
        }));
    }

    if item.has(Modifier::Cidr) {
        let net: ipnet::IpNet = text
            .trim()
            .parse()
            .or_else(|_| {
                text.trim()
                    .parse::<std::net::IpAddr>()
                    .map(ipnet::IpNet::from)
            })
            .map_err(|_| verr(item, format!("invalid network '{text}' for 'cidr'")))?;
        if net.trunc() != net {
            return Err(verr(
                item,
                format!(
                    "network '{text}' has host bits set; did you mean '{}'?",
                    net.trunc()
                ),
            ));
        }
        return Ok(Expr::pred(Pred::Cidr {
            field: need_field("'cidr'")?,
            net,
        }));
    }

    if item.has(Modifier::FieldRef) {
        let kind = if item.has(Modifier::Contains) {
            RefKind::Contains
        } else if item.has(Modifier::StartsWith) {
            RefKind::StartsWith
        } else if item.has(Modifier::EndsWith) {
            RefKind::EndsWith
        } else {
            RefKind::Equals
        };
        if text.contains(['*', '?']) {
            return Err(verr(
                item,
                format!("'fieldref' names a field; '{text}' has wildcards"),
            ));
        }
        return Ok(Expr::pred(Pred::FieldRef {
            field: need_field("'fieldref'")?,
            other: text.into_owned(),
            kind,
            cased,
        }));
    }

    let expand = item.has(Modifier::Expand);
    let pred = |pattern: Pattern, positioned: bool| match field {
        Some(f) => Expr::pred(Pred::Str {
            field: f.to_string(),
            pattern,
            cased,
        }),
        None => keyword(
            if positioned {
                pattern
            } else {
                pattern.contains()
            },
            cased,
        ),
    };
    // Without an encoding or expanding modifier a value is one pattern: built in place
    // (the general path below keeps a list of variants per modifier).
    if !mods.iter().any(|m| encodes(*m)) {
        let stars = mods
            .iter()
            .filter_map(|m| positional(*m))
            .map(|(_, n)| n)
            .sum();
        let mut pattern = value::parse_sigma_string_with(&text, expand, stars);
        let mut positioned = false;
        for (place, _) in mods.iter().filter_map(|m| positional(*m)) {
            pattern = place(pattern);
            positioned = true;
        }
        return Ok(pred(pattern, positioned));
    }
    let mut work = vec![Working {
        pattern: value::parse_sigma_string(&text, expand),
        bytes: false,
    }];
    let mut positioned = false;
    for m in mods {
        let mut next = Vec::with_capacity(work.len());
        for w in work {
            if let Some((place, _)) = positional(*m) {
                positioned = true;
                next.push(Working {
                    pattern: place(w.pattern),
                    ..w
                });
                continue;
            }
            match m {
                Modifier::Base64 => next.push(value::base64(&w).map_err(|e| verr(item, e))?),
                Modifier::Base64Offset => {
                    next.extend(value::base64offset(&w).map_err(|e| verr(item, e))?)
                }
                Modifier::Utf16le | Modifier::Wide => next.push(value::utf16(&w, false, false)),
                Modifier::Utf16be => next.push(value::utf16(&w, true, false)),
                Modifier::Utf16 => next.push(value::utf16(&w, false, true)),
                Modifier::Windash => next.extend(value::windash(&w).map_err(|e| verr(item, e))?),
                _ => next.push(w),
            }
        }
        work = next;
        if work.len() > MAX_LEAVES {
            return Err(verr(
                item,
                format!("value expands to more than {MAX_LEAVES} variants"),
            ));
        }
    }
    // Expansions are OR-ed even under `all` (pySigma's SigmaExpansion). Duplicates are
    // dropped (only expansions can produce them, so a single value skips the set).
    if work.len() > 1 {
        let mut seen = std::collections::HashSet::with_capacity(work.len());
        work.retain(|w| seen.insert(w.pattern.clone()));
    }
    Ok(Expr::or(
        work.into_iter().map(|w| pred(w.pattern, positioned)),
    ))
}

/// A pattern change made by a positional modifier.
type Place = fn(Pattern) -> Pattern;

/// `contains`, `startswith`, `endswith`: the pattern change and the stars it may add.
fn positional(m: Modifier) -> Option<(Place, usize)> {
    match m {
        Modifier::Contains => Some((Pattern::contains, 2)),
        Modifier::StartsWith => Some((Pattern::startswith, 1)),
        Modifier::EndsWith => Some((Pattern::endswith, 1)),
        _ => None,
    }
}

/// The modifiers `lower_value`'s general loop rewrites or multiplies a value with (keep in
/// step with its arms): a value without any of them is one pattern.
fn encodes(m: Modifier) -> bool {
    matches!(
        m,
        Modifier::Base64
            | Modifier::Base64Offset
            | Modifier::Utf16le
            | Modifier::Wide
            | Modifier::Utf16be
            | Modifier::Utf16
            | Modifier::Windash
    )
}

fn keyword(pattern: Pattern, cased: bool) -> Expr {
    Expr::pred(Pred::Keyword { pattern, cased })
}
