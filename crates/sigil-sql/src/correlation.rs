//! Correlation rules as one SQL statement.
//!
//! Windows slide: for every matching event `e` the window is `[e.t - timespan, e.t]`
//! (inclusive) over the events of the same group (group-by values compared with
//! `IS NOT DISTINCT FROM`, so a missing value is a group of its own). The statement:
//!
//! ```text
//! WITH sigil_events AS (      -- one SELECT per referenced rule, UNION ALL
//!        SELECT '<rule name>' AS sigil_rule, <epoch seconds> AS sigil_ts,
//!               <group-by values> AS sigil_g0.., <condition field> AS sigil_value
//!        FROM <table> WHERE <rule condition>),
//!      sigil_numbered AS (... ROW_NUMBER() ... WHERE sigil_ts IS NOT NULL),
//!      sigil_windows AS (     -- self-join: each event with the events of its window
//!        SELECT e.<group>, MIN(x.sigil_ts) AS sigil_first, e.sigil_ts AS sigil_last
//!        FROM sigil_numbered e JOIN sigil_numbered x ON <same group, x in e's window>
//!        GROUP BY e.sigil_row, e.<group>, e.sigil_ts
//!        HAVING <aggregate over x> <condition>)
//! SELECT <group-by fields>, MIN(sigil_first) AS first_seen, MAX(sigil_last) AS last_seen,
//!        COUNT(*) AS windows FROM sigil_windows GROUP BY <group>
//! ```
//!
//! One row per group that has at least one qualifying window; `first_seen`/`last_seen`
//! are epoch seconds. The self-join (rather than `COUNT(DISTINCT ..) OVER (RANGE ...)`)
//! is what all three engines accept: none of them allows `DISTINCT` in a window
//! aggregate.
//!
//! | type | aggregate in `HAVING` | engines |
//! |---|---|---|
//! | `event_count` | `COUNT(*)` | all |
//! | `value_count` | `COUNT(DISTINCT value)` | all |
//! | `value_sum`, `value_avg` | `SUM`/`AVG` of the value as a number (non-numeric ignored) | all |
//! | `value_percentile`, `value_median` | `percentile_cont(p) WITHIN GROUP (ORDER BY value)` | PostgreSQL only (Athena has only `approx_percentile`, SQLite none): unsupported elsewhere |
//! | `temporal` | `COUNT(DISTINCT rule)` against the threshold, or the extended condition over per-rule flags `MAX(CASE WHEN rule = 'a' THEN 1 ELSE 0 END) = 1` | all |
//! | `temporal_ordered` | a chain join `e1.t <= e2.t <= ... <= e1.t + timespan`, one event per rule in `rules:` order (threshold must be the number of rules; no extended condition) | all |
//!
//! Correlations that reference other correlations are not supported (a clear error).

use sigil_core::ast::{CorrelationCondition, CorrelationType, ExtendedCond, ThresholdOp};
use sigil_core::backend::ConvertError;
use sigil_core::collection::{CorrelationIr, Lowered, RuleRef};
use sigil_core::ir::Expr;

use crate::expr::{Renderer, PG_TIMESTAMP};
use crate::{classify, quote_ident, quote_str, Dialect, SqlBackend, UNSUPPORTED};

/// The statement for a correlation rule.
pub fn convert(
    b: &SqlBackend,
    corr: &CorrelationIr,
    set: &Lowered,
) -> Result<String, ConvertError> {
    build(b, corr, set).map_err(|m| classify(&corr.meta, m))
}

