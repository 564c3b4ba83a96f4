//! pySigma pipeline YAML → [`crate::model`]. Unknown keys and types are errors.

use indexmap::IndexMap;
use regex::Regex;
use serde_json::Value as J;
use serde_yaml::Value as Y;
use sigil_core::ast::YamlPath;

use crate::model::*;
use crate::yaml::*;

/// Everything a pipeline file holds.
pub(crate) struct Parsed {
    pub name: String,
    pub priority: i64,
    pub allowed_backends: Vec<String>,
    pub backend_options: Vec<(String, String)>,
    pub vars: IndexMap<String, Vec<J>>,
    pub items: Vec<Item>,
    pub post: Vec<PostItem>,
    pub finalizers: Vec<Finalizer>,
}

pub(crate) fn parse_pipeline(doc: &Y) -> PResult<Parsed> {
    let root = YamlPath::root();
    let mut p = Params::new(doc, root, "a pipeline")?;
    let name = p.opt_str("name")?.unwrap_or_default();
    let priority = p.opt_int("priority")?.unwrap_or(0);
    let allowed_backends = p.str_list("allowed_backends")?.unwrap_or_default();
    // sigil extension: backend options (`-O key=value`) the pipeline needs, e.g. a table
    // layout; options given on the command line win.
    let mut backend_options = vec![];
    let bpath = p.at("backend_options");
    match p.get("backend_options") {
        None | Some(Y::Null) => {}
        Some(Y::Mapping(m)) => {
            for (k, v) in m {
                match (scalar_text(k), scalar_text(v)) {
                    (Some(k), Some(v)) => backend_options.push((k, v)),
                    _ => {
                        return perr(
                            &bpath,
                            "'backend_options' maps option names to scalar values",
                        )
                    }
                }
            }
        }
        Some(other) => {
            return perr(
                &bpath,
                format!(
                    "'backend_options' must be a map, found {}",
                    type_name(other)
                ),
            )
        }
    }
    let mut vars = IndexMap::new();
    let vpath = p.at("vars");
    match p.get("vars") {
        None | Some(Y::Null) => {}
        Some(Y::Mapping(m)) => {
            for (k, v) in m {
                let Some(k) = scalar_text(k) else {
                    return perr(&vpath, "variable names must be strings");
                };
                let at = vpath.key(&k);
                let vals: Vec<J> = match v {
                    Y::Sequence(s) => s.iter().map(to_json).collect(),
                    other => vec![to_json(other)],
                };
                for (i, x) in vals.iter().enumerate() {
                    if !matches!(x, J::String(_) | J::Number(_)) {
                        return perr(
                            &at.index(i),
                            format!("variable '{k}' values must be strings or numbers"),
                        );
                    }
                }
                vars.insert(k, vals);
            }
        }
        Some(other) => {
            return perr(
                &vpath,
                format!("'vars' must be a map, found {}", type_name(other)),
            )
        }
    }
    let items = list_of(&mut p, "transformations", parse_item)?;
    let post = list_of(&mut p, "postprocessing", parse_post)?;
    let finalizers = list_of(&mut p, "finalizers", parse_finalizer)?;
    p.finish("the pipeline")?;
    Ok(Parsed {
        name,
        priority,
        allowed_backends,
        backend_options,
        vars,
        items,
        post,
        finalizers,
    })
}

fn list_of<T>(p: &mut Params, key: &str, f: fn(&Y, YamlPath) -> PResult<T>) -> PResult<Vec<T>> {
    let path = p.at(key);
    match p.get(key) {
        None | Some(Y::Null) => Ok(vec![]),
        Some(Y::Sequence(s)) => s
            .iter()
            .enumerate()
            .map(|(i, v)| f(v, path.index(i)))
            .collect(),
        Some(other) => perr(
            &path,
            format!("'{key}' must be a list, found {}", type_name(other)),
        ),
    }
}

fn compile_re(s: &str, path: &YamlPath) -> PResult<Regex> {
    Regex::new(s).or_else(|e| perr(path, format!("invalid regular expression '{s}': {e}")))
}

/// Anchored at the start, as Python's `re.match`.
fn compile_re_match(s: &str, path: &YamlPath) -> PResult<Regex> {
    compile_re(&format!("^(?:{s})"), path).or_else(|_| compile_re(s, path))
}

