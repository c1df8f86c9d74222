//! The layout of a document: Markdown events (pulldown-cmark) read into
//! the layout's state (the block being collected, lists, quotes, tables),
//! page breaks, and the running header and footer of every page. Drawing
//! is in the submodules: `blocks` (paragraphs, headings, code, images,
//! rules), `table` (tables) and `draw` (text and lines on the page).

mod blocks;
mod draw;
mod table;

use std::collections::BTreeMap;

use printpdf::PdfDocument;
use pulldown_cmark::{Event, HeadingLevel, Tag, TagEnd};

use super::{
    fonts::{FontRef, Fonts, Source},
    options::{PdfError, PdfOptions},
    page::{PageDraws, font_id_of},
    style::{
        CODE_INK, Face, GREY, INK, LINK, LIST_INDENT, MARGIN_BOTTOM, MARGIN_TOP, MARGIN_X, MARKING,
        PARAGRAPH_GAP, RULE, Rgb3,
    },
    wrap::{Line, Span, one_line, truncate_to_width},
};
use table::TableState;

/// Where inline text is being collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InlineTarget {
    Block,
    TableCell,
}

/// A list being read: the number of its next item, when it is numbered.
#[derive(Debug)]
struct ListState {
    next_number: Option<u64>,
}

/// A heading laid out and waiting to be drawn with the first line, row or
/// image of what follows it, so that it never ends a page alone.
struct PendingHeading {
    lines: Vec<Line>,
    size: f32,
    leading: f32,
    before: f32,
    after: f32,
    /// An H1: a rule under it.
    rule: bool,
    left: f32,
    width: f32,
    /// Inside a block quote: the quote's bar beside it.
    quote: bool,
    /// Gaps asked for after it, before what follows is drawn.
    gap_after: f32,
}

impl PendingHeading {
    fn height(&self) -> f32 {
        self.before
            + self.lines.len() as f32 * self.leading
            + if self.rule { 4.0 } else { 0.0 }
            + self.after
            + self.gap_after
    }
}

/// The layout of one document: the state of the Markdown read so far and
/// the pages drawn.
pub(super) struct Layout<'a> {
    options: &'a PdfOptions,
    doc: &'a mut PdfDocument,
    fonts: Fonts,
    /// The DejaVu faces added to the document.
    dejavu_added: [bool; 5],
    /// The fallback faces added to the document.
    fallback_added: std::collections::BTreeSet<u16>,
    /// Characters no font covers, drawn as U+FFFD: how many of each.
    missing: BTreeMap<char, usize>,
    /// Headings not drawn yet (see [`PendingHeading`]).
    pending_headings: Vec<PendingHeading>,
    pub(super) page_width: f32,
    pub(super) page_height: f32,
    pages: Vec<PageDraws>,
    /// What a text section is collected in before it joins its page.
    section: PageDraws,
    y: f32,
    /// Inline text of the block being read.
    spans: Vec<Span>,
    inline_target: InlineTarget,
    bold: usize,
    italic: usize,
    link: Option<String>,
    heading: Option<HeadingLevel>,
    lists: Vec<ListState>,
    quote_depth: usize,
    /// The marker ("•", "3.") waiting for the first line of a list item.
    marker: Option<String>,
    code_block: Option<String>,
    table: Option<TableState>,
    image: Option<(String, String)>,
    /// Whether anything was drawn since the last page break (no gap at the top).
    at_page_top: bool,
    /// Whether to keep the text drawn.
    pub(super) collect_text: bool,
    /// Every text drawn, a line each (when collected).
    drawn_text: String,
    /// The stroke colour and width last set on this page.
    stroke: Option<(Rgb3, u32)>,
}

