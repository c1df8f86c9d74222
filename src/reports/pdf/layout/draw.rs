//! Drawing on the page: fragments of text placed on their baselines (in
//! text sections that set the font and colour only when they change, with
//! shaped text as glyphs), the text a reader can obtain recorded as it is
//! drawn, links, lines and filled rectangles.

use printpdf::{Codepoint, TextItem};

use super::Layout;
use crate::reports::pdf::{
    fonts::{self, FontRef, PLACEHOLDER, Source},
    page::Draw,
    style::{Face, LINK, Rgb3},
    wrap::{Frag, Line},
};

/// A fragment at its place on the page.
pub(super) struct Placed<'f> {
    pub(super) x: f32,
    pub(super) baseline: f32,
    pub(super) size: f32,
    pub(super) frag: &'f Frag,
    /// The last fragment of a drawn line.
    pub(super) line_end: bool,
}

/// A link drawn: where its text is, and its target.
struct PlacedLink {
    x: f32,
    baseline: f32,
    size: f32,
    width: f32,
    url: String,
}

impl Layout<'_> {
    /// Draw a line of a block `width` points wide that starts at `left`:
    /// flush right when its paragraph is written right to left.
    pub(super) fn draw_line(
        &mut self,
        line: &Line,
        left: f32,
        width: f32,
        baseline: f32,
        size: f32,
    ) {
        let x = if line.rtl {
            left + (width - line.width).max(0.0)
        } else {
            left
        };
        self.draw_frags(&line.frags, x, baseline, size);
    }

    /// Draw fragments on one baseline, starting at `x`.
    pub(super) fn draw_frags(&mut self, frags: &[Frag], x: f32, baseline: f32, size: f32) {
        let last = frags.len().saturating_sub(1);
        let items: Vec<Placed<'_>> = frags
            .iter()
            .enumerate()
            .map(|(i, frag)| Placed {
                x: x + frag.x,
                baseline,
                size,
                frag,
                line_end: i == last,
            })
            .collect();
        self.draw_placed(&items);
    }

    /// Draw placed fragments in one text section (a whole table row at
    /// once), with their links underlined and clickable.
    pub(super) fn draw_placed(&mut self, items: &[Placed<'_>]) {
        if items.iter().all(|p| p.frag.text.trim().is_empty()) {
            return;
        }
        let links = self.record_placed(items);
        self.show_placed(items);
        for link in links {
            let PlacedLink {
                x,
                baseline,
                size,
                width,
                url,
            } = link;
            self.hline(x, x + width, baseline - 1.5, LINK, 0.5);
            let page = self.page();
            page.draws
                .push(Draw::Link([x, baseline - 3.0, width, size + 3.0]));
            page.links.push(url);
        }
    }

    /// Record the text of placed fragments, line by line (see
    /// [`Self::record_line`]), and return their links.
    fn record_placed(&mut self, items: &[Placed<'_>]) -> Vec<PlacedLink> {
        let mut links = Vec::new();
        let mut line: Vec<&Frag> = Vec::new();
        for item in items {
            let frag = item.frag;
            if !frag.text.is_empty() {
                line.push(frag);
                if let Some(url) = &frag.link {
                    links.push(PlacedLink {
                        x: item.x,
                        baseline: item.baseline,
                        size: item.size,
                        width: frag.width,
                        url: url.clone(),
                    });
                }
            }
            if item.line_end {
                self.record_line(&mut line);
                if self.collect_text {
                    self.drawn_text.push('\n');
                }
            }
        }
        self.record_line(&mut line);
        links
    }

    /// Show placed fragments in one text section, setting the font and
    /// colour only when they change. Fragments that follow each other on
    /// one baseline in one face, size and colour are shown by one text
    /// operation, the gaps between them written as `TJ` offsets: a table
    /// row is one `Tm` and one `TJ` per style, not two operations per cell.
    fn show_placed(&mut self, items: &[Placed<'_>]) {
        let font_size = |p: &Placed<'_>| {
            if p.frag.font.face == Face::Mono {
                p.size * 0.92
            } else {
                p.size
            }
        };
        let mut order: Vec<&Placed<'_>> =
            items.iter().filter(|p| !p.frag.text.is_empty()).collect();
        order.sort_by(|a, b| b.baseline.total_cmp(&a.baseline).then(a.x.total_cmp(&b.x)));
        let mut section = std::mem::take(&mut self.section);
        section.draws.push(Draw::BeginText);
        let mut current_font = None;
        let mut current_color = None;
        let mut i = 0;
        while i < order.len() {
            let first = order[i];
            let font = drawn_with(first.frag.font);
            let (color_of_run, size) = (first.frag.color, font_size(first));
            if current_font != Some((font, size.to_bits())) {
                self.add_font(font);
                section.draws.push(Draw::Font(font, size));
                current_font = Some((font, size.to_bits()));
            }
            if current_color != Some(color_of_run) {
                section.draws.push(Draw::FillColor(color_of_run));
                current_color = Some(color_of_run);
            }
            let mut shown = Vec::with_capacity(1);
            let mut pen = first.x + self.show(first.frag, size, &mut shown);
            let mut j = i + 1;
            while let Some(next) = order.get(j).filter(|n| {
                n.baseline == first.baseline
                    && drawn_with(n.frag.font) == font
                    && n.frag.color == color_of_run
                    && font_size(n) == size
            }) {
                // A TJ number moves the pen left by n/1000 of the font size.
                shown.push(TextItem::Offset((pen - next.x) * 1000.0 / size));
                pen = next.x + self.show(next.frag, size, &mut shown);
                j += 1;
            }
            section.draws.push(Draw::TextAt(first.x, first.baseline));
            section.show(shown);
            i = j;
        }
        section.draws.push(Draw::EndText);
        self.page().append(&mut section);
        self.section = section;
    }

    /// Add the text of one drawn line to what a reader can obtain, in
    /// reading order; count the characters drawn as placeholders.
    fn record_line(&mut self, line: &mut Vec<&Frag>) {
        line.sort_by_key(|frag| frag.order);
        for frag in line.drain(..) {
            if frag.font.source == Source::Missing {
                for c in frag.text.chars() {
                    *self.missing.entry(c).or_default() += 1;
                    if self.collect_text {
                        self.drawn_text.push(PLACEHOLDER);
                    }
                }
            } else if self.collect_text {
                self.drawn_text.push_str(&frag.text);
            }
        }
    }

    /// Add how a fragment is shown at `size` points to `items` and return
    /// its width. Text that needs no shaping is given as characters, which
    /// printpdf maps to glyphs; shaped text as glyphs in visual order, each
    /// with the text it stands for, and `TJ` offsets that move the pen by
    /// the shaped advances rather than the font's own.
    fn show(&self, frag: &Frag, size: f32, items: &mut Vec<TextItem>) -> f32 {
        let face = self.fonts.face(frag.font);
        if frag.font.source == Source::Missing {
            let text: String = frag.text.chars().map(|_| PLACEHOLDER).collect();
            let width = face.width(&text, size);
            items.push(TextItem::Text(text));
            return width;
        }
        if !frag.rtl && !fonts::text_needs_shaping(&frag.text) {
            items.push(TextItem::Text(frag.text.clone()));
            return face.width(&frag.text, size);
        }
        let glyphs = face.shape(&frag.text, frag.rtl);
        if let Some(first) = glyphs.first()
            && first.x_offset != 0.0
        {
            items.push(TextItem::Offset(-first.x_offset * 1000.0));
        }
        let mut advance = 0.0;
        let codepoints = glyphs
            .iter()
            .enumerate()
            .map(|(k, glyph)| {
                let next_offset = glyphs.get(k + 1).map_or(0.0, |g| g.x_offset);
                advance += glyph.advance;
                Codepoint {
                    gid: glyph.gid,
                    offset: (glyph.metric_advance + glyph.x_offset - glyph.advance - next_offset)
                        * 1000.0,
                    cid: Some(glyph.text.clone()),
                }
            })
            .collect();
        items.push(TextItem::GlyphIds(codepoints));
        advance * size
    }

    pub(super) fn hline(&mut self, x1: f32, x2: f32, y: f32, c: Rgb3, thickness: f32) {
        self.line(x1, y, x2, y, c, thickness);
    }

    pub(super) fn vline(&mut self, x: f32, y1: f32, y2: f32, c: Rgb3, thickness: f32) {
        self.line(x, y1, x, y2, c, thickness);
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, c: Rgb3, thickness: f32) {
        if self.stroke != Some((c, thickness.to_bits())) {
            self.stroke = Some((c, thickness.to_bits()));
            self.page()
                .draws
                .extend([Draw::StrokeColor(c), Draw::LineWidth(thickness)]);
        }
        self.page().draws.push(Draw::Line([x1, y1, x2, y2]));
    }

    pub(super) fn fill_rect(&mut self, x: f32, y: f32, width: f32, height: f32, c: Rgb3) {
        self.page()
            .draws
            .extend([Draw::FillColor(c), Draw::FillRect([x, y, width, height])]);
    }
}

/// The font a fragment's glyphs are drawn with: placeholders in DejaVu.
fn drawn_with(font: FontRef) -> FontRef {
    match font.source {
        Source::Missing => FontRef::dejavu(font.face),
        _ => font,
    }
}