/// `*_conditions`, `*_cond_op`, `*_cond_not`, `*_cond_expr` for one kind of condition.
fn parse_conds<C>(
    p: &mut Params,
    prefix: &str,
    f: fn(&mut Params, &str) -> PResult<C>,
) -> PResult<Conds<C>> {
    let key = format!("{prefix}_conditions");
    let op_key = format!("{prefix}_cond_op");
    let not_key = format!("{prefix}_cond_not");
    let expr_key = format!("{prefix}_cond_expr");
    let path = p.at(&key);
    let expr_path = p.at(&expr_key);
    let expr = p.opt_str(&expr_key)?;
    let op = p.opt_str(&op_key)?;
    let negate = p.bool(&not_key, false)?;
    let mut list = vec![];
    match p.get(&key) {
        None | Some(Y::Null) => {}
        Some(Y::Sequence(s)) => {
            if expr.is_some() {
                return perr(
                    &expr_path,
                    format!(
                        "'{expr_key}' needs '{key}' to be a map from identifiers to conditions"
                    ),
                );
            }
            for (i, c) in s.iter().enumerate() {
                let mut cp = Params::new(c, path.index(i), "a condition")?;
                let t = cp.req_str("type")?;
                let cond = f(&mut cp, &t)?;
                cp.finish(&format!("a '{t}' condition"))?;
                list.push((i.to_string(), cond));
            }
        }
        Some(Y::Mapping(m)) => {
            if expr.is_none() {
                return perr(
                    &path,
                    format!("a map of conditions needs '{expr_key}'; use a list otherwise"),
                );
            }
            for (k, c) in m {
                let Some(id) = scalar_text(k) else {
                    return perr(&path, "condition identifiers must be strings");
                };
                let mut cp = Params::new(c, path.key(&id), "a condition")?;
                let t = cp.req_str("type")?;
                let cond = f(&mut cp, &t)?;
                cp.finish(&format!("a '{t}' condition"))?;
                list.push((id, cond));
            }
        }
        Some(other) => {
            return perr(
                &path,
                format!(
                    "'{key}' must be a list or a map, found {}",
                    type_name(other)
                ),
            )
        }
    }
    let logic = match (expr, op.as_deref()) {
        (Some(_), Some(_)) => {
            return perr(
                &expr_path,
                format!("'{expr_key}' and '{op_key}' cannot be used together"),
            )
        }
        (Some(e), None) => {
            let ids: Vec<&str> = list.iter().map(|(id, _)| id.as_str()).collect();
            let (bexpr, used) = parse_bexpr(&e, &ids).or_else(|m| perr(&expr_path, m))?;
            for id in &ids {
                if !used.iter().any(|u| u == id) {
                    return perr(
                        &expr_path,
                        format!("condition '{id}' is not used in '{expr_key}'"),
                    );
                }
            }
            Logic::Expr(bexpr)
        }
        (None, None) | (None, Some("and")) => Logic::And,
        (None, Some("or")) => Logic::Or,
        (None, Some(other)) => {
            return perr(
                &p.at(&op_key),
                format!("'{op_key}' must be 'and' or 'or', found '{other}'"),
            )
        }
    };
    Ok(Conds {
        list,
        logic,
        negate,
    })
}

/// Parse `a and not (b or c)`; identifiers are `[A-Za-z0-9_-]+`.
pub(crate) fn parse_bexpr(s: &str, ids: &[&str]) -> Result<(BExpr, Vec<String>), String> {
    #[derive(Debug, PartialEq)]
    enum Tok {
        Id(String),
        And,
        Or,
        Not,
        L,
        R,
    }
    let mut toks = vec![];
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            chars.next();
            toks.push(Tok::L);
        } else if c == ')' {
            chars.next();
            toks.push(Tok::R);
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    w.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            toks.push(match w.as_str() {
                "and" => Tok::And,
                "or" => Tok::Or,
                "not" => Tok::Not,
                _ => Tok::Id(w),
            });
        } else {
            return Err(format!(
                "unexpected character '{c}' in condition expression"
            ));
        }
    }
    struct P<'a> {
        toks: Vec<Tok>,
        pos: usize,
        ids: &'a [&'a str],
        used: Vec<String>,
        depth: usize,
    }
    impl P<'_> {
        fn or(&mut self) -> Result<BExpr, String> {
            let mut l = self.and()?;
            while self.toks.get(self.pos) == Some(&Tok::Or) {
                self.pos += 1;
                l = BExpr::Or(Box::new(l), Box::new(self.and()?));
            }
            Ok(l)
        }
        fn and(&mut self) -> Result<BExpr, String> {
            let mut l = self.not()?;
            while self.toks.get(self.pos) == Some(&Tok::And) {
                self.pos += 1;
                l = BExpr::And(Box::new(l), Box::new(self.not()?));
            }
            Ok(l)
        }
        fn not(&mut self) -> Result<BExpr, String> {
            self.depth += 1;
            if self.depth > 64 {
                return Err("condition expression nested too deeply".into());
            }
            let r = match self.toks.get(self.pos) {
                Some(Tok::Not) => {
                    self.pos += 1;
                    Ok(BExpr::Not(Box::new(self.not()?)))
                }
                Some(Tok::L) => {
                    self.pos += 1;
                    let e = self.or()?;
                    if self.toks.get(self.pos) != Some(&Tok::R) {
                        return Err("missing ')' in condition expression".into());
                    }
                    self.pos += 1;
                    Ok(e)
                }
                Some(Tok::Id(name)) => {
                    let name = name.clone();
                    self.pos += 1;
                    match self.ids.iter().position(|i| *i == name) {
                        Some(i) => {
                            self.used.push(name);
                            Ok(BExpr::Id(i))
                        }
                        None => Err(format!(
                            "condition expression refers to unknown condition '{name}'"
                        )),
                    }
                }
                Some(t) => Err(format!("unexpected {t:?} in condition expression")),
                None => Err("condition expression ends too early".into()),
            };
            self.depth -= 1;
            r
        }
    }
    let mut p = P {
        toks,
        pos: 0,
        ids,
        used: vec![],
        depth: 0,
    };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err("unexpected text after the end of the condition expression".into());
    }
    Ok((e, p.used))
}

