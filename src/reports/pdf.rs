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

mod fonts;

use std::{collections::BTreeMap, path::PathBuf};

use chrono::{DateTime, Utc};
use fonts::{FontRef, Fonts, PLACEHOLDER, Source};
use printpdf::{
    Actions, BorderArray, Codepoint, Color, FontId, LinePoint, LinkAnnotation, Op, PaintMode,
    PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Polygon, PolygonRing, Pt, RawImage,
    Rect, Rgb, TextItem, TextMatrix, WindingOrder, XObjectTransform,
};
use pulldown_cmark::{Alignment, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

pub use fonts::SYSTEM_FONT_DIRS;

/// Paper the document is laid out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaperSize {
    /// ISO A4, 210 × 297 mm (the default).
    #[default]
    A4,
    /// US Letter, 8.5 × 11 in.
    Letter,
}

impl PaperSize {
    /// Width and height in points.
    pub fn size_pt(self) -> (f32, f32) {
        match self {
            PaperSize::A4 => (595.28, 841.89),
            PaperSize::Letter => (612.0, 792.0),
        }
    }
}

/// What a PDF carries besides its Markdown body.
#[derive(Debug, Clone)]
pub struct PdfOptions {
    /// Document title: PDF metadata and every page's header.
    pub title: String,
    /// PDF metadata subject; also printed in the footer.
    pub subject: String,
    /// PDF creation date.
    pub created_at: DateTime<Utc>,
    /// A4 or Letter.
    pub paper: PaperSize,
    /// A marking printed on every page, top right (e.g. "INTERNAL").
    pub marking: Option<String>,
    /// Images the Markdown refers to as `![alt](name)`: name → PNG bytes.
    /// An image that is not in this map is printed as its alt text.
    pub images: BTreeMap<String, Vec<u8>>,
    /// Directories searched, with their subdirectories, for fonts to draw
    /// the characters DejaVu lacks (`.ttf`, `.otf`, `.ttc`, `.otc`).
    pub font_dirs: Vec<PathBuf>,
}

impl PdfOptions {
    /// Options with a title and a creation date; A4, no subject, no marking,
    /// no images, fallback fonts from the system font directories.
    pub fn new(title: impl Into<String>, created_at: DateTime<Utc>) -> Self {
        Self {
            title: title.into(),
            subject: String::new(),
            created_at,
            paper: PaperSize::A4,
            marking: None,
            images: BTreeMap::new(),
            font_dirs: system_font_dirs(),
        }
    }
}

/// The system font directories ([`SYSTEM_FONT_DIRS`]).
pub fn system_font_dirs() -> Vec<PathBuf> {
    SYSTEM_FONT_DIRS.iter().map(PathBuf::from).collect()
}

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

/// A PDF that cannot be produced.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// An image in [`PdfOptions::images`] is not a readable PNG.
    #[error("image `{name}` cannot be decoded: {reason}")]
    Image { name: String, reason: String },
    /// The finished document could not be serialised.
    #[error("the PDF cannot be written: {0}")]
    Write(String),
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

// ---------------------------------------------------------- drawing

/// A drawing operation as the layout records it: 20 bytes, where printpdf's
/// [`Op`] takes a couple of hundred (and a string for every font change).
/// A long document's pages are held in this form, with their text in one
/// string per page, and become printpdf operations a run of pages at a time
/// as they are serialised (see [`serialise`]).
#[derive(Debug)]
enum Draw {
    BeginText,
    EndText,
    /// The font, as drawn (see [`drawn_with`]), and its size.
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
struct PageDraws {
    draws: Vec<Draw>,
    items: Vec<ShowItem>,
    text: String,
    glyphs: Vec<Vec<Codepoint>>,
    links: Vec<String>,
}

impl PageDraws {
    fn show(&mut self, items: Vec<TextItem>) {
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
    fn shrink_to_fit(&mut self) {
        self.draws.shrink_to_fit();
        self.items.shrink_to_fit();
        self.text.shrink_to_fit();
        self.glyphs.shrink_to_fit();
        self.links.shrink_to_fit();
    }

    /// Move everything `other` draws after what this page draws.
    fn append(&mut self, other: &mut PageDraws) {
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

    /// The page as printpdf draws it.
    fn to_page(&self, (width, height): (f32, f32)) -> PdfPage {
        let point = |x: f32, y: f32| LinePoint {
            p: Point { x: Pt(x), y: Pt(y) },
            bezier: false,
        };
        let mut items = self.items.iter();
        let mut text_at = 0;
        let mut glyphs = self.glyphs.iter();
        let mut links = self.links.iter();
        let ops = self
            .draws
            .iter()
            .map(|draw| match draw {
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
                    items: items
                        .by_ref()
                        .take(*count as usize)
                        .map(|item| match *item {
                            ShowItem::Text(end) => {
                                let text = &self.text[text_at..end as usize];
                                text_at = end as usize;
                                TextItem::Text(text.to_string())
                            }
                            ShowItem::Offset(offset) => TextItem::Offset(offset),
                            ShowItem::Glyphs => {
                                TextItem::GlyphIds(glyphs.next().cloned().unwrap_or_default())
                            }
                        })
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
            })
            .collect();
        PdfPage::new(
            printpdf::Mm(width * 25.4 / 72.0),
            printpdf::Mm(height * 25.4 / 72.0),
            ops,
        )
    }
}

/// The name a font has in the file. Fixed names instead of printpdf's
/// random ones (`add_font`): a name tags the font's subset too, so the same
/// document gives the same bytes (publishing compares their SHA-256).
fn font_id_of(font: FontRef) -> FontId {
    match font.source {
        Source::Dejavu | Source::Missing => FontId(format!(
            "DBFNT{}",
            char::from(b'A' + font.face.index() as u8)
        )),
        Source::Fallback(i) => FontId(format!("DBFNTF{i}")),
    }
}

// ---------------------------------------------------------- serialising

/// Pages are serialised in runs of this many, `cores` runs at a time: what
/// one run holds as printpdf operations and uncompressed content streams
/// is all a long document holds of them at once.
const PAGES_PER_RUN: usize = 32;

/// Glyphs shown, per font: glyph id → the text it stands for.
type GlyphUsage = BTreeMap<FontId, BTreeMap<u16, String>>;

/// The PDF file of the laid-out pages, serialised in runs of
/// `pages_per_run` pages on up to one thread per core.
///
/// printpdf subsets each font to the glyphs the pages it is given show, and
/// numbers the glyphs of the subset anew; the content streams are written
/// in those numbers. So that every run writes its pages for the same
/// subsets, each run is given, after its own pages, one more page that
/// shows every glyph of the whole document ([`usage_page`]): every run then
/// makes the same subsets, and only the first run's are kept. Of the other
/// runs only the pages are kept, moved into the first run's document. The
/// result is the file printpdf would write for the whole document at once,
/// with one subset of each font, whatever the number of runs.
fn serialise(
    doc: &PdfDocument,
    pages: &[PageDraws],
    page_size: (f32, f32),
    pages_per_run: usize,
) -> Result<Vec<u8>, PdfError> {
    let usage = usage_page(&glyph_usage(doc, pages), page_size);
    let runs: Vec<&[PageDraws]> = pages.chunks(pages_per_run.max(1)).collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get().min(8))
        .min(runs.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: Vec<std::sync::Mutex<Option<Serialised>>> =
        runs.iter().map(|_| std::sync::Mutex::default()).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let run = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(pages) = runs.get(run) else { break };
                    let part = serialise_run(doc, pages, &usage, page_size, run == 0);
                    *done[run]
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(part);
                }
            });
        }
    });
    let mut pdf = None;
    for slot in done {
        match slot
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(Serialised::First(first)) => pdf = Some(*first),
            Some(Serialised::Pages(pages)) => {
                let base = pdf
                    .as_mut()
                    .ok_or_else(|| PdfError::Write("no first run".into()))?;
                append_pages(base, pages)?;
            }
            None => return Err(PdfError::Write("a run of pages was not serialised".into())),
        }
    }
    let mut pdf = pdf.ok_or_else(|| PdfError::Write("no pages".into()))?;
    // The trailer's `/Size` is one more than the highest object number.
    pdf.max_id = pdf.objects.keys().next_back().map_or(0, |(id, _)| *id);
    // The file identifier (trailer `/ID`) printpdf draws at random is
    // replaced by one made from the file's own content, as reproducible
    // builds do: the same document gives the same bytes.
    let placeholder = lopdf::Object::String(
        FILE_ID_PLACEHOLDER.to_vec(),
        lopdf::StringFormat::Hexadecimal,
    );
    pdf.trailer.set(
        "ID",
        lopdf::Object::Array(vec![placeholder.clone(), placeholder]),
    );
    let mut bytes = Vec::new();
    pdf.save_to(&mut bytes)
        .map_err(|err| PdfError::Write(err.to_string()))?;
    drop(pdf);
    let id = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&bytes);
        hex_upper(&digest[..FILE_ID_PLACEHOLDER.len()])
    };
    let written = hex_upper(FILE_ID_PLACEHOLDER);
    let mut at = 0;
    while let Some(found) = bytes[at..]
        .windows(written.len())
        .position(|w| w == written.as_bytes())
    {
        let start = at + found;
        bytes[start..start + written.len()].copy_from_slice(id.as_bytes());
        at = start + written.len();
    }
    Ok(bytes)
}

