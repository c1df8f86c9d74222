//! The `debrief` command line: serve, migrate, token, import, render,
//! digest, job, openapi. Only the arguments (clap) and the dispatch live
//! here; each command's work is in `debrief::commands`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use debrief::{
    commands::{self, SpecFormat, digest::DigestArgs, import::ImportArgs},
    config::{LogFormat, Settings},
    domain::Scope,
    ingest::ImportFormat,
    jobs::JobName,
    reports::{Format, Variant},
    telemetry,
};

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
    /// Search incidents, timeline events, sitreps, post-mortem sections and
    /// remediation items (the syntax of `GET /api/v1/search`'s `q`).
    Search {
        /// The query: words, "a phrase", prefix*, -excluded, a OR b.
        query: String,
        /// Only these kinds, comma-separated: incident, timeline_event,
        /// sitrep, postmortem_section, remediation_item.
        #[arg(long)]
        types: Option<String>,
        /// How many hits to print (1–500).
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// Print the OpenAPI specification.
    Openapi {
        /// Output format.
        #[arg(long, value_enum, default_value_t = SpecFormatArg::Yaml)]
        format: SpecFormatArg,
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
        /// deliver what is queued; `tracker-sync`: fetch linked tracker
        /// issues again and push pending changes.
        #[arg(value_enum)]
        job: JobArg,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum JobArg {
    Digest,
    Reminders,
    Outbox,
    /// Fetch every linked open tracker issue again and push pending changes.
    TrackerSync,
}

impl From<JobArg> for JobName {
    fn from(job: JobArg) -> Self {
        match job {
            JobArg::Digest => JobName::Digest,
            JobArg::Reminders => JobName::Reminders,
            JobArg::Outbox => JobName::Outbox,
            JobArg::TrackerSync => JobName::TrackerSync,
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

impl From<VariantArg> for Variant {
    fn from(v: VariantArg) -> Self {
        match v {
            VariantArg::Internal => Variant::Internal,
            VariantArg::Public => Variant::Public,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Md,
    Html,
    Pdf,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Md => Format::Markdown,
            FormatArg::Html => Format::Html,
            FormatArg::Pdf => Format::Pdf,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum SpecFormatArg {
    Yaml,
    Json,
}

impl From<SpecFormatArg> for SpecFormat {
    fn from(f: SpecFormatArg) -> Self {
        match f {
            SpecFormatArg::Yaml => SpecFormat::Yaml,
            SpecFormatArg::Json => SpecFormat::Json,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The one command that needs no settings (and logs nothing).
    if let Command::Openapi { format } = cli.command {
        commands::openapi(format.into());
        return Ok(());
    }
    let mut settings = Settings::load(cli.config.as_deref()).context("invalid configuration")?;
    if cli.log_json {
        settings.log_format = LogFormat::Json;
    }
    telemetry::init(settings.log_format, std::io::stderr);
    match cli.command {
        Command::Serve => commands::serve::run(settings).await,
        Command::Migrate => commands::migrate(&settings).await,
        Command::Token { command } => match command {
            TokenCommand::Create { name, scope } => {
                commands::tokens::create(&settings, &name, scope.into()).await
            }
            TokenCommand::List => commands::tokens::list(&settings).await,
            TokenCommand::Revoke { token } => commands::tokens::revoke(&settings, &token).await,
        },
        Command::Job {
            command: JobCommand::Run { job },
        } => commands::run_job(settings, job.into()).await,
        Command::Import {
            file,
            format,
            incident,
            channel,
            dry_run,
            history_before,
        } => {
            let args = ImportArgs {
                file,
                format: format.into(),
                incident,
                channel,
                dry_run,
                history_before,
            };
            commands::import::run(settings, args).await
        }
        Command::Render {
            incident,
            variant,
            format,
            output,
        } => {
            commands::render::run(settings, &incident, variant.into(), format.into(), &output).await
        }
        Command::Digest {
            week,
            send,
            resend,
            out,
        } => {
            let args = DigestArgs {
                week,
                send,
                resend,
                out,
            };
            commands::digest::run(settings, args).await
        }
        Command::Search {
            query,
            types,
            limit,
        } => commands::search::run(settings, &query, types.as_deref(), limit).await,
        Command::Openapi { .. } => unreachable!("handled above"),
    }
}
