//! Tracing set-up. The writer is a parameter so tests can stay quiet.

use tracing_subscriber::{
    EnvFilter, fmt::MakeWriter, layer::SubscriberExt, util::SubscriberInitExt,
};

use crate::config::LogFormat;

/// Install the global subscriber. `RUST_LOG` overrides the default filter.
pub fn init<W>(format: LogFormat, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,poem=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Human => registry
            .with(tracing_subscriber::fmt::layer().with_writer(writer))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(writer),
            )
            .try_init(),
    };
    // A second init (several apps in one test process) keeps the first.
    let _ = result;
}
