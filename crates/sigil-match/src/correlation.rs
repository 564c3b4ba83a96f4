//! Rules and correlation rules over a stream of events.
//!
//! [`Engine::process`] takes events in stream order. Each event is matched against the
//! [`RuleSet`]; every rule match (and every correlation that fires) feeds the correlation
//! rules that reference it, in dependency order, so correlations may chain.
//!
//! Semantics (the spec leaves streaming behaviour open; these are the choices):
//!
//! * **Time** is the event's own timestamp, read from the first of
//!   [`EngineOptions::timestamp_fields`] that parses ([`crate::time`]); an event without one
//!   takes the time of the latest event seen before it (0 at the start).
//! * **Windows** slide: after each contributing event, the state of its group holds the
//!   contributions of the last `timespan` (inclusive) up to the newest time seen in the
//!   group; older contributions are dropped. The condition is evaluated right then.
//! * **Firing** emits one [`Detection`] and clears the group's state, so the next alert
//!   needs a fresh set of events (no alert storm for `gte` conditions). Conditions that
//!   can hold with few events (`lt`, `lte`, `neq`, extended conditions with `not`) are
//!   evaluated eagerly too, on each contributing event: `event_count lt 5` fires on the
//!   first event of a group.
//! * **Group-by**: the key is the first value (as text) of each `group-by` field — through
//!   `aliases` per referenced rule — with a missing field its own key value (`null`), as a
//!   SQL `GROUP BY` would do. A chained correlation reads group values from the inner
//!   correlation's key first, then from the event.
//! * `event_count`: events in the window. `value_count`: distinct values (text) of the
//!   condition field; events without it do not contribute. `value_sum` / `value_avg`:
//!   sum / mean of the numeric values (numbers or numeric strings; others skipped).
//!   `value_percentile`: linear interpolation between closest ranks (numpy's default);
//!   `value_median` is the 50th percentile (mean of the middle two for an even count).
//! * `temporal`: the number of distinct referenced rules seen in the window, compared with
//!   the condition (default `gte` all of them), or the extended condition over "rule seen
//!   in the window". `temporal_ordered`: the number of referenced rules matched *in the
//!   order of `rules`* within the window (each step by a later or simultaneous, distinct
//!   event); extended conditions are rejected for it.
//! * **Memory** is bounded by the windows: besides per-group trimming, groups idle for
//!   longer than the timespan are swept whenever the stream time has advanced by a
//!   timespan since the last sweep, and each value deque is capped at
//!   [`EngineOptions::max_entries_per_group`] (oldest dropped first).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use sigil_core::ast::{CorrelationCondition, CorrelationType, ExtendedCond, RuleMeta};
use sigil_core::collection::{CorrelationIr, Lowered, RuleRef};

use crate::compile::{numeric, Num};
use crate::event::{first_text, Event};
use crate::ruleset::{RuleSet, Scratch};
use crate::time::{self, Millis};
use crate::MatchError;

/// Engine configuration.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Fields tried, in order, for the event time.
    pub timestamp_fields: Vec<String>,
    /// Cap on stored contributions per correlation group.
    pub max_entries_per_group: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            timestamp_fields: [
                "@timestamp",
                "timestamp",
                "eventTime",
                "Event.System.TimeCreated.#attributes.SystemTime",
                "UtcTime",
            ]
            .map(String::from)
            .to_vec(),
            max_entries_per_group: 100_000,
        }
    }
}

/// What fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetectionKind {
    Rule,
    Correlation,
}

/// A rule match or a fired correlation.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    pub kind: DetectionKind,
    /// Index into [`Lowered::rules`] or [`Lowered::correlations`].
    pub index: usize,
    pub meta: Arc<RuleMeta>,
    /// Correlations: the group-by fields and their values.
    pub group: Vec<(String, Option<String>)>,
    /// Correlations: the aggregate compared with the condition (count, sum, ...).
    pub value: Option<f64>,
    /// The event time used (milliseconds since the epoch).
    pub time: Millis,
}

