//! The document model to Markdown, through the templates, and the filters
//! the templates use to put user text safely into Markdown structures.

use super::{PostmortemDocument, TemplateError, Templates, Variant};

/// The post-mortem as Markdown: the source of the HTML and PDF renderings.
pub fn render_postmortem(
    templates: &Templates,
    document: &PostmortemDocument,
) -> Result<String, TemplateError> {
    let name = match document.variant {
        Variant::Internal => "postmortem_internal.md.j2",
        Variant::Public => "postmortem_public.md.j2",
    };
    let mut out = templates.render(name, document)?;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// `{{ text | cell }}`: user text as the content of one GFM table cell:
/// one line, pipes escaped.
pub fn cell_filter(value: String) -> String {
    cell(&value)
}

/// See [`cell_filter`].
pub fn cell(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let mut last_space = false;
    for c in value.trim().chars() {
        match c {
            '|' => {
                out.push_str("\\|");
                last_space = false;
            }
            '\r' | '\n' | '\t' | ' ' => {
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            c => {
                out.push(c);
                last_space = false;
            }
        }
    }
    if out.is_empty() {
        "—".to_string()
    } else {
        out
    }
}

/// `{{ text | inline }}`: user text on one line (e.g. in a list item or a
/// heading), so it cannot start a new Markdown block.
pub fn inline_filter(value: String) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_stay_in_their_cell() {
        assert_eq!(cell("a | b\nc\r\n d"), "a \\| b c d");
        assert_eq!(cell("  "), "—");
    }

    #[test]
    fn inline_text_is_one_line() {
        assert_eq!(inline_filter("a\n\n# b".into()), "a # b");
    }
}