fn build(b: &SqlBackend, corr: &CorrelationIr, set: &Lowered) -> Result<String, String> {
    let r = Renderer::new(b);
    let d = b.dialect;
    let (bounds, value_field, percentile) = match &corr.condition {
        CorrelationCondition::Threshold {
            bounds,
            field,
            percentile,
        } => (Some(bounds.clone()), field.clone(), *percentile),
        CorrelationCondition::Extended(_) => (None, vec![], None),
    };
    if value_field.len() > 1 {
        return Err(format!(
            "{UNSUPPORTED}a correlation condition over several fields ({}) is not supported",
            value_field.join(", ")
        ));
    }
    let value_field = value_field.first().cloned();
    if corr.kind.needs_field() && value_field.is_none() {
        return Err(format!("{} needs condition.field", corr.kind.name()));
    }
    match corr.kind {
        CorrelationType::ValuePercentile | CorrelationType::ValueMedian
            if d != Dialect::Postgres =>
        {
            return Err(format!(
                "{UNSUPPORTED}{} is not supported for {}: it has no exact percentile aggregate",
                corr.kind.name(),
                d.name()
            ))
        }
        _ => {}
    }

    // field of a group-by name (or alias) for the i-th referenced rule
    let field_for = |name: &str, i: usize| -> String {
        corr.aliases
            .get(name)
            .and_then(|v| v.iter().find(|(idx, _)| *idx == i))
            .map(|(_, f)| f.clone())
            .unwrap_or_else(|| name.to_string())
    };

    let ts_epoch = |v: &str| match d {
        Dialect::Athena => format!("TRY(to_unixtime(from_iso8601_timestamp({v})))"),
        Dialect::Postgres => format!(
            "CASE WHEN {v} ~ {} THEN EXTRACT(EPOCH FROM CAST({v} AS timestamptz)) END",
            quote_str(PG_TIMESTAMP)
        ),
        Dialect::Sqlite => format!("unixepoch({v})"),
    };

    // --- sigil_events: one SELECT per referenced rule
    let mut selects = Vec::new();
    for (i, rref) in corr.refs.iter().enumerate() {
        let RuleRef::Rule(idx) = rref else {
            return Err(format!(
                "{UNSUPPORTED}correlation '{}' references another correlation; chained correlations are not supported in SQL",
                corr.ref_names.get(i).cloned().unwrap_or_default()
            ));
        };
        let rule = set
            .rules
            .get(*idx)
            .ok_or_else(|| format!("dangling rule reference #{idx}"))?;
        let cond = r.expr(&Expr::or(rule.conditions.iter().cloned()), false)?;
        let name = corr.ref_names.get(i).cloned().unwrap_or_default();
        let mut cols = vec![
            format!("{} AS sigil_rule", quote_str(&name)),
            format!("{} AS sigil_ts", ts_epoch(&r.value(&b.timestamp)?)),
        ];
        for (g, name) in corr.group_by.iter().enumerate() {
            cols.push(format!("{} AS sigil_g{g}", r.value(&field_for(name, i))?));
        }
        if let Some(f) = &value_field {
            let v = r.value(&field_for(f, i))?;
            let v = if corr.kind == CorrelationType::ValueCount {
                v
            } else {
                r.number(&v)
            };
            cols.push(format!("{v} AS sigil_value"));
        }
        selects.push(format!(
            "SELECT {} FROM {} WHERE {cond}",
            cols.join(", "),
            b.quoted_table()
        ));
    }
    if selects.is_empty() {
        return Err("the correlation references no rule".into());
    }

    let same = match d {
        Dialect::Sqlite => "IS",
        _ => "IS NOT DISTINCT FROM",
    };
    let groups: Vec<String> = (0..corr.group_by.len())
        .map(|g| format!("sigil_g{g}"))
        .collect();
    let span = corr.timespan_secs;

    let numbered = "sigil_numbered AS (SELECT ROW_NUMBER() OVER (ORDER BY sigil_ts) AS sigil_row, sigil_events.* FROM sigil_events WHERE sigil_ts IS NOT NULL)";
    let events = format!("sigil_events AS ({})", selects.join(" UNION ALL "));

    let windows = if corr.kind == CorrelationType::TemporalOrdered {
        ordered_windows(corr, bounds.as_deref(), &groups, same, span)?
    } else {
        let having = match (&corr.condition, corr.kind) {
            (CorrelationCondition::Extended(e), _) => extended(e),
            (CorrelationCondition::Threshold { .. }, kind) => {
                let agg = match kind {
                    CorrelationType::EventCount => "COUNT(*)".to_string(),
                    CorrelationType::ValueCount => "COUNT(DISTINCT x.sigil_value)".into(),
                    CorrelationType::ValueSum => "SUM(x.sigil_value)".into(),
                    CorrelationType::ValueAvg => "AVG(x.sigil_value)".into(),
                    CorrelationType::ValuePercentile => format!(
                        "percentile_cont({}) WITHIN GROUP (ORDER BY x.sigil_value)",
                        fmt_num(percentile.unwrap_or(50.0) / 100.0)
                    ),
                    CorrelationType::ValueMedian => {
                        "percentile_cont(0.5) WITHIN GROUP (ORDER BY x.sigil_value)".into()
                    }
                    CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
                        "COUNT(DISTINCT x.sigil_rule)".into()
                    }
                };
                threshold(&agg, bounds.as_deref().unwrap_or_default())
            }
        };
        let mut on = groups
            .iter()
            .map(|g| format!("x.{g} {same} e.{g}"))
            .collect::<Vec<_>>();
        on.push(format!(
            "x.sigil_ts BETWEEN e.sigil_ts - {span} AND e.sigil_ts"
        ));
        let mut by = vec!["e.sigil_row".to_string()];
        by.extend(groups.iter().map(|g| format!("e.{g}")));
        by.push("e.sigil_ts".into());
        let sel_groups: String = groups.iter().map(|g| format!("e.{g} AS {g}, ")).collect();
        format!(
            "sigil_windows AS (SELECT {sel_groups}MIN(x.sigil_ts) AS sigil_first, e.sigil_ts AS sigil_last FROM sigil_numbered e JOIN sigil_numbered x ON {} GROUP BY {} HAVING {having})",
            on.join(" AND "),
            by.join(", ")
        )
    };

    let out_cols: Vec<String> = corr
        .group_by
        .iter()
        .enumerate()
        .map(|(g, name)| format!("sigil_g{g} AS {}", quote_ident(name)))
        .collect();
    let group_clause = if groups.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {}", groups.join(", "))
    };
    let lead: String = out_cols.iter().map(|c| format!("{c}, ")).collect();
    Ok(format!(
        "WITH {events}, {numbered}, {windows} SELECT {lead}MIN(sigil_first) AS first_seen, MAX(sigil_last) AS last_seen, COUNT(*) AS windows FROM sigil_windows{group_clause}"
    ))
}