/// Stands for the file identifier until the file's hash is known: 16
/// bytes no real content has (the hex form is searched for in the file).
const FILE_ID_PLACEHOLDER: &[u8; 16] = b"\xDB\xF1\x1D\x00debrief-id\x00\xFF";

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Every glyph the pages show, font by font, with the text it stands for
/// (its first reading in the document), found as printpdf finds them: a
/// character through the font's character map, a shaped glyph by its id.
fn glyph_usage(doc: &PdfDocument, pages: &[PageDraws]) -> GlyphUsage {
    let mut usage = GlyphUsage::new();
    // Characters already looked up, per font: most are ASCII.
    let mut seen: BTreeMap<FontId, (Box<[bool; 128]>, std::collections::HashSet<char>)> =
        BTreeMap::new();
    for page in pages {
        let mut items = page.items.iter();
        let mut text_at = 0;
        let mut glyph_runs = page.glyphs.iter();
        let mut font = None;
        for draw in &page.draws {
            match draw {
                Draw::Font(f, _) => {
                    let id = font_id_of(*f);
                    font = doc
                        .resources
                        .fonts
                        .map
                        .get(&id)
                        .map(|pdf_font| (id, pdf_font));
                }
                Draw::Show(count) => {
                    for item in items.by_ref().take(*count as usize) {
                        let Some((id, pdf_font)) = &font else {
                            if let ShowItem::Text(end) = item {
                                text_at = *end as usize;
                            } else if let ShowItem::Glyphs = item {
                                glyph_runs.next();
                            }
                            continue;
                        };
                        let glyphs = usage.entry(id.clone()).or_default();
                        match item {
                            ShowItem::Text(end) => {
                                let (ascii, other) = seen.entry(id.clone()).or_insert_with(|| {
                                    (Box::new([false; 128]), std::collections::HashSet::new())
                                });
                                for c in page.text[text_at..*end as usize].chars() {
                                    let new = match ascii.get_mut(c as usize) {
                                        Some(seen) => !std::mem::replace(seen, true),
                                        None => other.insert(c),
                                    };
                                    if new
                                        && let Some(gid) =
                                            pdf_font.parsed_font.lookup_glyph_index(c as u32)
                                    {
                                        glyphs.entry(gid).or_insert_with(|| c.to_string());
                                    }
                                }
                                text_at = *end as usize;
                            }
                            ShowItem::Glyphs => {
                                for glyph in glyph_runs.next().into_iter().flatten() {
                                    glyphs.entry(glyph.gid).or_insert_with(|| {
                                        glyph.cid.clone().unwrap_or_else(|| {
                                            pdf_font
                                                .parsed_font
                                                .get_glyph_primary_char(glyph.gid)
                                                .map_or_else(
                                                    || PLACEHOLDER.to_string(),
                                                    |c| c.to_string(),
                                                )
                                        })
                                    });
                                }
                            }
                            ShowItem::Offset(_) => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    usage
}

/// A page that shows every glyph of `usage`: serialised after a run's own
/// pages so that the run subsets each font to the whole document's glyphs,
/// then taken out of the file.
fn usage_page(usage: &GlyphUsage, (width, height): (f32, f32)) -> PdfPage {
    let mut ops = Vec::new();
    for (font, glyphs) in usage {
        ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::External(font.clone()),
                size: Pt(BODY_SIZE),
            },
            Op::ShowText {
                items: vec![TextItem::GlyphIds(
                    glyphs
                        .iter()
                        .map(|(gid, text)| Codepoint {
                            gid: *gid,
                            offset: 0.0,
                            cid: Some(text.clone()),
                        })
                        .collect(),
                )],
            },
            Op::EndTextSection,
        ]);
    }
    PdfPage::new(
        printpdf::Mm(width * 25.4 / 72.0),
        printpdf::Mm(height * 25.4 / 72.0),
        ops,
    )
}

/// What is kept of a serialised run of pages.
enum Serialised {
    /// The first run: its document, which the others' pages join.
    First(Box<lopdf::Document>),
    /// A later run: its pages, each with its content stream.
    Pages(Vec<(lopdf::Dictionary, lopdf::Object)>),
}

/// One run of pages as a document of its own, the usage page left out,
/// its streams compressed; of runs after the first only the pages are kept
/// (see [`append_pages`]).
///
/// Compression is done here rather than by printpdf's `optimize`, which
/// deflates at zlib's best level: the default level makes files within a
/// few per cent of that size in a fraction of the time.
fn serialise_run(
    doc: &PdfDocument,
    pages: &[PageDraws],
    usage: &PdfPage,
    page_size: (f32, f32),
    first: bool,
) -> Serialised {
    let mut part = doc.clone();
    part.with_pages(
        pages
            .iter()
            .map(|page| page.to_page(page_size))
            .chain(std::iter::once(usage.clone()))
            .collect(),
    );
    let save = PdfSaveOptions {
        optimize: false,
        ..PdfSaveOptions::default()
    };
    let mut warnings = Vec::new();
    let mut pdf = part.to_lopdf_document(&save, &mut warnings);
    drop(part);
    let mut kids = page_kids(&pdf);
    if let Some(usage_page) = kids.pop() {
        remove_page(&mut pdf, usage_page);
    }
    let compress = |object: &mut lopdf::Object| {
        if let lopdf::Object::Stream(stream) = object
            && stream.allows_compression
            && stream.dict.get(b"Filter").is_err()
        {
            deflate(stream);
        }
    };
    if first {
        pdf.objects.values_mut().for_each(compress);
        return Serialised::First(Box::new(pdf));
    }
    let pages = kids
        .into_iter()
        .filter_map(|kid| {
            let lopdf::Object::Dictionary(page) = pdf.objects.remove(&kid)? else {
                return None;
            };
            let mut contents = reference(page.get(b"Contents").ok())
                .and_then(|id| pdf.objects.remove(&id))
                .unwrap_or_else(|| lopdf::Object::Array(Vec::new()));
            compress(&mut contents);
            Some((page, contents))
        })
        .collect();
    Serialised::Pages(pages)
}

/// The pages of the page tree of a document printpdf made, in order.
fn page_kids(pdf: &lopdf::Document) -> Vec<lopdf::ObjectId> {
    page_tree(pdf)
        .and_then(|tree| pdf.get_dictionary(tree).ok())
        .and_then(|tree| tree.get(b"Kids").ok())
        .and_then(|kids| kids.as_array().ok())
        .map(|kids| kids.iter().filter_map(|k| reference(Some(k))).collect())
        .unwrap_or_default()
}

/// Take a page out of a document printpdf made: the page, its resources
/// and its content stream (printpdf makes both for each page).
fn remove_page(pdf: &mut lopdf::Document, page: lopdf::ObjectId) {
    if let Some(lopdf::Object::Dictionary(dict)) = pdf.objects.remove(&page) {
        for key in [b"Contents".as_slice(), b"Resources".as_slice()] {
            if let Some(id) = reference(dict.get(key).ok()) {
                pdf.objects.remove(&id);
            }
        }
    }
    set_kids(pdf, |kids| {
        kids.retain(|kid| reference(Some(kid)) != Some(page))
    });
}

/// Change the page tree root's `/Kids`, and its `/Count` with them.
fn set_kids(pdf: &mut lopdf::Document, change: impl FnOnce(&mut Vec<lopdf::Object>)) {
    let Some(tree) = page_tree(pdf) else { return };
    if let Ok(root) = pdf.get_dictionary_mut(tree) {
        let mut kids = root
            .get(b"Kids")
            .and_then(|k| k.as_array())
            .cloned()
            .unwrap_or_default();
        change(&mut kids);
        root.set("Count", kids.len() as i64);
        root.set("Kids", kids);
    }
}

/// Add the pages of a later run to the end of `base`, the first run: each
/// page with its content stream, and resources like the first page's (the
/// same fonts, subsets and images by the same names).
fn append_pages(
    base: &mut lopdf::Document,
    pages: Vec<(lopdf::Dictionary, lopdf::Object)>,
) -> Result<(), PdfError> {
    let missing = || PdfError::Write("the first run of pages has no page tree".into());
    let tree = page_tree(base).ok_or_else(missing)?;
    let first = *page_kids(base).first().ok_or_else(missing)?;
    let resources = base
        .get_dictionary(first)
        .ok()
        .and_then(|page| page.get(b"Resources").ok())
        .and_then(|r| r.as_reference().ok())
        .and_then(|id| base.get_dictionary(id).ok())
        .cloned()
        .ok_or_else(missing)?;
    let mut added = Vec::new();
    for (mut page, contents) in pages {
        page.set("Contents", base.add_object(contents));
        page.set("Resources", base.add_object(resources.clone()));
        page.set("Parent", tree);
        added.push(lopdf::Object::Reference(base.add_object(page)));
    }
    set_kids(base, |kids| kids.extend(added));
    Ok(())
}

/// The page tree root of a document printpdf made.
fn page_tree(pdf: &lopdf::Document) -> Option<lopdf::ObjectId> {
    let catalog = pdf.catalog().ok()?;
    reference(catalog.get(b"Pages").ok())
}

fn reference(object: Option<&lopdf::Object>) -> Option<lopdf::ObjectId> {
    object.and_then(|o| o.as_reference().ok())
}

/// Deflate one stream, keeping it as it is when that does not make it smaller.
fn deflate(stream: &mut lopdf::Stream) {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(stream.content.len() / 3),
        flate2::Compression::default(),
    );
    if encoder.write_all(&stream.content).is_err() {
        return;
    }
    // 19 bytes: what `/Filter /FlateDecode` adds to the dictionary.
    if let Ok(compressed) = encoder.finish()
        && compressed.len() + 19 < stream.content.len()
    {
        stream.dict.set("Filter", "FlateDecode");
        stream.set_content(compressed);
    }
}

// ---------------------------------------------------------------- fonts

/// The styles of text a document uses: each a DejaVu face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Face {
    Regular,
    Bold,
    Italic,
    BoldItalic,
    Mono,
}

impl Face {
    fn index(self) -> usize {
        self as usize
    }

    fn with(self, bold: bool, italic: bool) -> Face {
        match (self, bold, italic) {
            (Face::Mono, _, _) => Face::Mono,
            (_, true, true) => Face::BoldItalic,
            (_, true, false) => Face::Bold,
            (_, false, true) => Face::Italic,
            (_, false, false) => Face::Regular,
        }
    }
}

// ---------------------------------------------------------------- geometry and style

const MARGIN_X: f32 = 56.0;
const MARGIN_TOP: f32 = 62.0;
const MARGIN_BOTTOM: f32 = 56.0;
const BODY_SIZE: f32 = 10.0;
const BODY_LEADING: f32 = 14.0;
const TABLE_SIZE: f32 = 8.5;
const TABLE_LEADING: f32 = 11.5;
const CODE_SIZE: f32 = 8.5;
const CODE_LEADING: f32 = 11.0;
const CELL_PAD: f32 = 4.0;
const LIST_INDENT: f32 = 16.0;
const PARAGRAPH_GAP: f32 = 6.0;

type Rgb3 = [f32; 3];
const INK: Rgb3 = [0.11, 0.12, 0.14];
const GREY: Rgb3 = [0.42, 0.45, 0.50];
const LINK: Rgb3 = [0.05, 0.33, 0.70];
const CODE_INK: Rgb3 = [0.55, 0.10, 0.25];
const RULE: Rgb3 = [0.80, 0.82, 0.85];
const SHADE: Rgb3 = [0.95, 0.96, 0.97];
const HEADER_SHADE: Rgb3 = [0.90, 0.92, 0.95];
const MARKING: Rgb3 = [0.75, 0.08, 0.08];

fn color(c: Rgb3) -> Color {
    Color::Rgb(Rgb::new(c[0], c[1], c[2], None))
}

/// A run of inline text with one look.
#[derive(Debug, Clone)]
struct Span {
    text: String,
    face: Face,
    color: Rgb3,
    link: Option<String>,
}

/// The look of a piece of a line: font, colour, link.
#[derive(Debug, Clone, PartialEq)]
struct Look {
    font: FontRef,
    color: Rgb3,
    link: Option<String>,
}

/// A placed piece of a line, all in one font and one direction.
#[derive(Debug, Clone)]
struct Frag {
    x: f32,
    text: String,
    font: FontRef,
    color: Rgb3,
    link: Option<String>,
    width: f32,
    /// Right to left: shaped as such, its glyphs drawn in visual order.
    rtl: bool,
    /// Where the piece starts in the line's text in reading order (pieces
    /// of a right-to-left run are placed in the reverse order).
    order: usize,
}

/// One laid-out line; `x` of each fragment is relative to the line start,
/// the fragments in visual order (left to right).
#[derive(Debug, Clone, Default)]
struct Line {
    frags: Vec<Frag>,
    width: f32,
    /// The paragraph is written right to left: the line is set flush right.
    rtl: bool,
}

/// Break spans into lines no wider than `width` at `size` points: at spaces,
/// between ideographs, and inside a word only when the word alone is wider
/// than a line. Each line is then put in visual order.
fn wrap(spans: &[Span], size: f32, width: f32, fonts: &Fonts) -> Vec<Line> {
    let mut wrapper = Wrapper {
        fonts,
        size,
        width: width.max(size),
        lines: Vec::new(),
        line: Line::default(),
        word: Vec::new(),
        word_width: 0.0,
        space_pending: None,
        last: None,
    };
    for span in spans {
        for (i, part) in span.text.split('\n').enumerate() {
            if i > 0 {
                wrapper.flush_word();
                wrapper.break_line();
            }
            for (font, run) in fonts.runs(part, span.face) {
                // The look of the span without its text: cloned for every word.
                let look = Look {
                    font,
                    color: span.color,
                    link: span.link.clone(),
                };
                let mut rest = run;
                while !rest.is_empty() {
                    let (chunk, next, is_space) = match rest.find(' ') {
                        Some(0) => {
                            let end = rest.find(|c| c != ' ').unwrap_or(rest.len());
                            (&rest[..end], &rest[end..], true)
                        }
                        Some(pos) => (&rest[..pos], &rest[pos..], false),
                        None => (rest, "", false),
                    };
                    if is_space {
                        wrapper.flush_word();
                        wrapper.last = None;
                        wrapper.space_pending =
                            Some((look.clone(), fonts.measure(font, " ", size)));
                    } else {
                        wrapper.push_chunk(&look, chunk);
                    }
                    rest = next;
                }
            }
        }
    }
    wrapper.flush_word();
    if !wrapper.line.frags.is_empty() || wrapper.lines.is_empty() {
        let line = std::mem::take(&mut wrapper.line);
        wrapper.lines.push(line);
    }
    let rtl = paragraph_is_rtl(spans);
    let mut lines = wrapper.lines;
    for line in &mut lines {
        reorder(line, rtl, size, fonts);
    }
    lines
}

/// `text` on one line, however long (a header, a marker, a page number).
fn one_line(text: &str, face: Face, color: Rgb3, size: f32, fonts: &Fonts) -> Line {
    let span = Span {
        text: text.replace('\n', " "),
        face,
        color,
        link: None,
    };
    wrap(&[span], size, f32::MAX, fonts)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// Whether a paragraph is written right to left: whether its first letter
/// with a direction is (rule P2 of the Bidirectional Algorithm).
fn paragraph_is_rtl(spans: &[Span]) -> bool {
    for c in spans.iter().flat_map(|s| s.text.chars()) {
        if c.is_ascii() {
            if c.is_ascii_alphabetic() {
                return false;
            }
            continue;
        }
        match unicode_bidi::bidi_class(c) {
            unicode_bidi::BidiClass::L => return false,
            unicode_bidi::BidiClass::R | unicode_bidi::BidiClass::AL => return true,
            _ => {}
        }
    }
    false
}

/// Put a line laid out in reading order into visual order: the runs of
/// each direction, as the Bidirectional Algorithm orders them, placed left
/// to right; a run of several pieces that reads right to left has its
/// pieces in reverse. Lines with no right-to-left text in a left-to-right
/// paragraph are left as they are.
fn reorder(line: &mut Line, rtl: bool, size: f32, fonts: &Fonts) {
    line.rtl = rtl;
    if !rtl
        && !line
            .frags
            .iter()
            .any(|f| fonts::may_need_shaping(&f.text) && f.text.chars().any(fonts::is_rtl))
    {
        return;
    }
    let text: String = line.frags.iter().map(|f| f.text.as_str()).collect();
    let mut starts = Vec::with_capacity(line.frags.len());
    let mut at = 0;
    for frag in &line.frags {
        starts.push(at);
        at += frag.text.len();
    }
    let level = if rtl {
        unicode_bidi::Level::rtl()
    } else {
        unicode_bidi::Level::ltr()
    };
    let bidi = unicode_bidi::ParagraphBidiInfo::new(&text, Some(level));
    let (levels, runs) = bidi.visual_runs(0..text.len());
    let frags = std::mem::take(&mut line.frags);
    let mut x = 0.0;
    for run in runs {
        let run_rtl = levels.get(run.start).is_some_and(|l| l.is_rtl());
        let mut pieces = Vec::new();
        for (frag, start) in frags.iter().zip(&starts) {
            let end = start + frag.text.len();
            let (from, to) = (run.start.max(*start), run.end.min(end));
            if from >= to {
                continue;
            }
            let piece = &frag.text[from - start..to - start];
            let width = if piece.len() == frag.text.len() {
                frag.width
            } else {
                fonts.measure(frag.font, piece, size)
            };
            pieces.push(Frag {
                text: piece.to_string(),
                width,
                rtl: run_rtl,
                order: from,
                ..frag.clone()
            });
        }
        if run_rtl {
            pieces.reverse();
        }
        for mut piece in pieces {
            piece.x = x;
            x += piece.width;
            line.frags.push(piece);
        }
    }
    line.width = x;
}

struct Wrapper<'f> {
    fonts: &'f Fonts,
    size: f32,
    width: f32,
    lines: Vec<Line>,
    line: Line,
    /// The word being collected: pieces in different looks, no space between.
    word: Vec<(Look, String, f32)>,
    word_width: f32,
    /// A space seen since the last word (its look and width).
    space_pending: Option<(Look, f32)>,
    /// The last character of the word being collected.
    last: Option<char>,
}

impl Wrapper<'_> {
    /// Add a run of characters with no space, cut where a line may break
    /// between two characters (ideographs).
    fn push_chunk(&mut self, look: &Look, chunk: &str) {
        if !fonts::may_hold_ideographs(chunk) && self.last.is_none_or(|c| c < '\u{2E80}') {
            self.last = chunk.chars().next_back();
            self.push_word_piece(look, chunk);
            return;
        }
        let mut start = 0;
        for (at, c) in chunk.char_indices() {
            if let Some(last) = self.last
                && fonts::breaks_between(last, c)
            {
                if at > start {
                    self.push_word_piece(look, &chunk[start..at]);
                }
                self.flush_word();
                start = at;
            }
            self.last = Some(c);
        }
        if start < chunk.len() {
            self.push_word_piece(look, &chunk[start..]);
        }
    }

    fn push_word_piece(&mut self, look: &Look, text: &str) {
        let width = self.fonts.measure(look.font, text, self.size);
        self.word.push((look.clone(), text.to_string(), width));
        self.word_width += width;
    }

    fn break_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        self.lines.push(line);
        self.space_pending = None;
        self.last = None;
    }

    fn flush_word(&mut self) {
        if self.word.is_empty() {
            return;
        }
        let space = if self.line.frags.is_empty() {
            0.0
        } else {
            self.space_pending.as_ref().map_or(0.0, |(_, w)| *w)
        };
        if !self.line.frags.is_empty() && self.line.width + space + self.word_width > self.width {
            let last = self.last;
            self.break_line();
            self.last = last;
        }
        let word = std::mem::take(&mut self.word);
        let word_width = std::mem::take(&mut self.word_width);
        if self.line.frags.is_empty() && word_width > self.width {
            // A word longer than a line: cut it wherever it reaches the edge.
            for (look, text, _) in word {
                self.place_breaking(&look, &text);
            }
            self.space_pending = None;
            return;
        }
        if !self.line.frags.is_empty()
            && let Some((look, w)) = self.space_pending.take()
        {
            self.place(&look, " ", w);
        }
        for (look, text, w) in word {
            self.place(&look, &text, w);
        }
        self.space_pending = None;
    }

    fn place_breaking(&mut self, look: &Look, text: &str) {
        let mut piece = String::new();
        let mut piece_width = 0.0;
        for c in text.chars() {
            let w = self.fonts.char_width(look.font, c, self.size);
            if self.line.width + piece_width + w > self.width
                && (!piece.is_empty() || !self.line.frags.is_empty())
            {
                let done = std::mem::take(&mut piece);
                self.place(look, &done, piece_width);
                piece_width = 0.0;
                let last = self.last;
                self.break_line();
                self.last = last;
            }
            piece.push(c);
            piece_width += w;
        }
        if !piece.is_empty() {
            self.place(look, &piece, piece_width);
        }
    }

    /// Append text to the current line, merging with the last fragment when
    /// it has the same look.
    fn place(&mut self, look: &Look, text: &str, width: f32) {
        if text.is_empty() {
            return;
        }
        if let Some(last) = self.line.frags.last_mut()
            && last.font == look.font
            && last.color == look.color
            && last.link == look.link
        {
            last.text.push_str(text);
            last.width += width;
        } else {
            self.line.frags.push(Frag {
                x: self.line.width,
                text: text.to_string(),
                font: look.font,
                color: look.color,
                link: look.link.clone(),
                width,
                rtl: false,
                order: 0,
            });
        }
        self.line.width += width;
    }
}

