//! `debrief import FILE --format …`: the file streamed into the database
//! in one transaction, with a progress bar on a terminal, then the summary
//! of what was created, updated and left unchanged.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::open_context;
use crate::{
    config::Settings,
    domain::IncidentRef,
    ingest::{ImportFormat, LengthUnit},
    services::{
        ServiceError,
        imports::{self, ImportReport, ImportRequest},
    },
};

/// What `debrief import` was asked to do.
#[derive(Debug, Clone)]
pub struct ImportArgs {
    /// The file to read.
    pub file: PathBuf,
    pub format: ImportFormat,
    /// `--incident`: where PagerDuty, Opsgenie or Slack records go.
    pub incident: Option<String>,
    /// `--channel`: the channel of a Slack workspace export.
    pub channel: Option<String>,
    /// `--dry-run`: do the work, print the summary, roll it back.
    pub dry_run: bool,
    /// `--history-before`: post-mortems of incidents resolved before this
    /// day are marked `not_required`.
    pub history_before: Option<chrono::NaiveDate>,
}

/// Stream the file into the database with a progress bar (on a terminal),
/// then print the summary.
pub async fn run(settings: Settings, args: ImportArgs) -> anyhow::Result<()> {
    let ImportArgs {
        file,
        format,
        incident,
        channel,
        dry_run,
        history_before,
    } = args;
    let incident = incident
        .as_deref()
        .map(|v| IncidentRef::parse("--incident", v))
        .transpose()?;
    let request = ImportRequest {
        format,
        incident,
        dry_run,
        channel,
        history_before,
    };
    imports::check_request(&request).map_err(|e| match &e {
        ServiceError::Validation { field, .. }
        | ServiceError::BadRequest {
            field: Some(field), ..
        } => anyhow::anyhow!("--{field}: {e}"),
        _ => anyhow::Error::new(e),
    })?;
    let opened =
        std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    let size = opened.metadata().map(|m| m.len()).unwrap_or(0);
    let ctx = open_context(settings).await?;
    let progress = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} [{bar:40}] {bytes_per_sec}, {eta} left",
        )
        .context("progress template")?
        .progress_chars("=> "),
    );
    // Checked whole before the write transaction opens, as the API does.
    let result = match imports::check_file(&ctx, &request, &file).await {
        Ok(()) => imports::import(&ctx, request, progress.wrap_read(opened)).await,
        Err(err) => Err(err),
    };
    progress.finish_and_clear();
    let report = result.map_err(|err| not_imported(&file, err))?;
    print!("{}", import_summary(&file, &report));
    Ok(())
}

/// The error `debrief import` ends with: nothing was changed, and why (at
/// which field of the file, when the error names one). An error with a
/// cause of its own (a database or I/O failure) keeps it, printed below.
fn not_imported(file: &Path, err: ServiceError) -> anyhow::Error {
    let nothing_changed = format!("{} was not imported (nothing was changed)", file.display());
    match &err {
        ServiceError::Validation { field, .. }
        | ServiceError::BadRequest {
            field: Some(field), ..
        } => anyhow::anyhow!("{nothing_changed}: at `{field}`: {err}"),
        _ if std::error::Error::source(&err).is_some() => {
            anyhow::Error::new(err).context(nothing_changed)
        }
        _ => anyhow::anyhow!("{nothing_changed}: {err}"),
    }
}

/// The summary `debrief import` prints.
fn import_summary(file: &Path, report: &ImportReport) -> String {
    let mut out = String::new();
    let into = if report.incidents.is_empty() {
        "no incident".to_string()
    } else {
        report.incidents.join(", ")
    };
    let _ = writeln!(
        out,
        "{} {} ({}) into {into}",
        if report.dry_run {
            "Dry run, rolled back:"
        } else {
            "Imported"
        },
        file.display(),
        report.format.as_str()
    );
    let _ = writeln!(
        out,
        "{:<18} {:>9} {:>9} {:>9}",
        "kind", "created", "updated", "unchanged"
    );
    for (kind, c) in report.counts.by_kind() {
        let _ = writeln!(
            out,
            "{kind:<18} {:>9} {:>9} {:>9}",
            c.created, c.updated, c.unchanged
        );
    }
    let _ = writeln!(out, "skipped entries: {}", report.skipped);
    if report.shortened_total > 0 {
        let _ = writeln!(
            out,
            "shortened values: {} (each kept whole in an internal note)",
            report.shortened_total
        );
        for s in &report.shortened {
            let unit = match s.unit {
                LengthUnit::Characters => "characters",
                LengthUnit::Entries => "entries",
            };
            let _ = writeln!(out, "  {}: {} → {} {unit}", s.field, s.from, s.to);
        }
    }
    out
}
