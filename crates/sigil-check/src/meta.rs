//! Metadata, file name and tag validators, and the cross-rule ones (duplicates).

// foldhash (hashbrown's default) rather than SipHash: these maps sit on the per-rule path.
use hashbrown::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use sigil_core::ast::{Date, Document, RuleMeta, YamlPath};
use sigil_core::Collection;

use crate::data::{self, AttackStatus};
use crate::text::TopLevel;
use crate::{Config, Ctx, Finding};

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).expect("static regex"))
}

/// `^[a-z0-9_-]+\.[a-z0-9._-]+$` by hand: it runs on every tag of every rule.
fn tag_format_ok(tag: &str) -> bool {
    let Some((ns, name)) = tag.split_once('.') else {
        return false;
    };
    let ok = |c: u8, dot: bool| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-' || (dot && c == b'.')
    };
    !ns.is_empty()
        && !name.is_empty()
        && ns.bytes().all(|c| ok(c, false))
        && name.bytes().all(|c| ok(c, true))
}

fn tags_path(i: usize) -> YamlPath {
    YamlPath::of(&["tags"]).index(i)
}

pub fn check_document(ctx: &mut Ctx, doc: &Document, scan: &TopLevel<'_>) {
    let meta = doc.meta().clone();
    let root = YamlPath::root();
    let is_rule = matches!(doc, Document::Rule(_));

    // --- identity
    match meta.id {
        None => {
            ctx.push(
                "id_missing",
                root.key("title").at_key(),
                format!("{} has no `id`", doc.kind_name()),
            )
            .help("add `id:` with a new random UUID (version 4)");
        }
        Some(id) => {
            if let Some(raw) = scan.get(ctx.document, "id") {
                if raw.value.chars().any(|c| c.is_ascii_uppercase())
                    && raw.value.eq_ignore_ascii_case(&id.to_string())
                {
                    let lower = id.to_string();
                    ctx.push_at(
                        "id_case",
                        raw.span,
                        format!("id '{}' has upper-case hex digits", raw.value),
                    )
                    .help(format!("write '{lower}'"))
                    .fix(raw.value.to_string(), lower);
                }
            }
            if id.get_version_num() != 4 {
                ctx.push(
                    "id_not_v4",
                    root.key("id"),
                    format!(
                        "id {id} is a version {} UUID, not a random (version 4) one",
                        id.get_version_num()
                    ),
                );
            }
        }
    }

    // --- title
    let title_len = meta.title.chars().count();
    if title_len > 110 {
        ctx.push(
            "title_length",
            root.key("title"),
            format!("the title is {title_len} characters long; keep it under 110"),
        );
    }
    let t = meta.title.trim();
    if t.starts_with("Detect") || t.ends_with('.') {
        let what = if t.starts_with("Detect") {
            "starts with 'Detect'"
        } else {
            "ends with a period"
        };
        ctx.push("title_style", root.key("title"), format!("the title {what}"))
            .help("a title names what is detected: 'Suspicious Encoded PowerShell Command', without a period");
    }

    // --- description, author
    match &meta.description {
        None if is_rule => {
            ctx.push(
                "description_missing",
                root.key("title").at_key(),
                "the rule has no description".into(),
            );
        }
        Some(d) if d.trim().chars().count() < 16 => {
            ctx.push(
                "description_length",
                root.key("description"),
                format!(
                    "the description has only {} characters",
                    d.trim().chars().count()
                ),
            )
            .help("explain what the rule detects and why it matters");
        }
        _ => {}
    }
    if meta.author.is_none() && is_rule {
        ctx.push(
            "author_missing",
            root.key("title").at_key(),
            "the rule has no author".into(),
        );
    }

    // --- dates
    if meta.date.is_none() && is_rule {
        ctx.push(
            "date_missing",
            root.key("title").at_key(),
            "the rule has no `date`".into(),
        )
        .help("add `date: YYYY-MM-DD` (the day the rule was written)");
    }
    for (key, d) in [("date", meta.date), ("modified", meta.modified)] {
        if let Some(d) = d {
            if d.legacy_slashes {
                date_format(ctx, scan, key, d);
            }
        }
    }
    match (meta.date, meta.modified) {
        (Some(d), Some(m)) if (m.year, m.month, m.day) < (d.year, d.month, d.day) => {
            ctx.push(
                "modified_before_date",
                root.key("modified"),
                format!("`modified` ({m}) is earlier than `date` ({d})"),
            );
        }
        (Some(d), Some(m)) if (m.year, m.month, m.day) == (d.year, d.month, d.day) => {
            ctx.push(
                "modified_redundant",
                root.key("modified"),
                format!("`modified` equals `date` ({d})"),
            )
            .help("remove `modified` until the rule changes");
        }
        (None, Some(_)) => {
            ctx.push(
                "modified_without_date",
                root.key("modified").at_key(),
                "`modified` is set but `date` is not".into(),
            );
        }
        _ => {}
    }

    // --- status and level
    if is_rule && meta.status.is_none() {
        ctx.push(
            "status_missing",
            root.key("title").at_key(),
            "the rule has no `status`".into(),
        )
        .help("new rules start as `status: experimental`");
    }
    if is_rule && meta.level.is_none() {
        ctx.push(
            "level_missing",
            root.key("title").at_key(),
            "the rule has no `level`".into(),
        )
        .help("add `level:` informational, low, medium, high or critical");
    }
    for (key, name) in [
        ("status", meta.status.map(|s| s.name())),
        ("level", meta.level.map(|l| l.name())),
    ] {
        let (Some(name), Some(raw)) = (name, scan.get(ctx.document, key)) else {
            continue;
        };
        if raw.value != name && raw.value.eq_ignore_ascii_case(name) {
            ctx.push_at(
                "enum_case",
                raw.span,
                format!("`{key}: {}` is not lower case", raw.value),
            )
            .help(format!("write `{key}: {name}`"))
            .fix(raw.value.to_string(), name);
        }
    }

    // --- references
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, r) in meta.references.iter().enumerate() {
        let p = YamlPath::of(&["references"]).index(i);
        if let Some(first) = seen.insert(r.as_str(), i) {
            ctx.push(
                "references_duplicate",
                p.clone(),
                format!("reference '{r}' is listed twice"),
            )
            .help(format!("it is already entry {} of `references`", first + 1));
            continue;
        }
        let lower = r.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            ctx.push(
                "reference_not_url",
                p.clone(),
                format!("reference '{}' is not an http(s) URL", short(r)),
            );
            continue;
        }
        static GH: OnceLock<Regex> = OnceLock::new();
        // The regex only on GitHub links: most references are not, and `captures` costs.
        let branch = r.starts_with("https://github.com/").then(|| {
            re(
                &GH,
                r"^https://github\.com/[^/]+/[^/]+/(?:blob|tree)/(main|master|dev|develop)/",
            )
            .captures(r)
        });
        if let Some(c) = branch.flatten() {
            ctx.push(
                "reference_github_branch",
                p.clone(),
                format!("reference points at the '{}' branch, which moves", &c[1]),
            )
            .help("link to a commit hash (press `y` on GitHub for a permanent link)");
        }
        if lower.contains("attack.mitre.org/") {
            ctx.push(
                "reference_mitre",
                p,
                "reference links to attack.mitre.org".into(),
            )
            .help("express ATT&CK with tags (attack.tXXXX) rather than references");
        }
    }

    // --- false positives
    if is_rule && meta.falsepositives.is_empty() {
        ctx.push(
            "falsepositives_missing",
            root.key("title").at_key(),
            "the rule lists no false positives".into(),
        )
        .help("add `falsepositives:` (use 'Unknown' or 'Unlikely' when none are known)");
    }
    for (i, fp) in meta.falsepositives.iter().enumerate() {
        let p = YamlPath::of(&["falsepositives"]).index(i);
        let word = fp.trim().trim_end_matches('.').to_ascii_lowercase();
        if matches!(
            word.as_str(),
            "none" | "pentest" | "penetration test" | "penetration testing" | "n/a" | "-"
        ) {
            ctx.push(
                "falsepositives_banned",
                p,
                format!("'{fp}' is not a false positive"),
            )
            .help("write 'Unknown' or 'Unlikely', or describe the legitimate activity");
        } else if fp.chars().next().is_some_and(|c| c.is_lowercase()) {
            ctx.push(
                "falsepositives_capital",
                p,
                format!(
                    "false positive '{}' does not start with a capital letter",
                    short(fp)
                ),
            );
        }
    }

    // --- custom attributes
    for key in meta.custom.keys() {
        let target = match key.as_str() {
            "realted" | "relatde" | "relted" | "rlated" | "reated" => Some("related"),
            "reference" | "refrences" | "referneces" => Some("references"),
            _ => None,
        };
        if let Some(t) = target {
            ctx.push(
                "custom_attribute_typo",
                root.key(key).at_key(),
                format!("'{key}' is not a Sigma attribute"),
            )
            .help(format!("did you mean '{t}'?"));
        }
    }
    if let Document::Rule(r) = doc {
        if !r.fields.is_empty() {
            ctx.push(
                "fields_deprecated",
                root.key("fields").at_key(),
                "the `fields` attribute is deprecated".into(),
            );
        }
    }

    // --- file name (once per file)
    if ctx.document == first_document(ctx) {
        file_name(ctx);
    }

    // --- tags
    check_tags(ctx, &meta);
}