// ---------------------------------------------------------------- layout

/// Where inline text is being collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InlineTarget {
    Block,
    TableCell,
}

#[derive(Debug)]
struct ListState {
    next_number: Option<u64>,
}

#[derive(Debug, Default)]
struct TableState {
    alignments: Vec<Alignment>,
    header: Vec<Vec<Span>>,
    rows: TableRows,
    in_header: bool,
    /// The header's cells, as read.
    row: Vec<Vec<Span>>,
}

/// The body of a table as read. A table is held whole until its column
/// widths are known, and a long one (a 30,000-event timeline) is most of a
/// document: its cells are kept compactly, their text in one string, each
/// column's natural width measured as it is read.
#[derive(Debug, Default)]
struct TableRows {
    text: String,
    spans: Vec<StoredSpan>,
    /// Where each cell's spans end.
    cells: Vec<u32>,
    /// Where each row's cells end.
    rows: Vec<u32>,
    links: Vec<String>,
    /// The most cells of a row.
    columns: usize,
    /// The widest each column's text is, unwrapped, as [`natural_width`]
    /// measures it.
    natural: Vec<f32>,
}

/// A [`Span`] of a [`TableRows`] cell: its text ends at `end` in the
/// table's text, its link is the table's `link`th.
#[derive(Debug)]
struct StoredSpan {
    end: u32,
    face: Face,
    color: Rgb3,
    link: Option<u32>,
}