impl<'a> Layout<'a> {
    pub(super) fn new(options: &'a PdfOptions, doc: &'a mut PdfDocument) -> Self {
        let (page_width, page_height) = options.paper.size_pt();
        Self {
            options,
            doc,
            fonts: Fonts::new(&options.font_dirs),
            dejavu_added: [false; 5],
            fallback_added: std::collections::BTreeSet::new(),
            missing: BTreeMap::new(),
            pending_headings: Vec::new(),
            page_width,
            page_height,
            pages: vec![PageDraws::default()],
            section: PageDraws::default(),
            y: page_height - MARGIN_TOP,
            spans: Vec::new(),
            inline_target: InlineTarget::Block,
            bold: 0,
            italic: 0,
            link: None,
            heading: None,
            lists: Vec::new(),
            quote_depth: 0,
            marker: None,
            code_block: None,
            table: None,
            image: None,
            at_page_top: true,
            collect_text: true,
            drawn_text: String::new(),
            stroke: None,
        }
    }

    /// Add the font a fragment is drawn in (see `draw::drawn_with`) to the
    /// document on first use.
    fn add_font(&mut self, font: FontRef) {
        let new = match font.source {
            Source::Dejavu | Source::Missing => {
                !std::mem::replace(&mut self.dejavu_added[font.face.index()], true)
            }
            Source::Fallback(i) => self.fallback_added.insert(i),
        };
        if new {
            self.doc.resources.fonts.map.insert(
                font_id_of(font),
                printpdf::PdfFont::new(self.fonts.face(font).parsed.clone()),
            );
        }
    }

    fn left(&self) -> f32 {
        MARGIN_X + self.lists.len() as f32 * LIST_INDENT + self.quote_depth as f32 * 14.0
    }

    fn text_width(&self) -> f32 {
        self.page_width - MARGIN_X - self.left()
    }

    fn page(&mut self) -> &mut PageDraws {
        self.pages.last_mut().expect("there is always a page")
    }

    fn new_page(&mut self) {
        self.page().shrink_to_fit();
        self.pages.push(PageDraws::default());
        self.stroke = None;
        self.y = self.page_height - MARGIN_TOP;
        self.at_page_top = true;
    }

    /// Make room for `height` points, starting a new page if needed. The
    /// headings waiting for what follows them are drawn first, on the page
    /// where they and these `height` points fit together.
    fn ensure(&mut self, height: f32) {
        if !self.pending_headings.is_empty() {
            let headings = std::mem::take(&mut self.pending_headings);
            let needed = headings.iter().map(PendingHeading::height).sum::<f32>() + height;
            let body = self.page_height - MARGIN_TOP - MARGIN_BOTTOM;
            if self.y - needed < MARGIN_BOTTOM && !self.at_page_top && needed <= body {
                self.new_page();
            }
            for heading in headings {
                self.draw_heading(heading);
            }
        }
        if self.y - height < MARGIN_BOTTOM && !self.at_page_top {
            self.new_page();
        }
    }

    fn gap(&mut self, points: f32) {
        if let Some(heading) = self.pending_headings.last_mut() {
            heading.gap_after += points;
        } else if !self.at_page_top {
            self.y -= points;
        }
    }

    fn current_face(&self) -> Face {
        Face::Regular.with(self.bold > 0 || self.heading.is_some(), self.italic > 0)
    }

    fn push_text(&mut self, text: &str, face: Face, color: Rgb3) {
        let color = if self.link.is_some() { LINK } else { color };
        if let Some(image) = &mut self.image {
            image.1.push_str(text);
            return;
        }
        if let Some(code) = &mut self.code_block {
            code.push_str(text);
            return;
        }
        // A tab in running text separates words like a space (controls are
        // not drawn).
        let text: &str = &if text.contains('\t') {
            std::borrow::Cow::Owned(text.replace('\t', " "))
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        let link = self.link.clone();
        if let Some(last) = self.spans.last_mut()
            && last.face == face
            && last.color == color
            && last.link == link
        {
            last.text.push_str(text);
            return;
        }
        self.spans.push(Span {
            text: text.to_string(),
            face,
            color,
            link,
        });
    }

    /// Take the next Markdown event.
    pub(super) fn event(&mut self, event: Event<'_>) -> Result<(), PdfError> {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag)?,
            Event::Text(text) => {
                let face = self.current_face();
                self.push_text(&text, face, INK);
            }
            Event::Code(text) => self.push_text(&text, Face::Mono, CODE_INK),
            // Raw HTML is printed as the text it is, never interpreted.
            Event::Html(text) | Event::InlineHtml(text) => {
                let face = self.current_face();
                self.push_text(&text, face, INK);
            }
            Event::SoftBreak => {
                let face = self.current_face();
                self.push_text(" ", face, INK);
            }
            Event::HardBreak => {
                let face = self.current_face();
                self.push_text("\n", face, INK);
            }
            Event::Rule => self.draw_rule(),
            Event::TaskListMarker(done) => {
                let face = self.current_face();
                self.push_text(if done { "☑ " } else { "☐ " }, face, INK);
            }
            Event::FootnoteReference(name) => {
                let face = self.current_face();
                self.push_text(&format!("[{name}]"), face, INK);
            }
            Event::InlineMath(text) | Event::DisplayMath(text) => {
                self.push_text(&text, Face::Mono, INK);
            }
        }
        Ok(())
    }

