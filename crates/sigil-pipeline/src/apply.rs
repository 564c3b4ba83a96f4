//! Applying processing items to the IR.
//!
//! A "detection item" of pySigma is a leaf [`Pred`] here. While a pipeline runs, every
//! condition is held as a [`Node`] tree whose leaves remember which processing items
//! touched them (for `processing_item_applied` conditions) and which of their fields came
//! out of a field mapping (for `strict_field_mapping_failure`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value as J;
use sigil_core::ast::LogSource;
use sigil_core::ir::{CmpOp as IrCmp, Number, Pattern, Piece, Pred, RegexFlags};
use sigil_core::value::parse_sigma_string;
use sigil_core::{Expr, RuleIr, RuleMeta};

use crate::model::*;

/// Upper bound on the predicates one placeholder or mapping expansion may produce.
pub const MAX_EXPANSION: usize = 10_000;

#[derive(Clone, Debug)]
pub(crate) struct Leaf {
    pub pred: Pred,
    /// Ids of the processing items that changed this leaf.
    pub applied: Vec<String>,
    /// Field names that came out of a field mapping.
    pub mapped: Vec<String>,
}

impl Leaf {
    fn new(pred: Pred) -> Leaf {
        Leaf {
            pred,
            applied: vec![],
            mapped: vec![],
        }
    }
    fn mark(&mut self, id: &Option<String>) {
        if let Some(id) = id {
            if !self.applied.contains(id) {
                self.applied.push(id.clone());
            }
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Const(bool),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Leaf(Leaf),
}

impl Node {
    pub fn from_expr(e: Expr) -> Node {
        match e {
            Expr::Const(b) => Node::Const(b),
            Expr::And(v) => Node::And(v.into_iter().map(Node::from_expr).collect()),
            Expr::Or(v) => Node::Or(v.into_iter().map(Node::from_expr).collect()),
            Expr::Not(x) => Node::Not(Box::new(Node::from_expr(*x))),
            Expr::Pred(p) => Node::Leaf(Leaf::new(p)),
        }
    }

    pub fn into_expr(self) -> Expr {
        match self {
            Node::Const(b) => Expr::Const(b),
            Node::And(v) => Expr::and(v.into_iter().map(Node::into_expr)),
            Node::Or(v) => Expr::or(v.into_iter().map(Node::into_expr)),
            Node::Not(x) => Expr::not(x.into_expr()),
            Node::Leaf(l) => Expr::Pred(l.pred),
        }
    }

    fn leaves<'a>(&'a self, out: &mut Vec<&'a Leaf>) {
        match self {
            Node::Const(_) => {}
            Node::And(v) | Node::Or(v) => v.iter().for_each(|n| n.leaves(out)),
            Node::Not(x) => x.leaves(out),
            Node::Leaf(l) => out.push(l),
        }
    }

    /// Rewrite every leaf; `None` drops it (an AND or OR left empty is dropped too).
    fn rewrite(
        self,
        f: &mut dyn FnMut(Leaf) -> Result<Option<Node>, String>,
    ) -> Result<Option<Node>, String> {
        Ok(match self {
            Node::Const(b) => Some(Node::Const(b)),
            Node::And(v) | Node::Or(v) if v.is_empty() => None,
            Node::And(v) => {
                let mut kids = vec![];
                for n in v {
                    if let Some(k) = n.rewrite(f)? {
                        kids.push(k);
                    }
                }
                (!kids.is_empty()).then_some(Node::And(kids))
            }
            Node::Or(v) => {
                let mut kids = vec![];
                for n in v {
                    if let Some(k) = n.rewrite(f)? {
                        kids.push(k);
                    }
                }
                (!kids.is_empty()).then_some(Node::Or(kids))
            }
            Node::Not(x) => x.rewrite(f)?.map(|k| Node::Not(Box::new(k))),
            Node::Leaf(l) => f(l)?,
        })
    }
}

/// Per-rule pipeline state: which items applied, and `set_state` values.
#[derive(Clone, Debug, Default)]
pub(crate) struct RState {
    pub applied: HashSet<String>,
    pub state: HashMap<String, J>,
    /// Field name -> ids of the items that produced it (pySigma's `field_name_applied_ids`).
    pub field_ids: HashMap<String, Vec<String>>,
}

impl RState {
    fn record_field(&mut self, field: &str, id: &Option<String>) {
        if let Some(id) = id {
            let v = self.field_ids.entry(field.to_string()).or_default();
            if !v.contains(id) {
                v.push(id.clone());
            }
        }
    }
}

/// A rule being processed.
pub(crate) struct Work {
    pub meta: Arc<RuleMeta>,
    pub logsource: LogSource,
    pub conditions: Vec<Node>,
    pub fields: Vec<String>,
    pub state: RState,
}

impl Work {
    /// A copy of `rule` to transform, starting from `state`.
    pub fn from_rule(rule: &RuleIr, state: RState) -> Work {
        Work {
            meta: rule.meta.clone(),
            logsource: rule.logsource.clone(),
            conditions: rule
                .conditions
                .iter()
                .cloned()
                .map(Node::from_expr)
                .collect(),
            fields: rule.fields.clone(),
            state,
        }
    }
}

/// What rule conditions can see of a correlation rule.
pub(crate) struct CorrView<'a> {
    pub meta: &'a RuleMeta,
    /// Log sources of the rules it refers to (before processing).
    pub logsources: Vec<LogSource>,
}

