//! Log source, field name and detection validators, and the condition analysis.

// foldhash (hashbrown's default) rather than SipHash: these maps sit on the per-rule path.
use std::borrow::Cow;

use hashbrown::{HashMap, HashSet};

use sigil_core::ast::{Detection, DetectionItem, LogSource, Rule, Search, Value, YamlPath};
use sigil_core::condition::{pattern_matches, Cond, Quantifier};
use sigil_core::ir::{Expr, Pred};
use sigil_core::modifiers::Modifier;
use sigil_core::RuleIr;

use crate::data;
use crate::Ctx;

fn ls_path(key: &str) -> YamlPath {
    YamlPath::of(&["logsource", key])
}

pub fn check_rule(ctx: &mut Ctx, rule: &Rule, ir: Option<&RuleIr>) {
    check_logsource(ctx, &rule.logsource);
    check_fields(ctx, rule);
    check_detection(ctx, &rule.detection, ir);
}

fn check_logsource(ctx: &mut Ctx, ls: &LogSource) {
    for (k, _) in &ls.custom {
        ctx.push(
            "logsource_custom_key",
            ls_path(k).at_key(),
            format!("log source key '{k}' is not one of category, product, service, definition"),
        )
        .help("describe the log source in `definition:` or use a custom top-level attribute");
    }
    for (k, v) in [
        ("category", &ls.category),
        ("product", &ls.product),
        ("service", &ls.service),
    ] {
        if let Some(v) = v {
            if v.chars().any(|c| c.is_uppercase() || c.is_whitespace()) {
                ctx.push(
                    "logsource_case",
                    ls_path(k),
                    format!("log source {k} '{v}' is not lower case without spaces"),
                )
                .help(format!("write '{}'", v.to_lowercase().replace(' ', "_")));
            }
        }
    }
    let data = data::logsources();
    let (cat, prod, svc) = (
        ls.category.as_deref(),
        ls.product.as_deref(),
        ls.service.as_deref(),
    );
    if cat.is_none() && prod.is_none() && svc.is_none() {
        return;
    }
    let Some(product) = data.product(prod) else {
        let p = prod.unwrap_or_default();
        let hint = data
            .products
            .keys()
            .filter(|k| *k != "empty")
            .map(|k| (sigil_core::edit_distance(p, k), k))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, k)| format!("did you mean '{k}'? "))
            .unwrap_or_default();
        ctx.push(
            "logsource_unknown",
            ls_path("product"),
            format!("unknown log source product '{p}'"),
        )
        .help(format!(
            "{hint}SigmaHQ logsource.json {} lists the known products",
            data.version
        ));
        return;
    };
    let cat_ok = cat.is_none_or(|c| product.category.contains_key(c));
    let svc_ok = svc.is_none_or(|s| product.service.contains_key(s));
    if cat_ok && svc_ok {
        return;
    }
    if prod.is_none() {
        // A category or service without its product: say which product(s) define it.
        let owners = data.products_with(cat, svc);
        if !owners.is_empty() {
            let (k, v) = match (svc, cat) {
                (Some(s), _) if !svc_ok => ("service", s),
                (_, Some(c)) => ("category", c),
                (Some(s), None) => ("service", s),
                (None, None) => return,
            };
            let f = ctx.push(
                "logsource_missing_product",
                ls_path(k).at_key(),
                format!("log source has `{k}: {v}` but no `product`"),
            );
            if owners.len() == 1 {
                f.help(format!("add `product: {}` next to `{k}: {v}`", owners[0]));
            } else {
                f.help(format!("add the product, one of: {}", owners.join(", ")));
            }
            return;
        }
    }
    let pname = prod.unwrap_or("(none)");
    let (k, v) = if !cat_ok {
        ("category", cat.unwrap_or_default())
    } else {
        ("service", svc.unwrap_or_default())
    };
    let table = if k == "category" {
        &product.category
    } else {
        &product.service
    };
    let mut known: Vec<&str> = table.keys().map(String::as_str).collect();
    known.sort();
    let hint = known
        .iter()
        .map(|x| (sigil_core::edit_distance(v, x), *x))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, x)| format!("did you mean '{x}'? "))
        .unwrap_or_default();
    let others = data.products_with(
        (k == "category").then_some(v),
        (k == "service").then_some(v),
    );
    let elsewhere = if others.is_empty() {
        String::new()
    } else {
        format!(" ('{v}' is a {k} of {})", others.join(", "))
    };
    ctx.push(
        "logsource_unknown",
        ls_path(k),
        format!("{k} '{v}' is not known for product {pname}{elsewhere}"),
    )
    .help(if known.is_empty() {
        format!("{hint}product {pname} has no {k} in SigmaHQ logsource.json")
    } else {
        format!("{hint}known: {}", known.join(", "))
    });
}

