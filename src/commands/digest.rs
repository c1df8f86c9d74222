//! `debrief digest [--week W] [--send [--resend]] [--out DIR]`: the Ops
//! Review digest of a week, printed, written to a directory, or mailed.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::open_context;
use crate::{
    config::Settings,
    domain::{IsoWeek, SendTrigger},
    jobs::Jobs,
    notify::Mailer,
    services::{Context, digests},
};

/// What `debrief digest` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct DigestArgs {
    /// `--week`: an ISO week like 2026-W47 (default: the previous week in
    /// `digest.time_zone`).
    pub week: Option<String>,
    /// `--send`: queue it for the configured recipients and deliver the
    /// outbox now.
    pub send: bool,
    /// `--resend`: with `send`, mail a week that was already sent.
    pub resend: bool,
    /// `--out`: write the files into this directory instead of printing
    /// the Markdown.
    pub out: Option<PathBuf>,
}

/// Generate the digest of the week asked for (or the previous one), then
/// send it, write it to a directory or print its Markdown.
pub async fn run(settings: Settings, args: DigestArgs) -> anyhow::Result<()> {
    let mailer = Mailer::from_settings(&settings).context("invalid mail settings")?;
    let ctx = open_context(settings).await?;
    let tz = digests::time_zone(&ctx.settings);
    let week = match args.week {
        Some(text) => IsoWeek::parse("--week", &text)?,
        None => IsoWeek::of(ctx.now().with_timezone(&tz).date_naive()).minus(1),
    };
    if args.send {
        return send(ctx, mailer, week, args.resend).await;
    }
    let generated = digests::generate(&ctx.db, &ctx.settings, week).await?;
    match args.out {
        Some(dir) => {
            write_files(&dir, &generated)?;
            println!("Digest {week} written to {}", dir.display());
        }
        None => print!("{}", generated.markdown),
    }
    Ok(())
}

/// `--send`: queue the digest for its recipients, deliver the outbox, and
/// say what happened.
async fn send(ctx: Context, mailer: Mailer, week: IsoWeek, resend: bool) -> anyhow::Result<()> {
    let queued = digests::send(&ctx, week, resend, SendTrigger::Cli, None).await?;
    let jobs = Jobs::new(ctx.clone(), mailer)?;
    let report = jobs.drain_outbox().await?;
    println!(
        "Digest {week} (send {}) queued for {} recipients; {} delivered now, {} to retry, {} failed",
        queued.send_number,
        queued.recipients.len(),
        report.sent,
        report.retrying,
        report.failed
    );
    Ok(())
}

/// `--out DIR`: digest.md, digest.html, chart.png (and digest.pdf).
fn write_files(dir: &Path, generated: &digests::GeneratedDigest) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join("digest.md"), &generated.markdown)?;
    std::fs::write(dir.join("digest.html"), &generated.html)?;
    std::fs::write(dir.join("chart.png"), &generated.chart_png)?;
    if let Some(pdf) = &generated.pdf {
        std::fs::write(dir.join("digest.pdf"), pdf)?;
    }
    Ok(())
}