pub(crate) enum Subject<'a> {
    Rule(&'a Work),
    Corr(&'a CorrView<'a>, &'a RState),
}

impl Subject<'_> {
    fn meta(&self) -> &RuleMeta {
        match self {
            Subject::Rule(w) => &w.meta,
            Subject::Corr(c, _) => c.meta,
        }
    }
    fn state(&self) -> &RState {
        match self {
            Subject::Rule(w) => &w.state,
            Subject::Corr(_, s) => s,
        }
    }
}

// ---------------------------------------------------------------- conditions

fn state_holds(state: &RState, key: &str, val: &J, op: CmpOp) -> bool {
    let Some(cur) = state.state.get(key) else {
        return op == CmpOp::Ne;
    };
    match op {
        CmpOp::Eq => cur == val,
        CmpOp::Ne => cur != val,
        _ => match (cur.as_f64(), val.as_f64()) {
            (Some(a), Some(b)) => ordered(a.partial_cmp(&b), op),
            _ => false,
        },
    }
}

fn ordered(o: Option<std::cmp::Ordering>, op: CmpOp) -> bool {
    use std::cmp::Ordering::*;
    match (o, op) {
        (Some(o), CmpOp::Eq) => o == Equal,
        (Some(o), CmpOp::Ne) => o != Equal,
        (Some(o), CmpOp::Gt) => o == Greater,
        (Some(o), CmpOp::Gte) => o != Less,
        (Some(o), CmpOp::Lt) => o == Less,
        (Some(o), CmpOp::Lte) => o != Greater,
        _ => false,
    }
}

/// Does the leaf hold this value (a string in Sigma notation, a number, a boolean, null)?
fn leaf_has_value(p: &Pred, v: &J) -> bool {
    match (p, v) {
        (Pred::Str { pattern, .. } | Pred::Keyword { pattern, .. }, J::String(s)) => {
            *pattern == parse_sigma_string(s, false)
        }
        (
            Pred::Num {
                op: IrCmp::Eq,
                value,
                part: None,
                ..
            },
            J::Number(n),
        ) => n.as_f64() == Some(value.as_f64()),
        (Pred::Bool { value, .. }, J::Bool(b)) => value == b,
        (Pred::Null { .. }, J::Null) => true,
        _ => false,
    }
}

fn attr_value(meta: &RuleMeta, attr: &str) -> Option<J> {
    Some(match attr {
        "title" => J::String(meta.title.clone()),
        "id" => J::String(meta.id?.to_string()),
        "name" => J::String(meta.name.clone()?),
        "status" => J::String(meta.status?.name().into()),
        "level" => J::String(meta.level?.name().into()),
        "description" => J::String(meta.description.clone()?),
        "author" => J::String(meta.author.clone()?),
        "license" => J::String(meta.license.clone()?),
        "taxonomy" => J::String(meta.taxonomy.clone()?),
        "date" => J::String(meta.date?.to_string()),
        "modified" => J::String(meta.modified?.to_string()),
        "source" => J::String(meta.source.path.to_string()),
        "tags" => J::Array(meta.tags.iter().map(|t| J::String(t.to_string())).collect()),
        "references" => J::Array(meta.references.iter().cloned().map(J::String).collect()),
        "falsepositives" => J::Array(meta.falsepositives.iter().cloned().map(J::String).collect()),
        other => meta.custom.get(other)?.clone(),
    })
}

fn rank(attr: &str, s: &str) -> Option<f64> {
    use sigil_core::ast::{Level, Status};
    match attr {
        "level" => Level::ALL
            .iter()
            .position(|l| l.name() == s)
            .map(|i| i as f64),
        "status" => Status::ALL
            .iter()
            .position(|l| l.name() == s)
            .map(|i| i as f64),
        _ => None,
    }
}

