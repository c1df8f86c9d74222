//! `[factors]`: the taxonomy of contributing factors a post-mortem may
//! name, each with a stable id (stored with the post-mortem) and a label
//! (shown in documents, statistics and the digest).

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::domain::FactorSlug;

/// The most factors a taxonomy may hold: a post-mortem names at most this
/// many, and the digest prints a row for each.
pub const MAX_FACTORS: usize = 50;
/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 100;

/// One contributing factor of the taxonomy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factor {
    /// Stable id, stored with each post-mortem that names the factor:
    /// lower-case letters, digits and `_`, starting with a letter (at most
    /// 64). Renaming it makes the old id a retired factor.
    pub id: String,
    /// What people read: documents, statistics, the digest.
    pub label: String,
}

/// The taxonomy of contributing factors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FactorSettings {
    /// The factors, in the order they are listed everywhere. A factor
    /// removed from here stays on the post-mortems that name it (shown by
    /// its id, as retired) but cannot be newly attached.
    pub taxonomy: Vec<Factor>,
}

/// The default taxonomy: id and label.
pub const DEFAULT_FACTORS: &[(&str, &str)] = &[
    ("change_deploy", "Change / deploy"),
    ("configuration", "Configuration"),
    ("capacity", "Capacity"),
    ("dependency_failure", "Dependency failure"),
    ("software_bug", "Software bug"),
    ("monitoring_gap", "Monitoring gap"),
    ("process_human", "Process / human factors"),
    ("hardware_network", "Hardware / network"),
    ("security", "Security"),
    ("unknown", "Unknown"),
];

impl Default for FactorSettings {
    fn default() -> Self {
        Self {
            taxonomy: DEFAULT_FACTORS
                .iter()
                .map(|(id, label)| Factor {
                    id: (*id).into(),
                    label: (*label).into(),
                })
                .collect(),
        }
    }
}

impl FactorSettings {
    /// The configured factor with this id.
    pub fn get(&self, id: &str) -> Option<&Factor> {
        self.taxonomy.iter().find(|f| f.id == id)
    }

    /// The label of a factor: its configured label, or its id for a factor
    /// no longer configured.
    pub fn label_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.get(id).map_or(id, |f| f.label.as_str())
    }

    /// The configured ids, comma-separated (for error messages).
    pub fn ids(&self) -> String {
        self.taxonomy
            .iter()
            .map(|f| f.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.taxonomy.is_empty() {
            return Err(ConfigError(
                "factors.taxonomy: list at least one contributing factor (e.g. `unknown`)".into(),
            ));
        }
        if self.taxonomy.len() > MAX_FACTORS {
            return Err(ConfigError(format!(
                "factors.taxonomy: at most {MAX_FACTORS} contributing factors"
            )));
        }
        for (i, factor) in self.taxonomy.iter().enumerate() {
            let key = format!("factors.taxonomy[{i}]");
            FactorSlug::parse(&format!("{key}.id"), &factor.id)
                .map_err(|invalid| ConfigError(invalid.detail))?;
            let label = factor.label.trim();
            if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
                return Err(ConfigError(format!(
                    "{key}.label: {:?} must have 1 to {MAX_LABEL_CHARS} characters",
                    factor.label
                )));
            }
            if self.taxonomy[..i].iter().any(|f| f.id == factor.id) {
                return Err(ConfigError(format!(
                    "{key}.id: {:?} appears twice",
                    factor.id
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail closures must return figment::Error"
)]
mod tests {
    use std::path::Path;

    use crate::config::Settings;

    fn ids(settings: &Settings) -> Vec<&str> {
        settings
            .factors
            .taxonomy
            .iter()
            .map(|f| f.id.as_str())
            .collect()
    }

    #[test]
    fn the_taxonomy_comes_from_the_defaults_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            let defaults = Settings::load(None).expect("loads");
            assert_eq!(ids(&defaults).len(), 10);
            assert_eq!(
                defaults.factors.label_of("process_human"),
                "Process / human factors"
            );
            assert_eq!(
                defaults.factors.label_of("gone"),
                "gone",
                "a retired id reads as itself"
            );
            jail.create_file(
                "debrief.toml",
                "[[factors.taxonomy]]\nid = \"vendor\"\nlabel = \"Vendor outage\"\n\n\
                 [[factors.taxonomy]]\nid = \"unknown\"\nlabel = \"Unknown\"\n",
            )?;
            let path = Path::new("debrief.toml");
            let s = Settings::load(Some(path)).expect("loads");
            assert_eq!(ids(&s), ["vendor", "unknown"]);
            assert_eq!(s.factors.ids(), "vendor, unknown");
            jail.set_env(
                "DEBRIEF_FACTORS__TAXONOMY",
                "[{id=\"capacity\",label=\"Capacity\"},{id=\"people\",label=\"People, process\"}]",
            );
            let s = Settings::load(Some(path)).expect("loads");
            assert_eq!(ids(&s), ["capacity", "people"], "the environment wins");
            assert_eq!(s.factors.taxonomy[1].label, "People, process");
            Ok(())
        });
    }

    #[test]
    fn bad_taxonomies_are_refused_naming_the_key() {
        for (value, named) in [
            ("[]", "factors.taxonomy"),
            (
                "[{id=\"Capacity\",label=\"Capacity\"}]",
                "factors.taxonomy[0].id",
            ),
            (
                "[{id=\"a\",label=\"A\"},{id=\"a\",label=\"B\"}]",
                "factors.taxonomy[1].id",
            ),
            ("[{id=\"a\",label=\"  \"}]", "factors.taxonomy[0].label"),
            ("[{id=\"a\"}]", "label"),
            ("[{id=\"a\",label=\"A\",colour=\"red\"}]", "colour"),
        ] {
            figment::Jail::expect_with(|jail| {
                jail.set_env("DEBRIEF_FACTORS__TAXONOMY", value);
                let err = Settings::load(None).unwrap_err().to_string();
                assert!(err.contains(named), "{value}: {err}");
                Ok(())
            });
        }
        figment::Jail::expect_with(|jail| {
            let many: Vec<String> = (0..51)
                .map(|i| format!("{{id=\"f{i}\",label=\"F{i}\"}}"))
                .collect();
            jail.set_env("DEBRIEF_FACTORS__TAXONOMY", format!("[{}]", many.join(",")));
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("at most 50"), "{err}");
            Ok(())
        });
    }
}