/// Every detection item of a detection, with its search name.
fn items(d: &Detection) -> Vec<(&str, &DetectionItem)> {
    fn walk<'a>(name: &'a str, s: &'a Search, out: &mut Vec<(&'a str, &'a DetectionItem)>) {
        match s {
            Search::AllOf(items) => out.extend(items.iter().map(|i| (name, i))),
            Search::AnyOf(v) => v.iter().for_each(|x| walk(name, x, out)),
            Search::Keywords(i) => out.push((name, i)),
        }
    }
    let mut out = vec![];
    for (name, s) in &d.searches {
        walk(name, s, &mut out);
    }
    out
}

fn key_path(item: &DetectionItem) -> YamlPath {
    item.path.clone().at_key()
}

fn value_path(item: &DetectionItem, i: usize) -> YamlPath {
    if item.is_list {
        item.path.index(i)
    } else {
        item.path.clone()
    }
}

fn check_fields(ctx: &mut Ctx, rule: &Rule) {
    let ls = &rule.logsource;
    let all = items(&rule.detection);
    for (_, item) in &all {
        if let Some(f) = &item.field {
            if f.contains(' ') {
                ctx.push(
                    "field_space",
                    key_path(item),
                    format!("field name '{f}' contains a space"),
                )
                .help("Sigma field names drop spaces: 'New Value' becomes 'NewValue'");
            }
        }
    }
    let product = ls.product.as_deref();
    let data = data::logsources();
    if let Some(allowed) = data.fields(product, ls.category.as_deref(), ls.service.as_deref()) {
        let mut reported = HashSet::new();
        for (_, item) in &all {
            let Some(f) = &item.field else { continue };
            if allowed.contains(f.as_str()) || !reported.insert(f.clone()) {
                continue;
            }
            let ci = allowed.iter().find(|a| a.eq_ignore_ascii_case(f));
            let near = ci.copied().or_else(|| {
                allowed
                    .iter()
                    .map(|a| (sigil_core::edit_distance(f, a), *a))
                    .filter(|(d, _)| *d <= 2)
                    .min()
                    .map(|(_, a)| a)
            });
            let source = rule.logsource.to_string();
            let fnd = ctx.push(
                "field_unknown",
                key_path(item),
                format!("field '{f}' is not a field of log source {source}"),
            );
            match near {
                Some(n) => fnd.help(format!("did you mean '{n}'?")),
                None => fnd.help(format!(
                    "SigmaHQ logsource.json {} lists the fields of each log source",
                    data.version
                )),
            };
        }
    }
    // Windows-specific checks on EventID.
    if product == Some("windows") {
        let event_ids: Vec<(&DetectionItem, i64)> = all
            .iter()
            .filter(|(_, i)| i.field.as_deref() == Some("EventID") && i.modifiers.is_empty())
            .flat_map(|(_, i)| {
                i.values.iter().filter_map(move |v| match v {
                    Value::Int(n) => Some((*i, *n)),
                    Value::Str(s) => s.parse().ok().map(|n| (*i, n)),
                    _ => None,
                })
            })
            .collect();
        let svc = ls.service.as_deref();
        if ls.category.is_none() {
            let mut done = HashSet::new();
            for (item, id) in &event_ids {
                let generic = match svc {
                    Some("sysmon") => sysmon_category(*id),
                    Some("security") if *id == 4688 => Some("process_creation"),
                    _ => None,
                };
                if let Some(c) = generic {
                    if done.insert(*id) {
                        ctx.push(
                            "specific_logsource",
                            key_path(item),
                            format!(
                                "EventID {id} of service {} has the generic log source `category: {c}`",
                                svc.unwrap_or_default()
                            ),
                        )
                        .help(format!(
                            "use `logsource: {{product: windows, category: {c}}}` so the rule works on any telemetry"
                        ));
                    }
                }
            }
            if svc == Some("sysmon")
                && !all
                    .iter()
                    .any(|(_, i)| i.field.as_deref() == Some("EventID"))
            {
                ctx.push(
                    "sysmon_missing_eventid",
                    YamlPath::of(&["detection"]).at_key(),
                    "a `service: sysmon` rule does not select an EventID".into(),
                );
            }
        } else if let Some((_, item)) = all
            .iter()
            .find(|(_, i)| matches!(i.field.as_deref(), Some("EventID") | Some("Provider_Name")))
        {
            ctx.push(
                "category_eventid",
                key_path(item),
                format!(
                    "category {} rule selects {}",
                    ls.category.as_deref().unwrap_or_default(),
                    item.field.as_deref().unwrap_or_default()
                ),
            )
            .help(
                "the category already implies the event; the pipeline adds EventID/Provider_Name",
            );
        }
    }
}

