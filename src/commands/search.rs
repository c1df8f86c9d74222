//! `debrief search QUERY [--types …] [--limit N]`: the hits of a search,
//! best first, as the API's `GET /search` finds them.

use crate::{
    config::Settings,
    domain::search::{SearchKind, SearchQuery},
    services::{
        ServiceError,
        pagination::PageRequest,
        search::{self, SearchFilter, SearchHit},
    },
};

use super::open_context;

/// Search and print one hit per two lines: reference, kind and title, then
/// the snippet with the matched words in `**bold**`.
pub async fn run(
    settings: Settings,
    query: &str,
    types: Option<&str>,
    limit: u64,
) -> anyhow::Result<()> {
    let query = SearchQuery::parse(query).map_err(ServiceError::from)?;
    let kinds = match types {
        Some(text) => SearchKind::parse_list("--types", text).map_err(ServiceError::from)?,
        None => Vec::new(),
    };
    let page = PageRequest::parse(Some(limit), None).map_err(|_| {
        anyhow::anyhow!(
            "--limit must be between 1 and {}",
            crate::services::pagination::MAX_LIMIT
        )
    })?;
    let ctx = open_context(settings).await?;
    let filter = SearchFilter {
        kinds,
        ..SearchFilter::default()
    };
    let page = search::search(&ctx, &query, &filter, page).await?;
    if page.items.is_empty() {
        println!("No hits.");
    }
    for hit in &page.items {
        println!("{}", heading(hit));
        println!("    {}", plain_snippet(&hit.snippet));
    }
    Ok(())
}

fn heading(hit: &SearchHit) -> String {
    format!(
        "{:<8} {:<18} {}",
        hit.reference,
        hit.kind.as_str(),
        hit.title
    )
}

/// The snippet for a terminal: marks as `**…**`, HTML entities decoded (the
/// marks are replaced first: a `<mark>` typed in the text is escaped).
fn plain_snippet(snippet: &str) -> String {
    let marked = snippet.replace("<mark>", "**").replace("</mark>", "**");
    html_escape::decode_html_entities(&marked).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn snippets_lose_their_html_but_keep_their_marks() {
        assert_eq!(
            super::plain_snippet("a &lt;mark&gt; <mark>pool</mark> &amp; b"),
            "a <mark> **pool** & b"
        );
    }
}
