//! The `debrief` command: serve, migrate, token, openapi.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use debrief::{
    api,
    config::{LogFormat, Settings},
    db,
    domain::Scope,
    services::tokens,
    startup::{Application, shutdown_signal},
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
enum SpecFormat {
    Yaml,
    Json,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Openapi { format } = cli.command {
        let service = api::service();
        match format {
            SpecFormat::Yaml => print!("{}", service.spec_yaml()),
            SpecFormat::Json => println!("{}", service.spec()),
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
            let conn = db::connect(&settings).await?;
            db::migrate(&conn).await.context("migration failed")?;
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
            let conn = db::connect(&settings).await?;
            db::migrate(&conn).await.context("migration failed")?;
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
        Command::Openapi { .. } => unreachable!("handled above"),
    }
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