#[derive(Debug, Default)]
struct GroupState {
    /// (time, contribution); value contributions for value_* types.
    entries: VecDeque<(Millis, Contribution)>,
    /// temporal: last time each ref was seen; temporal_ordered: latest start of the chain
    /// through ref i.
    marks: Vec<Option<Millis>>,
    newest: Millis,
}

#[derive(Debug, Clone)]
enum Contribution {
    Event,
    Text(String),
    Number(f64),
}

struct Corr {
    ir: CorrelationIr,
    span: Millis,
    groups: HashMap<Vec<Option<String>>, GroupState>,
    /// For each ref: group field names to read (aliases resolved).
    ref_fields: Vec<Vec<String>>,
    /// For each ref: the value field (value_* types).
    value_field: Vec<Option<String>>,
}

/// A hit on a correlation: which ref, and the group values carried by an inner correlation.
struct Hit<'a> {
    ref_index: usize,
    inner_group: Option<&'a [(String, Option<String>)]>,
}

/// Rules plus correlations over a stream.
pub struct Engine {
    set: RuleSet,
    emit: Vec<bool>,
    corrs: Vec<Corr>,
    /// Correlations in dependency order (referenced ones first).
    order: Vec<usize>,
    opts: EngineOptions,
    now: Millis,
    last_sweep: Millis,
    scratch: Scratch,
    matched: Vec<usize>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("rules", &self.set)
            .field("correlations", &self.corrs.len())
            .finish()
    }
}

fn topo(corrs: &[CorrelationIr]) -> Vec<usize> {
    fn visit(i: usize, corrs: &[CorrelationIr], done: &mut [bool], out: &mut Vec<usize>) {
        if done[i] {
            return;
        }
        done[i] = true;
        for r in &corrs[i].refs {
            if let RuleRef::Correlation(j) = r {
                if *j < corrs.len() {
                    visit(*j, corrs, done, out);
                }
            }
        }
        out.push(i);
    }
    let mut done = vec![false; corrs.len()];
    let mut out = vec![];
    for i in 0..corrs.len() {
        visit(i, corrs, &mut done, &mut out);
    }
    out
}

fn check_corr(c: &CorrelationIr) -> Result<(), MatchError> {
    let err = |m: &str| Err(MatchError::new(m.to_string()).in_rule(&c.meta));
    if c.timespan_secs == 0 {
        return err("a correlation needs a timespan");
    }
    match (&c.condition, c.kind) {
        (CorrelationCondition::Extended(_), CorrelationType::TemporalOrdered) => {
            err("extended (boolean) conditions are not supported for temporal_ordered correlations")
        }
        (CorrelationCondition::Extended(_), k) if !k.is_temporal() => {
            err("extended conditions are only valid for temporal correlations")
        }
        (CorrelationCondition::Threshold { field, .. }, k)
            if k.needs_field() && field.is_empty() =>
        {
            err("this correlation type needs 'condition.field'")
        }
        (
            CorrelationCondition::Threshold {
                percentile: None, ..
            },
            CorrelationType::ValuePercentile,
        ) => err("value_percentile needs 'percentile'"),
        _ => Ok(()),
    }
}

