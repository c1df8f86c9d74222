//! Documents: Markdown from templates, HTML via pulldown-cmark, PDF layout,
//! and the digest's chart.
//!
//! One source: a [`PostmortemDocument`] (plain data, already redacted for
//! the public variant) becomes Markdown through a minijinja template; HTML
//! and PDF are made from that Markdown. Templates live in
//! `reports/templates/`, are embedded in the binary, and an operator can
//! override any of them from the configured templates directory.

pub mod chart;
pub mod csv;
pub mod digest;
pub mod email;
pub mod figures;
pub mod fold;
pub mod html;
pub mod markdown;
pub mod pdf;
pub mod redaction;

use std::path::{Path, PathBuf};

use serde::Serialize;

/// Which document: the full internal one or the sanitised public one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    Internal,
    Public,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Internal => "internal",
            Variant::Public => "public",
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "internal" => Ok(Variant::Internal),
            "public" => Ok(Variant::Public),
            other => Err(format!("{other:?} is not one of: internal, public")),
        }
    }
}

/// The three formats every document comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Markdown,
    Html,
    Pdf,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
        }
    }

    /// `md`, `html` or `pdf`.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "md" => Some(Format::Markdown),
            "html" => Some(Format::Html),
            "pdf" => Some(Format::Pdf),
            _ => None,
        }
    }
}

/// A format read back by its extension, as snapshots store it.
impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::from_extension(s).ok_or_else(|| format!("{s:?} is not one of: md, html, pdf"))
    }
}

/// A label and a value, e.g. "Time to detect" and "12 min".
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub label: String,
    pub value: String,
}

/// Everything a post-mortem document shows, with times already written out
/// in the display zone. Built by the post-mortem service; for the public
/// variant it holds only public material, already redacted.
#[derive(Debug, Clone, Serialize)]
pub struct PostmortemDocument {
    pub variant: Variant,
    pub reference: String,
    pub title: String,
    pub severity: String,
    pub incident_status: String,
    pub status: String,
    pub kind: String,
    pub owner: Option<String>,
    pub due_date: Option<String>,
    pub review_at: Option<String>,
    pub customer_impact: Option<String>,
    pub affected_components: Vec<String>,
    /// The display zone's name, e.g. `UTC` or `Europe/Paris`.
    pub time_zone: String,
    /// Milestones (label, time).
    pub milestones: Vec<Figure>,
    /// Time to detect / acknowledge / mitigate / resolve, total duration.
    pub figures: Vec<Figure>,
    pub roles: Vec<RoleRow>,
    pub timeline: Vec<TimelineRow>,
    pub sitreps: Vec<SitrepRow>,
    pub status_updates: Vec<StatusUpdateRow>,
    pub cleanup_items: Vec<CleanupRow>,
    pub remediations: Vec<RemediationRow>,
    pub sections: Vec<SectionBlock>,
    /// Similar past incidents (the internal document only).
    pub related: Vec<RelatedRow>,
    /// The contributing factors the post-mortem names (internal document
    /// only): printed under the `contributing_factors` section, or after
    /// the sections when the post-mortem has none of that key.
    pub factors: Vec<FactorRow>,
    /// A section has the key `contributing_factors`.
    pub factors_section: bool,
    pub generated_at: String,
}

/// A similar past incident, as the internal document lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RelatedRow {
    pub reference: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub started_at: String,
    /// Why it was chosen, sentences joined by `; `.
    pub reasons: String,
    /// Its open remediation items (`REM-3 Title (open, due …)`), joined by
    /// `; `, or `none`.
    pub open_remediations: String,
}