/// pySigma's `specific_to_generic_logsource_mapping` for Sysmon event ids.
fn sysmon_category(id: i64) -> Option<&'static str> {
    Some(match id {
        1 => "process_creation",
        2 => "file_change",
        3 => "network_connection",
        4 | 16 => "sysmon_status",
        5 => "process_termination",
        6 => "driver_load",
        7 => "image_load",
        8 => "create_remote_thread",
        9 => "raw_access_thread",
        10 => "process_access",
        11 => "file_event",
        12 | 14 => "registry_event",
        13 => "registry_set",
        15 => "create_stream_hash",
        17 | 18 => "pipe_created",
        19..=21 => "wmi_event",
        22 => "dns_query",
        23 => "file_delete",
        24 => "clipboard_change",
        25 => "process_tampering",
        26 => "file_delete_detected",
        27 => "file_block_executable",
        28 => "file_block_shredding",
        29 => "file_executable_detected",
        255 => "sysmon_error",
        _ => return None,
    })
}

pub fn check_detection(ctx: &mut Ctx, d: &Detection, ir: Option<&RuleIr>) {
    let all = items(d);
    for (_, item) in &all {
        check_item(ctx, item, ir.is_some());
    }
    // A search identifier written as a list of one map.
    for (name, s) in &d.searches {
        if let Search::AnyOf(v) = s {
            if v.len() == 1 && matches!(v[0], Search::AllOf(_)) {
                ctx.push(
                    "single_element_list",
                    YamlPath::of(&["detection", name]).index(0),
                    format!("search identifier '{name}' is a list holding a single map"),
                )
                .help("drop the '- ': a map needs no list around it");
            }
        }
    }
    check_conditions(ctx, d);
    if let Some(ir) = ir {
        for (expr, cond) in ir.conditions.iter().zip(&d.conditions) {
            if let Some(v) = constant(expr) {
                ctx.push(
                    "condition_constant",
                    cond.path.clone(),
                    format!(
                        "condition '{}' is always {}",
                        cond.text,
                        if v {
                            "true: it matches every event"
                        } else {
                            "false: it never matches"
                        }
                    ),
                )
                .help("a search is combined with its own negation, or a selection is empty");
            }
        }
    }
}