fn cmp_op(p: &mut Params, allow_in: bool) -> PResult<CmpOp> {
    let path = p.at("op");
    Ok(match p.opt_str("op")?.as_deref() {
        None | Some("eq") => CmpOp::Eq,
        Some("ne") => CmpOp::Ne,
        Some("gte") => CmpOp::Gte,
        Some("gt") => CmpOp::Gt,
        Some("lte") => CmpOp::Lte,
        Some("lt") => CmpOp::Lt,
        Some("in") if allow_in => CmpOp::In,
        Some("not_in") if allow_in => CmpOp::NotIn,
        Some(o) => return perr(&path, format!("unknown comparison operator '{o}'")),
    })
}

fn state_cond(p: &mut Params) -> PResult<(String, J, CmpOp)> {
    let key = p.req_str("key")?;
    let path = p.path.clone();
    let val = match p.get("val") {
        Some(v) => to_json(v),
        None => return perr(&path.at_key(), "missing 'val'"),
    };
    Ok((key, val, cmp_op(p, false)?))
}

fn value_param(p: &mut Params) -> PResult<J> {
    let path = p.path.clone();
    match p.get("value") {
        Some(v @ (Y::Sequence(_) | Y::Mapping(_))) if !matches!(v, Y::Null) => {
            perr(&path.key("value"), "'value' must be a scalar")
        }
        Some(v) => Ok(to_json(v)),
        None => perr(&path.at_key(), "missing 'value'"),
    }
}

/// `cond: any|all` of value conditions: one IR leaf holds one value, so both agree.
fn any_all(p: &mut Params) -> PResult<()> {
    let path = p.at("cond");
    match p.opt_str("cond")?.as_deref() {
        None | Some("any") | Some("all") => Ok(()),
        Some(o) => perr(&path, format!("'cond' must be 'any' or 'all', found '{o}'")),
    }
}

fn rule_cond(p: &mut Params, t: &str) -> PResult<RuleCond> {
    Ok(match t {
        "logsource" => RuleCond::Logsource {
            category: p.opt_str("category")?,
            product: p.opt_str("product")?,
            service: p.opt_str("service")?,
        },
        "contains_detection_item" => RuleCond::ContainsItem {
            field: p.opt_str("field")?,
            value: value_param(p)?,
        },
        "contains_field" => RuleCond::ContainsField(p.req_str("field")?),
        "processing_item_applied" => RuleCond::Applied(p.req_str("processing_item_id")?),
        "processing_state" => {
            let (key, val, op) = state_cond(p)?;
            RuleCond::State { key, val, op }
        }
        "is_sigma_rule" => RuleCond::IsRule,
        "is_sigma_correlation_rule" => RuleCond::IsCorrelation,
        "rule_attribute" => {
            let attr = p.req_str("attribute")?;
            let path = p.path.clone();
            let value = match p.get("value") {
                Some(v) => to_json(v),
                None => return perr(&path.at_key(), "missing 'value'"),
            };
            RuleCond::Attribute {
                attr,
                value,
                op: cmp_op(p, true)?,
            }
        }
        "tag" => RuleCond::Tag(p.req_str("tag")?),
        other => {
            return perr(
                &p.at("type"),
                format!("unknown rule condition type '{other}'"),
            )
        }
    })
}

