//! The laid-out pages into the bytes of a PDF file: serialised by printpdf
//! in runs of pages on several threads, every run subsetting the fonts to
//! the whole document's glyphs, the runs joined into one file (see
//! `merge`), streams compressed, and a file identifier made from the
//! content.

use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
};

use printpdf::{
    Codepoint, FontId, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Pt,
    TextItem,
};

use super::{
    fonts::PLACEHOLDER,
    merge::{append_pages, page_kids, reference, remove_page},
    options::PdfError,
    page::{Draw, PageDraws, Piece, font_id_of, pdf_page},
    style::BODY_SIZE,
};

/// Pages are serialised in runs of this many, `cores` runs at a time: what
/// one run holds as printpdf operations and uncompressed content streams
/// is all a long document holds of them at once.
pub(super) const PAGES_PER_RUN: usize = 32;

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
pub(super) fn serialise(
    doc: &PdfDocument,
    pages: &[PageDraws],
    page_size: (f32, f32),
    pages_per_run: usize,
) -> Result<Vec<u8>, PdfError> {
    let usage = usage_page(&glyph_usage(doc, pages), page_size);
    let runs: Vec<&[PageDraws]> = pages.chunks(pages_per_run.max(1)).collect();
    let mut pdf = None;
    for part in serialise_runs(doc, &runs, &usage, page_size) {
        match part {
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
    save_with_content_id(pdf)
}

/// Every run serialised ([`serialise_run`]), on up to one thread per core
/// (eight at most), each taking the next run left; the results in the
/// order of the runs.
fn serialise_runs(
    doc: &PdfDocument,
    runs: &[&[PageDraws]],
    usage: &PdfPage,
    page_size: (f32, f32),
) -> Vec<Option<Serialised>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get().min(8))
        .min(runs.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let done: Vec<Mutex<Option<Serialised>>> = runs.iter().map(|_| Mutex::default()).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let run = next.fetch_add(1, Ordering::Relaxed);
                    let Some(pages) = runs.get(run) else { break };
                    let part = serialise_run(doc, pages, usage, page_size, run == 0);
                    *done[run].lock().unwrap_or_else(PoisonError::into_inner) = Some(part);
                }
            });
        }
    });
    done.into_iter()
        .map(|slot| slot.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect()
}

/// The bytes of the file. The file identifier (trailer `/ID`) printpdf
/// draws at random is replaced by one made from the file's own content, as
/// reproducible builds do: the same document gives the same bytes.
fn save_with_content_id(mut pdf: lopdf::Document) -> Result<Vec<u8>, PdfError> {
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
pub(super) const FILE_ID_PLACEHOLDER: &[u8; 16] = b"\xDB\xF1\x1D\x00debrief-id\x00\xFF";

pub(super) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Every glyph the pages show, font by font, with the text it stands for
/// (its first reading in the document), found as printpdf finds them: a
/// character through the font's character map, a shaped glyph by its id.
fn glyph_usage(doc: &PdfDocument, pages: &[PageDraws]) -> GlyphUsage {
    let mut usage = GlyphUsage::new();
    // Characters already looked up, per font: most are ASCII.
    let mut seen: BTreeMap<FontId, SeenChars> = BTreeMap::new();
    for page in pages {
        let mut shown = page.shown();
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
                        .map(|pdf_font| (id, &pdf_font.parsed_font));
                }
                Draw::Show(count) => {
                    for piece in shown.by_ref().take(*count as usize) {
                        let Some((id, parsed)) = &font else {
                            continue;
                        };
                        let glyphs = usage.entry(id.clone()).or_default();
                        match piece {
                            Piece::Text(text) => {
                                let seen = seen.entry(id.clone()).or_default();
                                for c in text.chars() {
                                    if seen.first_time(c)
                                        && let Some(gid) = parsed.lookup_glyph_index(c as u32)
                                    {
                                        glyphs.entry(gid).or_insert_with(|| c.to_string());
                                    }
                                }
                            }
                            Piece::Glyphs(run) => {
                                for glyph in run {
                                    glyphs
                                        .entry(glyph.gid)
                                        .or_insert_with(|| glyph_text(glyph, parsed));
                                }
                            }
                            Piece::Offset(_) => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    usage
}

/// The characters of one font already looked up.
struct SeenChars {
    ascii: [bool; 128],
    other: HashSet<char>,
}

impl Default for SeenChars {
    fn default() -> Self {
        Self {
            ascii: [false; 128],
            other: HashSet::new(),
        }
    }
}

impl SeenChars {
    /// Whether `c` is seen for the first time (it is seen from now on).
    fn first_time(&mut self, c: char) -> bool {
        match self.ascii.get_mut(c as usize) {
            Some(seen) => !std::mem::replace(seen, true),
            None => self.other.insert(c),
        }
    }
}

/// The text a shaped glyph stands for: its own, or the character the font
/// maps to it.
fn glyph_text(glyph: &Codepoint, font: &ParsedFont) -> String {
    glyph.cid.clone().unwrap_or_else(|| {
        font.get_glyph_primary_char(glyph.gid)
            .map_or_else(|| PLACEHOLDER.to_string(), |c| c.to_string())
    })
}

/// A page that shows every glyph of `usage`: serialised after a run's own
/// pages so that the run subsets each font to the whole document's glyphs,
/// then taken out of the file.
fn usage_page(usage: &GlyphUsage, page_size: (f32, f32)) -> PdfPage {
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
    pdf_page(page_size, ops)
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
/// (see [`super::merge`]).
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
