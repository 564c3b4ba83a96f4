//! `.sigil.toml`: per-project validator configuration.
//!
//! ```toml
//! [check]
//! severity = "warning"         # lowest severity shown (info, warning, error)
//! fail-on = "warning"          # lowest severity that makes `sigil check` exit 1
//! disable = ["title_style", "single_element_list"]
//!
//! [check.levels]               # re-level validators
//! field_unknown = "error"
//!
//! [check.exempt]               # rule id (or name) -> validators ("all" for every one)
//! "b96b69c7-b1d2-44a3-9c53-f419233cac95" = ["tag_case"]
//! ```

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::registry::{suggest, validator, SYNTAX};
use crate::Severity;

/// Validator configuration after validation of the file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    pub disabled: HashSet<String>,
    pub levels: HashMap<String, Severity>,
    /// Rule id (lower-case UUID) or name → validator ids (or `all`).
    pub exempt: HashMap<String, Vec<String>>,
    pub severity: Option<Severity>,
    pub fail_on: Option<Severity>,
    /// Where it was read from, for messages.
    pub origin: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    check: Section,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Section {
    severity: Option<String>,
    fail_on: Option<String>,
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    levels: HashMap<String, String>,
    #[serde(default)]
    exempt: HashMap<String, Vec<String>>,
}

/// The configuration file's name.
pub const FILE_NAME: &str = ".sigil.toml";

impl Config {
    /// Parse configuration text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| ConfigError(format!("{origin}: {e}")))?;
        let s = file.check;
        let known = |id: &str, what: &str| -> Result<(), ConfigError> {
            if id == SYNTAX {
                return Err(ConfigError(format!(
                    "{origin}: {what}: '{SYNTAX}' errors cannot be disabled, re-levelled or exempted"
                )));
            }
            if validator(id).is_none() {
                let hint = suggest(id)
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default();
                return Err(ConfigError(format!(
                    "{origin}: {what}: unknown validator '{id}'{hint}; see `sigil list validators`"
                )));
            }
            Ok(())
        };
        let sev = |s: &str, what: &str| {
            Severity::parse(s).ok_or_else(|| {
                ConfigError(format!(
                    "{origin}: {what}: unknown severity '{s}' (expected info, warning or error)"
                ))
            })
        };
        let mut cfg = Config {
            origin: Some(PathBuf::from(origin)),
            ..Config::default()
        };
        for id in s.disable {
            known(&id, "disable")?;
            cfg.disabled.insert(id);
        }
        for (id, level) in s.levels {
            known(&id, "levels")?;
            cfg.levels
                .insert(id.clone(), sev(&level, &format!("levels.{id}"))?);
        }
        for (rule, ids) in s.exempt {
            for id in &ids {
                if id != "all" {
                    known(id, &format!("exempt.\"{rule}\""))?;
                }
            }
            let key = sigil_core::load::parse_uuid(&rule)
                .map(|u| u.to_string())
                .unwrap_or(rule);
            cfg.exempt.entry(key).or_default().extend(ids);
        }
        cfg.severity = s
            .severity
            .as_deref()
            .map(|x| sev(x, "severity"))
            .transpose()?;
        cfg.fail_on = s
            .fail_on
            .as_deref()
            .map(|x| sev(x, "fail-on"))
            .transpose()?;
        Ok(cfg)
    }

    /// Read a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        Config::from_toml(&text, &path.display().to_string())
    }

    /// `.sigil.toml` in `start` or the nearest parent directory that has one.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        let mut dir = Some(start);
        while let Some(d) = dir {
            let p = d.join(FILE_NAME);
            if p.is_file() {
                return Some(p);
            }
            dir = d.parent();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let c = Config::from_toml(
            "[check]\nseverity = 'info'\nfail-on = 'error'\ndisable = ['title_style']\n\
             [check.levels]\nfield_unknown = 'error'\n\
             [check.exempt]\n'B96B69C7-B1D2-44A3-9C53-F419233CAC95' = ['tag_case']\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(c.severity, Some(Severity::Info));
        assert_eq!(c.fail_on, Some(Severity::Error));
        assert!(c.disabled.contains("title_style"));
        assert_eq!(c.levels["field_unknown"], Severity::Error);
        assert_eq!(
            c.exempt["b96b69c7-b1d2-44a3-9c53-f419233cac95"],
            vec!["tag_case".to_string()]
        );
        let e = Config::from_toml("[check]\ndisable = ['tag_cas']\n", "t.toml").unwrap_err();
        assert_eq!(
            e.0,
            "t.toml: disable: unknown validator 'tag_cas' (did you mean 'tag_case'?); see `sigil list validators`"
        );
        assert!(Config::from_toml("[check]\ndisable = ['syntax']\n", "t").is_err());
        assert!(Config::from_toml("[check]\nbogus = 1\n", "t").is_err());
        assert!(Config::from_toml("[check.levels]\ntag_case = 'loud'\n", "t").is_err());
    }
}
