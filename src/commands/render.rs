//! `debrief render INC-n --variant … --format … -o FILE`: a post-mortem
//! document written to a file or to standard output.

use std::{io::Write as _, path::Path};

use anyhow::Context as _;

use super::open_context;
use crate::{
    config::Settings,
    domain::IncidentRef,
    reports::{Format, Variant},
    services::postmortems,
};

/// Render the post-mortem of `incident` and write it to `output` (`-`:
/// standard output).
pub async fn run(
    settings: Settings,
    incident: &str,
    variant: Variant,
    format: Format,
    output: &Path,
) -> anyhow::Result<()> {
    let reference = IncidentRef::parse("INCIDENT", incident)?;
    let ctx = open_context(settings).await?;
    let document = postmortems::render(&ctx, reference, variant, format).await?;
    if output == Path::new("-") {
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