/// `compiled`: the rule lowered, so every `|re` value already compiled (no need to again).
fn check_item(ctx: &mut Ctx, item: &DetectionItem, compiled: bool) {
    let is_re = item.has(Modifier::Re);
    let field = item.field.as_deref().unwrap_or("keyword");
    if item.has(Modifier::All) && item.values.len() == 1 {
        ctx.push(
            "all_single_value",
            key_path(item),
            format!("`|all` on '{field}' has a single value"),
        )
        .help("remove `|all`: it only matters with several values");
    }
    if item.has(Modifier::Base64Offset) && !item.has(Modifier::Contains) {
        ctx.push(
            "base64offset_without_contains",
            key_path(item),
            format!("'{field}' uses `|base64offset` without `|contains`"),
        )
        .help("base64offset values are fragments: write `|base64offset|contains`");
    }
    if item.is_list && item.values.len() == 1 && item.field.is_some() {
        ctx.push(
            "single_element_list",
            value_path(item, 0),
            format!("'{field}' has a list with a single value"),
        )
        .help("write the value without the list");
    }
    // Duplicate values.
    // Encodings (base64, utf16...) make case significant: 'IEX' and 'iex' encode differently.
    let cased = item.has(Modifier::Cased)
        || is_re
        || item.modifiers.iter().any(|m| {
            matches!(
                m,
                Modifier::Base64
                    | Modifier::Base64Offset
                    | Modifier::Utf16
                    | Modifier::Utf16le
                    | Modifier::Utf16be
                    | Modifier::Wide
            )
        });
    // Values are compared as text, lower-cased unless `cased`; a number or boolean by its
    // text. Most items hold one value, most lists a handful: below 16 values each is
    // compared with the earlier ones (ASCII text without lower-casing it), above through
    // a map of keys. A repeat names the latest earlier occurrence.
    let n = item.values.len();
    if n > 1 {
        let keys: Vec<Cow<'_, str>> = if n < 16 {
            vec![]
        } else {
            item.values.iter().map(|v| dup_key(v, cased)).collect()
        };
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
        for (i, v) in item.values.iter().enumerate() {
            let first = match keys.get(i) {
                Some(k) => seen.insert(k, i),
                None => item.values[..i]
                    .iter()
                    .rposition(|w| same_value(w, v, cased)),
            };
            if let Some(first) = first {
                ctx.push(
                    "value_duplicate",
                    value_path(item, i),
                    format!("value {v} of '{field}' is listed twice"),
                )
                .help(format!("it is already value {} of the list", first + 1));
            }
        }
    }
    // Wildcards that a modifier would express.
    let plain = item.field.is_some()
        && item.modifiers.iter().all(|m| *m == Modifier::Cased)
        && !item.values.is_empty();
    if plain {
        let shapes: Option<Vec<&str>> = item
            .values
            .iter()
            .map(|v| match v {
                Value::Str(s) => wildcard_shape(s),
                _ => None,
            })
            .collect();
        if let Some(shapes) = shapes {
            if shapes.iter().all(|s| *s == shapes[0]) {
                let m = shapes[0];
                ctx.push(
                    "wildcards_instead_of_modifiers",
                    key_path(item),
                    format!("'{field}' values use wildcards where `|{m}` would say it"),
                )
                .help(format!(
                    "write `{field}|{m}:` and drop the leading/trailing '*'"
                ));
            }
        }
    }
    for (i, v) in item.values.iter().enumerate() {
        let Value::Str(s) = v else { continue };
        // Bytes below 0x20 are exactly the characters below U+0020 in UTF-8.
        if s.bytes().any(|b| b < 0x20) {
            let shown: String = s.escape_debug().collect();
            ctx.push(
                "control_character",
                value_path(item, i),
                format!("value \"{shown}\" of '{field}' contains a control character"),
            )
            .help("in a double-quoted YAML string a backslash starts an escape: use single quotes");
        }
        if is_re {
            check_regex(ctx, item, i, s, compiled);
            continue;
        }
        if has_double_wildcard(s) {
            ctx.push(
                "double_wildcard",
                value_path(item, i),
                format!("value '{s}' of '{field}' contains '**'"),
            )
            .help("one '*' matches any sequence");
        }
        if has_escaped_wildcard(s) {
            ctx.push(
                "escaped_wildcard",
                value_path(item, i),
                format!(
                    "value '{s}' of '{field}' contains an escaped wildcard (a literal '*' or '?')"
                ),
            );
        }
        if item.modifiers.is_empty()
            && item.field.is_some()
            && !s.is_empty()
            && s.len() < 19
            && s.bytes().all(|b| b.is_ascii_digit())
        {
            ctx.push(
                "number_as_string",
                value_path(item, i),
                format!("value '{s}' of '{field}' is a number written as a string"),
            )
            .help(format!("write {s} without quotes"));
        }
    }
}