impl TableRows {
    /// Add a cell to the row being read.
    fn push_cell(&mut self, spans: &[Span], fonts: &Fonts) {
        let column = self.cells.len() - self.rows.last().map_or(0, |end| *end as usize);
        if self.natural.len() <= column {
            self.natural.resize(column + 1, 0.0);
        }
        self.natural[column] = self.natural[column].max(natural_width(spans, fonts));
        for span in spans {
            self.text.push_str(&span.text);
            let link = span.link.as_ref().map(|link| {
                self.links.push(link.clone());
                self.links.len() as u32 - 1
            });
            self.spans.push(StoredSpan {
                end: self.text.len() as u32,
                face: span.face,
                color: span.color,
                link,
            });
        }
        self.cells.push(self.spans.len() as u32);
    }

    fn end_row(&mut self) {
        let start = self.rows.last().map_or(0, |end| *end as usize);
        self.columns = self.columns.max(self.cells.len() - start);
        self.rows.push(self.cells.len() as u32);
    }

    /// The rows, each as its cells' spans.
    fn iter(&self) -> impl Iterator<Item = Vec<Vec<Span>>> + '_ {
        let mut cell_at = 0;
        let mut span_at = 0;
        let mut text_at = 0;
        self.rows.iter().map(move |row_end| {
            let cells = self.cells[cell_at..*row_end as usize]
                .iter()
                .map(|cell_end| {
                    let spans = self.spans[span_at..*cell_end as usize]
                        .iter()
                        .map(|span| {
                            let text = self.text[text_at..span.end as usize].to_string();
                            text_at = span.end as usize;
                            Span {
                                text,
                                face: span.face,
                                color: span.color,
                                link: span.link.map(|i| self.links[i as usize].clone()),
                            }
                        })
                        .collect();
                    span_at = *cell_end as usize;
                    spans
                })
                .collect();
            cell_at = *row_end as usize;
            cells
        })
    }
}

/// A fragment at its place on the page.
struct Placed<'f> {
    x: f32,
    baseline: f32,
    size: f32,
    frag: &'f Frag,
    /// The last fragment of a drawn line.
    line_end: bool,
}

/// A laid-out table cell.
struct CellLines {
    lines: Vec<Line>,
    x: f32,
    width: f32,
    align: Alignment,
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

struct Layout<'a> {
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
    page_width: f32,
    page_height: f32,
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
    collect_text: bool,
    /// Every text drawn, a line each (when collected).
    drawn_text: String,
    /// The stroke colour and width last set on this page.
    stroke: Option<(Rgb3, u32)>,
}

