//! sigil-pipeline: pySigma processing pipelines applied to sigil's IR.
//!
//! A pipeline is read from pySigma's YAML format ([`Pipeline::from_yaml`]) or taken from
//! the built-ins ([`Pipeline::builtin`], [`builtins`]); several combine by priority
//! ([`resolve`]). Applying a pipeline rewrites a [`RuleIr`] (field names, values, extra
//! conditions, log source, ...) so every backend and the matcher see the same rule.
//! Post-processing ([`Pipeline::postprocess`]) and finalizers ([`Pipeline::finalize`])
//! work on the query text a backend produced.
//!
//! ```
//! use sigil_pipeline::Pipeline;
//! let p = Pipeline::from_yaml(
//!     "name: demo\ntransformations:\n  - type: field_name_mapping\n    mapping:\n      eventName: event.action\n",
//!     "demo.yml",
//! ).unwrap();
//! let src = "title: t\nlogsource: {service: cloudtrail}\ndetection:\n  sel: {eventName: GetCallerIdentity}\n  condition: sel\n";
//! let file = sigil_core::load::load_str(src, "t.yml");
//! let sigil_core::Document::Rule(rule) = &file.documents[0] else { unreachable!() };
//! let mut ir = sigil_core::lower::lower_rule(rule).unwrap();
//! p.apply(&mut ir).unwrap();
//! assert_eq!(ir.conditions[0].to_string(), "event.action = 'GetCallerIdentity'");
//! ```

mod apply;
mod error;
mod model;
mod output;
mod parse;
mod yaml;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use serde_json::Value as J;
use sigil_core::ast::CorrelationCondition;
use sigil_core::collection::{Lowered, RuleRef};
use sigil_core::locate::Locator;
use sigil_core::RuleIr;

pub use apply::MAX_EXPANSION;
pub use error::PipelineError;

use apply::{apply_item, rule_cond_holds, Ctx, Node, RState, Subject, Work};
use model::{Item, PostItem, PostT, Transform};

/// Largest pipeline file accepted.
pub const MAX_PIPELINE_SIZE: usize = 4 * 1024 * 1024;

/// A processing pipeline (or several combined).
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// The name (combined pipelines: names joined with `+`).
    pub name: String,
    /// Priority; lower runs first when pipelines are combined.
    pub priority: i64,
    /// Each component's `allowed_backends` (empty: any backend).
    allowed: Vec<(String, Vec<String>)>,
    backend_options: Vec<(String, String)>,
    vars: IndexMap<String, Vec<J>>,
    items: Vec<Item>,
    post: Vec<PostItem>,
    finalizers: Vec<model::Finalizer>,
    /// The files (or `builtin:name`) this pipeline was read from.
    origin: String,
    /// Per-rule state after `apply`, for post-processing conditions.
    states: Arc<Mutex<HashMap<(String, usize), RState>>>,
}

static BUILTINS: &[(&str, &str, &str)] = &[
    (
        "windows-logsources",
        "SigmaHQ Windows log sources -> Channel/EventID conditions (per SigmaHQ tests/thor.yml)",
        include_str!("builtin/windows-logsources.yml"),
    ),
    (
        "windows-evtx-json",
        "Windows field names -> evtx_dump JSON layout (Event.System.*, Event.EventData.*)",
        include_str!("builtin/windows-evtx-json.yml"),
    ),
    (
        "sysmon",
        "Windows log source categories -> Sysmon EventIDs, log source -> windows/sysmon",
        include_str!("builtin/sysmon.yml"),
    ),
    (
        "ecs-windows",
        "Windows (Winlogbeat / Elastic Agent) events -> ECS and winlog.* field names",
        include_str!("builtin/ecs-windows.yml"),
    ),
    (
        "ecs-cloudtrail",
        "CloudTrail -> Elastic AWS integration field names (event.action, aws.cloudtrail.*)",
        include_str!("builtin/ecs-cloudtrail.yml"),
    ),
    (
        "cloudtrail-athena",
        "CloudTrail -> AWS Athena CloudTrail table columns (athena target, cloudtrail layout)",
        include_str!("builtin/cloudtrail-athena.yml"),
    ),
];

/// Built-in pipelines: (name, description).
pub fn builtins() -> Vec<(&'static str, &'static str)> {
    BUILTINS.iter().map(|(n, d, _)| (*n, *d)).collect()
}