fn item_cond(p: &mut Params, t: &str) -> PResult<ItemCond> {
    Ok(match t {
        "match_string" => {
            any_all(p)?;
            let path = p.at("pattern");
            let re = compile_re_match(&p.req_str("pattern")?, &path)?;
            ItemCond::MatchString {
                re,
                negate: p.bool("negate", false)?,
            }
        }
        "match_value" => {
            any_all(p)?;
            ItemCond::MatchValue(value_param(p)?)
        }
        "contains_wildcard" => {
            any_all(p)?;
            ItemCond::ContainsWildcard
        }
        "is_null" => {
            any_all(p)?;
            ItemCond::IsNull
        }
        "processing_item_applied" => ItemCond::Applied(p.req_str("processing_item_id")?),
        "processing_state" => {
            let (key, val, op) = state_cond(p)?;
            ItemCond::State { key, val, op }
        }
        other => {
            return perr(
                &p.at("type"),
                format!("unknown detection item condition type '{other}'"),
            )
        }
    })
}

fn field_sel(p: &mut Params) -> PResult<FieldSel> {
    let path = p.at("fields");
    let fields = match p.str_list("fields")? {
        Some(f) => f,
        None => return perr(&p.path.clone().at_key(), "missing 'fields'"),
    };
    match p.opt_str("mode")?.as_deref() {
        None | Some("plain") => Ok(FieldSel::Plain(fields)),
        Some("re") => Ok(FieldSel::Re(
            fields
                .iter()
                .enumerate()
                .map(|(i, f)| compile_re_match(f, &path.index(i)))
                .collect::<PResult<_>>()?,
        )),
        Some(o) => perr(
            &p.at("mode"),
            format!("'mode' must be 'plain' or 're', found '{o}'"),
        ),
    }
}

fn field_cond(p: &mut Params, t: &str) -> PResult<FieldCond> {
    Ok(match t {
        "include_fields" => FieldCond::Include(field_sel(p)?),
        "exclude_fields" => FieldCond::Exclude(field_sel(p)?),
        "processing_item_applied" => FieldCond::Applied(p.req_str("processing_item_id")?),
        "processing_state" => {
            let (key, val, op) = state_cond(p)?;
            FieldCond::State { key, val, op }
        }
        other => {
            return perr(
                &p.at("type"),
                format!("unknown field name condition type '{other}'"),
            )
        }
    })
}

fn ph_sel(p: &mut Params) -> PResult<PhSel> {
    let path = p.path.clone();
    let inc = p.str_list("include")?;
    let exc = p.str_list("exclude")?;
    match (inc, exc) {
        (Some(_), Some(_)) => perr(&path, "'include' and 'exclude' are mutually exclusive"),
        (Some(i), None) => Ok(PhSel::Include(i)),
        (None, Some(e)) => Ok(PhSel::Exclude(e)),
        (None, None) => Ok(PhSel::All),
    }
}

/// `{src: dst | [dst, ...]}`.
fn mapping(p: &mut Params, allow_null_key: bool) -> PResult<Vec<(Option<String>, Vec<String>)>> {
    let path = p.at("mapping");
    let m = match p.get("mapping") {
        Some(Y::Mapping(m)) => m,
        Some(other) => {
            return perr(
                &path,
                format!("'mapping' must be a map, found {}", type_name(other)),
            )
        }
        None => return perr(&p.path.clone().at_key(), "missing 'mapping'"),
    };
    let mut out = vec![];
    for (k, v) in m {
        let key = match k {
            Y::Null if allow_null_key => None,
            other => match scalar_text(other) {
                Some(s) => Some(s),
                None => return perr(&path, "mapping keys must be strings"),
            },
        };
        let at = path.key(key.as_deref().unwrap_or("~"));
        let targets = match v {
            Y::Sequence(s) => s
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    scalar_text(x)
                        .map_or_else(|| perr(&at.index(i), "mapping targets must be strings"), Ok)
                })
                .collect::<PResult<Vec<_>>>()?,
            other => match scalar_text(other) {
                Some(s) => vec![s],
                None => {
                    return perr(
                        &at,
                        format!(
                            "a mapping target must be a string or a list of strings, found {}",
                            type_name(other)
                        ),
                    )
                }
            },
        };
        if targets.is_empty() {
            return perr(&at, "a mapping needs at least one target");
        }
        out.push((key, targets));
    }
    Ok(out)
}

