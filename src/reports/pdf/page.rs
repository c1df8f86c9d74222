//! A page as the layout records it: compact drawing operations with the
//! page's text, glyph runs and link targets, and their translation into
//! printpdf's operations when the page is serialised.

use printpdf::{
    Actions, BorderArray, Codepoint, FontId, LinePoint, LinkAnnotation, Op, PaintMode,
    PdfFontHandle, PdfPage, Point, Polygon, PolygonRing, Pt, Rect, TextItem, TextMatrix,
    WindingOrder, XObjectTransform,
};

use super::{
    fonts::{FontRef, Source},
    style::{Rgb3, color},
};

/// A drawing operation as the layout records it: 20 bytes, where printpdf's
/// [`Op`] takes a couple of hundred (and a string for every font change).
/// A long document's pages are held in this form, with their text in one
/// string per page, and become printpdf operations a run of pages at a time
/// as they are serialised (see `serialise`).
#[derive(Debug)]
pub(super) enum Draw {
    BeginText,
    EndText,
    /// The font, as drawn (see `drawn_with`), and its size.
    Font(FontRef, f32),
    FillColor(Rgb3),
    StrokeColor(Rgb3),
    LineWidth(f32),
    /// The text matrix: a translation to this point.
    TextAt(f32, f32),
    /// Show the page's next `n` [`ShowItem`]s.
    Show(u32),
    /// A straight line: x1, y1, x2, y2.
    Line([f32; 4]),
    /// A filled rectangle: x, y, width, height.
    FillRect([f32; 4]),
    /// A link over x, y, width, height to the page's next link target.
    Link([f32; 4]),
    /// An image, placed.
    Image(Box<(printpdf::XObjectId, XObjectTransform)>),
}

/// A piece of a [`Draw::Show`].
#[derive(Debug, Clone, Copy)]
enum ShowItem {
    /// Characters: the page's text from where the previous piece of text
    /// ended to this byte offset.
    Text(u32),
    /// A `TJ` offset.
    Offset(f32),
    /// Shaped glyphs: the page's next glyph run.
    Glyphs,
}

/// One page as laid out: its drawing operations, and the text, glyph runs
/// and link targets they take in order.
#[derive(Debug, Default)]
pub(super) struct PageDraws {
    pub(super) draws: Vec<Draw>,
    items: Vec<ShowItem>,
    text: String,
    glyphs: Vec<Vec<Codepoint>>,
    pub(super) links: Vec<String>,
}

impl PageDraws {
    pub(super) fn show(&mut self, items: Vec<TextItem>) {
        self.draws.push(Draw::Show(items.len() as u32));
        for item in items {
            let item = match item {
                TextItem::Text(text) => {
                    self.text.push_str(&text);
                    ShowItem::Text(self.text.len() as u32)
                }
                TextItem::Offset(offset) => ShowItem::Offset(offset),
                TextItem::GlyphIds(glyphs) => {
                    self.glyphs.push(glyphs);
                    ShowItem::Glyphs
                }
            };
            self.items.push(item);
        }
    }

    /// Give back the room reserved for more.
    pub(super) fn shrink_to_fit(&mut self) {
        self.draws.shrink_to_fit();
        self.items.shrink_to_fit();
        self.text.shrink_to_fit();
        self.glyphs.shrink_to_fit();
        self.links.shrink_to_fit();
    }

    /// Move everything `other` draws after what this page draws.
    pub(super) fn append(&mut self, other: &mut PageDraws) {
        let shift = self.text.len() as u32;
        self.draws.append(&mut other.draws);
        self.items
            .extend(other.items.drain(..).map(|item| match item {
                ShowItem::Text(end) => ShowItem::Text(end + shift),
                other => other,
            }));
        self.text.push_str(&other.text);
        other.text.clear();
        self.glyphs.append(&mut other.glyphs);
        self.links.append(&mut other.links);
    }

    /// What the page's [`Draw::Show`]s show, piece by piece, in order.
    pub(super) fn shown(&self) -> Shown<'_> {
        Shown {
            text: &self.text,
            items: self.items.iter(),
            text_at: 0,
            glyphs: self.glyphs.iter(),
        }
    }

    /// The page as printpdf draws it.
    pub(super) fn to_page(&self, size: (f32, f32)) -> PdfPage {
        let mut shown = self.shown();
        let mut links = self.links.iter();
        let ops = self
            .draws
            .iter()
            .map(|draw| draw.to_op(&mut shown, &mut links))
            .collect();
        pdf_page(size, ops)
    }
}

/// A page of `size` points with these operations.
pub(super) fn pdf_page((width, height): (f32, f32), ops: Vec<Op>) -> PdfPage {
    PdfPage::new(
        printpdf::Mm(width * 25.4 / 72.0),
        printpdf::Mm(height * 25.4 / 72.0),
        ops,
    )
}