/// Resolve `-p` arguments (built-in names or YAML files) into one pipeline, ordered by
/// priority (ties keep the order given).
pub fn resolve(specs: &[String]) -> Result<Pipeline, PipelineError> {
    let mut parts = vec![];
    for spec in specs {
        if let Some(p) = Pipeline::builtin(spec) {
            parts.push(p);
            continue;
        }
        let path = std::path::Path::new(spec);
        if !path.exists() {
            let names: Vec<&str> = BUILTINS.iter().map(|b| b.0).collect();
            return Err(PipelineError::load(
                spec,
                None,
                format!(
                    "no built-in pipeline or file named '{spec}' (built-ins: {})",
                    names.join(", ")
                ),
            ));
        }
        match std::fs::metadata(path) {
            Ok(m) if m.len() as usize > MAX_PIPELINE_SIZE => {
                return Err(PipelineError::load(
                    spec,
                    None,
                    format!(
                        "file is {} bytes; the limit is {MAX_PIPELINE_SIZE} bytes",
                        m.len()
                    ),
                ))
            }
            Err(e) => return Err(PipelineError::load(spec, None, e.to_string())),
            _ => {}
        }
        let src = std::fs::read_to_string(path)
            .map_err(|e| PipelineError::load(spec, None, format!("cannot read file: {e}")))?;
        parts.push(Pipeline::from_yaml(&src, spec)?);
    }
    Ok(Pipeline::combine(parts))
}

impl Pipeline {
    /// Read a pipeline in pySigma's YAML format. `origin` names it in errors.
    pub fn from_yaml(src: &str, origin: &str) -> Result<Pipeline, PipelineError> {
        if src.len() > MAX_PIPELINE_SIZE {
            return Err(PipelineError::load(
                origin,
                None,
                format!("pipeline is larger than {MAX_PIPELINE_SIZE} bytes"),
            ));
        }
        let doc: serde_yaml::Value = serde_yaml::from_str(src).map_err(|e| {
            let span = e.location().map(|l| sigil_core::ast::Span {
                line: l.line() as u32,
                column: l.column() as u32,
            });
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            PipelineError::load(origin, span, format!("YAML syntax error: {msg}"))
        })?;
        let parsed = parse::parse_pipeline(&doc).map_err(|e| {
            let span = Locator::new(src).locate(0, &e.path);
            PipelineError::load(origin, span, e.msg)
        })?;
        Ok(Pipeline {
            name: parsed.name.clone(),
            priority: parsed.priority,
            allowed: vec![(parsed.name, parsed.allowed_backends)],
            backend_options: parsed.backend_options,
            vars: parsed.vars,
            items: parsed.items,
            post: parsed.post,
            finalizers: parsed.finalizers,
            origin: origin.to_string(),
            states: Arc::default(),
        })
    }

    /// A built-in pipeline by name.
    pub fn builtin(name: &str) -> Option<Pipeline> {
        let (n, _, src) = BUILTINS.iter().find(|(n, _, _)| *n == name)?;
        Pipeline::from_yaml(src, &format!("builtin:{n}")).ok()
    }

    /// An empty pipeline (changes nothing).
    pub fn empty() -> Pipeline {
        Pipeline::combine(vec![])
    }

    /// Concatenate pipelines ordered by priority (stable: ties keep the given order);
    /// `vars` are merged, later ones win.
    pub fn combine(mut parts: Vec<Pipeline>) -> Pipeline {
        parts.sort_by_key(|p| p.priority);
        let mut out = Pipeline {
            name: String::new(),
            priority: parts.first().map(|p| p.priority).unwrap_or(0),
            allowed: vec![],
            backend_options: vec![],
            vars: IndexMap::new(),
            items: vec![],
            post: vec![],
            finalizers: vec![],
            origin: String::new(),
            states: Arc::default(),
        };
        let mut names = vec![];
        let mut origins = vec![];
        for p in parts {
            names.push(p.name);
            origins.push(p.origin);
            out.allowed.extend(p.allowed);
            out.backend_options.extend(p.backend_options);
            out.vars.extend(p.vars);
            out.items.extend(p.items);
            out.post.extend(p.post);
            out.finalizers.extend(p.finalizers);
        }
        out.name = names.join("+");
        out.origin = origins.join("+");
        out
    }

