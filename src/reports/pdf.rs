//! PDF layout: Markdown (pulldown-cmark events) laid out on pages with
//! printpdf's operations API and embedded DejaVu fonts.
//!
//! One general entry point, [`render_pdf`], used by the post-mortem documents
//! and the Ops Review digest alike: headings kept with what follows them,
//! wrapped paragraphs measured with the fonts' real glyph advances, bold and
//! italic, bullet and numbered lists, GFM tables whose cells wrap and whose
//! header repeats on every page the table spans, code blocks, block quotes,
//! clickable links, PNG images scaled to the text width, the document title
//! in every page's header (shortened before the marking), an optional
//! marking ("INTERNAL") on every page and "Page n of m" in the footer.
//!
//! Characters DejaVu lacks (CJK, emoji, many scripts) come from fallback
//! fonts found in [`PdfOptions::font_dirs`]; right-to-left text (Hebrew,
//! Arabic) is put in visual order with the Unicode Bidirectional Algorithm
//! and shaped with rustybuzz, as are the scripts whose letters join or
//! combine (see the `fonts` module). A character no font covers is drawn as
//! U+FFFD and counted in a warning.
//!
//! This file holds the entry points and the steps of a render; the work is
//! in the submodules, from the top: `layout` (Markdown to pages, with
//! `blocks`, `table` and `draw` under it), `serialise` and `merge` (pages
//! to the file's bytes), `page` (a page as recorded), `wrap` (text into
//! lines), `options` (what a caller sets, and the errors), `fonts`
//! (fallback fonts, shaping; `fallback` under it), `face` (one font face),
//! `style` (sizes and colours). Each uses only modules listed after it;
//! none uses this file (the tests aside).

mod face;
mod fonts;
mod layout;
mod merge;
mod options;
mod page;
mod serialise;
mod style;
#[cfg(test)]
mod tests;
mod wrap;

use std::{collections::BTreeMap, path::PathBuf};

use printpdf::PdfDocument;
use pulldown_cmark::{Event, Options, Parser, Tag};

use fonts::Fonts;
use layout::Layout;
use page::PageDraws;
use serialise::{PAGES_PER_RUN, serialise};

pub use fonts::SYSTEM_FONT_DIRS;
pub use options::{PaperSize, PdfError, PdfOptions, system_font_dirs};

/// The characters of `text` that no font covers, neither DejaVu nor a font
/// in `font_dirs`: what a PDF would show as U+FFFD.
pub fn uncovered_characters(text: &str, font_dirs: &[PathBuf]) -> Vec<char> {
    let fonts = Fonts::new(font_dirs);
    let mut missing: Vec<char> = text
        .split('\n')
        .flat_map(|line| fonts.uncovered(line))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

/// Lay `markdown` out as a PDF. Characters no font covers are drawn as
/// U+FFFD and counted in a warning in the log.
pub fn render_pdf(markdown: &str, options: &PdfOptions) -> Result<Vec<u8>, PdfError> {
    render(markdown, options, false).map(|(pdf, _)| pdf)
}

/// [`render_pdf`], also returning every piece of text a reader can obtain
/// from the file: each drawn line, then every link target and link title,
/// then the metadata (title, subject), so a caller can check all of it.
pub fn render_pdf_with_text(
    markdown: &str,
    options: &PdfOptions,
) -> Result<(Vec<u8>, String), PdfError> {
    render(markdown, options, true)
}

/// The PDF, and with `with_text` the text a reader can obtain from it.
fn render(
    markdown: &str,
    options: &PdfOptions,
    with_text: bool,
) -> Result<(Vec<u8>, String), PdfError> {
    let LaidOut {
        doc,
        pages,
        page_size,
        text,
        missing,
    } = lay_out(markdown, options, with_text)?;
    if !missing.is_empty() {
        let count: usize = missing.values().sum();
        let examples: Vec<String> = missing
            .keys()
            .take(8)
            .map(|c| format!("U+{:04X}", u32::from(*c)))
            .collect();
        tracing::warn!(
            pdf.title = %options.title,
            pdf.missing_characters = count,
            "PDF \"{}\": {count} characters that no installed font covers were drawn as \u{FFFD} ({}); \
             install a font for them in one of documents.font_dirs ({})",
            options.title,
            examples.join(", "),
            options
                .font_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let bytes = serialise(&doc, &pages, page_size, PAGES_PER_RUN)?;
    Ok((bytes, text))
}

/// A laid-out document.
struct LaidOut {
    /// The document: fonts, images, metadata; no pages yet.
    doc: PdfDocument,
    pages: Vec<PageDraws>,
    /// Width and height of every page, in points.
    page_size: (f32, f32),
    /// The text drawn, then link targets and metadata (empty unless asked
    /// for).
    text: String,
    /// Characters no font covers, drawn as U+FFFD: how many of each.
    missing: BTreeMap<char, usize>,
}

/// The document (fonts, metadata) and its pages, with the text drawn when
/// `with_text`.
fn lay_out(markdown: &str, options: &PdfOptions, with_text: bool) -> Result<LaidOut, PdfError> {
    let mut doc = PdfDocument::new(&options.title);
    let mut layout = Layout::new(options, &mut doc);
    layout.collect_text = with_text;
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS,
    );
    for event in parser {
        layout.event(event)?;
    }
    let page_size = (layout.page_width, layout.page_height);
    let (pages, mut text, missing) = layout.finish();
    if with_text {
        for event in Parser::new_ext(markdown, crate::reports::html::markdown_options()) {
            if let Event::Start(
                Tag::Link {
                    dest_url, title, ..
                }
                | Tag::Image {
                    dest_url, title, ..
                },
            ) = event
            {
                for part in [dest_url, title] {
                    text.push('\n');
                    text.push_str(&part);
                }
            }
        }
        for part in [&options.title, &options.subject] {
            text.push('\n');
            text.push_str(part);
        }
    }
    let info = &mut doc.metadata.info;
    let created = printpdf::OffsetDateTime::from_unix_timestamp(options.created_at.timestamp())
        .unwrap_or_else(|_| printpdf::OffsetDateTime::epoch());
    info.document_title = options.title.clone();
    info.subject = options.subject.clone();
    info.creator = "Debrief".into();
    info.producer = "Debrief (printpdf)".into();
    info.creation_date = created;
    info.modification_date = created;
    info.metadata_date = created;
    Ok(LaidOut {
        doc,
        pages,
        page_size,
        text,
        missing,
    })
}