pub(crate) fn parse_item(v: &Y, path: YamlPath) -> PResult<Item> {
    let mut p = Params::new(v, path, "a processing item")?;
    let id = p.opt_str("id")?;
    let t_path = p.at("type");
    let ty = p.req_str("type")?;
    let rule_conds = parse_conds(&mut p, "rule", rule_cond)?;
    let item_conds = parse_conds(&mut p, "detection_item", item_cond)?;
    let field_conds = parse_conds(&mut p, "field_name", field_cond)?;
    let t = match ty.as_str() {
        "field_name_mapping" => Transform::FieldMap(mapping(&mut p, true)?),
        "field_name_prefix_mapping" => Transform::FieldPrefixMap(
            mapping(&mut p, false)?
                .into_iter()
                .map(|(k, v)| (k.unwrap_or_default(), v))
                .collect(),
        ),
        "field_name_prefix" => Transform::FieldPrefix(p.req_str("prefix")?),
        "field_name_suffix" => Transform::FieldSuffix(p.req_str("suffix")?),
        "drop_detection_item" => Transform::DropItem,
        "hashes_fields" => {
            let hpath = p.at("valid_hash_algos");
            let algos = p
                .str_list("valid_hash_algos")?
                .ok_or_else(|| Perr {
                    path: hpath.clone().at_key(),
                    msg: "missing 'valid_hash_algos'".into(),
                })?
                .into_iter()
                .map(|a| a.to_uppercase())
                .collect();
            Transform::HashesFields {
                algos,
                prefix: p.opt_str("field_prefix")?.unwrap_or_default(),
                drop_algo: p.bool("drop_algo_prefix", false)?,
                fields: p
                    .str_list("field_to_parse")?
                    .unwrap_or_else(|| vec!["Hashes".into(), "Hash".into()]),
            }
        }
        "replace_string" => {
            let rpath = p.at("regex");
            let re = compile_re(&p.req_str("regex")?, &rpath)?;
            let rep_path = p.at("replacement");
            let replacement = python_replacement(&p.req_str("replacement")?)
                .or_else(|m| perr(&rep_path, m))?;
            Transform::ReplaceString {
                re,
                replacement,
                skip_special: p.bool("skip_special", false)?,
                interpret_special: p.bool("interpret_special", false)?,
            }
        }
        "map_string" => Transform::MapString(
            mapping(&mut p, false)?
                .into_iter()
                .map(|(k, v)| (k.unwrap_or_default(), v))
                .collect(),
        ),
        "regex" => {
            let mpath = p.at("method");
            Transform::Regex(match p.opt_str("method")?.as_deref() {
                None | Some("ignore_case_brackets") => RegexMethod::Brackets,
                Some("ignore_case_flag") => RegexMethod::Flag,
                Some("plain") => RegexMethod::Plain,
                Some(o) => {
                    return perr(
                        &mpath,
                        format!("'method' must be plain, ignore_case_flag or ignore_case_brackets, found '{o}'"),
                    )
                }
            })
        }
        "set_value" => {
            let vpath = p.at("value");
            let v = match p.get("value") {
                Some(v) => v,
                None => return perr(&p.path.clone().at_key(), "missing 'value'"),
            };
            let fpath = p.at("force_type");
            let force = p.opt_str("force_type")?;
            let nv = match (v, force.as_deref()) {
                (Y::Sequence(_) | Y::Mapping(_) | Y::Tagged(_), _) => {
                    return perr(&vpath, "'value' must be a scalar")
                }
                (Y::Null, None) => NewValue::Null,
                (Y::Bool(b), None) => NewValue::Bool(*b),
                (Y::String(s), None) => NewValue::Str(s.clone()),
                (Y::Number(n), None) => number_value(n),
                (Y::Null | Y::Bool(_), Some(_)) => {
                    return perr(&fpath, "'force_type' only applies to strings and numbers")
                }
                (v, Some("str")) => NewValue::Str(scalar_text(v).unwrap_or_default()),
                (Y::Number(n), Some("num")) => number_value(n),
                (Y::String(s), Some("num")) => match parse_number(s) {
                    Some(n) => n,
                    None => return perr(&vpath, format!("'{s}' is not a number")),
                },
                (_, Some(o)) => {
                    return perr(&fpath, format!("'force_type' must be str or num, found '{o}'"))
                }
            };
            Transform::SetValue(nv)
        }
        "convert_type" => {
            let tpath = p.at("target_type");
            match p.req_str("target_type")?.as_str() {
                "str" => Transform::ConvertType { to_num: false },
                "num" => Transform::ConvertType { to_num: true },
                o => {
                    return perr(&tpath, format!("'target_type' must be str or num, found '{o}'"))
                }
            }
        }
        "case" => {
            let mpath = p.at("method");
            Transform::Case(match p.opt_str("method")?.as_deref() {
                None | Some("lower") => CaseMethod::Lower,
                Some("upper") => CaseMethod::Upper,
                Some("snake_case") => CaseMethod::Snake,
                Some(o) => {
                    return perr(
                        &mpath,
                        format!("'method' must be lower, upper or snake_case, found '{o}'"),
                    )
                }
            })
        }
        "wildcard_placeholders" => Transform::WildcardPlaceholders(ph_sel(&mut p)?),
        "value_placeholders" => Transform::ValuePlaceholders(ph_sel(&mut p)?),
        "query_expression_placeholders" => {
            p.req_str("expression")?;
            let _ = p.get("mapping");
            Transform::QueryExpressionPlaceholders(ph_sel(&mut p)?)
        }
        "add_condition" => {
            let cpath = p.at("conditions");
            let conditions = match p.get("conditions") {
                Some(v @ Y::Mapping(_)) => v.clone(),
                Some(Y::Sequence(s)) if s.iter().all(|x| matches!(x, Y::Mapping(_))) => {
                    Y::Sequence(s.clone())
                }
                Some(other) => {
                    return perr(
                        &cpath,
                        format!(
                            "'conditions' must be a map of field: value (or a list of such maps), found {}",
                            type_name(other)
                        ),
                    )
                }
                None => return perr(&p.path.clone().at_key(), "missing 'conditions'"),
            };
            let _ = p.opt_str("name")?;
            let template = p.bool("template", false)?;
            let negated = p.bool("negated", false)?;
            let lowered = if template {
                None
            } else {
                Some(
                    crate::apply::lower_conditions(&conditions)
                        .or_else(|m| perr(&cpath, m))?,
                )
            };
            Transform::AddCondition {
                conditions,
                lowered,
                template,
                negated,
            }
        }
        "change_logsource" => Transform::ChangeLogsource {
            category: p.opt_str("category")?,
            product: p.opt_str("product")?,
            service: p.opt_str("service")?,
        },
        "set_custom_attribute" => {
            let attr = p.req_str("attribute")?;
            let path = p.path.clone();
            let value = match p.get("value") {
                Some(v) => to_json(v),
                None => return perr(&path.at_key(), "missing 'value'"),
            };
            Transform::SetCustomAttribute { attr, value }
        }
        "set_state" => {
            let key = p.req_str("key")?;
            let path = p.path.clone();
            let val = match p.get("val") {
                Some(v) => to_json(v),
                None => return perr(&path.at_key(), "missing 'val'"),
            };
            Transform::SetState { key, val }
        }
        "rule_failure" => Transform::RuleFailure(p.req_str("message")?),
        "detection_item_failure" => Transform::ItemFailure(p.req_str("message")?),
        "strict_field_mapping_failure" => Transform::StrictFieldMapping,
        "add_field" => Transform::AddField(req_list(&mut p, "field")?),
        "remove_field" => Transform::RemoveField(req_list(&mut p, "field")?),
        "set_field" => Transform::SetField(req_list(&mut p, "fields")?),
        "nest" => {
            if !item_conds.is_empty() || !field_conds.is_empty() {
                return perr(
                    &t_path,
                    "'nest' takes rule conditions only; put detection item and field name conditions on the nested items",
                );
            }
            let ipath = p.at("items");
            match p.get("items") {
                Some(Y::Sequence(s)) => Transform::Nest(
                    s.iter()
                        .enumerate()
                        .map(|(i, v)| parse_item(v, ipath.index(i)))
                        .collect::<PResult<_>>()?,
                ),
                _ => return perr(&ipath, "'nest' needs 'items', a list of processing items"),
            }
        }
        "field_name_transform" => {
            return perr(
                &t_path,
                "'field_name_transform' takes a Python function and cannot be loaded from YAML",
            )
        }
        "file_placeholders" | "http_placeholders" | "command_placeholders" => {
            return perr(
                &t_path,
                format!("'{ty}' reads values from outside the pipeline (files, HTTP, commands); sigil does not support external sources: put the values in 'vars' and use value_placeholders"),
            )
        }
        "extract_fields" => {
            return perr(
                &t_path,
                "'extract_fields' is not supported by sigil (see the sigil-pipeline README)",
            )
        }
        other => {
            let known = TRANSFORMATIONS;
            let hint = known
                .iter()
                .filter(|k| sigil_core::edit_distance(k, other) <= 3)
                .min_by_key(|k| sigil_core::edit_distance(k, other))
                .map(|k| format!(" (did you mean '{k}'?)"))
                .unwrap_or_default();
            return perr(&t_path, format!("unknown transformation type '{other}'{hint}"));
        }
    };
    p.finish(&format!("a '{ty}' item"))?;
    Ok(Item {
        id,
        t,
        rule_conds,
        item_conds,
        field_conds,
    })
}

