//! Drawing the blocks of a document: paragraphs and list items, headings
//! (kept with what follows them), code blocks, images and rules.

use printpdf::{Pt, RawImage, XObjectTransform};
use pulldown_cmark::HeadingLevel;

use super::{InlineTarget, Layout, PendingHeading};
use crate::reports::pdf::{
    options::PdfError,
    page::Draw,
    style::{
        BODY_LEADING, BODY_SIZE, CELL_PAD, CODE_LEADING, CODE_SIZE, Face, GREY, MARGIN_BOTTOM,
        MARGIN_TOP, MARGIN_X, PARAGRAPH_GAP, RULE, SHADE,
    },
    wrap::{Line, Span, one_line, wrap, wrap_code},
};

impl Layout<'_> {
    /// Lay out the inline text collected so far as one block: a paragraph,
    /// a list item (its marker beside the first line) or a heading (which
    /// waits for what follows it, see [`PendingHeading`]).
    pub(super) fn flush_block(&mut self) {
        if self.inline_target == InlineTarget::TableCell || self.spans.is_empty() {
            return;
        }
        let spans = std::mem::take(&mut self.spans);
        if spans.iter().all(|s| s.text.trim().is_empty()) && self.marker.is_none() {
            return;
        }
        let (size, leading, before, after) = block_metrics(self.heading);
        let spans: Vec<Span> = if self.heading.is_some() {
            spans.into_iter().map(Span::in_bold).collect()
        } else {
            spans
        };
        let width = self.text_width();
        let lines = wrap(&spans, size, width, &self.fonts);
        let left = self.left();
        let marker = self.marker.take();
        if self.heading.is_some() && marker.is_none() {
            // Drawn with the first line of what follows (see `ensure`).
            self.pending_headings.push(PendingHeading {
                lines,
                size,
                leading,
                before,
                after,
                rule: self.heading == Some(HeadingLevel::H1),
                left,
                width,
                quote: self.quote_depth > 0,
                gap_after: 0.0,
            });
            return;
        }
        self.gap(before);
        if self.heading.is_some() {
            // Keep a heading with at least two lines of what follows.
            self.ensure(lines.len() as f32 * leading + 2.0 * BODY_LEADING);
        } else {
            // No paragraph's first line alone at the bottom of a page.
            self.ensure(lines.len().min(2) as f32 * leading);
        }
        let block = BlockLines {
            left,
            width,
            size,
            leading,
            quote: self.quote_depth > 0,
        };
        self.draw_block_lines(&lines, &block, marker.as_deref());
        if self.heading == Some(HeadingLevel::H1) {
            self.heading_rule(left);
        }
        self.y -= after;
        if self.heading.is_none() && !self.lists.is_empty() {
            self.y -= 2.0;
        }
    }

    /// Draw a heading that waited for what follows it.
    pub(super) fn draw_heading(&mut self, heading: PendingHeading) {
        self.gap(heading.before);
        let block = BlockLines {
            left: heading.left,
            width: heading.width,
            size: heading.size,
            leading: heading.leading,
            quote: heading.quote,
        };
        self.draw_block_lines(&heading.lines, &block, None);
        if heading.rule {
            self.heading_rule(heading.left);
        }
        self.y -= heading.after;
        self.gap(heading.gap_after);
    }

    /// Draw the lines of a block, each on the page where it fits, with the
    /// list marker beside the first and a block quote's bar beside each.
    fn draw_block_lines(&mut self, lines: &[Line], block: &BlockLines, marker: Option<&str>) {
        let BlockLines {
            left,
            width,
            size,
            leading,
            quote,
        } = *block;
        for (i, line) in lines.iter().enumerate() {
            self.ensure(leading);
            let baseline = self.y - leading * 0.78;
            if i == 0
                && let Some(marker) = marker
            {
                let marker = one_line(marker, Face::Regular, GREY, size, &self.fonts);
                self.draw_frags(&marker.frags, left - 5.0 - marker.width, baseline, size);
            }
            if quote {
                let (top, bottom) = (self.y, self.y - leading);
                self.vline(left - 10.0, top, bottom, RULE, 2.0);
            }
            self.draw_line(line, left, width, baseline, size);
            self.y -= leading;
            self.at_page_top = false;
        }
    }

    /// The rule under an H1, from `left` to the right margin.
    fn heading_rule(&mut self, left: f32) {
        let right = self.page_width - MARGIN_X;
        let y = self.y - 2.0;
        self.hline(left, right, y, RULE, 1.0);
        self.y -= 4.0;
    }

    /// A thematic break (`---`): a thin rule across the text width.
    pub(super) fn draw_rule(&mut self) {
        self.flush_block();
        self.ensure(12.0);
        self.gap(4.0);
        let (left, right) = (self.left(), self.page_width - MARGIN_X);
        let y = self.y - 4.0;
        self.hline(left, right, y, RULE, 0.8);
        self.y -= 10.0;
        self.at_page_top = false;
    }

    /// A code block: monospaced lines on a shaded band, broken by
    /// characters where they are too long.
    pub(super) fn draw_code_block(&mut self, code: &str) {
        let width = self.text_width() - 2.0 * CELL_PAD;
        let left = self.left();
        self.gap(2.0);
        let code = code.strip_suffix('\n').unwrap_or(code);
        let mut lines = Vec::new();
        for source_line in code.split('\n') {
            // Keep indentation: spaces are significant in code.
            let text = source_line.replace('\t', "    ");
            lines.extend(wrap_code(&text, CODE_SIZE, width, &self.fonts));
        }
        for line in lines {
            self.ensure(CODE_LEADING);
            let top = self.y;
            self.fill_rect(
                left,
                top - CODE_LEADING,
                self.text_width(),
                CODE_LEADING,
                SHADE,
            );
            let baseline = top - CODE_LEADING * 0.78;
            self.draw_frags(&line.frags, left + CELL_PAD, baseline, CODE_SIZE / 0.92);
            self.y -= CODE_LEADING;
            self.at_page_top = false;
        }
        self.gap(PARAGRAPH_GAP + 2.0);
    }

    /// An image of [`PdfOptions::images`](crate::reports::pdf::PdfOptions) scaled to the
    /// text width (and to the page's height), or its alt text when there is
    /// no such image.
    pub(super) fn image_block(&mut self, name: &str, alt: &str) -> Result<(), PdfError> {
        let Some(bytes) = self.options.images.get(name) else {
            let face = Face::Italic;
            self.push_text(&format!("[image: {alt}]"), face, GREY);
            return Ok(());
        };
        let mut warnings = Vec::new();
        let image = RawImage::decode_from_bytes(bytes, &mut warnings).map_err(|reason| {
            PdfError::Image {
                name: name.to_string(),
                reason,
            }
        })?;
        if image.width == 0 || image.height == 0 {
            return Err(PdfError::Image {
                name: name.to_string(),
                reason: "the image is empty".into(),
            });
        }
        self.flush_block();
        let body_height = self.page_height - MARGIN_TOP - MARGIN_BOTTOM;
        let mut width = self.text_width();
        let mut height = width * image.height as f32 / image.width as f32;
        if height > body_height {
            width *= body_height / height;
            height = body_height;
        }
        self.ensure(height + 4.0);
        let (iw, ih) = (image.width as f32, image.height as f32);
        // A fixed id, as for fonts: the same document gives the same bytes.
        let id = printpdf::XObjectId(format!("DBIMG{}", self.doc.resources.xobjects.map.len()));
        self.doc
            .resources
            .xobjects
            .map
            .insert(id.clone(), printpdf::XObject::Image(image.clone()));
        let x = self.left();
        let y = self.y - height;
        self.page().draws.push(Draw::Image(Box::new((
            id,
            XObjectTransform {
                translate_x: Some(Pt(x)),
                translate_y: Some(Pt(y)),
                scale_x: Some(width / iw),
                scale_y: Some(height / ih),
                dpi: Some(72.0),
                ..XObjectTransform::default()
            },
        ))));
        self.y -= height + PARAGRAPH_GAP;
        self.at_page_top = false;
        Ok(())
    }
}

/// Where and how the lines of a block are drawn.
struct BlockLines {
    left: f32,
    width: f32,
    size: f32,
    leading: f32,
    /// Inside a block quote: the quote's bar beside each line.
    quote: bool,
}

/// Size, leading, and the room before and after a block: a heading's by
/// its level, a paragraph's otherwise.
fn block_metrics(heading: Option<HeadingLevel>) -> (f32, f32, f32, f32) {
    match heading {
        Some(HeadingLevel::H1) => (19.0, 24.0, 10.0, 8.0),
        Some(HeadingLevel::H2) => (14.5, 19.0, 14.0, 4.0),
        Some(HeadingLevel::H3) => (12.0, 16.0, 10.0, 2.0),
        Some(_) => (10.5, 14.0, 8.0, 2.0),
        None => (BODY_SIZE, BODY_LEADING, 0.0, 0.0),
    }
}
