//! Bundled reference data: ATT&CK ids and SigmaHQ's log source / field list. Parsed once,
//! on first use. See `data/README.md` for sources and dates.

// foldhash (hashbrown's default) rather than SipHash: these maps sit on the per-rule path.
use hashbrown::{HashMap, HashSet};
use std::sync::OnceLock;

/// The ATT&CK id list, as shipped (tab-separated).
pub const ATTACK_TSV: &str = include_str!("../data/attack-ids.tsv");
/// SigmaHQ `tests/logsource.json`, verbatim.
pub const LOGSOURCE_JSON: &str = include_str!("../data/logsource.json");
/// The ATT&CK release the bundled ids come from.
pub const ATTACK_VERSION: &str = "ATT&CK Enterprise v19.0";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttackStatus {
    Active,
    Deprecated,
    Revoked,
    /// Listed in v18.1 but no longer an active object of v19.0.
    Retired,
}

#[derive(Debug)]
pub struct AttackObject {
    pub kind: &'static str,
    pub status: AttackStatus,
    pub tactics: Vec<&'static str>,
    pub name: &'static str,
}

/// ATT&CK objects by lower-case id (`t1087.004`, `g0016`, `execution`, ...).
pub fn attack() -> &'static HashMap<String, AttackObject> {
    static DATA: OnceLock<HashMap<String, AttackObject>> = OnceLock::new();
    DATA.get_or_init(|| {
        let mut m = HashMap::new();
        for line in ATTACK_TSV.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&'static str> = line.split('\t').collect();
            if f.len() < 5 {
                continue;
            }
            let status = match f[2] {
                "revoked" => AttackStatus::Revoked,
                "deprecated" => AttackStatus::Deprecated,
                "retired-v19" => AttackStatus::Retired,
                _ => AttackStatus::Active,
            };
            m.insert(
                f[1].to_ascii_lowercase(),
                AttackObject {
                    kind: f[0],
                    status,
                    tactics: f[3].split(',').filter(|s| !s.is_empty()).collect(),
                    name: f[4],
                },
            );
        }
        m
    })
}

/// The active tactic short names (`initial-access`, ...).
pub fn tactics() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = ATTACK_TSV
        .lines()
        .filter_map(|l| l.strip_prefix("tactic\t"))
        .filter(|l| l.split('\t').nth(1) == Some("active"))
        .filter_map(|l| l.split('\t').next())
        .collect();
    v.sort();
    v
}

/// One product of logsource.json.
#[derive(Debug, Default)]
pub struct Product {
    pub common: Vec<String>,
    /// Fields when neither category nor service is set.
    pub empty: Vec<String>,
    pub category: HashMap<String, Vec<String>>,
    pub service: HashMap<String, Vec<String>>,
}

#[derive(Debug, Default)]
pub struct Logsources {
    /// By product name; `empty` is "no product".
    pub products: HashMap<String, Product>,
    pub version: String,
}

impl Logsources {
    pub fn product(&self, p: Option<&str>) -> Option<&Product> {
        self.products.get(p.unwrap_or("empty"))
    }

    /// Products that define this category (or service).
    pub fn products_with(&self, category: Option<&str>, service: Option<&str>) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .products
            .iter()
            .filter(|(_, p)| {
                category.is_none_or(|c| p.category.contains_key(c))
                    && service.is_none_or(|s| p.service.contains_key(s))
            })
            .map(|(n, _)| n.as_str())
            .filter(|n| *n != "empty")
            .collect();
        v.sort();
        v
    }

    /// Field names allowed for a log source (common + category + service + add-ons), or
    /// `None` when logsource.json lists no specific field for it (then nothing is checked).
    pub fn fields<'a>(
        &'a self,
        product: Option<&str>,
        category: Option<&str>,
        service: Option<&str>,
    ) -> Option<HashSet<&'a str>> {
        fn add<'a>(list: Option<&'a Vec<String>>, set: &mut HashSet<&'a str>) -> bool {
            let Some(list) = list else { return false };
            set.extend(list.iter().map(String::as_str));
            !list.is_empty()
        }
        let p = self.product(product)?;
        let mut set = HashSet::new();
        let mut specific = false;
        if category.is_none() && service.is_none() {
            specific |= add(Some(&p.empty), &mut set);
        }
        if let Some(c) = category {
            specific |= add(p.category.get(c), &mut set);
        }
        if let Some(s) = service {
            specific |= add(p.service.get(s), &mut set);
        }
        if !specific {
            return None;
        }
        add(Some(&p.common), &mut set);
        Some(set)
    }
}

/// logsource.json, parsed (with its `addon` fields merged in).
pub fn logsources() -> &'static Logsources {
    static DATA: OnceLock<Logsources> = OnceLock::new();
    DATA.get_or_init(|| parse_logsources(LOGSOURCE_JSON).unwrap_or_default())
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn table(v: Option<&serde_json::Value>) -> HashMap<String, Vec<String>> {
    v.and_then(|v| v.as_object())
        .map(|o| o.iter().map(|(k, v)| (k.clone(), strings(v))).collect())
        .unwrap_or_default()
}

pub fn parse_logsources(text: &str) -> Option<Logsources> {
    let doc: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut products = HashMap::new();
    for (name, p) in doc.get("legit")?.as_object()? {
        products.insert(
            name.clone(),
            Product {
                common: p.get("common").map(strings).unwrap_or_default(),
                empty: p.get("empty").map(strings).unwrap_or_default(),
                category: table(p.get("category")),
                service: table(p.get("service")),
            },
        );
    }
    if let Some(addon) = doc.get("addon").and_then(|a| a.as_object()) {
        for (name, a) in addon {
            let Some(p) = products.get_mut(name) else {
                continue;
            };
            for (k, extra) in table(a.get("category")) {
                p.category.entry(k).or_default().extend(extra);
            }
            for (k, extra) in table(a.get("service")) {
                p.service.entry(k).or_default().extend(extra);
            }
        }
    }
    Some(Logsources {
        products,
        version: doc
            .get("version")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_data_parses() {
        let a = attack();
        assert!(a.len() > 1900, "{} ATT&CK objects", a.len());
        assert_eq!(a["t1087.004"].kind, "technique");
        assert_eq!(a["t1087.004"].tactics, ["discovery"]);
        assert_eq!(tactics().len(), 15);
        assert!(tactics().contains(&"stealth") && !tactics().contains(&"defense-evasion"));
        assert_eq!(a["defense-evasion"].status, AttackStatus::Retired);
        let l = logsources();
        assert_eq!(l.version, "20251205");
        assert_eq!(l.products.len(), 32);
        let f = l
            .fields(Some("windows"), Some("process_creation"), None)
            .unwrap();
        assert!(f.contains("CommandLine") && f.contains("EventID"));
        assert!(f.contains("GrandparentCommandLine"), "addon merged");
        assert!(l.fields(Some("aws"), None, Some("cloudtrail")).is_none());
    }
}
