//! `debrief token create | list | revoke`: API tokens from the command
//! line, and the table `list` prints.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::open_database;
use crate::{config::Settings, domain::Scope, entities::api_token, services::tokens};

/// `debrief token create --name N --scope S`: the secret is printed once,
/// as the last line.
pub async fn create(settings: &Settings, name: &str, scope: Scope) -> anyhow::Result<()> {
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.len() <= 200,
        "--name must be 1 to 200 characters"
    );
    let conn = open_database(settings).await?;
    let (token, secret) = tokens::create(&conn, Utc::now(), name, scope).await?;
    println!(
        "Created token {} ({}, scope {}). It is shown only once:",
        token.id, token.name, token.scope
    );
    println!("{secret}");
    Ok(())
}

/// `debrief token list`.
pub async fn list(settings: &Settings) -> anyhow::Result<()> {
    let conn = open_database(settings).await?;
    let list = tokens::list(&conn).await?;
    print!("{}", token_table(&list));
    Ok(())
}

/// `debrief token revoke ID|NAME`.
pub async fn revoke(settings: &Settings, token: &str) -> anyhow::Result<()> {
    let conn = open_database(settings).await?;
    let revoked = tokens::revoke_by_id_or_name(&conn, Utc::now(), token).await?;
    println!(
        "Revoked token {} ({}, scope {}) at {}",
        revoked.id,
        revoked.name,
        revoked.scope,
        revoked.revoked_at.map_or_else(String::new, cli_time)
    );
    Ok(())
}

/// A time as `debrief token list` shows it.
fn cli_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The table `debrief token list` prints: one token a line, no secret.
fn token_table(list: &[api_token::Model]) -> String {
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