impl Engine {
    /// Compile all rules and correlations. Failing rules and correlations are left out and
    /// reported; a correlation referencing a left-out rule or correlation is left out too.
    pub fn new(lowered: &Lowered, opts: EngineOptions) -> (Engine, Vec<MatchError>) {
        let (set, mut errors) = RuleSet::new(&lowered.rules);
        let mut ok = vec![true; lowered.correlations.len()];
        for (i, c) in lowered.correlations.iter().enumerate() {
            if let Err(e) = check_corr(c) {
                errors.push(e);
                ok[i] = false;
            }
        }
        // Propagate failures along references (a few passes reach the fixpoint).
        loop {
            let mut changed = false;
            for (i, c) in lowered.correlations.iter().enumerate() {
                if !ok[i] {
                    continue;
                }
                let bad = c.refs.iter().any(|r| match r {
                    RuleRef::Rule(j) => set.meta(*j).is_none(),
                    RuleRef::Correlation(j) => !ok.get(*j).copied().unwrap_or(false),
                });
                if bad {
                    ok[i] = false;
                    changed = true;
                    errors.push(
                        MatchError::new("references a rule or correlation that failed to compile")
                            .in_rule(&c.meta),
                    );
                }
            }
            if !changed {
                break;
            }
        }
        let corrs = lowered
            .correlations
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let n = c.refs.len();
                let ref_fields = (0..n)
                    .map(|ri| {
                        c.group_by
                            .iter()
                            .map(|g| {
                                c.aliases
                                    .get(g)
                                    .and_then(|per| per.iter().find(|(r, _)| *r == ri))
                                    .map(|(_, f)| f.clone())
                                    .unwrap_or_else(|| g.clone())
                            })
                            .collect()
                    })
                    .collect();
                let vf = match &c.condition {
                    CorrelationCondition::Threshold { field, .. } if c.kind.needs_field() => {
                        field.first().cloned()
                    }
                    _ => None,
                };
                Corr {
                    ir: c.clone(),
                    span: if ok[i] {
                        (c.timespan_secs as i64).saturating_mul(1000)
                    } else {
                        -1
                    },
                    groups: HashMap::new(),
                    ref_fields,
                    value_field: (0..n)
                        .map(|ri| {
                            vf.as_ref().map(|f| {
                                c.aliases
                                    .get(f)
                                    .and_then(|per| per.iter().find(|(r, _)| *r == ri))
                                    .map(|(_, x)| x.clone())
                                    .unwrap_or_else(|| f.clone())
                            })
                        })
                        .collect(),
                }
            })
            .collect();
        let order = topo(&lowered.correlations)
            .into_iter()
            .filter(|i| ok[*i])
            .collect();
        let emit = lowered.emit.clone();
        (
            Engine {
                set,
                emit,
                corrs,
                order,
                opts,
                now: 0,
                last_sweep: 0,
                scratch: Scratch::default(),
                matched: vec![],
            },
            errors,
        )
    }

    pub fn rule_set(&self) -> &RuleSet {
        &self.set
    }

    /// Number of live correlation groups (for memory checks).
    pub fn live_groups(&self) -> usize {
        self.corrs.iter().map(|c| c.groups.len()).sum()
    }

    fn event_time(&self, ev: &dyn Event) -> Option<Millis> {
        for f in &self.opts.timestamp_fields {
            let mut t = None;
            ev.field(f, &mut |v| {
                t = time::value_millis(v);
                t.is_some()
            });
            if t.is_some() {
                return t;
            }
        }
        None
    }

    /// Evaluate one event: rule matches (rules with `generate: false` correlations only
    /// feed them) and fired correlations.
    pub fn process<E: Event>(&mut self, ev: &E) -> Vec<Detection> {
        self.process_dyn(ev)
    }

    /// [`Engine::process`] for a trait object.
    pub fn process_dyn(&mut self, ev: &dyn Event) -> Vec<Detection> {
        let t = self.event_time(ev).unwrap_or(self.now);
        self.now = self.now.max(t);
        let mut matched = std::mem::take(&mut self.matched);
        self.set.matching_dyn(ev, &mut self.scratch, &mut matched);
        let mut out = vec![];
        for &i in &matched {
            if self.emit.get(i).copied().unwrap_or(true) {
                if let Some(meta) = self.set.meta(i) {
                    out.push(Detection {
                        kind: DetectionKind::Rule,
                        index: i,
                        meta: meta.clone(),
                        group: vec![],
                        value: None,
                        time: t,
                    });
                }
            }
        }
        if !self.order.is_empty() {
            let mut fired: Vec<Option<Detection>> = vec![None; self.corrs.len()];
            for k in 0..self.order.len() {
                let ci = self.order[k];
                let hits: Vec<Hit<'_>> = self.corrs[ci]
                    .ir
                    .refs
                    .iter()
                    .enumerate()
                    .filter_map(|(ri, r)| match r {
                        RuleRef::Rule(j) => matched.binary_search(j).ok().map(|_| Hit {
                            ref_index: ri,
                            inner_group: None,
                        }),
                        RuleRef::Correlation(j) => fired.get(*j)?.as_ref().map(|d| Hit {
                            ref_index: ri,
                            inner_group: Some(&d.group[..]),
                        }),
                    })
                    .collect();
                if hits.is_empty() {
                    continue;
                }
                let max = self.opts.max_entries_per_group;
                let d = self.corrs[ci].feed(ci, ev, t, &hits, max);
                drop(hits);
                fired[ci] = d;
            }
            out.extend(fired.into_iter().flatten());
            self.sweep();
        }
        self.matched = matched;
        out
    }

    fn sweep(&mut self) {
        let Some(span) = self.corrs.iter().map(|c| c.span).max() else {
            return;
        };
        if self.now - self.last_sweep < span.max(1) {
            return;
        }
        self.last_sweep = self.now;
        let now = self.now;
        for c in &mut self.corrs {
            let span = c.span;
            c.groups.retain(|_, g| now - g.newest <= span);
        }
    }
}