/// Transformation types sigil knows (for hints).
pub(crate) const TRANSFORMATIONS: &[&str] = &[
    "field_name_mapping",
    "field_name_prefix_mapping",
    "field_name_prefix",
    "field_name_suffix",
    "drop_detection_item",
    "hashes_fields",
    "replace_string",
    "map_string",
    "regex",
    "set_value",
    "convert_type",
    "case",
    "wildcard_placeholders",
    "value_placeholders",
    "query_expression_placeholders",
    "add_condition",
    "change_logsource",
    "set_custom_attribute",
    "set_state",
    "rule_failure",
    "detection_item_failure",
    "strict_field_mapping_failure",
    "add_field",
    "remove_field",
    "set_field",
    "nest",
];

fn req_list(p: &mut Params, key: &str) -> PResult<Vec<String>> {
    match p.str_list(key)? {
        Some(v) => Ok(v),
        None => perr(&p.path.clone().at_key(), format!("missing '{key}'")),
    }
}

fn number_value(n: &serde_yaml::Number) -> NewValue {
    match n.as_i64() {
        Some(i) => NewValue::Int(i),
        None => NewValue::Float(n.as_f64().unwrap_or(0.0)),
    }
}

pub(crate) fn parse_number(s: &str) -> Option<NewValue> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(NewValue::Int(i));
    }
    t.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(NewValue::Float)
}