impl<'a> Layout<'a> {
    fn new(options: &'a PdfOptions, doc: &'a mut PdfDocument) -> Self {
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

    /// Add the font a fragment is drawn in (see [`drawn_with`]) to the
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

    fn event(&mut self, event: Event<'_>) -> Result<(), PdfError> {
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
            Event::Rule => {
                self.flush_block();
                self.ensure(12.0);
                self.gap(4.0);
                let (left, right) = (self.left(), self.page_width - MARGIN_X);
                let y = self.y - 4.0;
                self.hline(left, right, y, RULE, 0.8);
                self.y -= 10.0;
                self.at_page_top = false;
            }
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

    /// Lay out the inline text collected so far as one block.
    fn flush_block(&mut self) {
        if self.inline_target == InlineTarget::TableCell {
            return;
        }
        if self.spans.is_empty() {
            return;
        }
        let spans = std::mem::take(&mut self.spans);
        if spans.iter().all(|s| s.text.trim().is_empty()) && self.marker.is_none() {
            return;
        }
        let (size, leading, before, after) = match self.heading {
            Some(HeadingLevel::H1) => (19.0, 24.0, 10.0, 8.0),
            Some(HeadingLevel::H2) => (14.5, 19.0, 14.0, 4.0),
            Some(HeadingLevel::H3) => (12.0, 16.0, 10.0, 2.0),
            Some(_) => (10.5, 14.0, 8.0, 2.0),
            None => (BODY_SIZE, BODY_LEADING, 0.0, 0.0),
        };
        let spans: Vec<Span> = if self.heading.is_some() {
            spans
                .into_iter()
                .map(|mut s| {
                    if s.face != Face::Mono {
                        s.face = Face::Bold;
                    }
                    s
                })
                .collect()
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
        for (i, line) in lines.iter().enumerate() {
            self.ensure(leading);
            let baseline = self.y - leading * 0.78;
            if i == 0
                && let Some(marker) = &marker
            {
                let marker = one_line(marker, Face::Regular, GREY, size, &self.fonts);
                self.draw_frags(&marker.frags, left - 5.0 - marker.width, baseline, size);
            }
            if self.quote_depth > 0 {
                let x = left - 10.0;
                let (top, bottom) = (self.y, self.y - leading);
                self.vline(x, top, bottom, RULE, 2.0);
            }
            self.draw_line(line, left, width, baseline, size);
            self.y -= leading;
            self.at_page_top = false;
        }
        if self.heading == Some(HeadingLevel::H1) {
            let right = self.page_width - MARGIN_X;
            let y = self.y - 2.0;
            self.hline(left, right, y, RULE, 1.0);
            self.y -= 4.0;
        }
        self.y -= after;
        if self.heading.is_none() && !self.lists.is_empty() {
            self.y -= 2.0;
        }
    }

    /// Draw a heading that waited for what follows it.
    fn draw_heading(&mut self, heading: PendingHeading) {
        self.gap(heading.before);
        for line in &heading.lines {
            self.ensure(heading.leading);
            let baseline = self.y - heading.leading * 0.78;
            if heading.quote {
                let (top, bottom) = (self.y, self.y - heading.leading);
                self.vline(heading.left - 10.0, top, bottom, RULE, 2.0);
            }
            self.draw_line(line, heading.left, heading.width, baseline, heading.size);
            self.y -= heading.leading;
            self.at_page_top = false;
        }
        if heading.rule {
            let right = self.page_width - MARGIN_X;
            let y = self.y - 2.0;
            self.hline(heading.left, right, y, RULE, 1.0);
            self.y -= 4.0;
        }
        self.y -= heading.after;
        self.gap(heading.gap_after);
    }

    /// Draw a line of a block `width` points wide that starts at `left`:
    /// flush right when its paragraph is written right to left.
    fn draw_line(&mut self, line: &Line, left: f32, width: f32, baseline: f32, size: f32) {
        let x = if line.rtl {
            left + (width - line.width).max(0.0)
        } else {
            left
        };
        self.draw_frags(&line.frags, x, baseline, size);
    }

    /// Draw fragments on one baseline, starting at `x`.
    fn draw_frags(&mut self, frags: &[Frag], x: f32, baseline: f32, size: f32) {
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
    /// once), setting the font and colour only when they change. Fragments
    /// that follow each other on one baseline in one face, size and colour
    /// are shown by one text operation, the gaps between them written as
    /// `TJ` offsets: a table row is one `Tm` and one `TJ` per style, not
    /// two operations per cell.
    fn draw_placed(&mut self, items: &[Placed<'_>]) {
        if items.iter().all(|p| p.frag.text.trim().is_empty()) {
            return;
        }
        let mut links = Vec::new();
        let mut line: Vec<&Frag> = Vec::new();
        for item in items {
            let frag = item.frag;
            if !frag.text.is_empty() {
                line.push(frag);
                if let Some(url) = &frag.link {
                    links.push((item.x, item.baseline, item.size, frag.width, url.clone()));
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
        for (lx, baseline, size, width, url) in links {
            self.hline(lx, lx + width, baseline - 1.5, LINK, 0.5);
            let page = self.page();
            page.draws
                .push(Draw::Link([lx, baseline - 3.0, width, size + 3.0]));
            page.links.push(url);
        }
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

    fn hline(&mut self, x1: f32, x2: f32, y: f32, c: Rgb3, thickness: f32) {
        self.line(x1, y, x2, y, c, thickness);
    }

    fn vline(&mut self, x: f32, y1: f32, y2: f32, c: Rgb3, thickness: f32) {
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

    fn fill_rect(&mut self, x: f32, y: f32, width: f32, height: f32, c: Rgb3) {
        self.page()
            .draws
            .extend([Draw::FillColor(c), Draw::FillRect([x, y, width, height])]);
    }

    fn draw_code_block(&mut self, code: &str) {
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

    fn image_block(&mut self, name: &str, alt: &str) -> Result<(), PdfError> {
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

    fn draw_table(&mut self, table: TableState) {
        let columns = table.rows.columns.max(table.header.len());
        if columns == 0 {
            return;
        }
        let left = self.left();
        let total = self.text_width();
        let header: Vec<Vec<Span>> = table
            .header
            .iter()
            .map(|cell| {
                cell.iter()
                    .cloned()
                    .map(|mut s| {
                        if s.face != Face::Mono {
                            s.face = Face::Bold;
                        }
                        s
                    })
                    .collect()
            })
            .collect();
        let widths = column_widths(&header, &table.rows.natural, columns, total, &self.fonts);
        // Rows are laid out one at a time as they are drawn (a long table
        // is not held laid out whole), with a handle on the same fonts.
        let fonts = self.fonts.clone();
        let layout_row = |cells: &[Vec<Span>]| -> Vec<CellLines> {
            let mut x = left;
            (0..columns)
                .map(|i| {
                    let width = widths[i];
                    let lines = match cells.get(i) {
                        Some(spans) if !spans.is_empty() => {
                            wrap(spans, TABLE_SIZE, width - 2.0 * CELL_PAD, &fonts)
                        }
                        _ => vec![Line::default()],
                    };
                    let cell = CellLines {
                        lines,
                        x,
                        width,
                        align: table.alignments.get(i).copied().unwrap_or(Alignment::None),
                    };
                    x += width;
                    cell
                })
                .collect()
        };
        let header_cells = (!header.is_empty()).then(|| layout_row(&header));
        let mut rows = table.rows.iter().map(|row| layout_row(&row));
        let first = rows.next();
        let body_height = self.page_height - MARGIN_TOP - MARGIN_BOTTOM;
        let header_height = header_cells.as_ref().map_or(0.0, |c| row_height(c));
        self.gap(2.0);
        // A header alone at the bottom of a page is useless: it starts on
        // the page of the whole first row (of its first line when the row
        // is taller than a page), and so does a heading before the table.
        let first_row = first.as_ref().map_or(0.0, |cells| {
            let height = row_height(cells);
            if height <= body_height - header_height {
                height
            } else {
                TABLE_LEADING + 2.0 * CELL_PAD
            }
        });
        self.ensure(header_height + first_row);
        if let Some(cells) = &header_cells {
            self.draw_row(cells, true, total);
        }
        for cells in first.into_iter().chain(rows) {
            let cells = &cells;
            let height = row_height(cells);
            if self.y - height < MARGIN_BOTTOM && height <= body_height - header_height {
                self.new_page();
                if let Some(cells) = &header_cells {
                    self.draw_row(cells, true, total);
                }
            }
            self.draw_row_split(cells, header_cells.as_ref(), total);
        }
        self.gap(PARAGRAPH_GAP + 2.0);
    }

    /// Draw a row, continuing it on the next page (under a repeated header)
    /// when it is taller than what is left of this one.
    fn draw_row_split(&mut self, cells: &[CellLines], header: Option<&Vec<CellLines>>, total: f32) {
        let mut start = 0;
        let max_lines = cells.iter().map(|c| c.lines.len()).max().unwrap_or(1);
        while start < max_lines {
            let room = ((self.y - MARGIN_BOTTOM - 2.0 * CELL_PAD) / TABLE_LEADING).floor();
            let fit = if room < 1.0 { 0 } else { room as usize };
            if fit == 0 {
                self.new_page();
                if let Some(header) = header {
                    self.draw_row(header, true, total);
                }
                continue;
            }
            let end = (start + fit).min(max_lines);
            let chunk: Vec<CellLines> = cells
                .iter()
                .map(|c| CellLines {
                    lines: c
                        .lines
                        .get(start.min(c.lines.len())..end.min(c.lines.len()))
                        .map(<[Line]>::to_vec)
                        .unwrap_or_default(),
                    x: c.x,
                    width: c.width,
                    align: c.align,
                })
                .collect();
            self.draw_row(&chunk, false, total);
            start = end;
        }
    }

    fn draw_row(&mut self, cells: &[CellLines], header: bool, total: f32) {
        let height = row_height(cells);
        let top = self.y;
        let left = cells.first().map_or(self.left(), |c| c.x);
        if header {
            self.fill_rect(left, top - height, total, height, HEADER_SHADE);
        }
        let mut items = Vec::new();
        for cell in cells {
            for (i, line) in cell.lines.iter().enumerate() {
                let baseline = top - CELL_PAD - TABLE_LEADING * (i as f32) - TABLE_LEADING * 0.78;
                let inner = cell.width - 2.0 * CELL_PAD;
                let x = match cell.align {
                    Alignment::Right => cell.x + CELL_PAD + (inner - line.width).max(0.0),
                    Alignment::Center => cell.x + CELL_PAD + ((inner - line.width) / 2.0).max(0.0),
                    // Right-to-left text sits flush right unless told otherwise.
                    Alignment::None if line.rtl => {
                        cell.x + CELL_PAD + (inner - line.width).max(0.0)
                    }
                    _ => cell.x + CELL_PAD,
                };
                let last = line.frags.len().saturating_sub(1);
                items.extend(line.frags.iter().enumerate().map(|(j, frag)| Placed {
                    x: x + frag.x,
                    baseline,
                    size: TABLE_SIZE,
                    frag,
                    line_end: j == last,
                }));
            }
        }
        self.draw_placed(&items);
        self.hline(left, left + total, top - height, RULE, 0.6);
        self.y -= height;
        self.at_page_top = false;
    }

    /// Add the header and footer to every page and hand the pages over.
    fn finish(mut self) -> (Vec<PageDraws>, String, BTreeMap<char, usize>) {
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
    fn header(&self) -> Header {
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
struct Header {
    title: Line,
    marking: Option<Line>,
}

/// The font a fragment's glyphs are drawn with: placeholders in DejaVu.
fn drawn_with(font: FontRef) -> FontRef {
    match font.source {
        Source::Missing => FontRef::dejavu(font.face),
        _ => font,
    }
}

/// `text`, shortened with an ellipsis to fit `width` points when it does
/// not.
fn truncate_to_width(text: &str, face: Face, size: f32, width: f32, fonts: &Fonts) -> String {
    if fonts.width(text, face, size) <= width {
        return text.to_string();
    }
    let ellipsis = fonts.width("…", face, size);
    let mut out = String::new();
    let mut used = 0.0;
    'runs: for (font, run) in fonts.runs(text, face) {
        for c in run.chars() {
            let w = fonts.char_width(font, c, size);
            if used + w + ellipsis > width {
                break 'runs;
            }
            out.push(c);
            used += w;
        }
    }
    // Shaped text may take more room than its characters' advances.
    while !out.is_empty() && fonts.width(&format!("{out}…"), face, size) > width {
        out.pop();
    }
    format!("{}…", out.trim_end())
}

/// Code keeps its spaces: break by characters only.
fn wrap_code(text: &str, size: f32, width: f32, fonts: &Fonts) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut line = Line::default();
    let push = |line: &mut Line, font: FontRef, piece: &mut String, piece_width: &mut f32| {
        if !piece.is_empty() {
            line.frags.push(Frag {
                x: line.width,
                text: std::mem::take(piece),
                font,
                color: INK,
                link: None,
                width: *piece_width,
                rtl: false,
                order: 0,
            });
            line.width += *piece_width;
        }
        *piece_width = 0.0;
    };
    for (font, run) in fonts.runs(text, Face::Mono) {
        let mut piece = String::new();
        let mut piece_width = 0.0;
        for c in run.chars() {
            let w = fonts.char_width(font, c, size);
            if line.width + piece_width + w > width && (!piece.is_empty() || !line.frags.is_empty())
            {
                push(&mut line, font, &mut piece, &mut piece_width);
                lines.push(std::mem::take(&mut line));
            }
            piece.push(c);
            piece_width += w;
        }
        push(&mut line, font, &mut piece, &mut piece_width);
    }
    lines.push(line);
    for line in &mut lines {
        reorder(line, false, size, fonts);
    }
    lines
}

fn row_height(cells: &[CellLines]) -> f32 {
    let lines = cells
        .iter()
        .map(|c| c.lines.len())
        .max()
        .unwrap_or(1)
        .max(1);
    lines as f32 * TABLE_LEADING + 2.0 * CELL_PAD
}

/// The width of a table cell's text on one line, padding included.
fn natural_width(spans: &[Span], fonts: &Fonts) -> f32 {
    spans
        .iter()
        .flat_map(|s| s.text.split('\n').map(move |t| (s.face, t)))
        .map(|(face, t)| fonts.width(t, face, TABLE_SIZE))
        .sum::<f32>()
        + 2.0 * CELL_PAD
        + 1.0
}

/// Share `total` between columns: a column whose natural (unwrapped) width
/// fits its fair share gets it; the others split what is left. Leftover
/// space goes to every column in proportion. `rows` is the natural width
/// of each column of the body.
fn column_widths(
    header: &[Vec<Span>],
    rows: &[f32],
    columns: usize,
    total: f32,
    fonts: &Fonts,
) -> Vec<f32> {
    let mut natural = vec![2.0 * CELL_PAD; columns];
    for (i, cell) in header.iter().enumerate().take(columns) {
        natural[i] = natural[i].max(natural_width(cell, fonts));
    }
    for (i, width) in rows.iter().enumerate().take(columns) {
        natural[i] = natural[i].max(*width);
    }
    let mut widths = vec![0.0; columns];
    let mut settled = vec![false; columns];
    let mut remaining = total;
    loop {
        let open = settled.iter().filter(|s| !**s).count();
        if open == 0 {
            break;
        }
        let share = remaining / open as f32;
        let mut changed = false;
        for i in 0..columns {
            if !settled[i] && natural[i] <= share {
                widths[i] = natural[i];
                remaining -= natural[i];
                settled[i] = true;
                changed = true;
            }
        }
        if !changed {
            for i in 0..columns {
                if !settled[i] {
                    widths[i] = share;
                    settled[i] = true;
                }
            }
            remaining = 0.0;
            break;
        }
    }
    let used: f32 = widths.iter().sum();
    if remaining > 0.0 && used > 0.0 {
        let factor = total / used;
        for w in &mut widths {
            *w *= factor;
        }
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::*;
    use fonts::dejavu;

    fn options() -> PdfOptions {
        let mut options = PdfOptions::new(
            "INC-7 Checkout outage",
            "2026-11-20T10:00:00Z".parse().unwrap(),
        );
        options.subject = "Post-mortem".into();
        options.marking = Some("INTERNAL".into());
        options
    }

    /// Text of each page, extracted with lopdf.
    fn pages_text(pdf: &[u8]) -> Vec<String> {
        let doc = lopdf::Document::load_mem(pdf).expect("the PDF parses");
        doc.get_pages()
            .keys()
            .map(|n| doc.extract_text(&[*n]).expect("text extracts"))
            .collect()
    }

    fn squash(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn wrap_respects_the_width_and_cuts_overlong_words() {
        let span = Span {
            text: format!("short words then {} end", "x".repeat(300)),
            face: Face::Regular,
            color: INK,
            link: None,
        };
        let fonts = Fonts::new(&[]);
        let lines = wrap(std::slice::from_ref(&span), 10.0, 200.0, &fonts);
        assert!(lines.len() > 3, "the long word spans several lines");
        for line in &lines {
            assert!(line.width <= 200.0 + 0.01, "line too wide: {}", line.width);
        }
        let joined: String = lines
            .iter()
            .flat_map(|l| l.frags.iter().map(|f| f.text.clone()))
            .collect();
        assert_eq!(joined.matches('x').count(), 300, "no character lost");
    }

    #[test]
    fn widths_come_from_the_glyph_metrics() {
        let regular = dejavu(Face::Regular);
        assert!(regular.width("WWWW", 10.0) > regular.width("iiii", 10.0) * 2.0);
        let mono = dejavu(Face::Mono);
        assert!((mono.width("WWWW", 10.0) - mono.width("iiii", 10.0)).abs() < 0.01);
    }

    #[test]
    fn a_document_with_every_block_renders_text_in_order() {
        let markdown = "# Title of the report\n\nA paragraph with **bold**, *italic*, `code` and a [link](https://example.com/x).\n\n## Lists\n\n- first bullet\n- second bullet\n  1. nested one\n  2. nested two\n\n| Time | Event |\n|---|---|\n| 10:00 | Alpha row |\n| 10:05 | Beta row |\n\n```\nfn main() {}\n```\n\n> quoted text\n\n---\n\nÜmlaut ✓ Ελληνικά Кириллица\n";
        let pdf = render_pdf(markdown, &options()).unwrap();
        let text = squash(&pages_text(&pdf).join("\n"));
        let expected = [
            "Title of the report",
            "bold",
            "italic",
            "code",
            "link",
            "first bullet",
            "nested two",
            "Time",
            "Alpha row",
            "Beta row",
            "fn main() {}",
            "quoted text",
            "Ümlaut ✓ Ελληνικά Кириллица",
        ];
        let mut at = 0;
        for needle in expected {
            let found = text[at..]
                .find(needle)
                .unwrap_or_else(|| panic!("`{needle}` missing after {at} in {text}"));
            at += found;
        }
        assert!(text.contains("INTERNAL"));
        assert!(text.contains("INC-7 Checkout outage"));
        assert!(text.contains("Page 1 of 1"));
        let raw = String::from_utf8_lossy(&pdf);
        assert!(
            raw.contains("https://example.com/x"),
            "the link is clickable"
        );
    }

    #[test]
    fn long_tables_break_pages_and_repeat_their_header() {
        let mut markdown = String::from("| When | What happened |\n|---|---|\n");
        for i in 0..400 {
            markdown.push_str(&format!("| 10:{i:03} | Event number {i} |\n"));
        }
        let pdf = render_pdf(&markdown, &options()).unwrap();
        let pages = pages_text(&pdf);
        assert!(pages.len() > 3, "{} pages", pages.len());
        for (i, page) in pages.iter().enumerate() {
            assert!(
                page.contains("What happened"),
                "page {} lacks the header",
                i + 1
            );
            assert!(page.contains(&format!("Page {} of {}", i + 1, pages.len())));
            assert!(page.contains("INTERNAL"));
        }
        let all = squash(&pages.join("\n"));
        let mut at = 0;
        for i in 0..400 {
            let needle = format!("Event number {i}");
            at += all[at..]
                .find(&needle)
                .unwrap_or_else(|| panic!("{needle} missing"));
        }
    }

    /// The decompressed content stream of every page.
    fn page_contents(doc: &lopdf::Document) -> Vec<Vec<u8>> {
        doc.get_pages()
            .values()
            .map(|page| doc.get_page_content(*page))
            .collect()
    }

    /// The font names (subset tag and face) of the fonts embedded.
    fn subsets(doc: &lopdf::Document) -> Vec<Vec<u8>> {
        let mut names: Vec<Vec<u8>> = doc
            .objects
            .values()
            .filter_map(|o| o.as_dict().ok()?.get(b"FontName").ok()?.as_name().ok())
            .map(<[u8]>::to_vec)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_document_serialised_in_runs_of_pages_is_the_same_document() {
        let mut markdown = String::from("# Timeline\n\n| When | What happened |\n|---|---|\n");
        for i in 0..300 {
            markdown.push_str(&format!(
                "| 10:{i:03} | **Event** number {i} `mono` [link](https://example.com/{i}) |\n"
            ));
        }
        let laid_out = lay_out(&markdown, &options(), false).unwrap();
        let render = |pages_per_run: usize| {
            let pdf = serialise(
                &laid_out.doc,
                &laid_out.pages,
                laid_out.page_size,
                pages_per_run,
            )
            .unwrap();
            (lopdf::Document::load_mem(&pdf).unwrap(), pdf)
        };
        let (whole, whole_bytes) = render(usize::MAX);
        let (joined, joined_bytes) = render(2);
        assert!(
            whole.get_pages().len() >= 6,
            "{} pages",
            whole.get_pages().len()
        );
        assert_eq!(
            pages_text(&joined_bytes),
            pages_text(&whole_bytes),
            "same text on the same pages"
        );
        assert!(
            page_contents(&joined) == page_contents(&whole),
            "the same content streams"
        );
        // And what printpdf writes for the whole document at once.
        let mut printpdf_doc = laid_out.doc.clone();
        printpdf_doc.with_pages(
            laid_out
                .pages
                .iter()
                .map(|page| page.to_page(laid_out.page_size))
                .collect(),
        );
        let printpdf = printpdf_doc.to_lopdf_document(&PdfSaveOptions::default(), &mut Vec::new());
        assert!(
            page_contents(&printpdf) == page_contents(&joined),
            "the content streams printpdf writes"
        );
        assert_eq!(
            subsets(&joined).len(),
            3,
            "one regular, bold and mono subset"
        );
        assert_eq!(subsets(&joined), subsets(&whole));
        let tree = joined
            .catalog()
            .unwrap()
            .get(b"Pages")
            .unwrap()
            .as_reference()
            .unwrap();
        let count = joined.get_dictionary(tree).unwrap().get(b"Count").unwrap();
        assert_eq!(count.as_i64().unwrap(), whole.get_pages().len() as i64);
        for page in joined.get_pages().values() {
            let page = joined.get_dictionary(*page).unwrap();
            let parent = page.get(b"Parent").unwrap();
            assert_eq!(parent.as_reference().unwrap(), tree, "one page tree");
            let links = page.get(b"Annots").unwrap().as_array().unwrap();
            assert!(!links.is_empty(), "the links are kept");
        }
        let highest = joined.objects.keys().next_back().unwrap().0;
        let size = joined.trailer.get(b"Size").unwrap().as_i64().unwrap();
        assert_eq!(
            size,
            i64::from(highest) + 1,
            "the trailer counts the objects"
        );
        let info = joined.trailer.get(b"Info").unwrap().as_reference().unwrap();
        let title = joined.get_dictionary(info).unwrap().get(b"Title").unwrap();
        assert!(matches!(title, lopdf::Object::String(..)));
    }

    #[test]
    fn overlong_cells_and_sections_render() {
        let word = "y".repeat(300);
        let long_section = "word ".repeat(5000);
        let markdown = format!(
            "| A | B |\n|---|---|\n| {word} | short |\n\n{long_section}\n\n```\n{word}\n```\n"
        );
        let pdf = render_pdf(&markdown, &options()).unwrap();
        let pages = pages_text(&pdf);
        assert!(pages.len() >= 5);
        let all: String = pages.concat();
        assert!(
            all.matches('y').count() >= 600,
            "the long word is all there"
        );
    }

    #[test]
    fn metadata_and_letter_paper() {
        let mut options = options();
        options.paper = PaperSize::Letter;
        let pdf = render_pdf("Hello", &options).unwrap();
        let doc = lopdf::Document::load_mem(&pdf).unwrap();
        let page = doc.get_pages()[&1];
        let media_box = doc
            .get_dictionary(page)
            .unwrap()
            .get(b"MediaBox")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_float().unwrap())
            .collect::<Vec<_>>();
        assert!((media_box[2] - 612.0).abs() < 1.0, "{media_box:?}");
        assert!((media_box[3] - 792.0).abs() < 1.0, "{media_box:?}");
        let raw = String::from_utf8_lossy(&pdf);
        assert!(raw.contains("/CreationDate"), "has a creation date");
        assert!(raw.contains("D:20261120"), "creation date is the given one");
    }

    #[test]
    fn images_are_embedded_and_bad_ones_refused() {
        let png = tiny_png();
        let mut options = options();
        options.images.insert("chart.png".into(), png);
        let pdf = render_pdf("Before\n\n![Trend](chart.png)\n\nAfter", &options).unwrap();
        let raw = String::from_utf8_lossy(&pdf);
        assert!(raw.contains("/Subtype /Image") || raw.contains("/Subtype/Image"));
        let text = pages_text(&pdf).concat();
        assert!(text.contains("Before") && text.contains("After"));

        let missing = render_pdf("![Gone](nope.png)", &options).unwrap();
        assert!(pages_text(&missing).concat().contains("[image: Gone]"));

        options
            .images
            .insert("bad.png".into(), b"not a png".to_vec());
        let err = render_pdf("![Bad](bad.png)", &options).unwrap_err();
        assert!(err.to_string().contains("bad.png"));
    }

    #[test]
    fn the_same_document_gives_the_same_bytes() {
        let mut options = options();
        options.images.insert("chart.png".into(), tiny_png());
        let mut markdown = String::from(
            "# Title\n\n**Bold**, *italic*, ***both***, `mono` and a [link](https://example.com/x).\n\n![Trend](chart.png)\n\n| When | What |\n|---|---|\n",
        );
        // Long enough to be serialised in runs of pages, joined.
        for i in 0..300 {
            markdown.push_str(&format!("| 10:{:02} | event {i} |\n", i % 60));
        }
        let first = render_pdf(&markdown, &options).unwrap();
        let second = render_pdf(&markdown, &options).unwrap();
        assert!(first == second, "two renders differ");
        let raw = String::from_utf8_lossy(&first);
        assert!(raw.contains("/ID"), "the file has an identifier");
        assert!(
            !raw.contains(&hex_upper(FILE_ID_PLACEHOLDER)),
            "the identifier is made from the content"
        );
        options.title.push_str(" (changed)");
        let changed = render_pdf(&markdown, &options).unwrap();
        assert!(changed != first);
    }

    const CJK: &str = "決済システムの障害";
    const EMOJI: &str = "🔥";
    const HEBREW: &str = "שלום עולם";
    const ARABIC: &str = "مرحبا بالعالم";

    /// The text `pdftotext` extracts from a PDF (physical layout off, the
    /// default reading order), without the direction marks it wraps
    /// right-to-left words in; `None` when poppler-utils is not installed.
    fn pdftotext(pdf: &[u8]) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("document.pdf");
        std::fs::write(&path, pdf).unwrap();
        let output = std::process::Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output()
            .ok()?;
        assert!(output.status.success(), "pdftotext fails on the PDF");
        let text = String::from_utf8(output.stdout).expect("pdftotext writes UTF-8");
        Some(
            text.chars()
                .filter(|c| !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
                .collect(),
        )
    }

    fn scripts_markdown() -> String {
        format!(
            "# {CJK}\n\nStatus: {EMOJI} on fire since 10:02.\n\n{HEBREW}\n\n{ARABIC}\n\n\
             A sentence with {HEBREW} inside, then {ARABIC} too.\n\n\
             | Script | Text |\n|---|---|\n| Japanese | {CJK} |\n| Hebrew | {HEBREW} |\n\
             | Arabic | {ARABIC} |\n| Emoji | {EMOJI} |\n\n```\nlet s = \"{CJK}\";\n```\n"
        )
    }

    #[test]
    fn every_script_comes_back_in_reading_order() {
        let missing = uncovered_characters(&scripts_markdown(), &system_font_dirs());
        if !missing.is_empty() {
            eprintln!(
                "skipped: no installed font covers {missing:?}; install fonts-noto-cjk, \
                 fonts-noto-core and fonts-symbola (.ci/run does)"
            );
            return;
        }
        let laid_out = lay_out(&scripts_markdown(), &options(), true).unwrap();
        assert!(laid_out.missing.is_empty(), "{:?}", laid_out.missing);
        for needle in [CJK, EMOJI, HEBREW, ARABIC] {
            assert!(laid_out.text.contains(needle), "{needle} in the drawn text");
        }
        let pdf = render_pdf(&scripts_markdown(), &options()).unwrap();
        let doc = lopdf::Document::load_mem(&pdf).unwrap();
        let fonts: Vec<String> = doc
            .objects
            .values()
            .filter_map(|o| o.as_dict().ok()?.get(b"FontName").ok()?.as_name().ok())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        assert!(
            fonts.iter().any(|f| f.contains("CJK")),
            "a CJK font is embedded: {fonts:?}"
        );
        assert!(
            fonts.iter().any(|f| f.contains("Symbola")),
            "a monochrome emoji font is embedded: {fonts:?}"
        );
        let Some(text) = pdftotext(&pdf) else {
            eprintln!("skipped the extraction: pdftotext (poppler-utils) is not installed");
            return;
        };
        for needle in [CJK, EMOJI, HEBREW, ARABIC] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
        assert!(text.matches(CJK).count() >= 3, "title, cell, code:\n{text}");
        assert!(text.contains(&format!("Status: {EMOJI} on fire")), "{text}");
        assert!(!text.contains('\u{FFFD}'), "{text}");
    }

    #[test]
    fn hebrew_and_arabic_are_laid_out_right_to_left_and_shaped() {
        // DejaVu has Hebrew and Arabic: no fallback font is involved.
        let fonts = Fonts::new(&[]);
        let span = |text: &str| Span {
            text: text.to_string(),
            face: Face::Regular,
            color: INK,
            link: None,
        };
        let lines = wrap(&[span(HEBREW)], 10.0, 400.0, &fonts);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].rtl, "a Hebrew paragraph is right to left");
        assert!(lines[0].frags.iter().all(|f| f.rtl));
        let glyphs = dejavu(Face::Regular).shape(HEBREW, true);
        let nominal = |c: char| dejavu(Face::Regular).glyph(c).unwrap();
        assert_eq!(
            glyphs[0].gid,
            nominal('ם'),
            "the last letter is drawn leftmost"
        );
        assert_eq!(glyphs.last().unwrap().gid, nominal('ש'));
        let read: String = glyphs.iter().rev().map(|g| g.text.as_str()).collect();
        assert_eq!(read, HEBREW, "each glyph stands for its letter");

        // Arabic letters take their joined forms: few glyphs are the
        // isolated letters the character map gives.
        let glyphs = dejavu(Face::Regular).shape(ARABIC, true);
        let isolated = glyphs
            .iter()
            .zip(ARABIC.chars().rev())
            .filter(|(g, c)| g.gid == nominal(*c))
            .count();
        assert!(
            isolated <= 3,
            "{isolated} of {} glyphs unjoined",
            glyphs.len()
        );
        let read: String = glyphs.iter().rev().map(|g| g.text.as_str()).collect();
        assert_eq!(read, ARABIC);

        // In a left-to-right paragraph, the right-to-left words are
        // reversed in place and the rest keeps its order.
        let lines = wrap(
            &[span(&format!("Then {HEBREW} said hi"))],
            10.0,
            400.0,
            &fonts,
        );
        let line = &lines[0];
        assert!(!line.rtl);
        let texts: Vec<(&str, bool)> = line
            .frags
            .iter()
            .map(|f| (f.text.as_str(), f.rtl))
            .collect();
        assert_eq!(
            texts,
            [("Then ", false), (HEBREW, true), (" said hi", false)]
        );
        for pair in line.frags.windows(2) {
            assert!(
                (pair[0].x + pair[0].width - pair[1].x).abs() < 0.01,
                "{pair:?}"
            );
        }

        // The extracted text reads in logical order, with DejaVu alone.
        let mut options = options();
        options.font_dirs = Vec::new();
        let markdown =
            format!("{HEBREW}\n\n{ARABIC}\n\n| A | B |\n|---|---|\n| {ARABIC} | {HEBREW} (1) |\n");
        let pdf = render_pdf(&markdown, &options).unwrap();
        if let Some(text) = pdftotext(&pdf) {
            assert!(text.contains(HEBREW), "{text}");
            assert!(text.contains(ARABIC), "{text}");
        } else {
            eprintln!("skipped the extraction: pdftotext (poppler-utils) is not installed");
        }
    }

    #[test]
    fn characters_no_font_covers_are_drawn_as_placeholders_and_counted() {
        let mut options = options();
        options.font_dirs = Vec::new();
        // A tag character (default ignorable, in no font here) is not drawn.
        let markdown = format!("Before {CJK} {EMOJI} after\u{E007F}.");
        let laid_out = lay_out(&markdown, &options, true).unwrap();
        let count: usize = laid_out.missing.values().sum();
        assert_eq!(count, CJK.chars().count() + 1, "{:?}", laid_out.missing);
        assert_eq!(laid_out.missing.get(&'🔥'), Some(&1));
        let placeholders = "\u{FFFD}".repeat(CJK.chars().count());
        assert!(
            laid_out
                .text
                .contains(&format!("Before {placeholders} \u{FFFD} after.")),
            "{}",
            laid_out.text
        );
        let pdf = render_pdf(&markdown, &options).unwrap();
        let text = pages_text(&pdf).concat();
        assert_eq!(text.matches('\u{FFFD}').count(), count, "{text}");
        assert_eq!(
            uncovered_characters(&markdown, &[]),
            CJK.chars()
                .chain([EMOJI.chars().next().unwrap()])
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn dejavu_text_takes_the_simple_path() {
        let fonts = Fonts::new(&system_font_dirs());
        for (text, face) in [
            (
                "Plain text, punctuation — and “quotes” ✓ → €",
                Face::Regular,
            ),
            ("Ümlaut Ελληνικά Кириллица", Face::Bold),
            ("fn main() { println!(\"{x:?}\"); }", Face::Mono),
        ] {
            let runs = fonts.runs(text, face);
            assert_eq!(runs, [(FontRef::dejavu(face), text)]);
            assert!(!text.chars().any(fonts::needs_shaping));
            let span = Span {
                text: text.to_string(),
                face,
                color: INK,
                link: None,
            };
            for line in wrap(&[span], 10.0, 120.0, &fonts) {
                assert!(
                    line.frags
                        .iter()
                        .all(|f| !f.rtl && f.font == FontRef::dejavu(face))
                );
            }
        }
        assert!(
            !fonts.fallback_consulted(),
            "the fallback fonts are never indexed for DejaVu text"
        );
    }

    #[test]
    fn cjk_text_breaks_between_ideographs() {
        let fonts = Fonts::new(&system_font_dirs());
        let span = Span {
            text: format!("Impact: {}", CJK.repeat(12)),
            face: Face::Regular,
            color: INK,
            link: None,
        };
        let lines = wrap(&[span], 10.0, 200.0, &fonts);
        assert!(lines.len() > 2);
        assert!(
            lines[0].frags[0].text.starts_with("Impact: "),
            "the ideographs start on the first line: {:?}",
            lines[0].frags
        );
        for line in &lines {
            assert!(line.width <= 200.0 + 0.01, "{}", line.width);
        }
        let joined: String = lines
            .iter()
            .flat_map(|l| l.frags.iter().map(|f| f.text.as_str()))
            .collect();
        assert_eq!(joined, format!("Impact: {}", CJK.repeat(12)));
        assert!(
            !fonts::breaks_between('決', '。'),
            "no break before a full stop"
        );
        assert!(
            !fonts::breaks_between('「', '決'),
            "nor after an opening bracket"
        );
    }

    /// The number of the first page whose text contains `needle`.
    fn page_of(pages: &[String], needle: &str) -> usize {
        pages
            .iter()
            .position(|p| squash(p).contains(needle))
            .unwrap_or_else(|| panic!("{needle} on no page"))
            + 1
    }

    #[test]
    fn headings_stay_with_what_follows_them() {
        let followers = [
            "| When | What |\n|---|---|\n| 10:00 | Follower row with a long text that wraps over several lines of the table cell, as timeline entries do, and then some more words to make it three lines at least |\n",
            "Follower paragraph.\n",
            "```\nFollower code\n```\n",
            "- Follower item\n",
        ];
        for follower in followers {
            let mut moved = 0;
            for filler in 30..75 {
                let mut markdown = String::new();
                for i in 0..filler {
                    markdown.push_str(&format!("Filler paragraph {i}.\n\n"));
                }
                markdown.push_str("## Section heading\n\n");
                markdown.push_str(follower);
                let pdf = render_pdf(&markdown, &options()).unwrap();
                let pages = pages_text(&pdf);
                let heading = page_of(&pages, "Section heading");
                assert_eq!(
                    heading,
                    page_of(&pages, "Follower"),
                    "with {filler} paragraphs the heading is alone at the bottom of page {heading}"
                );
                if heading > 1 && !squash(&pages[heading - 1]).contains("Filler") {
                    moved += 1;
                }
            }
            assert!(
                moved > 0,
                "no filler length puts the heading at a page break"
            );
        }
    }

    #[test]
    fn table_headers_stay_with_the_first_row_and_repeat() {
        for filler in 30..75 {
            let mut markdown = String::new();
            for i in 0..filler {
                markdown.push_str(&format!("Filler paragraph {i}.\n\n"));
            }
            markdown.push_str("| When | What happened |\n|---|---|\n");
            markdown.push_str("| 10:00 | First row with a long text that wraps over several lines of the table cell, as timeline entries do, and then some more words to make it three lines at least |\n");
            for i in 0..80 {
                markdown.push_str(&format!("| 10:{i:02} | Event number {i} |\n"));
            }
            let pdf = render_pdf(&markdown, &options()).unwrap();
            let pages = pages_text(&pdf);
            let header = page_of(&pages, "What happened");
            assert_eq!(
                header,
                page_of(&pages, "First row"),
                "with {filler} paragraphs"
            );
            let last = page_of(&pages, "Event number 79");
            for page in header..=last {
                assert!(
                    pages[page - 1].contains("What happened"),
                    "page {page} of the table repeats its header"
                );
            }
        }
    }

    #[test]
    fn a_long_title_is_shortened_before_the_marking() {
        let titles = [
            "INC-1 post-mortem: Cloudflare global 502 outage caused by a WAF rule regular expression (July 2, 2019)".to_string(),
            format!("INC-2 post-mortem: {}", CJK.repeat(8)),
            format!("INC-3 post-mortem: {}", HEBREW.repeat(10)),
            "INC-4 Short title".to_string(),
        ];
        for title in titles {
            let mut options = options();
            options.title = title.clone();
            let mut doc = PdfDocument::new(&title);
            let layout = Layout::new(&options, &mut doc);
            let header = layout.header();
            let marking = header.marking.as_ref().expect("a marking");
            let room = layout.page_width - 2.0 * MARGIN_X - marking.width - 16.0;
            assert!(
                header.title.width <= room + 0.01,
                "{title}: the title reaches the marking"
            );
            let shown: String = header.title.frags.iter().map(|f| f.text.as_str()).collect();
            if title.starts_with("INC-4") {
                assert_eq!(shown, title);
            } else {
                assert!(
                    shown.ends_with('…') || shown.starts_with('…'),
                    "{title}: {shown}"
                );
                assert!(header.title.width > room * 0.8, "{title}: cut short");
            }
        }
    }

    /// A 4×2 RGB PNG.
    fn tiny_png() -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 4, 2);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[200u8; 4 * 2 * 3]).unwrap();
        writer.finish().unwrap();
        out
    }
}