/// Whether two values are the same for the duplicate check: `dup_key` equality, with ASCII
/// text compared in place.
fn same_value(a: &Value, b: &Value, cased: bool) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) if cased => x == y,
        (Value::Str(x), Value::Str(y)) if x.is_ascii() && y.is_ascii() => x.eq_ignore_ascii_case(y),
        _ => dup_key(a, cased) == dup_key(b, cased),
    }
}

/// A value as the duplicate check compares it (see `check_item`).
fn dup_key(v: &Value, cased: bool) -> Cow<'_, str> {
    match v {
        Value::Str(s) if cased || !s.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) => {
            Cow::Borrowed(s)
        }
        Value::Str(s) => Cow::Owned(s.to_lowercase()),
        other => Cow::Owned(other.to_string()),
    }
}

/// `contains` for `*x*`, `startswith` for `x*`, `endswith` for `*x` (no other wildcard).
fn wildcard_shape(s: &str) -> Option<&'static str> {
    let p = sigil_core::value::parse_sigma_string(s, false);
    match p.shape() {
        sigil_core::ir::Shape::Contains(_) => Some("contains"),
        sigil_core::ir::Shape::Prefix(_) => Some("startswith"),
        sigil_core::ir::Shape::Suffix(_) => Some("endswith"),
        _ => None,
    }
}

// These two look at ASCII bytes only: `*`, `?` and `\\` never occur inside a multi-byte
// UTF-8 sequence, and an escaped multi-byte character resets the state as its first
// byte does.
fn has_double_wildcard(s: &str) -> bool {
    let mut escaped = false;
    let mut prev_star = false;
    for b in s.bytes() {
        if escaped {
            escaped = false;
            prev_star = false;
            continue;
        }
        match b {
            b'\\' => {
                escaped = true;
                prev_star = false;
            }
            b'*' if prev_star => return true,
            b'*' => prev_star = true,
            _ => prev_star = false,
        }
    }
    false
}

fn has_escaped_wildcard(s: &str) -> bool {
    let mut escaped = false;
    for b in s.bytes() {
        if escaped {
            if b == b'*' || b == b'?' {
                return true;
            }
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        }
    }
    false
}

/// Escapes SigmaHQ allows in `|re` values (besides punctuation and digits).
const RE_ESCAPES: &str = "AbBdDfnrsStvwWZ";

fn check_regex(ctx: &mut Ctx, item: &DetectionItem, i: usize, s: &str, compiled: bool) {
    let field = item.field.as_deref().unwrap_or("keyword");
    let result = if compiled {
        Ok(())
    } else {
        regex::RegexBuilder::new(s)
            .size_limit(1 << 24)
            .build()
            .map(|_| ())
    };
    if let Err(e) = result {
        let msg = e.to_string();
        let last = msg
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        ctx.push(
            "regex_invalid",
            value_path(item, i),
            format!(
                "regular expression of '{field}' does not compile: {}",
                last.trim().trim_start_matches("error: ")
            ),
        )
        .help("Sigma regexes must work in every backend: no lookaround, backreferences or possessive quantifiers");
        return;
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            continue;
        }
        match chars.next() {
            Some(n) if n.is_ascii_alphabetic() && !RE_ESCAPES.contains(n) => {
                ctx.push(
                    "regex_escape",
                    value_path(item, i),
                    format!("regular expression of '{field}' uses the escape '\\{n}'"),
                )
                .help(format!(
                    "SigmaHQ allows only \\{} , digits and escaped punctuation in |re values",
                    RE_ESCAPES
                        .chars()
                        .map(String::from)
                        .collect::<Vec<_>>()
                        .join(" \\")
                ));
                return;
            }
            _ => {}
        }
    }
}