fn attribute_holds(meta: &RuleMeta, attr: &str, want: &J, op: CmpOp) -> bool {
    let Some(have) = attr_value(meta, attr) else {
        return matches!(op, CmpOp::Ne | CmpOp::NotIn);
    };
    let text = |j: &J| match j {
        J::String(s) => Some(s.to_lowercase()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match op {
        CmpOp::In | CmpOp::NotIn => {
            let found = match &have {
                J::Array(items) => items.iter().any(|i| text(i) == text(want)),
                other => match want {
                    J::Array(w) => w.iter().any(|i| text(i) == text(other)),
                    _ => false,
                },
            };
            found == (op == CmpOp::In)
        }
        CmpOp::Eq | CmpOp::Ne => {
            let eq = match (&have, want) {
                (J::Array(a), J::Array(b)) => a == b,
                (a, b) => text(a).is_some() && text(a) == text(b),
            };
            eq == (op == CmpOp::Eq)
        }
        _ => {
            let (Some(a), Some(b)) = (text(&have), text(want)) else {
                return false;
            };
            let ord = match (rank(attr, &a), rank(attr, &b)) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                _ => match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(x), Ok(y)) => x.partial_cmp(&y),
                    // ISO dates compare as text.
                    _ => Some(a.cmp(&b)),
                },
            };
            ordered(ord, op)
        }
    }
}

pub(crate) fn rule_cond_holds(c: &RuleCond, s: &Subject) -> bool {
    match c {
        RuleCond::Logsource {
            category,
            product,
            service,
        } => {
            let want = LogSource {
                category: category.clone(),
                product: product.clone(),
                service: service.clone(),
                ..Default::default()
            };
            match s {
                Subject::Rule(w) => w.logsource.is_within(&want),
                Subject::Corr(c, _) => c.logsources.iter().any(|l| l.is_within(&want)),
            }
        }
        RuleCond::ContainsItem { field, value } => match s {
            Subject::Rule(w) => all_leaves(w)
                .iter()
                .any(|l| l.pred.field() == field.as_deref() && leaf_has_value(&l.pred, value)),
            Subject::Corr(..) => false,
        },
        RuleCond::ContainsField(f) => match s {
            Subject::Rule(w) => all_leaves(w)
                .iter()
                .any(|l| l.pred.field() == Some(f.as_str())),
            Subject::Corr(..) => false,
        },
        RuleCond::Applied(id) => s.state().applied.contains(id),
        RuleCond::State { key, val, op } => state_holds(s.state(), key, val, *op),
        RuleCond::IsRule => matches!(s, Subject::Rule(_)),
        RuleCond::IsCorrelation => matches!(s, Subject::Corr(..)),
        RuleCond::Attribute { attr, value, op } => attribute_holds(s.meta(), attr, value, *op),
        RuleCond::Tag(t) => s
            .meta()
            .tags
            .iter()
            .any(|x| x.to_string().eq_ignore_ascii_case(t)),
    }
}

fn all_leaves(w: &Work) -> Vec<&Leaf> {
    let mut v = vec![];
    for c in &w.conditions {
        c.leaves(&mut v);
    }
    v
}

fn item_cond_holds(c: &ItemCond, l: &Leaf, st: &RState) -> bool {
    match c {
        ItemCond::MatchString { re, negate } => {
            let m = match &l.pred {
                Pred::Str { pattern, .. } | Pred::Keyword { pattern, .. } => {
                    re.is_match(&pattern.to_string())
                }
                _ => false,
            };
            m != *negate
        }
        ItemCond::MatchValue(v) => leaf_has_value(&l.pred, v),
        ItemCond::ContainsWildcard => match &l.pred {
            Pred::Str { pattern, .. } | Pred::Keyword { pattern, .. } => pattern.has_wildcards(),
            _ => false,
        },
        ItemCond::IsNull => matches!(l.pred, Pred::Null { .. }),
        ItemCond::Applied(id) => l.applied.contains(id),
        ItemCond::State { key, val, op } => state_holds(st, key, val, *op),
    }
}

pub(crate) fn field_cond_holds(c: &FieldCond, field: Option<&str>, st: &RState) -> bool {
    match c {
        FieldCond::Include(sel) => sel.matches(field),
        FieldCond::Exclude(sel) => !sel.matches(field),
        FieldCond::Applied(id) => {
            field.is_some_and(|f| st.field_ids.get(f).is_some_and(|v| v.contains(id)))
        }
        FieldCond::State { key, val, op } => state_holds(st, key, val, *op),
    }
}

fn field_ok(item: &Item, field: Option<&str>, st: &RState) -> bool {
    item.field_conds.eval(|c| field_cond_holds(c, field, st))
}

/// Item and field conditions for a value transformation of this leaf.
fn leaf_selected(item: &Item, l: &Leaf, st: &RState) -> bool {
    item.item_conds.eval(|c| item_cond_holds(c, l, st)) && field_ok(item, l.pred.field(), st)
}

// ---------------------------------------------------------------- transformations

pub(crate) struct Ctx<'a> {
    pub vars: &'a IndexMap<String, Vec<J>>,
}