/// A contributing factor as printed.
#[derive(Debug, Clone, Serialize)]
pub struct FactorRow {
    pub label: String,
    pub note: String,
    /// No longer in the taxonomy.
    pub retired: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleRow {
    pub role: String,
    pub person: String,
    pub assigned_at: String,
    pub relieved_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineRow {
    pub at: String,
    pub kind: String,
    pub author: String,
    pub body: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SitrepRow {
    pub version: i32,
    pub at: String,
    pub author: String,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusUpdateRow {
    pub at: String,
    pub status: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CleanupRow {
    pub kind: String,
    pub description: String,
    pub owner: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemediationRow {
    pub reference: String,
    pub title: String,
    pub kind: String,
    pub priority: String,
    pub owner: String,
    pub status: String,
    pub due_date: String,
}

/// A section as it is printed: generated sections (timeline, action items)
/// are marked so the template can put the generated content there.
#[derive(Debug, Clone, Serialize)]
pub struct SectionBlock {
    pub key: String,
    pub title: String,
    pub body: String,
    pub visibility: String,
}

/// A template that cannot be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template `{name}`: {reason}")]
    Render { name: String, reason: String },
    #[error("template `{name}` cannot be read from {path}: {reason}")]
    Read {
        name: String,
        path: PathBuf,
        reason: String,
    },
}

/// An environment of templates embedded in the binary (the mail and digest
/// templates, which are not overridable): trailing newlines kept, names
/// ending in `.html` HTML-escaped (minijinja's default).
pub(crate) fn embedded_environment(
    templates: &[(&'static str, &'static str)],
) -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_keep_trailing_newline(true);
    for (name, source) in templates {
        env.add_template(name, source)
            .expect("the embedded templates parse");
    }
    env
}

/// The templates shipped in the binary: (file name, source).
pub const EMBEDDED_TEMPLATES: &[(&str, &str)] = &[
    (
        "postmortem_internal.md.j2",
        include_str!("../../reports/templates/postmortem_internal.md.j2"),
    ),
    (
        "postmortem_public.md.j2",
        include_str!("../../reports/templates/postmortem_public.md.j2"),
    ),
    (
        "public_index.html.j2",
        include_str!("../../reports/templates/public_index.html.j2"),
    ),
    (
        "feed.atom.j2",
        include_str!("../../reports/templates/feed.atom.j2"),
    ),
];

/// What public documents and pages say whatever the incident: the labels,
/// roles, statuses and units Debrief writes into them.
pub const PUBLIC_LABELS: &[&str] = &[
    "Started",
    "Resolved",
    "Time to resolve (from start)",
    "the incident commander",
    "the communications lead",
    "the scribe",
    "a subject-matter expert",
    "a responder",
    redaction::REDACTED,
    "investigating identified monitoring resolved",
    "under min h d UTC",
    "Published updated version",
    "Post-mortems",
    "Atom feed",
];

/// The templates a public document or page is made from.
const PUBLIC_TEMPLATES: &[&str] = &[
    "postmortem_public.md.j2",
    "public_index.html.j2",
    "feed.atom.j2",
];

/// Every word a public document shows whatever the incident: the text of
/// the public templates (template code and HTML tags removed, attribute
/// values kept) and [`PUBLIC_LABELS`]. A redaction rule may not match it.
pub fn public_vocabulary(templates: &Templates) -> String {
    static CODE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?s)\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")
            .expect("the template code pattern compiles")
    });
    static TAG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?s)<style.*?</style>|<[^>]*>").expect("the tag pattern compiles")
    });
    let mut words = String::new();
    for name in PUBLIC_TEMPLATES {
        let Some(source) = templates.source(name) else {
            continue;
        };
        let text = CODE.replace_all(&source, " ");
        words.push_str(&html::attribute_values(&text));
        words.push_str(&TAG.replace_all(&text, " "));
        words.push('\n');
    }
    for label in PUBLIC_LABELS {
        words.push_str(label);
        words.push('\n');
    }
    words
}

/// The template set: the embedded ones, each replaced by a file of the same
/// name in the override directory when there is one.
#[derive(Debug)]
pub struct Templates {
    env: minijinja::Environment<'static>,
}

impl Templates {
    /// Load the templates; `dir` holds operator overrides (any subset of
    /// [`EMBEDDED_TEMPLATES`] by file name).
    pub fn load(dir: Option<&Path>) -> Result<Self, TemplateError> {
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html.j2") || name.ends_with(".atom.j2") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        env.add_filter("cell", markdown::cell_filter);
        env.add_filter("inline", markdown::inline_filter);
        env.add_filter("words", figures::words_filter);
        for (name, source) in EMBEDDED_TEMPLATES {
            let source = match dir.map(|d| d.join(name)) {
                Some(path) if path.is_file() => {
                    std::fs::read_to_string(&path).map_err(|err| TemplateError::Read {
                        name: (*name).to_string(),
                        path: path.clone(),
                        reason: err.to_string(),
                    })?
                }
                _ => (*source).to_string(),
            };
            env.add_template_owned(*name, source)
                .map_err(|err| TemplateError::Render {
                    name: (*name).to_string(),
                    reason: err.to_string(),
                })?;
        }
        Ok(Self { env })
    }

    /// The source of a template, as loaded (embedded or overridden).
    pub fn source(&self, name: &str) -> Option<String> {
        self.env
            .get_template(name)
            .ok()
            .map(|t| t.source().to_string())
    }

    /// Render a template with a serialisable context.
    pub fn render<S: Serialize>(&self, name: &str, context: S) -> Result<String, TemplateError> {
        let failed = |err: minijinja::Error| TemplateError::Render {
            name: name.to_string(),
            reason: err.to_string(),
        };
        self.env
            .get_template(name)
            .map_err(failed)?
            .render(context)
            .map_err(failed)
    }
}
