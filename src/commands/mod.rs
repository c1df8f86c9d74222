//! The work of the `debrief` commands, one module per command (`main.rs`
//! only parses the command line and calls these): opening the database as
//! every command does, and the commands too small for a module of their
//! own (`migrate`, `job run`, `openapi`).

pub mod digest;
pub mod import;
pub mod render;
pub mod search;
pub mod serve;
pub mod tokens;

use std::sync::Arc;

use anyhow::Context as _;

use crate::{
    api,
    clock::{Clock, SystemClock},
    config::Settings,
    db,
    jobs::{JobName, Jobs},
    notify::Mailer,
    services::Context,
};

/// How `debrief openapi` prints the specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecFormat {
    Yaml,
    Json,
}

/// `debrief openapi`: print the OpenAPI specification.
pub fn openapi(format: SpecFormat) {
    match format {
        SpecFormat::Yaml => print!("{}", api::spec::spec_yaml()),
        SpecFormat::Json => println!("{}", api::spec::spec_json()),
    }
}

/// `debrief migrate`: apply pending migrations, bring the data up to date,
/// and exit.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    open_database(settings).await?;
    tracing::info!("Database migrated");
    Ok(())
}

/// `debrief job run JOB`: one pass of a scheduled job now, then the outbox
/// delivered; prints what it did.
pub async fn run_job(settings: Settings, job: JobName) -> anyhow::Result<()> {
    let mailer = Mailer::from_settings(&settings).context("invalid mail settings")?;
    let ctx = open_context(settings).await?;
    let report = Jobs::new(ctx, mailer)?.run_now(job).await?;
    println!("{report}");
    Ok(())
}

/// Connect to the configured database, migrate it and bring its data up to
/// date, as every command that uses the database does first.
pub async fn open_database(settings: &Settings) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let conn = db::connect(settings).await?;
    crate::startup::prepare_database(&conn, settings, SystemClock.now()).await?;
    Ok(conn)
}

/// [`open_database`], as a service context on the real clock.
pub async fn open_context(settings: Settings) -> anyhow::Result<Context> {
    let conn = open_database(&settings).await?;
    Ok(Context::new(
        conn,
        Arc::new(SystemClock),
        Arc::new(settings),
    ))
}