/// A piece of text a page shows.
pub(super) enum Piece<'p> {
    /// Characters, which printpdf maps to glyphs.
    Text(&'p str),
    /// A `TJ` offset.
    Offset(f32),
    /// Shaped glyphs, each with the text it stands for.
    Glyphs(&'p [Codepoint]),
}

impl Piece<'_> {
    fn to_text_item(&self) -> TextItem {
        match *self {
            Piece::Text(text) => TextItem::Text(text.to_string()),
            Piece::Offset(offset) => TextItem::Offset(offset),
            Piece::Glyphs(glyphs) => TextItem::GlyphIds(glyphs.to_vec()),
        }
    }
}

/// The pieces a page shows, in order: each [`ShowItem`] with the stretch
/// of the page's text or the glyph run it takes.
pub(super) struct Shown<'p> {
    text: &'p str,
    items: std::slice::Iter<'p, ShowItem>,
    text_at: usize,
    glyphs: std::slice::Iter<'p, Vec<Codepoint>>,
}

impl<'p> Iterator for Shown<'p> {
    type Item = Piece<'p>;

    fn next(&mut self) -> Option<Piece<'p>> {
        Some(match *self.items.next()? {
            ShowItem::Text(end) => {
                let text = &self.text[self.text_at..end as usize];
                self.text_at = end as usize;
                Piece::Text(text)
            }
            ShowItem::Offset(offset) => Piece::Offset(offset),
            ShowItem::Glyphs => Piece::Glyphs(self.glyphs.next().map_or(&[], Vec::as_slice)),
        })
    }
}

impl Draw {
    /// The printpdf operation, taking what it shows and the link target it
    /// opens from the page's, in order.
    fn to_op(&self, shown: &mut Shown<'_>, links: &mut std::slice::Iter<'_, String>) -> Op {
        match self {
            Draw::BeginText => Op::StartTextSection,
            Draw::EndText => Op::EndTextSection,
            Draw::Font(font, size) => Op::SetFont {
                font: PdfFontHandle::External(font_id_of(*font)),
                size: Pt(*size),
            },
            Draw::FillColor(c) => Op::SetFillColor { col: color(*c) },
            Draw::StrokeColor(c) => Op::SetOutlineColor { col: color(*c) },
            Draw::LineWidth(thickness) => Op::SetOutlineThickness { pt: Pt(*thickness) },
            Draw::TextAt(x, y) => Op::SetTextMatrix {
                matrix: TextMatrix::Translate(Pt(*x), Pt(*y)),
            },
            Draw::Show(count) => Op::ShowText {
                items: shown
                    .by_ref()
                    .take(*count as usize)
                    .map(|piece| piece.to_text_item())
                    .collect(),
            },
            Draw::Line([x1, y1, x2, y2]) => Op::DrawLine {
                line: printpdf::Line {
                    points: vec![point(*x1, *y1), point(*x2, *y2)],
                    is_closed: false,
                },
            },
            Draw::FillRect([x, y, width, height]) => Op::DrawPolygon {
                polygon: Polygon {
                    rings: vec![PolygonRing {
                        points: vec![
                            point(*x, *y),
                            point(x + width, *y),
                            point(x + width, y + height),
                            point(*x, y + height),
                        ],
                    }],
                    mode: PaintMode::Fill,
                    winding_order: WindingOrder::NonZero,
                },
            },
            Draw::Link([x, y, width, height]) => Op::LinkAnnotation {
                link: LinkAnnotation::new(
                    Rect::from_xywh(Pt(*x), Pt(*y), Pt(*width), Pt(*height)),
                    Actions::Uri(links.next().cloned().unwrap_or_default()),
                    Some(BorderArray::Solid([0.0, 0.0, 0.0])),
                    None,
                    None,
                ),
            },
            Draw::Image(image) => Op::UseXobject {
                id: image.0.clone(),
                transform: image.1,
            },
        }
    }
}

/// A corner of a line or a polygon.
fn point(x: f32, y: f32) -> LinePoint {
    LinePoint {
        p: Point { x: Pt(x), y: Pt(y) },
        bezier: false,
    }
}

/// The name a font has in the file. Fixed names instead of printpdf's
/// random ones (`add_font`): a name tags the font's subset too, so the same
/// document gives the same bytes (publishing compares their SHA-256).
pub(super) fn font_id_of(font: FontRef) -> FontId {
    match font.source {
        Source::Dejavu | Source::Missing => FontId(format!(
            "DBFNT{}",
            char::from(b'A' + font.face.index() as u8)
        )),
        Source::Fallback(i) => FontId(format!("DBFNTF{i}")),
    }
}