fn ordered_windows(
    corr: &CorrelationIr,
    bounds: Option<&[(ThresholdOp, f64)]>,
    groups: &[String],
    same: &str,
    span: u64,
) -> Result<String, String> {
    let n = corr.refs.len();
    match bounds {
        Some([(ThresholdOp::Gte, v)]) if *v == n as f64 => {}
        _ => {
            return Err(format!(
                "{UNSUPPORTED}temporal_ordered is supported in SQL only with its default condition (all {n} rules, in order)"
            ))
        }
    }
    let mut from = String::new();
    for (i, name) in corr.ref_names.iter().enumerate() {
        let alias = format!("e{}", i + 1);
        if i == 0 {
            from.push_str(&format!("sigil_numbered {alias}"));
            continue;
        }
        let prev = format!("e{i}");
        let mut on = vec![format!("{alias}.sigil_rule = {}", quote_str(name))];
        on.extend(groups.iter().map(|g| format!("{alias}.{g} {same} e1.{g}")));
        on.push(format!("{alias}.sigil_ts >= {prev}.sigil_ts"));
        on.push(format!("{alias}.sigil_ts <= e1.sigil_ts + {span}"));
        from.push_str(&format!(
            " JOIN sigil_numbered {alias} ON {}",
            on.join(" AND ")
        ));
    }
    let first = corr.ref_names.first().cloned().unwrap_or_default();
    let sel_groups: String = groups.iter().map(|g| format!("e1.{g} AS {g}, ")).collect();
    Ok(format!(
        "sigil_windows AS (SELECT {sel_groups}e1.sigil_ts AS sigil_first, e{n}.sigil_ts AS sigil_last FROM {from} WHERE e1.sigil_rule = {})",
        quote_str(&first)
    ))
}

fn extended(e: &ExtendedCond) -> String {
    match e {
        ExtendedCond::Rule(name) => format!(
            "MAX(CASE WHEN x.sigil_rule = {} THEN 1 ELSE 0 END) = 1",
            quote_str(name)
        ),
        ExtendedCond::Not(inner) => format!("NOT ({})", extended(inner)),
        ExtendedCond::And(v) => v
            .iter()
            .map(|x| format!("({})", extended(x)))
            .collect::<Vec<_>>()
            .join(" AND "),
        ExtendedCond::Or(v) => v
            .iter()
            .map(|x| format!("({})", extended(x)))
            .collect::<Vec<_>>()
            .join(" OR "),
    }
}

fn threshold(agg: &str, bounds: &[(ThresholdOp, f64)]) -> String {
    if bounds.is_empty() {
        return "TRUE".into();
    }
    bounds
        .iter()
        .map(|(op, v)| {
            let o = match op {
                ThresholdOp::Gt => ">",
                ThresholdOp::Gte => ">=",
                ThresholdOp::Lt => "<",
                ThresholdOp::Lte => "<=",
                ThresholdOp::Eq => "=",
                ThresholdOp::Neq => "<>",
            };
            format!("{agg} {o} {}", fmt_num(*v))
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}