fn first_document(ctx: &Ctx) -> usize {
    ctx.file
        .documents
        .iter()
        .map(|d| d.meta().source.document)
        .min()
        .unwrap_or(0)
}

fn short(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s.to_string()
    }
}

fn date_format(ctx: &mut Ctx, scan: &TopLevel<'_>, key: &str, d: Date) {
    let iso = d.to_string();
    match scan.get(ctx.document, key) {
        Some(raw) => {
            let old = raw.value.to_string();
            ctx.push_at(
                "date_format",
                raw.span,
                format!("`{key}: {old}` uses the legacy YYYY/MM/DD form"),
            )
            .help(format!("write `{key}: {iso}`"))
            .fix(old, iso);
        }
        None => {
            ctx.push(
                "date_format",
                YamlPath::of(&[key]),
                format!("`{key}` uses the legacy YYYY/MM/DD form"),
            )
            .help(format!("write `{key}: {iso}`"));
        }
    }
}

fn file_name(ctx: &mut Ctx) {
    let path: &str = &ctx.file.path;
    // The path is a `str`: so is its last component.
    let name = std::path::Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name.is_empty() || path.starts_with('<') {
        return;
    }
    let n = name.chars().count();
    let top = YamlPath::root();
    if !(10..=90).contains(&n) {
        ctx.push(
            "filename_length",
            top.clone(),
            format!("file name '{name}' has {n} characters; expected 10 to 90"),
        );
    }
    if !file_name_convention_ok(name) {
        ctx.push(
            "filename_convention",
            top,
            format!("file name '{name}' is not lower-case [a-z0-9_] with a .yml extension"),
        );
    }
}