fn check_conditions(ctx: &mut Ctx, d: &Detection) {
    let names: Vec<&str> = d.searches.keys().map(String::as_str).collect();
    let mut used: HashSet<&str> = HashSet::new();
    for cond in &d.conditions {
        for (name, offset, is_pattern) in cond.tree.references() {
            if is_pattern {
                let matched: Vec<&str> = names
                    .iter()
                    .copied()
                    .filter(|n| pattern_matches(name, n))
                    .collect();
                used.extend(matched.iter().copied());
                if matched.len() == 1 {
                    let f = ctx.push(
                        "of_single_search",
                        cond.path.clone(),
                        format!(
                            "'of {name}' matches only the search identifier '{}'",
                            matched[0]
                        ),
                    );
                    f.offset = Some(offset);
                    f.help(format!("write '{}' directly", matched[0]));
                }
                if name != "them" && !name.contains('*') {
                    let f = ctx.push(
                        "of_without_wildcard",
                        cond.path.clone(),
                        format!("'of {name}' uses a pattern without '*'"),
                    );
                    f.offset = Some(offset);
                }
            } else {
                used.insert(name);
            }
        }
        all_of_them(ctx, &cond.tree, &cond.path);
    }
    for n in names {
        if !used.contains(n) {
            ctx.push(
                "search_unused",
                YamlPath::of(&["detection", n]).at_key(),
                format!("search identifier '{n}' is not used by any condition"),
            )
            .help("use it in the condition or remove it");
        }
    }
}

fn all_of_them(ctx: &mut Ctx, c: &Cond, path: &YamlPath) {
    match c {
        Cond::Of {
            quantifier: Quantifier::All,
            pattern,
            offset,
        } if pattern == "them" => {
            let f = ctx.push(
                "all_of_them",
                path.clone(),
                "the condition uses 'all of them'".into(),
            );
            f.offset = Some(*offset);
            f.help("name the searches (or use 'all of selection_*'), so adding a filter later does not change the meaning");
        }
        Cond::Not(x) => all_of_them(ctx, x, path),
        Cond::And(v) | Cond::Or(v) => v.iter().for_each(|x| all_of_them(ctx, x, path)),
        _ => {}
    }
}

/// Most distinct predicates for which the truth table is enumerated.
const MAX_ATOMS: usize = 10;
/// Most node evaluations spent on one condition's truth table.
const MAX_WORK: usize = 1 << 16;

/// A condition with its predicates replaced by atom indices (`neg`: `exists(f)` is the
/// negation of the atom `f is null`).
enum Bool {
    Const(bool),
    And(Vec<Bool>),
    Or(Vec<Bool>),
    Not(Box<Bool>),
    Atom { index: usize, neg: bool },
}

/// A predicate as an atom of the truth table: `exists(f)` and `f is null` share one.
/// Compared structurally (printing each predicate to compare it was most of a corpus check).
#[derive(PartialEq)]
enum AtomKey<'e> {
    NullOf(&'e str),
    Pred(&'e Pred),
}

/// The distinct atoms of a formula, each with a hash of its text so that a new atom is
/// compared in full only with those of equal hash (a condition over a long value list
/// has hundreds of predicates, each compared with every earlier one).
#[derive(Default)]
struct Atoms<'e> {
    keys: Vec<AtomKey<'e>>,
    hashes: Vec<u64>,
}

impl<'e> Atoms<'e> {
    fn len(&self) -> usize {
        self.keys.len()
    }

    fn index(&mut self, key: AtomKey<'e>) -> Option<usize> {
        let h = key.hash();
        let found = (0..self.keys.len()).find(|&i| self.hashes[i] == h && self.keys[i] == key);
        match found {
            Some(i) => Some(i),
            None if self.keys.len() < MAX_ATOMS => {
                self.keys.push(key);
                self.hashes.push(h);
                Some(self.keys.len() - 1)
            }
            None => None,
        }
    }
}