fn eval_extended(e: &ExtendedCond, names: &[String], seen: &[bool]) -> bool {
    match e {
        ExtendedCond::Rule(n) => names.iter().position(|x| x == n).is_some_and(|i| seen[i]),
        ExtendedCond::Not(x) => !eval_extended(x, names, seen),
        ExtendedCond::And(v) => v.iter().all(|x| eval_extended(x, names, seen)),
        ExtendedCond::Or(v) => v.iter().any(|x| eval_extended(x, names, seen)),
    }
}

/// Linear interpolation between closest ranks; `values` sorted.
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let pos = (p.clamp(0.0, 100.0) / 100.0) * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(values[lo] + (values[hi] - values[lo]) * (pos - lo as f64))
}

impl Corr {
    fn group_key(&self, ev: &dyn Event, hit: &Hit<'_>) -> Vec<Option<String>> {
        self.ir
            .group_by
            .iter()
            .zip(&self.ref_fields[hit.ref_index])
            .map(|(g, field)| {
                if let Some(inner) = hit.inner_group {
                    if let Some((_, v)) = inner.iter().find(|(n, _)| n == g || n == field) {
                        return v.clone();
                    }
                }
                first_text(ev, field)
            })
            .collect()
    }

    fn feed(
        &mut self,
        ci: usize,
        ev: &dyn Event,
        t: Millis,
        hits: &[Hit<'_>],
        max: usize,
    ) -> Option<Detection> {
        if self.span < 0 {
            return None;
        }
        let n = self.ir.refs.len();
        let kind = self.ir.kind;
        // One event contributes once per group (the first hit decides the group), except
        // for temporal types where each ref counts.
        let mut result = None;
        let mut done_keys: Vec<Vec<Option<String>>> = vec![];
        // temporal_ordered: later refs first, so one event cannot complete two steps.
        let mut ordered: Vec<&Hit<'_>> = hits.iter().collect();
        if kind == CorrelationType::TemporalOrdered {
            ordered.sort_by_key(|h| std::cmp::Reverse(h.ref_index));
        }
        for hit in ordered {
            let key = self.group_key(ev, hit);
            let contributes_once = !kind.is_temporal();
            if contributes_once && done_keys.contains(&key) {
                continue;
            }
            let contribution = match &self.value_field[hit.ref_index] {
                None => Some(Contribution::Event),
                Some(f) => {
                    if kind == CorrelationType::ValueCount {
                        first_text(ev, f).map(Contribution::Text)
                    } else {
                        let mut x = None;
                        ev.field(f, &mut |v| {
                            x = numeric(v).map(Num::as_f64);
                            x.is_some()
                        });
                        x.map(Contribution::Number)
                    }
                }
            };
            let Some(contribution) = contribution else {
                continue;
            };
            let span = self.span;
            let g = self.groups.entry(key.clone()).or_default();
            if g.marks.len() != n {
                g.marks = vec![None; n];
            }
            g.newest = g.newest.max(t);
            let horizon = g.newest.saturating_sub(span);
            while g.entries.front().is_some_and(|(et, _)| *et < horizon) {
                g.entries.pop_front();
            }
            for m in g.marks.iter_mut() {
                if m.is_some_and(|x| x < horizon) {
                    *m = None;
                }
            }
            let value: f64 = match kind {
                CorrelationType::Temporal => {
                    g.marks[hit.ref_index] = Some(t.max(g.marks[hit.ref_index].unwrap_or(t)));
                    g.marks.iter().filter(|m| m.is_some()).count() as f64
                }
                CorrelationType::TemporalOrdered => {
                    let ri = hit.ref_index;
                    if ri == 0 {
                        g.marks[0] = Some(t.max(g.marks[0].unwrap_or(t)));
                    } else if let Some(start) = g.marks[ri - 1] {
                        g.marks[ri] = Some(start.max(g.marks[ri].unwrap_or(start)));
                    }
                    g.marks.iter().take_while(|m| m.is_some()).count() as f64
                }
                _ => {
                    if t >= horizon {
                        g.entries.push_back((t, contribution));
                        if g.entries.len() > max {
                            g.entries.pop_front();
                        }
                    }
                    match kind {
                        CorrelationType::EventCount => g.entries.len() as f64,
                        CorrelationType::ValueCount => {
                            let mut distinct: Vec<&str> = g
                                .entries
                                .iter()
                                .filter_map(|(_, c)| match c {
                                    Contribution::Text(s) => Some(s.as_str()),
                                    _ => None,
                                })
                                .collect();
                            distinct.sort_unstable();
                            distinct.dedup();
                            distinct.len() as f64
                        }
                        _ => {
                            let mut nums: Vec<f64> = g
                                .entries
                                .iter()
                                .filter_map(|(_, c)| match c {
                                    Contribution::Number(x) => Some(*x),
                                    _ => None,
                                })
                                .collect();
                            let agg = match kind {
                                CorrelationType::ValueSum => Some(nums.iter().sum()),
                                CorrelationType::ValueAvg if !nums.is_empty() => {
                                    Some(nums.iter().sum::<f64>() / nums.len() as f64)
                                }
                                CorrelationType::ValuePercentile | CorrelationType::ValueMedian => {
                                    nums.sort_by(f64::total_cmp);
                                    let p = match &self.ir.condition {
                                        CorrelationCondition::Threshold {
                                            percentile: Some(p),
                                            ..
                                        } if kind == CorrelationType::ValuePercentile => *p,
                                        _ => 50.0,
                                    };
                                    percentile(&nums, p)
                                }
                                _ => None,
                            };
                            match agg {
                                Some(a) => a,
                                None => continue,
                            }
                        }
                    }
                }
            };
            let holds = match &self.ir.condition {
                CorrelationCondition::Threshold { bounds, .. } => {
                    bounds.iter().all(|(op, b)| op.holds(value, *b))
                }
                CorrelationCondition::Extended(e) => {
                    let seen: Vec<bool> = g.marks.iter().map(Option::is_some).collect();
                    eval_extended(e, &self.ir.ref_names, &seen)
                }
            };
            done_keys.push(key.clone());
            if holds && result.is_none() {
                self.groups.remove(&key);
                result = Some(Detection {
                    kind: DetectionKind::Correlation,
                    index: ci,
                    meta: self.ir.meta.clone(),
                    group: self.ir.group_by.iter().cloned().zip(key).collect(),
                    value: Some(value),
                    time: t,
                });
            }
        }
        result
    }
}