/// `^[a-z0-9_]+\.yml$` by hand: it runs on every file.
fn file_name_convention_ok(name: &str) -> bool {
    name.strip_suffix(".yml").is_some_and(|stem| {
        !stem.is_empty()
            && stem
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

const D3FEND: &str =
    r"^(?:d3-[a-z0-9]+|d3f-[a-z0-9-]+|model|harden|detect|isolate|deceive|evict|restore)$";

const NAMESPACES: [&str; 7] = ["attack", "car", "cve", "d3fend", "detection", "stp", "tlp"];

fn check_tags(ctx: &mut Ctx, meta: &RuleMeta) {
    static CVE: OnceLock<Regex> = OnceLock::new();
    static CAR: OnceLock<Regex> = OnceLock::new();
    static STP: OnceLock<Regex> = OnceLock::new();
    static D3: OnceLock<Regex> = OnceLock::new();
    let attack = data::attack();
    // One lower-cased copy per tag (ASCII lower-casing keeps byte offsets, so namespace
    // and name are slices of it); the text as written is formatted only for a message.
    let lowered: Vec<String> = meta
        .tags
        .iter()
        .map(|t| {
            // `Tag`'s Display without the formatting machinery.
            let mut l = String::with_capacity(t.namespace.len() + 1 + t.name.len());
            l.push_str(&t.namespace);
            l.push('.');
            l.push_str(&t.name);
            l.make_ascii_lowercase();
            l
        })
        .collect();
    let mut techniques: Vec<(usize, &'static data::AttackObject)> = vec![];
    let mut tactics: Vec<&str> = vec![];
    let (mut n_detection, mut n_tlp) = (0, 0);
    for (i, tag) in meta.tags.iter().enumerate() {
        let lower = lowered[i].as_str();
        let (ns, name) = lower.split_at(tag.namespace.len());
        let name = &name[1..];
        let p = || tags_path(i);
        // D3FEND artifacts are CamelCase by definition (d3f-WindowsRegistryKey).
        let artifact = ns == "d3fend" && name.starts_with("d3f-");
        let upper = |s: &str| s.bytes().any(|b| b.is_ascii_uppercase());
        if (upper(&tag.namespace) || upper(&tag.name)) && !artifact {
            ctx.push("tag_case", p(), format!("tag '{tag}' is not lower case"))
                .help(format!("write '{lower}'"))
                .fix(tag.to_string(), lower.to_string());
        }
        if let Some(first) = lowered[..i].iter().rposition(|l| l == lower) {
            ctx.push("tag_duplicate", p(), format!("tag '{tag}' is listed twice"))
                .help(format!("it is already tag {} of the list", first + 1));
            continue;
        }
        if !tag_format_ok(lower) && !artifact {
            ctx.push(
                "tag_format",
                p(),
                format!("tag '{tag}' is not namespace.name with letters, digits, '_', '-' and '.'"),
            );
            continue;
        }
        if !NAMESPACES.contains(&ns) {
            let hint = NAMESPACES
                .iter()
                .map(|n| (sigil_core::edit_distance(ns, n), n))
                .filter(|(d, _)| *d <= 2)
                .min()
                .map(|(_, n)| format!("did you mean '{n}'? "))
                .unwrap_or_default();
            ctx.push(
                "tag_namespace",
                p(),
                format!("unknown tag namespace '{}'", tag.namespace),
            )
            .help(format!("{hint}namespaces are {}", NAMESPACES.join(", ")));
            continue;
        }
        match ns {
            "attack" => match attack.get(name) {
                Some(obj) => {
                    if obj.status != AttackStatus::Active {
                        let st = match obj.status {
                            AttackStatus::Revoked => "revoked",
                            AttackStatus::Deprecated => "deprecated",
                            _ => "retired (listed in v18.1 only)",
                        };
                        let id = if obj.kind == "tactic" {
                            name.to_string()
                        } else {
                            name.to_ascii_uppercase()
                        };
                        let f = ctx.push(
                            "attack_deprecated",
                            p(),
                            format!(
                                "ATT&CK {} {id} ({}) is {st} in {}",
                                obj.kind,
                                obj.name,
                                data::ATTACK_VERSION
                            ),
                        );
                        if name == "defense-evasion" {
                            f.help("ATT&CK v19 split Defense Evasion into attack.stealth and attack.defense-impairment");
                        } else {
                            f.help("use the object that replaced it (see attack.mitre.org)");
                        }
                    }
                    if obj.kind == "technique" {
                        techniques.push((i, obj));
                    } else if obj.kind == "tactic" {
                        tactics.push(name);
                    }
                }
                None => {
                    let what = attack_kind(name);
                    let f = ctx.push(
                        "attack_unknown",
                        p(),
                        format!("'{tag}' is not an ATT&CK {what} ({})", data::ATTACK_VERSION),
                    );
                    if what == "tactic" {
                        if let Some(t) = data::tactics()
                            .into_iter()
                            .map(|t| (sigil_core::edit_distance(name, t), t))
                            .filter(|(d, _)| *d <= 3)
                            .min()
                        {
                            f.help(format!("did you mean 'attack.{}'?", t.1));
                        } else {
                            f.help(format!("tactics are {}", data::tactics().join(", ")));
                        }
                    }
                }
            },
            "cve" if !re(&CVE, r"^\d{4}-\d{4,}$").is_match(name) => {
                ctx.push("cve_format", p(), format!("'{tag}' is not cve.YYYY-NNNN"));
            }
            "car" if !re(&CAR, r"^\d{4}-\d{2}-\d{3}$").is_match(name) => {
                ctx.push("car_format", p(), format!("'{tag}' is not car.YYYY-MM-NNN"))
                    .help("write the CAR id without its 'CAR-' prefix, e.g. car.2016-04-005");
            }
            "detection" => {
                n_detection += 1;
                if !matches!(name, "dfir" | "emerging-threats" | "threat-hunting") {
                    ctx.push("detection_tag", p(), format!("'{tag}' is not detection.dfir, detection.emerging-threats or detection.threat-hunting"));
                }
            }
            "stp" if !re(&STP, r"^[1-5][auk]?$").is_match(name) => {
                ctx.push(
                    "stp_format",
                    p(),
                    format!("'{tag}' is not stp.1 to stp.5 with an optional a, u or k"),
                );
            }
            "tlp" => {
                n_tlp += 1;
                if !matches!(
                    name,
                    "clear" | "white" | "green" | "amber" | "amber-strict" | "red"
                ) {
                    ctx.push("tlp_value", p(), format!("'{tag}' is not a TLP colour"))
                        .help("TLP 2.0: clear, green, amber, amber-strict, red (TLP 1.0 also has white)");
                }
            }
            "d3fend" if !re(&D3, D3FEND).is_match(name) => {
                ctx.push(
                    "d3fend_format",
                    p(),
                    format!(
                        "'{tag}' is not a D3FEND tactic, technique (d3-...) or artifact (d3f-...)"
                    ),
                );
            }
            _ => {}
        }
    }
    if n_detection > 1 || n_tlp > 1 {
        let which = if n_detection > 1 { "detection" } else { "tlp" };
        ctx.push(
            "tag_namespace_unique",
            YamlPath::of(&["tags"]).at_key(),
            format!("the rule has more than one {which}.* tag"),
        );
    }
    if !techniques.is_empty() {
        let covered = techniques
            .iter()
            .any(|(_, t)| t.tactics.iter().any(|x| tactics.iter().any(|y| y == x)));
        if !covered {
            let (i, t) = techniques[0];
            let mut wanted: Vec<&str> = techniques
                .iter()
                .flat_map(|(_, t)| t.tactics.iter().copied())
                .collect();
            wanted.sort();
            wanted.dedup();
            ctx.push(
                "attack_tactic_missing",
                tags_path(i),
                format!(
                    "technique '{}' ({}) is tagged without any of its tactics",
                    meta.tags[i], t.name
                ),
            )
            .help(format!(
                "add one of: {}",
                wanted
                    .iter()
                    .map(|w| format!("attack.{w}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
}

fn attack_kind(name: &str) -> &'static str {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if let Some(rest) = name.strip_prefix("ds") {
        if digits(rest) {
            return "data source";
        }
    }
    match name.split_at_checked(1) {
        Some(("t", rest)) if digits(rest) => "technique",
        Some(("g", rest)) if digits(rest) => "group",
        Some(("s", rest)) if digits(rest) => "software",
        Some(("c", rest)) if digits(rest) => "campaign",
        Some(("m", rest)) if digits(rest) => "mitigation",
        _ => "tactic",
    }
}

/// Checks across the whole set: duplicate ids, titles and file names.
pub fn cross_rule(set: &Collection, _config: &Config) -> Vec<Finding> {
    let mut out = vec![];
    let n = set.files.len();
    let mut ids: HashMap<uuid::Uuid, &RuleMeta> = HashMap::with_capacity(n);
    let mut titles: HashMap<&str, &RuleMeta> = HashMap::with_capacity(n);
    let mk = |id: &'static str, meta: &RuleMeta, path: YamlPath, message: String, help: String| {
        Finding {
            validator: id,
            severity: crate::registry::validator(id)
                .map_or(crate::Severity::Warning, |v| v.severity),
            message,
            help: Some(help),
            file: meta.source.path.clone(),
            document: meta.source.document,
            path: Some(path),
            offset: None,
            span: None,
            rule: meta.id.map(|u| u.to_string()).or_else(|| meta.name.clone()),
            fix: None,
        }
    };
    for doc in set.documents() {
        let meta = doc.meta();
        if let Some(id) = meta.id {
            if let Some(first) = ids.get(&id) {
                out.push(mk(
                    "id_duplicate",
                    meta,
                    YamlPath::of(&["id"]),
                    format!("id {id} is also used by '{}'", first.title),
                    format!(
                        "first used in {}; give this rule a new UUID",
                        first.source.path
                    ),
                ));
            } else {
                ids.insert(id, meta);
            }
        }
        if !matches!(doc, Document::Rule(_)) {
            continue;
        }
        if let Some(first) = titles.get(meta.title.as_str()) {
            out.push(mk(
                "title_duplicate",
                meta,
                YamlPath::of(&["title"]),
                format!(
                    "title '{}' is also used by another rule",
                    short(&meta.title)
                ),
                format!("first used in {}", first.source.path),
            ));
        } else {
            titles.insert(&meta.title, meta);
        }
    }
    let mut names: HashMap<&str, &str> = HashMap::with_capacity(n);
    for f in &set.files {
        // The path is a `str`: so is its last component.
        let Some(name) = std::path::Path::new(&*f.path)
            .file_name()
            .and_then(|n| n.to_str())
        else {
            continue;
        };
        if let Some(first) = names.get(name) {
            let meta = f.documents.first().map(|d| d.meta().clone());
            let mut finding = Finding {
                validator: "filename_duplicate",
                severity: crate::registry::validator("filename_duplicate")
                    .map_or(crate::Severity::Warning, |v| v.severity),
                message: format!("file name '{name}' is also used by {first}"),
                help: Some("rule file names should be unique across the repository".into()),
                file: f.path.clone(),
                document: 0,
                path: Some(YamlPath::root()),
                offset: None,
                span: None,
                rule: None,
                fix: None,
            };
            if let Some(m) = meta {
                finding.rule = m.id.map(|u| u.to_string()).or_else(|| m.name.clone());
                finding.document = m.source.document;
            }
            out.push(finding);
        } else {
            names.insert(name, &f.path);
        }
    }
    out
}

#[cfg(test)]
mod tag_format_tests {
    use super::tag_format_ok;

    proptest::proptest! {
        /// The hand-written check accepts exactly what the regex it replaces accepts.
        #[test]
        fn file_name_convention_is_the_regex(s in "[a-zA-Z0-9_.é\\- ]{0,6}(\\.yml)?\n?") {
            let re = regex::Regex::new(r"^[a-z0-9_]+\.yml$").unwrap();
            proptest::prop_assert_eq!(super::file_name_convention_ok(&s), re.is_match(&s));
        }

        /// The hand-written check accepts exactly what the regex it replaces accepts.
        #[test]
        fn tag_format_is_the_regex(s in "[a-zA-Z0-9_.\\- ]{0,12}") {
            let re = regex::Regex::new(r"^[a-z0-9_-]+\.[a-z0-9._-]+$").unwrap();
            proptest::prop_assert_eq!(tag_format_ok(&s), re.is_match(&s));
        }
    }
}