/// Apply one processing item to a rule. Returns whether it applied (rule conditions held).
pub(crate) fn apply_item(item: &Item, w: &mut Work, ctx: &Ctx) -> Result<bool, String> {
    if !item
        .rule_conds
        .eval(|c| rule_cond_holds(c, &Subject::Rule(w)))
    {
        return Ok(false);
    }
    let id = &item.id;
    match &item.t {
        Transform::FieldMap(_)
        | Transform::FieldPrefixMap(_)
        | Transform::FieldPrefix(_)
        | Transform::FieldSuffix(_) => {
            let lookup = |f: &str| field_targets(&item.t, f);
            let st = w.state.clone();
            let keyword_targets = match &item.t {
                Transform::FieldMap(m) => {
                    m.iter().find(|(k, _)| k.is_none()).map(|(_, v)| v.clone())
                }
                _ => None,
            };
            let mut produced: Vec<String> = vec![];
            rewrite_all(w, &mut |l| {
                if let (Pred::Keyword { pattern, cased }, Some(ts)) = (&l.pred, &keyword_targets) {
                    if !item.item_conds.eval(|c| item_cond_holds(c, &l, &st))
                        || !field_ok(item, None, &st)
                    {
                        return Ok(Some(Node::Leaf(l)));
                    }
                    let (pattern, cased) = (pattern.clone(), *cased);
                    let alts = ts
                        .iter()
                        .map(|t| {
                            let mut n = l.clone();
                            n.pred = Pred::Str {
                                field: t.clone(),
                                pattern: pattern.clone(),
                                cased,
                            };
                            n.mapped.push(t.clone());
                            n.mark(id);
                            produced.push(t.clone());
                            Node::Leaf(n)
                        })
                        .collect::<Vec<_>>();
                    return Ok(Some(one_or_or(alts)));
                }
                if !item.item_conds.eval(|c| item_cond_holds(c, &l, &st)) {
                    return Ok(Some(Node::Leaf(l)));
                }
                let names = pred_fields(&l.pred);
                let mut per_field: Vec<Vec<String>> = vec![];
                let mut changed = false;
                for f in &names {
                    match lookup(f) {
                        Some(ts) if field_ok(item, Some(f), &st) => {
                            changed = true;
                            per_field.push(ts);
                        }
                        _ => per_field.push(vec![f.clone()]),
                    }
                }
                if !changed {
                    return Ok(Some(Node::Leaf(l)));
                }
                let combos = cartesian(&per_field)?;
                let mut alts = vec![];
                for combo in combos {
                    let mut n = l.clone();
                    for (slot, new) in n.pred.fields_mut().into_iter().zip(&combo) {
                        *slot = new.clone();
                    }
                    for (old, new) in names.iter().zip(&combo) {
                        if lookup(old).is_some() && !n.mapped.contains(new) {
                            n.mapped.push(new.clone());
                        }
                    }
                    n.mark(id);
                    for (old, new) in names.iter().zip(&combo) {
                        if lookup(old).is_some() {
                            produced.push(new.clone());
                        }
                    }
                    alts.push(Node::Leaf(n));
                }
                Ok(Some(one_or_or(alts)))
            })?;
            // The `fields` list has no detection items: items that select detection items
            // leave it alone.
            let map_fields = item.item_conds.is_empty();
            let mut fields = vec![];
            for f in std::mem::take(&mut w.fields) {
                match lookup(&f) {
                    Some(ts) if map_fields && field_ok(item, Some(&f), &w.state) => {
                        produced.extend(ts.iter().cloned());
                        for t in ts {
                            if !fields.contains(&t) {
                                fields.push(t);
                            }
                        }
                    }
                    _ => {
                        if !fields.contains(&f) {
                            fields.push(f)
                        }
                    }
                }
            }
            w.fields = fields;
            for f in produced {
                w.state.record_field(&f, id);
            }
        }
        Transform::DropItem => {
            let st = w.state.clone();
            rewrite_all(w, &mut |l| {
                Ok(if leaf_selected(item, &l, &st) {
                    None
                } else {
                    Some(Node::Leaf(l))
                })
            })?;
        }
        Transform::ItemFailure(msg) => {
            let st = w.state.clone();
            if all_leaves(w).iter().any(|l| leaf_selected(item, l, &st)) {
                return Err(msg.clone());
            }
        }
        Transform::StrictFieldMapping => {
            let mut missing = vec![];
            for l in all_leaves(w) {
                for f in pred_fields(&l.pred) {
                    if !l.mapped.contains(&f)
                        && field_ok(item, Some(&f), &w.state)
                        && !missing.contains(&f)
                    {
                        missing.push(f.clone());
                    }
                }
            }
            if !missing.is_empty() {
                return Err(format!(
                    "no field mapping for field{} {}",
                    if missing.len() > 1 { "s" } else { "" },
                    missing
                        .iter()
                        .map(|f| format!("'{f}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Transform::HashesFields { .. }
        | Transform::ReplaceString { .. }
        | Transform::MapString(_)
        | Transform::Regex(_)
        | Transform::SetValue(_)
        | Transform::ConvertType { .. }
        | Transform::Case(_)
        | Transform::WildcardPlaceholders(_)
        | Transform::ValuePlaceholders(_)
        | Transform::QueryExpressionPlaceholders(_) => {
            let st = w.state.clone();
            rewrite_all(w, &mut |l| {
                if !leaf_selected(item, &l, &st) {
                    return Ok(Some(Node::Leaf(l)));
                }
                let before = l.pred.clone();
                let out = value_transform(&item.t, &l.pred, ctx)?;
                Ok(Some(match out {
                    None => Node::Leaf(l),
                    Some(preds) => {
                        let alts: Vec<Node> = preds
                            .into_iter()
                            .map(|p| {
                                let mut n = l.clone();
                                if p != before {
                                    n.mark(id);
                                }
                                n.pred = p;
                                Node::Leaf(n)
                            })
                            .collect();
                        one_or_or(alts)
                    }
                }))
            })?;
        }
        Transform::AddCondition {
            conditions,
            lowered,
            template,
            negated,
        } => {
            let expr = match (lowered, template) {
                (Some(e), _) => e.clone(),
                (None, _) => {
                    let subst = substitute_template(conditions, &w.logsource)?;
                    lower_conditions(&subst)?
                }
            };
            let mut node = Node::from_expr(expr);
            mark_all(&mut node, id);
            if *negated {
                node = Node::Not(Box::new(node));
            }
            for c in &mut w.conditions {
                let old = std::mem::replace(c, Node::Const(true));
                *c = Node::And(vec![node.clone(), old]);
            }
        }
        Transform::ChangeLogsource {
            category,
            product,
            service,
        } => {
            w.logsource = LogSource {
                category: category.clone(),
                product: product.clone(),
                service: service.clone(),
                ..Default::default()
            };
        }
        Transform::SetCustomAttribute { attr, value } => {
            Arc::make_mut(&mut w.meta)
                .custom
                .insert(attr.clone(), value.clone());
        }
        Transform::SetState { key, val } => {
            w.state.state.insert(key.clone(), val.clone());
        }
        Transform::RuleFailure(msg) => return Err(msg.clone()),
        Transform::AddField(fs) => {
            for f in fs {
                if !w.fields.contains(f) {
                    w.fields.push(f.clone());
                }
            }
        }
        Transform::RemoveField(fs) => w.fields.retain(|f| !fs.contains(f)),
        Transform::SetField(fs) => w.fields = fs.clone(),
        Transform::Nest(items) => {
            for sub in items {
                apply_item(sub, w, ctx)?;
            }
        }
    }
    if let Some(id) = id {
        w.state.applied.insert(id.clone());
    }
    Ok(true)
}

fn mark_all(n: &mut Node, id: &Option<String>) {
    match n {
        Node::Const(_) => {}
        Node::And(v) | Node::Or(v) => v.iter_mut().for_each(|x| mark_all(x, id)),
        Node::Not(x) => mark_all(x, id),
        Node::Leaf(l) => l.mark(id),
    }
}

/// The field names a predicate reads (two for a fieldref).
fn pred_fields(p: &Pred) -> Vec<String> {
    match p {
        Pred::FieldRef { field, other, .. } => vec![field.clone(), other.clone()],
        other => other.field().map(str::to_string).into_iter().collect(),
    }
}

fn one_or_or(mut alts: Vec<Node>) -> Node {
    if alts.len() == 1 {
        alts.pop().unwrap_or(Node::Const(false))
    } else {
        Node::Or(alts)
    }
}

fn cartesian(per: &[Vec<String>]) -> Result<Vec<Vec<String>>, String> {
    let mut out: Vec<Vec<String>> = vec![vec![]];
    for alts in per {
        if out.len() * alts.len() > MAX_EXPANSION {
            return Err(format!(
                "field mapping expands to more than {MAX_EXPANSION} predicates"
            ));
        }
        out = out
            .into_iter()
            .flat_map(|prefix| {
                alts.iter().map(move |a| {
                    let mut p = prefix.clone();
                    p.push(a.clone());
                    p
                })
            })
            .collect();
    }
    Ok(out)
}

fn rewrite_all(
    w: &mut Work,
    f: &mut dyn FnMut(Leaf) -> Result<Option<Node>, String>,
) -> Result<(), String> {
    let mut out = Vec::with_capacity(w.conditions.len());
    for (i, c) in std::mem::take(&mut w.conditions).into_iter().enumerate() {
        match c.rewrite(f)? {
            Some(n) => out.push(n),
            None => {
                return Err(format!(
                    "every detection item of condition {} was dropped by the pipeline",
                    i + 1
                ))
            }
        }
    }
    w.conditions = out;
    Ok(())
}

/// New names for a field under a field-name transformation, `None` if it does not apply.
pub(crate) fn field_targets(t: &Transform, f: &str) -> Option<Vec<String>> {
    match t {
        Transform::FieldMap(m) => m
            .iter()
            .find(|(k, _)| k.as_deref() == Some(f))
            .map(|(_, v)| v.clone()),
        Transform::FieldPrefixMap(m) => m.iter().find_map(|(pre, ts)| {
            f.strip_prefix(pre.as_str())
                .map(|rest| ts.iter().map(|t| format!("{t}{rest}")).collect())
        }),
        Transform::FieldPrefix(p) => Some(vec![format!("{p}{f}")]),
        Transform::FieldSuffix(s) => Some(vec![format!("{f}{s}")]),
        _ => None,
    }
}

fn str_pattern(p: &Pred) -> Option<(&Pattern, bool)> {
    match p {
        Pred::Str { pattern, cased, .. } | Pred::Keyword { pattern, cased } => {
            Some((pattern, *cased))
        }
        _ => None,
    }
}

fn with_pattern(p: &Pred, pattern: Pattern) -> Pred {
    match p {
        Pred::Str { field, cased, .. } => Pred::Str {
            field: field.clone(),
            pattern,
            cased: *cased,
        },
        Pred::Keyword { cased, .. } => Pred::Keyword {
            pattern,
            cased: *cased,
        },
        other => other.clone(),
    }
}

/// A value transformation of one leaf: `None` leaves it alone; several predicates are
/// OR-ed.
fn value_transform(t: &Transform, p: &Pred, ctx: &Ctx) -> Result<Option<Vec<Pred>>, String> {
    Ok(match t {
        Transform::ReplaceString {
            re,
            replacement,
            skip_special,
            interpret_special,
        } => {
            let Some((pat, _)) = str_pattern(p) else {
                return Ok(None);
            };
            let new = if *skip_special {
                let mut out = Pattern::new();
                for piece in pat.pieces() {
                    match piece {
                        Piece::Lit(s) => {
                            let r = re.replace_all(s, replacement.as_str());
                            if *interpret_special {
                                for q in parse_sigma_string(&r, false).into_pieces() {
                                    push_piece(&mut out, q);
                                }
                            } else {
                                out.push_lit(&r);
                            }
                        }
                        other => push_piece(&mut out, other.clone()),
                    }
                }
                out
            } else {
                let text = pat.to_string();
                let r = re.replace_all(&text, replacement.as_str());
                parse_sigma_string(&r, pat.has_placeholders())
            };
            Some(vec![with_pattern(p, new)])
        }
        Transform::MapString(m) => {
            let Some((pat, _)) = str_pattern(p) else {
                return Ok(None);
            };
            let key = pat.to_string();
            m.iter().find(|(k, _)| *k == key).map(|(_, vs)| {
                vs.iter()
                    .map(|v| with_pattern(p, parse_sigma_string(v, false)))
                    .collect()
            })
        }
        Transform::Case(method) => {
            let Some((pat, _)) = str_pattern(p) else {
                return Ok(None);
            };
            let new = pat.map_literals(|s| match method {
                CaseMethod::Lower => s.to_lowercase(),
                CaseMethod::Upper => s.to_uppercase(),
                CaseMethod::Snake => snake_case(s),
            });
            Some(vec![with_pattern(p, new)])
        }
        Transform::Regex(method) => match p {
            Pred::Str {
                field,
                pattern,
                cased,
            } => {
                if pattern.is_empty() {
                    return Ok(None);
                }
                if let Some(Piece::Placeholder(n)) = pattern
                    .pieces()
                    .iter()
                    .find(|x| matches!(x, Piece::Placeholder(_)))
                {
                    return Err(format!(
                        "placeholder '%{n}%' cannot be turned into a regular expression; resolve placeholders first"
                    ));
                }
                let brackets = *method == RegexMethod::Brackets && !cased;
                let mut body = String::from("^");
                for piece in pattern.pieces() {
                    match piece {
                        Piece::Lit(s) if brackets => {
                            for c in s.chars() {
                                let (lo, up): (String, String) =
                                    (c.to_lowercase().collect(), c.to_uppercase().collect());
                                if lo == up {
                                    body.push_str(&regex::escape(&c.to_string()));
                                } else if lo.chars().count() == 1 && up.chars().count() == 1 {
                                    body.push_str(&format!("[{lo}{up}]"));
                                } else {
                                    body.push_str(&format!(
                                        "(?:{}|{})",
                                        regex::escape(&lo),
                                        regex::escape(&up)
                                    ));
                                }
                            }
                        }
                        Piece::Lit(s) => body.push_str(&regex::escape(s)),
                        Piece::Star | Piece::Placeholder(_) => body.push_str(".*"),
                        Piece::Question => body.push('.'),
                    }
                }
                body.push('$');
                Some(vec![Pred::Regex {
                    field: field.clone(),
                    regex: body,
                    flags: RegexFlags {
                        ignore_case: *method == RegexMethod::Flag && !cased,
                        multi_line: false,
                        // `*` in a Sigma string also spans line breaks.
                        dot_all: true,
                    },
                }])
            }
            _ => None,
        },
        Transform::SetValue(v) => {
            let new = match (p.field(), v) {
                (None, NewValue::Str(s)) => Pred::Keyword {
                    pattern: parse_sigma_string(s, false),
                    cased: false,
                },
                (None, _) => {
                    return Err("set_value on a keyword needs a string value".into());
                }
                (Some(f), v) => new_value_pred(f, v),
            };
            Some(vec![new])
        }
        Transform::ConvertType { to_num } => match (p, to_num) {
            (
                Pred::Num {
                    field,
                    op: IrCmp::Eq,
                    value,
                    part: None,
                },
                false,
            ) => Some(vec![Pred::Str {
                field: field.clone(),
                pattern: Pattern::literal(&value.to_string()),
                cased: false,
            }]),
            (Pred::Str { field, pattern, .. }, true) => {
                let text = pattern.as_literal().ok_or_else(|| {
                    format!("'{pattern}' has wildcards and cannot be converted to a number")
                })?;
                match crate::parse::parse_number(text) {
                    Some(v) => Some(vec![new_value_pred(field, &v)]),
                    None => return Err(format!("'{text}' cannot be converted to a number")),
                }
            }
            _ => None,
        },
        Transform::WildcardPlaceholders(sel) => {
            let Some((pat, _)) = str_pattern(p) else {
                return Ok(None);
            };
            if !pat.has_placeholders() {
                return Ok(None);
            }
            let mut out = Pattern::new();
            for piece in pat.pieces() {
                match piece {
                    Piece::Placeholder(n) if sel.selects(n) => push_piece(&mut out, Piece::Star),
                    other => push_piece(&mut out, other.clone()),
                }
            }
            Some(vec![with_pattern(p, out)])
        }
        Transform::ValuePlaceholders(sel) => {
            let Some((pat, _)) = str_pattern(p) else {
                return Ok(None);
            };
            if !pat
                .pieces()
                .iter()
                .any(|x| matches!(x, Piece::Placeholder(n) if sel.selects(n)))
            {
                return Ok(None);
            }
            let mut variants = vec![Pattern::new()];
            for piece in pat.pieces() {
                match piece {
                    Piece::Placeholder(n) if sel.selects(n) => {
                        let vals = ctx.vars.get(n).ok_or_else(|| {
                            format!(
                                "placeholder '%{n}%' has no value: add it to the pipeline's 'vars'"
                            )
                        })?;
                        if variants.len() * vals.len() > MAX_EXPANSION {
                            return Err(format!(
                                "placeholder expansion gives more than {MAX_EXPANSION} values"
                            ));
                        }
                        let mut next = vec![];
                        for v in &variants {
                            for val in vals {
                                let text = match val {
                                    J::String(s) => s.clone(),
                                    other => other.to_string(),
                                };
                                let mut nv = v.clone();
                                for q in parse_sigma_string(&text, false).into_pieces() {
                                    push_piece(&mut nv, q);
                                }
                                next.push(nv);
                            }
                        }
                        variants = next;
                    }
                    other => {
                        for v in &mut variants {
                            push_piece(v, other.clone());
                        }
                    }
                }
            }
            Some(variants.into_iter().map(|v| with_pattern(p, v)).collect())
        }
        Transform::QueryExpressionPlaceholders(sel) => {
            let Some((pat, _)) = str_pattern(p) else {
                return Ok(None);
            };
            match pat
                .pieces()
                .iter()
                .find(|x| matches!(x, Piece::Placeholder(n) if sel.selects(n)))
            {
                Some(Piece::Placeholder(n)) => {
                    return Err(format!(
                        "query_expression_placeholders cannot resolve '%{n}%': sigil's IR holds no verbatim query text (every backend and the matcher must understand each predicate); use value_placeholders with 'vars'"
                    ))
                }
                _ => None,
            }
        }
        Transform::HashesFields {
            algos,
            prefix,
            drop_algo,
            fields,
        } => {
            let Pred::Str {
                field,
                pattern,
                cased,
            } = p
            else {
                return Ok(None);
            };
            if !fields.contains(field) {
                return Ok(None);
            }
            let text = pattern.to_string();
            let parts: Vec<&str> = if text.contains('|') {
                text.split('|').collect()
            } else {
                text.split('=').collect()
            };
            let (algo, value) = if parts.len() == 2 {
                (parts[0].trim_start_matches('*').to_uppercase(), parts[1])
            } else {
                let by_len = match parts[0].len() {
                    32 => "MD5",
                    40 => "SHA1",
                    64 => "SHA256",
                    128 => "SHA512",
                    _ => "",
                };
                (by_len.to_string(), parts[0])
            };
            if !algos.contains(&algo) {
                return Err(format!(
                    "no valid hash algorithm in '{text}' of field '{field}'; expected one of {}",
                    algos.join(", ")
                ));
            }
            Some(vec![Pred::Str {
                field: if *drop_algo {
                    prefix.clone()
                } else {
                    format!("{prefix}{algo}")
                },
                pattern: parse_sigma_string(value, false),
                cased: *cased,
            }])
        }
        _ => None,
    })
}

fn push_piece(p: &mut Pattern, piece: Piece) {
    if matches!(piece, Piece::Star) && p.ends_with_star() {
        return;
    }
    p.push(piece);
}

fn new_value_pred(field: &str, v: &NewValue) -> Pred {
    let field = field.to_string();
    match v {
        NewValue::Str(s) => Pred::Str {
            field,
            pattern: parse_sigma_string(s, false),
            cased: false,
        },
        NewValue::Int(i) => Pred::Num {
            field,
            op: IrCmp::Eq,
            value: Number::Int(*i),
            part: None,
        },
        NewValue::Float(x) => Pred::Num {
            field,
            op: IrCmp::Eq,
            value: Number::Float(*x),
            part: None,
        },
        NewValue::Bool(b) => Pred::Bool { field, value: *b },
        NewValue::Null => Pred::Null { field },
    }
}

fn snake_case(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if c == ' ' || c == '-' {
            out.push('_');
            prev_lower = false;
        } else if c.is_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.extend(c.to_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

/// `$category`, `$product`, `$service` (also `${...}`) in every string of the conditions.
fn substitute_template(v: &serde_yaml::Value, ls: &LogSource) -> Result<serde_yaml::Value, String> {
    use serde_yaml::Value as Y;
    let sub = |s: &str| -> Result<String, String> {
        let mut out = s.to_string();
        for (name, val) in [
            ("category", &ls.category),
            ("product", &ls.product),
            ("service", &ls.service),
        ] {
            for pat in [format!("${{{name}}}"), format!("${name}")] {
                if out.contains(&pat) {
                    match val {
                        Some(v) => out = out.replace(&pat, v),
                        None => {
                            return Err(format!(
                                "add_condition template uses ${name}, but the rule's log source has no {name}"
                            ))
                        }
                    }
                }
            }
        }
        Ok(out)
    };
    Ok(match v {
        Y::String(s) => Y::String(sub(s)?),
        Y::Sequence(s) => Y::Sequence(
            s.iter()
                .map(|x| substitute_template(x, ls))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = serde_yaml::Mapping::new();
            for (k, x) in m {
                out.insert(substitute_template(k, ls)?, substitute_template(x, ls)?);
            }
            Y::Mapping(out)
        }
        other => other.clone(),
    })
}

/// Lower `add_condition`'s `conditions` (a Sigma search: a map, or a list of maps OR-ed)
/// with sigil-core, so it means exactly what the same search means in a rule.
pub(crate) fn lower_conditions(v: &serde_yaml::Value) -> Result<Expr, String> {
    use serde_yaml::{Mapping, Value as Y};
    let mut detection = Mapping::new();
    detection.insert(Y::from("pipeline_condition"), v.clone());
    detection.insert(Y::from("condition"), Y::from("pipeline_condition"));
    let mut ls = Mapping::new();
    ls.insert(Y::from("category"), Y::from("pipeline"));
    let mut doc = Mapping::new();
    doc.insert(Y::from("title"), Y::from("add_condition"));
    doc.insert(Y::from("logsource"), Y::Mapping(ls));
    doc.insert(Y::from("detection"), Y::Mapping(detection));
    let src = serde_yaml::to_string(&Y::Mapping(doc)).map_err(|e| e.to_string())?;
    let file = sigil_core::load::load_str(&src, "<add_condition>");
    if let Some(e) = file.errors.first() {
        return Err(format!("invalid add_condition conditions: {}", e.kind));
    }
    let Some(sigil_core::Document::Rule(rule)) = file.documents.first() else {
        return Err("invalid add_condition conditions".into());
    };
    let ir = sigil_core::lower::lower_rule(rule).map_err(|errs| {
        format!(
            "invalid add_condition conditions: {}",
            errs.first().map(|e| e.kind.to_string()).unwrap_or_default()
        )
    })?;
    ir.conditions
        .into_iter()
        .next()
        .ok_or_else(|| "invalid add_condition conditions".to_string())
}

/// A rule attribute as text (for templates).
pub(crate) fn attr_text(meta: &RuleMeta, attr: &str) -> Option<String> {
    attr_value(meta, attr).map(|j| match j {
        J::String(s) => s,
        other => other.to_string(),
    })
}
