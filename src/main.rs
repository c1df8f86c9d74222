//! The `debrief` command: serve, migrate, token, import, render, digest,
//! job, openapi.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use debrief::{
    api,
    clock::SystemClock,
    config::{LogFormat, Settings},
    db,
    domain::{IncidentRef, IsoWeek, Scope},
    ingest::ImportFormat,
    jobs::{JobName, Jobs},
    notify::Mailer,
    reports::{Format, Variant},
    services::{
        Context, ServiceError,
        digests::{self, SendTrigger},
        imports::{self, ImportRequest},
        postmortems, tokens,
    },
    startup::{Application, shutdown_signal},
    telemetry,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Parser)]
#[command(
    name = "debrief",
    version,
    about = "Post-mortem and remediation tracking"
)]
struct Cli {
    /// TOML configuration file (see debrief.example.toml).
    #[arg(long, global = true, env = "DEBRIEF_CONFIG")]
    config: Option<PathBuf>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (migrates the database first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Import a file (a Debrief bundle, Statuspage incidents, PagerDuty log
    /// entries or a Slack channel export) in one transaction, and print what
    /// was created, updated and left unchanged.
    Import {
        /// The JSON file to read (streamed: it may be larger than memory).
        file: PathBuf,
        /// The file's format.
        #[arg(long, value_enum)]
        format: ImportFormatArg,
        /// The incident (INC-n or its id) PagerDuty, Opsgenie or Slack records go to.
        #[arg(long)]
        incident: Option<String>,
        /// Slack workspace export ZIP: the channel to import, by name.
        #[arg(long)]
        channel: Option<String>,
        /// Do all the work and print the summary, then roll it back.
        #[arg(long)]
        dry_run: bool,
        /// Mark the post-mortems of incidents resolved before this day
        /// (YYYY-MM-DD, 00:00 UTC) `not_required` as imported history
        /// (default: the `imports.history_before` setting).
        #[arg(long, value_parser = parse_day)]
        history_before: Option<chrono::NaiveDate>,
    },
    /// Render a post-mortem document to a file.
    Render {
        /// The incident: `INC-n` or its UUID.
        incident: String,
        /// Internal (everything) or public (public material, redacted).
        #[arg(long, value_enum)]
        variant: VariantArg,
        /// Markdown, HTML or PDF.
        #[arg(long, value_enum)]
        format: FormatArg,
        /// The file to write; `-` for standard output.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Generate the Ops Review digest of a week; with --send, mail it.
    Digest {
        /// ISO week, like 2026-W47 (default: the previous week in `digest.time_zone`).
        #[arg(long)]
        week: Option<String>,
        /// Queue it for the configured recipients and deliver the outbox now.
        #[arg(long)]
        send: bool,
        /// With --send: mail a week that was already sent once more.
        #[arg(long, requires = "send")]
        resend: bool,
        /// Write digest.md, digest.html, chart.png (and digest.pdf) into this
        /// directory instead of printing the Markdown.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a scheduled job now.
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
    /// Print the OpenAPI specification.
    Openapi {
        /// Output format.
        #[arg(long, value_enum, default_value_t = SpecFormat::Yaml)]
        format: SpecFormat,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; its secret is printed once, as the last line.
    Create {
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// What it may do.
        #[arg(long, value_enum)]
        scope: ScopeArg,
    },
    /// List the tokens: id, name, scope, created, last used, revoked (never
    /// a secret: only its hash is stored).
    List,
    /// Revoke a token, by id or by name (a name that several live tokens
    /// share is refused: use the id).
    Revoke {
        /// The token's id, or its name.
        token: String,
    },
}

#[derive(Subcommand)]
enum JobCommand {
    /// Run one pass of a scheduled job now (as its schedule would at its
    /// latest scheduled time), deliver the outbox, and print what it did.
    /// Safe beside `debrief serve` and twice in a row: nothing is sent twice.
    Run {
        /// `digest`: the previous week's digest to `digest.recipients`;
        /// `reminders`: owners of overdue remediation items; `outbox`:
        /// deliver what is queued.
        #[arg(value_enum)]
        job: JobArg,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum JobArg {
    Digest,
    Reminders,
    Outbox,
}

impl From<JobArg> for JobName {
    fn from(job: JobArg) -> Self {
        match job {
            JobArg::Digest => JobName::Digest,
            JobArg::Reminders => JobName::Reminders,
            JobArg::Outbox => JobName::Outbox,
        }
    }
}

/// A day as `YYYY-MM-DD`, and only that (`2026-02-30` is refused).
fn parse_day(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .ok_or_else(|| format!("{text:?} is not a day like 2026-01-01"))
}

#[derive(Clone, Copy, ValueEnum)]
enum ScopeArg {
    Read,
    Write,
    Admin,
}

impl From<ScopeArg> for Scope {
    fn from(s: ScopeArg) -> Self {
        match s {
            ScopeArg::Read => Scope::Read,
            ScopeArg::Write => Scope::Write,
            ScopeArg::Admin => Scope::Admin,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ImportFormatArg {
    Bundle,
    Statuspage,
    Pagerduty,
    Opsgenie,
    Slack,
}

impl From<ImportFormatArg> for ImportFormat {
    fn from(f: ImportFormatArg) -> Self {
        match f {
            ImportFormatArg::Bundle => ImportFormat::Bundle,
            ImportFormatArg::Statuspage => ImportFormat::Statuspage,
            ImportFormatArg::Pagerduty => ImportFormat::Pagerduty,
            ImportFormatArg::Slack => ImportFormat::Slack,
            ImportFormatArg::Opsgenie => ImportFormat::Opsgenie,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum VariantArg {
    Internal,
    Public,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Md,
    Html,
    Pdf,
}

#[derive(Clone, Copy, ValueEnum)]
enum SpecFormat {
    Yaml,
    Json,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Openapi { format } = cli.command {
        match format {
            SpecFormat::Yaml => print!("{}", api::spec::spec_yaml()),
            SpecFormat::Json => println!("{}", api::spec::spec_json()),
        }
        return Ok(());
    }
    let mut settings = Settings::load(cli.config.as_deref()).context("invalid configuration")?;
    if cli.log_json {
        settings.log_format = LogFormat::Json;
    }
    telemetry::init(settings.log_format, std::io::stderr);
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            open_database(&settings).await?;
            tracing::info!("Database migrated");
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { name, scope },
        } => {
            let name = name.trim();
            anyhow::ensure!(
                !name.is_empty() && name.len() <= 200,
                "--name must be 1 to 200 characters"
            );
            let conn = open_database(&settings).await?;
            let (token, secret) = tokens::create(&conn, chrono::Utc::now(), name, scope.into())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "Created token {} ({}, scope {}). It is shown only once:",
                token.id, token.name, token.scope
            );
            println!("{secret}");
            Ok(())
        }
        Command::Token {
            command: TokenCommand::List,
        } => {
            let conn = open_database(&settings).await?;
            let list = tokens::list(&conn)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print!("{}", token_table(&list));
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Revoke { token },
        } => {
            let conn = open_database(&settings).await?;
            let revoked = tokens::revoke_by_id_or_name(&conn, chrono::Utc::now(), &token)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "Revoked token {} ({}, scope {}) at {}",
                revoked.id,
                revoked.name,
                revoked.scope,
                revoked.revoked_at.map_or_else(String::new, cli_time)
            );
            Ok(())
        }
        Command::Job {
            command: JobCommand::Run { job },
        } => {
            let mailer = Mailer::from_settings(&settings).context("invalid mail settings")?;
            let ctx = open_context(settings).await?;
            let report = Jobs::new(ctx, mailer)?
                .run_now(job.into())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{report}");
            Ok(())
        }
        Command::Import {
            file,
            format,
            incident,
            dry_run,
            channel,
            history_before,
        } => {
            import(
                settings,
                file,
                format.into(),
                incident,
                dry_run,
                channel,
                history_before,
            )
            .await
        }
        Command::Render {
            incident,
            variant,
            format,
            output,
        } => render(settings, &incident, variant, format, &output).await,
        Command::Digest {
            week,
            send,
            resend,
            out,
        } => digest(settings, week, send, resend, out).await,
        Command::Openapi { .. } => unreachable!("handled above"),
    }
}

/// `debrief import`: stream the file into the database with a progress bar
/// (on a terminal), then print the summary.
async fn import(
    settings: Settings,
    file: PathBuf,
    format: ImportFormat,
    incident: Option<String>,
    dry_run: bool,
    channel: Option<String>,
    history_before: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    let incident = incident
        .as_deref()
        .map(|v| IncidentRef::parse("--incident", v))
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
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
        } => {
            anyhow::anyhow!("--{field}: {e}")
        }
        _ => anyhow::anyhow!("{e}"),
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
    let report = result.map_err(|err| match &err {
        ServiceError::Validation { field, .. }
        | ServiceError::BadRequest {
            field: Some(field), ..
        } => anyhow::anyhow!(
            "{} was not imported (nothing was changed): at `{field}`: {err}",
            file.display()
        ),
        _ => anyhow::anyhow!(
            "{} was not imported (nothing was changed): {err}",
            file.display()
        ),
    })?;
    print!("{}", import_summary(&file, &report));
    Ok(())
}

/// The summary `debrief import` prints.
fn import_summary(file: &std::path::Path, report: &imports::ImportReport) -> String {
    use std::fmt::Write as _;
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
                debrief::ingest::LengthUnit::Characters => "characters",
                debrief::ingest::LengthUnit::Entries => "entries",
            };
            let _ = writeln!(out, "  {}: {} → {} {unit}", s.field, s.from, s.to);
        }
    }
    out
}

/// A time as `debrief token list` shows it.
fn cli_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The table `debrief token list` prints: one token a line, no secret.
fn token_table(list: &[debrief::entities::api_token::Model]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let name_width = list
        .iter()
        .map(|t| t.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let _ = writeln!(
        out,
        "{:<36}  {:<name_width$}  {:<5}  {:<23}  {:<23}  revoked",
        "id", "name", "scope", "created", "last used"
    );
    for t in list {
        let _ = writeln!(
            out,
            "{:<36}  {:<name_width$}  {:<5}  {:<23}  {:<23}  {}",
            t.id.to_string(),
            t.name,
            t.scope,
            cli_time(t.created_at),
            t.last_used_at.map_or_else(|| "never".into(), cli_time),
            t.revoked_at.map_or_else(|| "no".into(), cli_time),
        );
    }
    if list.is_empty() {
        out.push_str("(no tokens)\n");
    }
    out
}

/// `debrief render INC-n --variant … --format … -o FILE`.
async fn render(
    settings: Settings,
    incident: &str,
    variant: VariantArg,
    format: FormatArg,
    output: &std::path::Path,
) -> anyhow::Result<()> {
    let reference = IncidentRef::parse("INCIDENT", incident).map_err(|e| anyhow::anyhow!("{e}"))?;
    let variant = match variant {
        VariantArg::Internal => Variant::Internal,
        VariantArg::Public => Variant::Public,
    };
    let format = match format {
        FormatArg::Md => Format::Markdown,
        FormatArg::Html => Format::Html,
        FormatArg::Pdf => Format::Pdf,
    };
    let ctx = open_context(settings).await?;
    let document = postmortems::render(&ctx, reference, variant, format)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if output == std::path::Path::new("-") {
        use std::io::Write as _;
        std::io::stdout().write_all(&document.bytes)?;
    } else {
        std::fs::write(output, &document.bytes)
            .with_context(|| format!("cannot write {}", output.display()))?;
        tracing::info!(
            incident.reference = incident,
            file = %output.display(),
            bytes = document.bytes.len(),
            "Rendered the {} post-mortem of {incident} as {}",
            variant.as_str(),
            format.extension()
        );
    }
    Ok(())
}

/// `debrief digest [--week W] [--send [--resend]] [--out DIR]`.
async fn digest(
    settings: Settings,
    week: Option<String>,
    send: bool,
    resend: bool,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mailer = Mailer::from_settings(&settings).context("invalid mail settings")?;
    let ctx = open_context(settings).await?;
    let tz = digests::time_zone(&ctx.settings);
    let week = match week {
        Some(text) => IsoWeek::parse("--week", &text).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => IsoWeek::of(ctx.now().with_timezone(&tz).date_naive()).minus(1),
    };
    if send {
        let queued = digests::send(&ctx, week, resend, SendTrigger::Cli, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let jobs = Jobs::new(ctx.clone(), mailer)?;
        let report = jobs
            .drain_outbox()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "Digest {week} (send {}) queued for {} recipients; {} delivered now, {} to retry, {} failed",
            queued.send_number,
            queued.recipients.len(),
            report.sent,
            report.retrying,
            report.failed
        );
        return Ok(());
    }
    let generated = digests::generate(&ctx.db, &ctx.settings, week)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    match out {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            std::fs::write(dir.join("digest.md"), &generated.markdown)?;
            std::fs::write(dir.join("digest.html"), &generated.html)?;
            std::fs::write(dir.join("chart.png"), &generated.chart_png)?;
            if let Some(pdf) = &generated.pdf {
                std::fs::write(dir.join("digest.pdf"), pdf)?;
            }
            println!("Digest {week} written to {}", dir.display());
        }
        None => print!("{}", generated.markdown),
    }
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    if let Some(secret) = app.bootstrap_token().await? {
        let path = app.context().settings.data_dir.join("bootstrap-token");
        println!(
            "No API token existed, so an admin token was created (also written to {}):",
            path.display()
        );
        println!("{secret}");
    }
    tracing::info!(listen = %app.addr(), "Debrief listening on http://{}", app.addr());
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("Debrief stopped");
    Ok(())
}

/// Connect to the configured database and migrate it (the CLI commands).
async fn open_database(settings: &Settings) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let conn = db::connect(settings).await?;
    db::migrate(&conn, settings)
        .await
        .context("migration failed")?;
    Ok(conn)
}

/// [`open_database`], as a service context on the real clock.
async fn open_context(settings: Settings) -> anyhow::Result<Context> {
    let conn = open_database(&settings).await?;
    Ok(Context::new(
        conn,
        Arc::new(SystemClock),
        Arc::new(settings),
    ))
}