impl AtomKey<'_> {
    /// FNV-1a over the field and the pattern; other predicates hash by kind only (equal
    /// keys hash alike, which is all the lookup needs).
    fn hash(&self) -> u64 {
        fn mix(h: &mut u64, bytes: &[u8]) {
            for &b in bytes {
                *h = (*h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            *h = (*h ^ 0xff).wrapping_mul(0x0100_0000_01b3);
        }
        let mut h = 0xcbf2_9ce4_8422_2325;
        let pattern = |h: &mut u64, p: &sigil_core::ir::Pattern| {
            for piece in p.pieces() {
                match piece {
                    sigil_core::ir::Piece::Lit(s) => mix(h, s.as_bytes()),
                    sigil_core::ir::Piece::Star => mix(h, b"*"),
                    sigil_core::ir::Piece::Question => mix(h, b"?"),
                    sigil_core::ir::Piece::Placeholder(s) => mix(h, s.as_bytes()),
                }
            }
        };
        match self {
            AtomKey::NullOf(f) => {
                mix(&mut h, b"null");
                mix(&mut h, f.as_bytes());
            }
            AtomKey::Pred(Pred::Str {
                field, pattern: p, ..
            }) => {
                mix(&mut h, b"str");
                mix(&mut h, field.as_bytes());
                pattern(&mut h, p);
            }
            AtomKey::Pred(Pred::Keyword { pattern: p, .. }) => {
                mix(&mut h, b"keyword");
                pattern(&mut h, p);
            }
            AtomKey::Pred(_) => mix(&mut h, b"other"),
        }
        h
    }
}

fn to_bool<'e>(e: &'e Expr, atoms: &mut Atoms<'e>) -> Option<Bool> {
    Some(match e {
        Expr::Const(b) => Bool::Const(*b),
        Expr::And(v) => Bool::And(v.iter().map(|x| to_bool(x, atoms)).collect::<Option<_>>()?),
        Expr::Or(v) => Bool::Or(v.iter().map(|x| to_bool(x, atoms)).collect::<Option<_>>()?),
        Expr::Not(x) => Bool::Not(Box::new(to_bool(x, atoms)?)),
        Expr::Pred(p) => {
            let (key, neg) = atom_key(p);
            let index = atoms.index(key)?;
            Bool::Atom { index, neg }
        }
    })
}

/// Whether an expression is constant: folded by lowering, structurally (`x and not x`), or
/// over all assignments of its predicates when there are few (predicates are treated as
/// independent, so a constant found here is constant for every event; `exists(f)` is
/// treated as `not (f is null)`).
pub fn constant(e: &Expr) -> Option<bool> {
    if let Expr::Const(b) = e {
        return Some(*b);
    }
    let nodes = e.leaf_count() * 2;
    if nodes > MAX_WORK {
        return structural(e);
    }
    let mut atoms = Atoms::default();
    let Some(b) = to_bool(e, &mut atoms) else {
        return structural(e);
    };
    if (1usize << atoms.len()) * nodes > MAX_WORK {
        return structural(e);
    }
    if b.atom_count() == atoms.len() {
        // Each atom once (most conditions): subtrees share no atom, so which values each
        // can take follows from its children's, as the truth table would find.
        let (can_true, can_false) = b.possible();
        return (can_true != can_false).then_some(can_true);
    }
    truth_table(&b, atoms.len())
}

fn truth_table(b: &Bool, atoms: usize) -> Option<bool> {
    let (mut any_true, mut any_false) = (false, false);
    for bits in 0u32..(1 << atoms) {
        if eval(b, bits) {
            any_true = true;
        } else {
            any_false = true;
        }
        if any_true && any_false {
            return None;
        }
    }
    Some(any_true)
}

fn atom_key(p: &Pred) -> (AtomKey<'_>, bool) {
    match p {
        Pred::Exists { field } => (AtomKey::NullOf(field), true),
        Pred::Null { field } => (AtomKey::NullOf(field), false),
        other => (AtomKey::Pred(other), false),
    }
}

impl Bool {
    fn atom_count(&self) -> usize {
        match self {
            Bool::Const(_) => 0,
            Bool::And(v) | Bool::Or(v) => v.iter().map(Bool::atom_count).sum(),
            Bool::Not(x) => x.atom_count(),
            Bool::Atom { .. } => 1,
        }
    }

    /// (can be true, can be false) over all assignments, exact when no atom occurs twice.
    fn possible(&self) -> (bool, bool) {
        match self {
            Bool::Const(b) => (*b, !*b),
            Bool::And(v) => v.iter().fold((true, false), |(t, f), x| {
                let (xt, xf) = x.possible();
                (t && xt, f || xf)
            }),
            Bool::Or(v) => v.iter().fold((false, true), |(t, f), x| {
                let (xt, xf) = x.possible();
                (t || xt, f && xf)
            }),
            Bool::Not(x) => {
                let (t, f) = x.possible();
                (f, t)
            }
            Bool::Atom { .. } => (true, true),
        }
    }
}