/// Python `re.sub` replacement syntax → the `regex` crate's: `\1`, `\g<1>`, `\g<name>`
/// become `${1}`/`${name}`, `$` is escaped, `\n`/`\t`/`\\` are unescaped.
pub(crate) fn python_replacement(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.next() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = d.to_string();
                    if let Some(&e) = chars.peek() {
                        if e.is_ascii_digit() {
                            n.push(e);
                            chars.next();
                        }
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('g') => {
                    if chars.next() != Some('<') {
                        return Err("'\\g' must be followed by <name> in the replacement".into());
                    }
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('>') => break,
                            Some(c) => name.push(c),
                            None => return Err("unterminated '\\g<' in the replacement".into()),
                        }
                    }
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

pub(crate) fn parse_post(v: &Y, path: YamlPath) -> PResult<PostItem> {
    let mut p = Params::new(v, path, "a postprocessing item")?;
    let _ = p.opt_str("id")?;
    let t_path = p.at("type");
    let ty = p.req_str("type")?;
    let rule_conds = parse_conds(&mut p, "rule", rule_cond)?;
    for k in ["detection_item", "field_name"] {
        for suffix in ["conditions", "cond_op", "cond_not", "cond_expr"] {
            let key = format!("{k}_{suffix}");
            if p.has(&key) {
                return perr(
                    &p.at(&key).at_key(),
                    format!("postprocessing items accept rule conditions only, not '{key}'"),
                );
            }
        }
    }
    let t = match ty.as_str() {
        "embed" => PostT::Embed {
            prefix: p.opt_str("prefix")?.unwrap_or_default(),
            suffix: p.opt_str("suffix")?.unwrap_or_default(),
        },
        "simple_template" => {
            let tpath = p.at("template");
            let tpl = p.req_str("template")?;
            PostT::SimpleTemplate(parse_template(&tpl).or_else(|m| perr(&tpath, m))?)
        }
        "json" => {
            let jpath = p.at("json_template");
            let tpl = p.req_str("json_template")?;
            match serde_json::from_str::<J>(&tpl) {
                Ok(j) => PostT::Json(j),
                Err(e) => return perr(&jpath, format!("'json_template' is not valid JSON: {e}")),
            }
        }
        "replace" => {
            let rpath = p.at("pattern");
            let re = compile_re(&p.req_str("pattern")?, &rpath)?;
            let rep_path = p.at("replacement");
            let replacement = python_replacement(&p.req_str("replacement")?)
                .or_else(|m| perr(&rep_path, m))?;
            PostT::Replace { re, replacement }
        }
        "nest" => {
            let ipath = p.at("items");
            match p.get("items") {
                Some(Y::Sequence(s)) => PostT::Nest(
                    s.iter()
                        .enumerate()
                        .map(|(i, v)| parse_post(v, ipath.index(i)))
                        .collect::<PResult<_>>()?,
                ),
                _ => return perr(&ipath, "'nest' needs 'items', a list of postprocessing items"),
            }
        }
        "template" => return perr(&t_path, JINJA),
        other => {
            return perr(
                &t_path,
                format!("unknown postprocessing type '{other}' (known: embed, simple_template, json, replace, nest)"),
            )
        }
    };
    p.finish(&format!("a '{ty}' postprocessing item"))?;
    Ok(PostItem { t, rule_conds })
}

const JINJA: &str = "Jinja2 'template' items are not supported: pySigma renders them with Jinja2 over its Python rule objects (attributes, methods, filters), which sigil cannot reproduce faithfully; use simple_template, embed, json or replace";

/// Python `str.format` subset: `{query}`, `{rule.<attr>}`, `{pipeline.name}`,
/// `{pipeline.state[key]}`, `{{`, `}}`.
pub(crate) fn parse_template(s: &str) -> Result<Vec<TplPiece>, String> {
    let mut out = vec![];
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                lit.push('}');
            }
            '}' => return Err("single '}' in template (write '}}')".into()),
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err("unterminated '{' in template".into()),
                    }
                }
                if !lit.is_empty() {
                    out.push(TplPiece::Lit(std::mem::take(&mut lit)));
                }
                out.push(match name.as_str() {
                    "query" => TplPiece::Query,
                    "pipeline.name" => TplPiece::PipelineName,
                    n if n.starts_with("rule.") && RULE_ATTRS.contains(&&n[5..]) => {
                        TplPiece::Rule(n[5..].to_string())
                    }
                    n if n.starts_with("pipeline.state[") && n.ends_with(']') => {
                        let k = &n["pipeline.state[".len()..n.len() - 1];
                        TplPiece::State(k.trim_matches(|c| c == '\'' || c == '"').to_string())
                    }
                    n => {
                        return Err(format!(
                            "unknown template field '{{{n}}}' (known: {{query}}, {{pipeline.name}}, {{pipeline.state[key]}}, {})",
                            RULE_ATTRS
                                .iter()
                                .map(|a| format!("{{rule.{a}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }
                });
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(TplPiece::Lit(lit));
    }
    Ok(out)
}

pub(crate) const RULE_ATTRS: &[&str] = &[
    "title",
    "id",
    "name",
    "status",
    "level",
    "description",
    "author",
    "date",
    "modified",
    "license",
    "taxonomy",
    "source",
];

pub(crate) fn parse_finalizer(v: &Y, path: YamlPath) -> PResult<Finalizer> {
    let mut p = Params::new(v, path, "a finalizer")?;
    let t_path = p.at("type");
    let ty = p.req_str("type")?;
    let f = match ty.as_str() {
        "concat" => Finalizer::Concat {
            separator: p.opt_str("separator")?.unwrap_or_else(|| "\n".into()),
            prefix: p.opt_str("prefix")?.unwrap_or_default(),
            suffix: p.opt_str("suffix")?.unwrap_or_default(),
        },
        "json" => {
            let ipath = p.at("indent");
            let indent = match p.opt_int("indent")? {
                None => None,
                Some(i) if (0..=16).contains(&i) => Some(i as usize),
                Some(_) => return perr(&ipath, "'indent' must be between 0 and 16"),
            };
            Finalizer::Json { indent }
        }
        "yaml" => {
            let _ = p.opt_int("indent")?;
            Finalizer::Yaml
        }
        "nested" => {
            let fpath = p.at("finalizers");
            match p.get("finalizers") {
                Some(Y::Sequence(s)) => Finalizer::Nested(
                    s.iter()
                        .enumerate()
                        .map(|(i, v)| parse_finalizer(v, fpath.index(i)))
                        .collect::<PResult<_>>()?,
                ),
                _ => return perr(&fpath, "'nested' needs 'finalizers', a list"),
            }
        }
        "template" => return perr(&t_path, JINJA),
        other => {
            return perr(
                &t_path,
                format!("unknown finalizer type '{other}' (known: concat, json, yaml, nested)"),
            )
        }
    };
    p.finish(&format!("a '{ty}' finalizer"))?;
    Ok(f)
}
