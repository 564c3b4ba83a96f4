//! Output formats, with the field names of pySigma's Elasticsearch backend so existing
//! importers keep working.
//!
//! The `Backend::render` hook renders one rule at a time, so the JSON formats print one
//! document per query: `siem_rule` and `dsl_lucene` as pretty-printed objects (one request
//! body each), the `*_ndjson` formats as one compact object per line.

use serde_json::{json, Value};
use sigil_core::backend::ConvertError;
use sigil_core::RuleMeta;

use crate::LuceneOptions;

/// Output formats; the first is the default.
pub const FORMATS: &[&str] = &[
    "default",
    "kibana_ndjson",
    "siem_rule",
    "siem_rule_ndjson",
    "dsl_lucene",
];

/// Renders the queries of one rule.
pub fn render(
    opts: &LuceneOptions,
    format: &str,
    meta: &RuleMeta,
    queries: &[String],
) -> Result<String, ConvertError> {
    let docs: Vec<Value> = match format {
        "default" => return Ok(queries.join("\n")),
        "kibana_ndjson" => queries
            .iter()
            .enumerate()
            .map(|(i, q)| kibana(opts, meta, q, i, queries.len()))
            .collect(),
        "siem_rule" => queries.iter().map(|q| siem_rule(opts, meta, q)).collect(),
        "siem_rule_ndjson" => queries
            .iter()
            .map(|q| siem_rule_ndjson(opts, meta, q))
            .collect(),
        "dsl_lucene" => queries.iter().map(|q| dsl(q)).collect(),
        other => {
            return Err(ConvertError::error(
                meta,
                format!(
                    "unknown output format '{other}' for target lucene; formats: {}",
                    FORMATS.join(", ")
                ),
            ))
        }
    };
    let pretty = matches!(format, "siem_rule" | "dsl_lucene");
    let lines: Vec<String> = docs
        .iter()
        .map(|d| {
            if pretty {
                serde_json::to_string_pretty(d)
            } else {
                serde_json::to_string(d)
            }
            .unwrap_or_default()
        })
        .collect();
    Ok(lines.join("\n"))
}

fn id(meta: &RuleMeta) -> String {
    meta.id
        .map(|u| u.to_string())
        .unwrap_or_else(|| meta.display_id())
}

/// Query string in the query DSL, as `dsl_lucene` and Kibana embed it.
fn query_string(q: &str) -> Value {
    json!({"query_string": {"query": q, "analyze_wildcard": true}})
}

fn dsl(q: &str) -> Value {
    json!({"query": {"bool": {"must": [query_string(q)]}}})
}

fn kibana(opts: &LuceneOptions, meta: &RuleMeta, q: &str, i: usize, n: usize) -> Value {
    let search_source = json!({
        "index": opts.kibana_index,
        "filter": [],
        "highlight": {
            "pre_tags": ["@kibana-highlighted-field@"],
            "post_tags": ["@/kibana-highlighted-field@"],
            "fields": {"*": {}},
            "require_field_match": false,
            "fragment_size": 2147483647u32,
        },
        "query": query_string(q),
    });
    let id = if n > 1 {
        format!("{}-{i}", id(meta))
    } else {
        id(meta)
    };
    json!({
        "id": id,
        "type": "search",
        "attributes": {
            "title": format!("SIGMA - {}", meta.title),
            "description": meta.description,
            "hits": 0,
            "columns": [],
            "sort": ["@timestamp", "desc"],
            "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": search_source.to_string()},
        },
        "references": [{
            "id": opts.kibana_index,
            "name": "kibanaSavedObjectMeta.searchSourceJSON.index",
            "type": "index-pattern",
        }],
    })
}

/// Elastic severity (`informational` does not exist there) and risk score.
fn severity(meta: &RuleMeta) -> (&'static str, u32) {
    match meta.level.map(|l| l.name()) {
        Some("informational") => ("low", 1),
        Some("medium") => ("medium", 47),
        Some("high") => ("high", 73),
        Some("critical") => ("critical", 99),
        _ => ("low", 21),
    }
}

fn tags(meta: &RuleMeta) -> Vec<String> {
    meta.tags
        .iter()
        .map(|t| format!("{}-{}", t.namespace, t.name))
        .collect()
}

fn description(meta: &RuleMeta) -> String {
    meta.description
        .clone()
        .unwrap_or_else(|| "No description".into())
}

fn authors(meta: &RuleMeta) -> Vec<String> {
    meta.author.iter().cloned().collect()
}

fn siem_rule(opts: &LuceneOptions, meta: &RuleMeta, q: &str) -> Value {
    let (sev, risk) = severity(meta);
    json!({
        "name": format!("SIGMA - {}", meta.title),
        "consumer": "siem",
        "enabled": true,
        "throttle": null,
        "schedule": {"interval": opts.schedule_interval},
        "params": {
            "author": authors(meta),
            "description": description(meta),
            "ruleId": id(meta),
            "falsePositives": meta.falsepositives,
            "from": format!("now-{}", opts.schedule_interval),
            "immutable": false,
            "license": "DRL",
            "outputIndex": "",
            "meta": {"from": "1m"},
            "maxSignals": 100,
            "riskScore": risk,
            "riskScoreMapping": [],
            "severity": sev,
            "severityMapping": [],
            "threat": [],
            "to": "now",
            "references": meta.references,
            "version": 1,
            "exceptionsList": [],
            "relatedIntegrations": [],
            "requiredFields": [],
            "setup": "",
            "type": "query",
            "language": "lucene",
            "index": opts.index,
            "query": q,
            "filters": [],
        },
        "rule_type_id": "siem.queryRule",
        "tags": tags(meta),
        "notify_when": "onActiveAlert",
        "actions": [],
    })
}

fn siem_rule_ndjson(opts: &LuceneOptions, meta: &RuleMeta, q: &str) -> Value {
    let (sev, risk) = severity(meta);
    json!({
        "id": id(meta),
        "name": format!("SIGMA - {}", meta.title),
        "enabled": true,
        "throttle": "no_actions",
        "interval": opts.schedule_interval,
        "author": authors(meta),
        "description": description(meta),
        "rule_id": id(meta),
        "false_positives": meta.falsepositives,
        "from": format!("now-{}", opts.schedule_interval),
        "immutable": false,
        "license": "DRL",
        "output_index": "",
        "meta": {"from": "1m"},
        "max_signals": 100,
        "risk_score": risk,
        "risk_score_mapping": [],
        "severity": sev,
        "severity_mapping": [],
        "threat": [],
        "tags": tags(meta),
        "to": "now",
        "references": meta.references,
        "version": 1,
        "exceptions_list": [],
        "related_integrations": [],
        "required_fields": [],
        "setup": "",
        "type": "query",
        "language": "lucene",
        "index": opts.index,
        "query": q,
        "filters": [],
        "actions": [],
    })
}