fn eval(e: &Bool, bits: u32) -> bool {
    match e {
        Bool::Const(b) => *b,
        Bool::And(v) => v.iter().all(|x| eval(x, bits)),
        Bool::Or(v) => v.iter().any(|x| eval(x, bits)),
        Bool::Not(x) => !eval(x, bits),
        Bool::Atom { index, neg } => ((bits >> index) & 1 == 1) != *neg,
    }
}

/// `x and not x` → false, `x or not x` → true, anywhere in the tree (for large trees).
fn structural(e: &Expr) -> Option<bool> {
    match e {
        Expr::Const(b) => Some(*b),
        Expr::Pred(_) => None,
        Expr::Not(x) => structural(x).map(|b| !b),
        Expr::And(v) | Expr::Or(v) => {
            let is_and = matches!(e, Expr::And(_));
            let sub: Vec<Option<bool>> = v.iter().map(structural).collect();
            if is_and && sub.contains(&Some(false)) {
                return Some(false);
            }
            if !is_and && sub.contains(&Some(true)) {
                return Some(true);
            }
            for a in v {
                if let Expr::Not(inner) = a {
                    if v.iter().any(|b| b == inner.as_ref()) {
                        return Some(!is_and);
                    }
                }
            }
            if sub.iter().all(|s| *s == Some(is_and)) {
                return Some(is_and);
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_core::ir::Pattern;

    fn p(f: &str, v: &str) -> Expr {
        Expr::pred(Pred::Str {
            field: f.into(),
            pattern: Pattern::literal(v),
            cased: false,
        })
    }

    /// On formulas where no atom occurs twice, `possible` says what the truth table says.
    #[test]
    fn read_once_shortcut_agrees_with_truth_table() {
        // A small deterministic generator: trees of depth <= 4 over fresh atoms and constants.
        fn gen(seed: &mut u64, depth: u32, next_atom: &mut usize) -> Bool {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (*seed >> 33) % 7;
            if depth == 0 || r < 2 || *next_atom >= 8 {
                return if r == 0 && depth > 0 {
                    Bool::Const((*seed >> 40) & 1 == 1)
                } else {
                    *next_atom += 1;
                    Bool::Atom {
                        index: *next_atom - 1,
                        neg: (*seed >> 41) & 1 == 1,
                    }
                };
            }
            let width = ((*seed >> 45) % 4) as usize;
            let kids = |seed: &mut u64, next: &mut usize| -> Vec<Bool> {
                (0..width).map(|_| gen(seed, depth - 1, next)).collect()
            };
            match r {
                2 => Bool::Not(Box::new(gen(seed, depth - 1, next_atom))),
                3 | 4 => Bool::And(kids(seed, next_atom)),
                _ => Bool::Or(kids(seed, next_atom)),
            }
        }
        let mut seed = 7u64;
        let mut constants = 0;
        for _ in 0..20_000 {
            let mut n = 0;
            let b = gen(&mut seed, 4, &mut n);
            assert_eq!(b.atom_count(), n);
            let (t, f) = b.possible();
            let shortcut = (t != f).then_some(t);
            assert_eq!(shortcut, truth_table(&b, n));
            constants += usize::from(shortcut.is_some());
        }
        assert!(constants > 100, "{constants} constant formulas generated");
    }

    #[test]
    fn constant_conditions() {
        let a = p("a", "1");
        let b = p("b", "2");
        assert_eq!(
            constant(&Expr::and([a.clone(), Expr::not(a.clone())])),
            Some(false)
        );
        assert_eq!(
            constant(&Expr::or([a.clone(), Expr::not(a.clone())])),
            Some(true)
        );
        assert_eq!(constant(&Expr::and([a.clone(), b.clone()])), None);
        let null = Expr::pred(Pred::Null { field: "x".into() });
        let exists = Expr::pred(Pred::Exists { field: "x".into() });
        assert_eq!(constant(&Expr::and([null, exists])), Some(false));
        // Large trees: structural only.
        let many: Vec<Expr> = (0..20).map(|i| p("f", &i.to_string())).collect();
        let big = Expr::or(many);
        assert_eq!(constant(&big), None);
        assert_eq!(
            constant(&Expr::and([big.clone(), Expr::not(big)])),
            Some(false)
        );
    }
}