    /// Whether no item, post-processing or finalizer is present.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.post.is_empty() && self.finalizers.is_empty()
    }

    /// Whether the pipeline has finalizers (then [`Pipeline::finalize`] builds the output).
    pub fn has_finalizers(&self) -> bool {
        !self.finalizers.is_empty()
    }

    /// Whether every component allows this backend (an empty `allowed_backends` allows all).
    /// Returns the name of the first component that does not.
    pub fn check_backend(&self, backend: &str) -> Result<(), String> {
        for (name, list) in &self.allowed {
            if !list.is_empty() && !list.iter().any(|b| b == backend) {
                return Err(format!(
                    "pipeline '{name}' is not meant for target '{backend}' (allowed_backends: {})",
                    list.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Backend options the pipeline asks for (`backend_options:`, a sigil extension), in
    /// order; the command line's `-O` options take precedence over these.
    pub fn backend_options(&self) -> &[(String, String)] {
        &self.backend_options
    }

    fn key(meta: &sigil_core::RuleMeta) -> (String, usize) {
        (meta.source.path.to_string(), meta.source.document)
    }

    /// Apply the transformations to one rule. On error the rule is left unchanged.
    pub fn apply(&self, rule: &mut RuleIr) -> Result<(), PipelineError> {
        let mut w = Work::from_rule(rule, RState::default());
        let ctx = Ctx { vars: &self.vars };
        for item in &self.items {
            apply_item(item, &mut w, &ctx)
                .map_err(|m| PipelineError::rule(&self.origin, &rule.meta, m))?;
        }
        if let Ok(mut st) = self.states.lock() {
            st.insert(Self::key(&w.meta), w.state);
        }
        rule.meta = w.meta;
        rule.logsource = w.logsource;
        rule.fields = w.fields;
        rule.conditions = w.conditions.into_iter().map(Node::into_expr).collect();
        Ok(())
    }

    /// Apply to every rule and correlation of a set. Rules that fail are removed (with the
    /// correlations that refer to them) and reported.
    pub fn apply_lowered(&self, set: &mut Lowered) -> Vec<PipelineError> {
        let mut errors = vec![];
        if self.items.is_empty() {
            return errors;
        }
        let logsources: Vec<_> = set.rules.iter().map(|r| r.logsource.clone()).collect();
        let mut keep = vec![true; set.rules.len()];
        for (i, r) in set.rules.iter_mut().enumerate() {
            if let Err(e) = self.apply(r) {
                errors.push(e);
                keep[i] = false;
            }
        }
        let mut keep_corr = vec![true; set.correlations.len()];
        for (i, c) in set.correlations.iter_mut().enumerate() {
            let view = apply::CorrView {
                meta: &c.meta.clone(),
                logsources: c
                    .refs
                    .iter()
                    .filter_map(|r| match r {
                        RuleRef::Rule(j) => logsources.get(*j).cloned(),
                        RuleRef::Correlation(_) => None,
                    })
                    .collect(),
            };
            if let Err(m) = self.apply_correlation(c, &view) {
                errors.push(PipelineError::rule(&self.origin, &c.meta, m));
                keep_corr[i] = false;
            }
        }
        // Correlations that refer to a removed rule or correlation go too (to a fixpoint).
        loop {
            let mut changed = false;
            for (i, c) in set.correlations.iter().enumerate() {
                if !keep_corr[i] {
                    continue;
                }
                let broken = c.refs.iter().any(|r| match r {
                    RuleRef::Rule(j) => !keep.get(*j).copied().unwrap_or(false),
                    RuleRef::Correlation(j) => !keep_corr.get(*j).copied().unwrap_or(false),
                });
                if broken {
                    keep_corr[i] = false;
                    changed = true;
                    errors.push(PipelineError::rule(
                        &self.origin,
                        &c.meta,
                        "refers to a rule the pipeline rejected",
                    ));
                }
            }
            if !changed {
                break;
            }
        }
        let rule_map = renumber(&keep);
        let corr_map = renumber(&keep_corr);
        let mut i = 0;
        set.rules.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let mut i = 0;
        set.emit.retain(|_| {
            i += 1;
            keep.get(i - 1).copied().unwrap_or(true)
        });
        let mut i = 0;
        set.correlations.retain(|_| {
            i += 1;
            keep_corr[i - 1]
        });
        for c in &mut set.correlations {
            for r in &mut c.refs {
                match r {
                    RuleRef::Rule(j) => *j = rule_map[*j].unwrap_or(*j),
                    RuleRef::Correlation(j) => *j = corr_map[*j].unwrap_or(*j),
                }
            }
        }
        errors
    }

    /// Field-name transformations rename the correlation's group-by, alias and condition
    /// fields; rule-level items (custom attributes, state, failures) apply as to rules.
    fn apply_correlation(
        &self,
        c: &mut sigil_core::CorrelationIr,
        view: &apply::CorrView,
    ) -> Result<(), String> {
        let mut state = RState::default();
        let mut meta = c.meta.clone();
        fn run(
            items: &[Item],
            c: &mut sigil_core::CorrelationIr,
            view: &apply::CorrView,
            state: &mut RState,
            meta: &mut Arc<sigil_core::RuleMeta>,
        ) -> Result<(), String> {
            for item in items {
                let v = apply::CorrView {
                    meta,
                    logsources: view.logsources.clone(),
                };
                if !item
                    .rule_conds
                    .eval(|rc| rule_cond_holds(rc, &Subject::Corr(&v, state)))
                {
                    continue;
                }
                match &item.t {
                    t @ (Transform::FieldMap(_)
                    | Transform::FieldPrefixMap(_)
                    | Transform::FieldPrefix(_)
                    | Transform::FieldSuffix(_)) => {
                        let st = state.clone();
                        let map = |f: &mut String| -> Result<(), String> {
                            let ok = item
                                .field_conds
                                .eval(|fc| apply::field_cond_holds(fc, Some(f), &st));
                            if !ok {
                                return Ok(());
                            }
                            match apply::field_targets(t, f) {
                                Some(ts) if ts.len() == 1 => {
                                    *f = ts[0].clone();
                                    Ok(())
                                }
                                Some(ts) => Err(format!(
                                    "correlation field '{f}' maps to several fields ({}); a correlation needs one",
                                    ts.join(", ")
                                )),
                                None => Ok(()),
                            }
                        };
                        for g in &mut c.group_by {
                            map(g)?;
                        }
                        for fields in c.aliases.values_mut() {
                            for (_, f) in fields.iter_mut() {
                                map(f)?;
                            }
                        }
                        if let CorrelationCondition::Threshold { field, .. } = &mut c.condition {
                            for f in field.iter_mut() {
                                map(f)?;
                            }
                        }
                    }
                    Transform::SetCustomAttribute { attr, value } => {
                        Arc::make_mut(meta)
                            .custom
                            .insert(attr.clone(), value.clone());
                    }
                    Transform::SetState { key, val } => {
                        state.state.insert(key.clone(), val.clone());
                    }
                    Transform::RuleFailure(m) => return Err(m.clone()),
                    Transform::Nest(sub) => run(sub, c, view, state, meta)?,
                    _ => {}
                }
                if let Some(id) = &item.id {
                    state.applied.insert(id.clone());
                }
            }
            Ok(())
        }
        run(&self.items, c, view, &mut state, &mut meta)?;
        if let Ok(mut st) = self.states.lock() {
            st.insert(Self::key(&meta), state);
        }
        c.meta = meta;
        Ok(())
    }

    /// Post-process one query of a rule (after [`Pipeline::apply`] on that rule).
    pub fn postprocess(&self, rule: &RuleIr, query: String) -> String {
        if self.post.is_empty() {
            return query;
        }
        let state = self
            .states
            .lock()
            .ok()
            .and_then(|s| s.get(&Self::key(&rule.meta)).cloned())
            .unwrap_or_default();
        let w = Work::from_rule(rule, state);
        self.post_items(&self.post, &w, query)
    }

    fn post_items(&self, items: &[PostItem], w: &Work, mut query: String) -> String {
        for item in items {
            if !item
                .rule_conds
                .eval(|c| rule_cond_holds(c, &Subject::Rule(w)))
            {
                continue;
            }
            query = match &item.t {
                PostT::Embed { prefix, suffix } => format!("{prefix}{query}{suffix}"),
                PostT::SimpleTemplate(pieces) => {
                    output::render_template(pieces, &query, &w.meta, &self.name, &w.state.state)
                }
                PostT::Json(t) => output::py_json(&output::fill_json(t, &query), None),
                PostT::Replace { re, replacement } => {
                    re.replace_all(&query, replacement.as_str()).into_owned()
                }
                PostT::Nest(sub) => self.post_items(sub, w, query),
            };
        }
        query
    }

    /// Combine all queries into the final output. Without finalizers: one query per line.
    pub fn finalize(&self, queries: Vec<String>) -> String {
        match output::finalize(&self.finalizers, output::Out::List(queries)) {
            output::Out::List(qs) => qs.join("\n"),
            output::Out::Text(t) => t,
        }
    }
}

fn renumber(keep: &[bool]) -> Vec<Option<usize>> {
    let mut n = 0;
    keep.iter()
        .map(|k| {
            if *k {
                n += 1;
                Some(n - 1)
            } else {
                None
            }
        })
        .collect()
}
