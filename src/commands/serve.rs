//! `debrief serve`: build the application (which migrates the database),
//! print the bootstrap token on a first start, and serve until a shutdown
//! signal.

use crate::{
    config::Settings,
    startup::{Application, shutdown_signal},
};

/// Run the HTTP service until SIGTERM or Ctrl-C.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
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