    /// A Markdown element begins. One arm per kind of element: the match
    /// is the map from Markdown to the layout's state, read best whole.
    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => {
                if self.inline_target == InlineTarget::Block {
                    self.flush_block();
                }
            }
            Tag::Heading { level, .. } => {
                self.flush_block();
                self.heading = Some(level);
            }
            Tag::BlockQuote(_) => {
                self.flush_block();
                self.quote_depth += 1;
            }
            Tag::CodeBlock(_) => {
                self.flush_block();
                self.code_block = Some(String::new());
            }
            Tag::List(start) => {
                self.flush_block();
                if self.lists.is_empty() {
                    self.gap(2.0);
                }
                self.lists.push(ListState { next_number: start });
            }
            Tag::Item => {
                self.flush_block();
                let marker = match self.lists.last_mut() {
                    Some(ListState {
                        next_number: Some(n),
                    }) => {
                        let marker = format!("{n}.");
                        *n += 1;
                        marker
                    }
                    _ => if self.lists.len() > 1 { "◦" } else { "•" }.to_string(),
                };
                self.marker = Some(marker);
            }
            Tag::Table(alignments) => {
                self.flush_block();
                self.table = Some(TableState {
                    alignments,
                    ..TableState::default()
                });
            }
            Tag::TableHead => {
                if let Some(table) = &mut self.table {
                    table.in_header = true;
                }
            }
            Tag::TableRow => {}
            Tag::TableCell => {
                self.inline_target = InlineTarget::TableCell;
                self.spans.clear();
            }
            Tag::Emphasis => self.italic += 1,
            Tag::Strong => self.bold += 1,
            // A scripting target is disarmed, as in HTML: the text stays,
            // without a link.
            Tag::Link { dest_url, .. } => {
                self.link = (!crate::reports::html::is_scripting_url(&dest_url))
                    .then(|| dest_url.to_string());
            }
            Tag::Image { dest_url, .. } => {
                self.image = Some((dest_url.to_string(), String::new()));
            }
            Tag::Strikethrough
            | Tag::FootnoteDefinition(_)
            | Tag::HtmlBlock
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::Superscript
            | Tag::Subscript
            | Tag::MetadataBlock(_) => {}
        }
    }

    /// A Markdown element ends: what it held is drawn (see [`Self::start`]).
    fn end(&mut self, tag: TagEnd) -> Result<(), PdfError> {
        match tag {
            TagEnd::Paragraph if self.inline_target == InlineTarget::Block => {
                self.flush_block();
                self.gap(PARAGRAPH_GAP);
            }
            TagEnd::Heading(_) => {
                self.flush_block();
                self.heading = None;
            }
            TagEnd::BlockQuote(_) => {
                self.flush_block();
                self.quote_depth = self.quote_depth.saturating_sub(1);
            }
            TagEnd::CodeBlock => {
                let code = self.code_block.take().unwrap_or_default();
                self.draw_code_block(&code);
            }
            TagEnd::List(_) => {
                self.flush_block();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.gap(PARAGRAPH_GAP);
                }
            }
            TagEnd::Item => {
                self.flush_block();
                self.marker = None;
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    self.draw_table(table);
                }
                self.inline_target = InlineTarget::Block;
            }
            TagEnd::TableHead => {
                if let Some(table) = &mut self.table {
                    table.in_header = false;
                    if table.header.is_empty() {
                        table.header = std::mem::take(&mut table.row);
                    }
                }
            }
            TagEnd::TableRow => {
                if let Some(table) = &mut self.table {
                    table.rows.end_row();
                }
            }
            TagEnd::TableCell => {
                if let Some(table) = &mut self.table {
                    if table.in_header {
                        table.row.push(std::mem::take(&mut self.spans));
                    } else {
                        table.rows.push_cell(&self.spans, &self.fonts);
                        self.spans.clear();
                    }
                }
            }
            TagEnd::Emphasis => self.italic = self.italic.saturating_sub(1),
            TagEnd::Strong => self.bold = self.bold.saturating_sub(1),
            TagEnd::Link => self.link = None,
            TagEnd::Image => {
                if let Some((name, alt)) = self.image.take() {
                    self.image_block(&name, &alt)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Add the header and footer to every page and hand the pages over.
    pub(super) fn finish(mut self) -> (Vec<PageDraws>, String, BTreeMap<char, usize>) {
        self.flush_block();
        // A heading that ends the document has nothing to wait for.
        self.ensure(0.0);
        let count = self.pages.len();
        let pages = std::mem::take(&mut self.pages);
        let header = self.header();
        let mut out = Vec::with_capacity(count);
        for (index, mut body) in pages.into_iter().enumerate() {
            self.pages = vec![PageDraws::default()];
            self.stroke = None;
            self.page_furniture(&header, index + 1, count);
            let mut page = std::mem::take(&mut self.pages[0]);
            page.append(&mut body);
            page.shrink_to_fit();
            out.push(page);
        }
        (out, self.drawn_text, self.missing)
    }

    /// The running header: the marking at the right and the title at the
    /// left, shortened with an ellipsis so that it ends 16 points before
    /// the marking.
    pub(super) fn header(&self) -> Header {
        let right = self.page_width - MARGIN_X;
        let marking = self
            .options
            .marking
            .as_deref()
            .map(|m| one_line(m, Face::Bold, MARKING, 9.0, &self.fonts));
        let room = right - MARGIN_X - marking.as_ref().map_or(0.0, |m| m.width) - 16.0;
        let title = truncate_to_width(&self.options.title, Face::Regular, 8.0, room, &self.fonts);
        Header {
            title: one_line(&title, Face::Regular, GREY, 8.0, &self.fonts),
            marking,
        }
    }

    /// Draw the running header and the footer ("Page n of m", the subject)
    /// of page `number`.
    fn page_furniture(&mut self, header: &Header, number: usize, count: usize) {
        let right = self.page_width - MARGIN_X;
        let header_baseline = self.page_height - 34.0;
        if let Some(marking) = &header.marking {
            self.draw_frags(&marking.frags, right - marking.width, header_baseline, 9.0);
        }
        self.draw_frags(&header.title.frags, MARGIN_X, header_baseline, 8.0);
        self.hline(MARGIN_X, right, header_baseline - 6.0, RULE, 0.6);

        let footer_baseline = 30.0;
        let page = one_line(
            &format!("Page {number} of {count}"),
            Face::Regular,
            GREY,
            8.0,
            &self.fonts,
        );
        self.draw_frags(&page.frags, right - page.width, footer_baseline, 8.0);
        if !self.options.subject.is_empty() {
            let subject = truncate_to_width(
                &self.options.subject,
                Face::Regular,
                8.0,
                right - MARGIN_X - page.width - 16.0,
                &self.fonts,
            );
            let subject = one_line(&subject, Face::Regular, GREY, 8.0, &self.fonts);
            self.draw_frags(&subject.frags, MARGIN_X, footer_baseline, 8.0);
        }
    }
}

/// The running header of every page.
pub(super) struct Header {
    pub(super) title: Line,
    pub(super) marking: Option<Line>,
}
