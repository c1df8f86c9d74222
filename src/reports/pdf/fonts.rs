//! Fonts of the PDF layout: the embedded DejaVu faces, fallback faces found
//! in the configured font directories for the characters DejaVu lacks (CJK,
//! emoji, the scripts of India …), and shaping, with rustybuzz, of the text
//! that needs it (right-to-left and joining scripts).
//!
//! Text that DejaVu covers in a script drawn one glyph per character
//! (Latin, Greek, Cyrillic …) takes the simple path it always took: advances
//! from the font's metrics, no shaping, and the fallback index is never
//! built.

use std::{
    collections::HashMap,
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError, RwLock},
    time::Instant,
};

use printpdf::ParsedFont;
use rustybuzz::ttf_parser;
use unicode_bidi::BidiClass;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use super::Face;

/// The directories searched for fallback fonts unless configured otherwise.
pub const SYSTEM_FONT_DIRS: [&str; 2] = ["/usr/share/fonts", "/usr/local/share/fonts"];

/// What a character no font covers is drawn as.
pub(super) const PLACEHOLDER: char = '\u{FFFD}';

/// Where the glyphs of a run of text come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Source {
    /// The embedded DejaVu face of the run's style.
    Dejavu,
    /// A fallback face: its position in the [`Fonts`] index.
    Fallback(u16),
    /// No font covers these characters: each is drawn as [`PLACEHOLDER`]
    /// in the DejaVu face of the style.
    Missing,
}

/// The font a run of text is drawn in: the style asked for and where the
/// glyphs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct FontRef {
    pub(super) face: Face,
    pub(super) source: Source,
}

impl FontRef {
    pub(super) fn dejavu(face: Face) -> Self {
        Self {
            face,
            source: Source::Dejavu,
        }
    }
}

/// One glyph of shaped text.
#[derive(Debug, Clone)]
pub(super) struct Glyph {
    pub(super) gid: u16,
    /// Where the next glyph starts, in ems.
    pub(super) advance: f32,
    /// Shift of this glyph to the right, in ems (marks over their base).
    pub(super) x_offset: f32,
    /// The advance the font's metrics give the glyph (what a viewer moves
    /// by unless told otherwise), in ems.
    pub(super) metric_advance: f32,
    /// The characters the glyph stands for, for text extraction; empty for
    /// the second and later glyphs of a cluster that has fewer characters.
    pub(super) text: String,
}

// ---------------------------------------------------------------- faces

/// A font face ready to measure, shape and embed.
pub(super) struct FontFace {
    /// printpdf's parse: what is embedded, and how plain text is encoded.
    pub(super) parsed: ParsedFont,
    /// rustybuzz's: shaping.
    shaper: rustybuzz::Face<'static>,
    /// Advances of U+0000 to U+00FF in ems; negative where the face has no
    /// glyph.
    latin1: [f32; 256],
    units_per_em: f32,
}

impl FontFace {
    fn load(bytes: &'static [u8], index: u32) -> Option<Self> {
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(bytes, index as usize, &mut warnings)?;
        let shaper = rustybuzz::Face::from_slice(bytes, index)?;
        let units_per_em = f32::from(parsed.pdf_font_metrics.units_per_em.max(1));
        let mut face = Self {
            parsed,
            shaper,
            latin1: [0.0; 256],
            units_per_em,
        };
        for code in 0..256u32 {
            let c = char::from_u32(code).unwrap_or(' ');
            face.latin1[code as usize] = if face.glyph(c).is_some() {
                face.lookup(c)
            } else {
                -1.0
            };
        }
        Some(face)
    }

    pub(super) fn glyph(&self, c: char) -> Option<u16> {
        self.parsed
            .lookup_glyph_index(c as u32)
            .filter(|glyph| *glyph != 0)
    }

    /// Whether the face has a glyph for `c`, as printpdf encodes it.
    pub(super) fn covers(&self, c: char) -> bool {
        match self.latin1.get(c as usize) {
            Some(width) => *width >= 0.0,
            None => self.glyph(c).is_some(),
        }
    }

    fn lookup(&self, c: char) -> f32 {
        let glyph = self.glyph(c).or_else(|| self.glyph('?')).unwrap_or(0);
        self.metric_advance(glyph)
    }

    fn metric_advance(&self, glyph: u16) -> f32 {
        f32::from(self.parsed.get_horizontal_advance(glyph)) / self.units_per_em
    }

    /// Advance of one character, in ems (that of `?` when the face lacks it).
    pub(super) fn advance(&self, c: char) -> f32 {
        match self.latin1.get(c as usize) {
            Some(width) if *width >= 0.0 => *width,
            _ => self.lookup(c),
        }
    }

    /// Width of `text` at `size` points, one glyph per character.
    pub(super) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }

    /// `text`, one line of one direction, shaped: its glyphs in visual
    /// order (left to right on the page).
    pub(super) fn shape(&self, text: &str, rtl: bool) -> Vec<Glyph> {
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        buffer.set_direction(if rtl {
            rustybuzz::Direction::RightToLeft
        } else {
            rustybuzz::Direction::LeftToRight
        });
        let shaped = rustybuzz::shape(&self.shaper, &[], buffer);
        let (infos, positions) = (shaped.glyph_infos(), shaped.glyph_positions());
        let mut starts: Vec<usize> = infos.iter().map(|info| info.cluster as usize).collect();
        starts.sort_unstable();
        starts.dedup();
        let em = |units: i32| units as f32 / self.units_per_em;
        let mut glyphs = Vec::with_capacity(infos.len());
        let mut first = 0;
        while first < infos.len() {
            let cluster = infos[first].cluster;
            let end = infos[first..]
                .iter()
                .position(|info| info.cluster != cluster)
                .map_or(infos.len(), |n| first + n);
            let start = cluster as usize;
            let stop = starts
                .iter()
                .find(|s| **s > start)
                .copied()
                .unwrap_or(text.len());
            let cluster_text = text.get(start..stop).unwrap_or_default();
            let mut chars: Vec<char> = cluster_text.chars().collect();
            let one_each = chars.len() == end - first;
            if one_each && rtl {
                // A cluster's glyphs come out in visual order too.
                chars.reverse();
            }
            for (k, (info, position)) in infos[first..end]
                .iter()
                .zip(&positions[first..end])
                .enumerate()
            {
                let gid = u16::try_from(info.glyph_id).unwrap_or(0);
                let text = if one_each {
                    self.extracted_char(chars[k], gid).to_string()
                } else if k == 0 {
                    cluster_text.to_string()
                } else {
                    String::new()
                };
                glyphs.push(Glyph {
                    gid,
                    advance: em(position.x_advance),
                    x_offset: em(position.x_offset),
                    metric_advance: self.metric_advance(gid),
                    text,
                });
            }
            first = end;
        }
        glyphs
    }

    /// The character a glyph of `c` reads as: a bracket mirrored in
    /// right-to-left text reads as the bracket drawn, so one glyph never
    /// stands for two characters in the file's text map.
    fn extracted_char(&self, c: char, gid: u16) -> char {
        match mirrored(c) {
            Some(m) if self.glyph(c) != Some(gid) && self.glyph(m) == Some(gid) => m,
            _ => c,
        }
    }
}

/// The mirror image of a paired punctuation character.
fn mirrored(c: char) -> Option<char> {
    const PAIRS: [(char, char); 12] = [
        ('(', ')'),
        ('[', ']'),
        ('{', '}'),
        ('<', '>'),
        ('«', '»'),
        ('‹', '›'),
        ('⁅', '⁆'),
        ('⟨', '⟩'),
        ('〈', '〉'),
        ('《', '》'),
        ('「', '」'),
        ('（', '）'),
    ];
    PAIRS.iter().find_map(|(open, close)| {
        if c == *open {
            Some(*close)
        } else if c == *close {
            Some(*open)
        } else {
            None
        }
    })
}

static DEJAVU: LazyLock<[FontFace; 5]> = LazyLock::new(|| {
    let load =
        |bytes: &'static [u8]| FontFace::load(bytes, 0).expect("the embedded DejaVu fonts parse");
    [
        load(dejavu::sans::regular()),
        load(dejavu::sans::bold()),
        load(dejavu::sans::oblique()),
        load(dejavu::sans::bold_oblique()),
        load(dejavu::sans_mono::regular()),
    ]
});

/// The embedded DejaVu face of a style.
pub(super) fn dejavu(face: Face) -> &'static FontFace {
    &DEJAVU[face.index()]
}

// ---------------------------------------------------------------- characters

/// Whether `text` may hold a character that is written right to left or
/// needs shaping: one at U+0590 or above (a quick test on the UTF-8 bytes:
/// such a character starts with a byte of 0xD6 or more).
pub(super) fn may_need_shaping(text: &str) -> bool {
    text.bytes().any(|b| b >= 0xD6)
}

/// Whether some character of `text` needs shaping (see [`needs_shaping`]).
pub(super) fn text_needs_shaping(text: &str) -> bool {
    may_need_shaping(text) && text.chars().any(needs_shaping)
}

/// Whether `text` may hold an ideograph or kana, at U+2E80 or above (whose
/// UTF-8 form starts with a byte of 0xE2 or more).
pub(super) fn may_hold_ideographs(text: &str) -> bool {
    text.bytes().any(|b| b >= 0xE2)
}

/// Whether `c` is written right to left.
pub(super) fn is_rtl(c: char) -> bool {
    c >= '\u{0590}' && matches!(unicode_bidi::bidi_class(c), BidiClass::R | BidiClass::AL)
}

/// Whether text with `c` must be shaped to be drawn right: right-to-left
/// and joining scripts, and those whose marks and vowels are placed by the
/// font's rules (Indic, South-East Asian …).
pub(super) fn needs_shaping(c: char) -> bool {
    if c < '\u{0590}' {
        return false;
    }
    matches!(
        c as u32,
        0x0590..=0x08FF
            | 0x0900..=0x0DFF
            | 0x0E00..=0x0FFF
            | 0x1000..=0x109F
            | 0x1700..=0x18AF
            | 0x1900..=0x1AFF
            | 0x1B00..=0x1CFF
            | 0xA800..=0xABFF
            | 0xFB1D..=0xFDFF
            | 0xFE70..=0xFEFF
            | 0x10800..=0x10FFF
            | 0x11000..=0x11FFF
            | 0x1E800..=0x1EFFF
    ) || is_rtl(c)
}

/// Characters left out when DejaVu lacks them and no font of their run
/// has them: controls and the default-ignorable code points (joiners,
/// variation selectors, direction marks, soft hyphen …), which show
/// nothing. DejaVu has most of them, as the empty glyphs they are.
pub(super) fn is_ignorable(c: char) -> bool {
    matches!(
        c as u32,
        0x00..=0x1F
            | 0x7F..=0x9F
            | 0xAD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// Whether `c` belongs with the character before it (a combining mark, a
/// joiner, a variation selector, an emoji modifier): kept in that
/// character's font when it has it.
fn continues_cluster(c: char) -> bool {
    matches!(c as u32, 0x200C | 0x200D | 0xFE00..=0xFE0F | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F)
        || (c >= '\u{0300}' && c.general_category_group() == GeneralCategoryGroup::Mark)
}

/// Ideographic and kana text: a line may break between any two of these
/// characters, which are written without spaces.
pub(super) fn is_ideographic(c: char) -> bool {
    matches!(
        c as u32,
        0x2E80..=0x2FFF
            | 0x3000..=0x303F
            | 0x3040..=0x30FF
            | 0x3100..=0x312F
            | 0x3190..=0x31FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFFEF
            | 0x20000..=0x3FFFF
    )
}

/// Whether a line may break between `before` and `after`, two characters
/// with no space between them: around ideographs and kana, except before
/// closing punctuation, small kana and the prolonged sound mark, and after
/// opening punctuation (the basic rules of Japanese and Chinese line
/// breaking).
pub(super) fn breaks_between(before: char, after: char) -> bool {
    if before < '\u{2E80}' && after < '\u{2E80}' {
        return false;
    }
    const NO_BREAK_BEFORE: &str = "、。，．：；？！）」』】〕〉》〗〙〛｝＞ー・ヽヾゝゞ々ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ)]},.:;?!%";
    const NO_BREAK_AFTER: &str = "（「『【〔〈《〖〘〚｛＜([{";
    (is_ideographic(before) || is_ideographic(after))
        && !NO_BREAK_BEFORE.contains(after)
        && !NO_BREAK_AFTER.contains(before)
}

// ---------------------------------------------------------------- a document's fonts

/// The fonts one document is laid out with: DejaVu first, then the faces
/// of the fallback directories, indexed on first need. A clone shares the
/// index (there is one per list of directories and process).
#[derive(Clone)]
pub(super) struct Fonts {
    dirs: Vec<PathBuf>,
    fallback: OnceLock<Arc<FallbackIndex>>,
}

impl Fonts {
    pub(super) fn new(dirs: &[PathBuf]) -> Self {
        Self {
            dirs: dirs.to_vec(),
            fallback: OnceLock::new(),
        }
    }

    fn fallback(&self) -> &FallbackIndex {
        self.fallback
            .get_or_init(|| FallbackIndex::for_dirs(&self.dirs))
    }

    /// Whether the fallback index was needed (tests: DejaVu-only text never
    /// reaches it).
    #[cfg(test)]
    pub(super) fn fallback_consulted(&self) -> bool {
        self.fallback.get().is_some()
    }

    /// The face a font reference draws with (DejaVu for placeholders).
    pub(super) fn face(&self, font: FontRef) -> &FontFace {
        match font.source {
            Source::Fallback(i) => self.fallback().face(i).unwrap_or_else(|| dejavu(font.face)),
            Source::Dejavu | Source::Missing => dejavu(font.face),
        }
    }

    /// `text` (one line, no line breaks) cut into runs of one font each,
    /// for the style `face`: each character in DejaVu when it has it, else
    /// in the first fallback face that has it, else [`Source::Missing`].
    /// Ignorable characters no chosen font has are left out.
    pub(super) fn runs<'t>(&self, text: &'t str, face: Face) -> Vec<(FontRef, &'t str)> {
        let primary = dejavu(face);
        // Every DejaVu face has printable ASCII.
        if text.bytes().all(|b| (0x20..0x7F).contains(&b))
            || text.chars().all(|c| !needs_shaping(c) && primary.covers(c))
        {
            return vec![(FontRef::dejavu(face), text)];
        }
        let mut runs = Vec::new();
        let mut current: Option<(Source, usize)> = None;
        for (at, c) in text.char_indices() {
            let continued = current.and_then(|(source, _)| {
                (source != Source::Missing
                    && continues_cluster(c)
                    && self.face(FontRef { face, source }).covers(c))
                .then_some(source)
            });
            let source = if continued.is_some() {
                continued
            } else if primary.covers(c) {
                Some(Source::Dejavu)
            } else if is_ignorable(c) {
                None
            } else {
                Some(
                    self.fallback()
                        .pick(c, face)
                        .map_or(Source::Missing, Source::Fallback),
                )
            };
            match (current, source) {
                (Some((open, _)), Some(next)) if open == next => {}
                (open, next) => {
                    if let Some((source, start)) = open {
                        runs.push((FontRef { face, source }, &text[start..at]));
                    }
                    current = next.map(|source| (source, at));
                }
            }
        }
        if let Some((source, start)) = current {
            runs.push((FontRef { face, source }, &text[start..]));
        }
        runs
    }

    /// Width of `text`, all in `font`, at `size` points: shaped when it
    /// needs to be.
    pub(super) fn measure(&self, font: FontRef, text: &str, size: f32) -> f32 {
        let face = self.face(font);
        if font.source == Source::Missing {
            return text.chars().count() as f32 * face.advance(PLACEHOLDER) * size;
        }
        if text_needs_shaping(text) {
            let rtl = text.chars().any(is_rtl);
            return face.shape(text, rtl).iter().map(|g| g.advance).sum::<f32>() * size;
        }
        face.width(text, size)
    }

    /// Width of `text` in the style `face`, whatever fonts it takes.
    pub(super) fn width(&self, text: &str, face: Face, size: f32) -> f32 {
        self.runs(text, face)
            .into_iter()
            .map(|(font, run)| self.measure(font, run, size))
            .sum()
    }

    /// Advance of one character of a run in `font`, at `size` points.
    pub(super) fn char_width(&self, font: FontRef, c: char, size: f32) -> f32 {
        let face = self.face(font);
        if font.source == Source::Missing {
            face.advance(PLACEHOLDER) * size
        } else {
            face.advance(c) * size
        }
    }

    /// The characters of `text` no font covers (ignorable ones aside).
    pub(super) fn uncovered(&self, text: &str) -> Vec<char> {
        let mut missing = Vec::new();
        for (font, run) in self.runs(text, Face::Regular) {
            if font.source == Source::Missing {
                missing.extend(run.chars());
            }
        }
        missing
    }
}

// ---------------------------------------------------------------- the fallback index

/// The faces found in a list of font directories and which characters
/// each covers: built once per list and process, on first need (a scan of
/// the files' table directories and character maps, not of their glyphs).
struct FallbackIndex {
    entries: Vec<Entry>,
    /// The face chosen for a character in a style, once chosen.
    choices: RwLock<HashMap<(char, Face), Option<u16>>>,
}

/// One face of a font file.
struct Entry {
    path: PathBuf,
    index: u32,
    family: String,
    bold: bool,
    italic: bool,
    mono: bool,
    /// Inclusive ranges of the code points the face maps, ascending.
    coverage: Vec<(u32, u32)>,
    /// The face, once loaded (`None`: it does not load).
    face: OnceLock<Option<Arc<FontFace>>>,
}

impl Entry {
    fn covers(&self, c: char) -> bool {
        let c = c as u32;
        let at = self.coverage.partition_point(|(_, last)| *last < c);
        self.coverage.get(at).is_some_and(|(first, _)| *first <= c)
    }

    /// How far the face is from what `face` asks for: sans serif over
    /// other designs (DejaVu Sans is the body font), then the same
    /// monospacing, weight and slant.
    fn distance(&self, face: Face) -> u8 {
        let (bold, italic, mono) = match face {
            Face::Regular => (false, false, false),
            Face::Bold => (true, false, false),
            Face::Italic => (false, true, false),
            Face::BoldItalic => (true, true, false),
            Face::Mono => (false, false, true),
        };
        let sans = self.family.contains("Sans") || self.family.contains("Gothic");
        u8::from(!sans) * 8
            + u8::from(self.mono != mono) * 4
            + u8::from(self.bold != bold) * 2
            + u8::from(self.italic != italic)
    }
}

/// The indexes built so far, each with its list of directories.
type Indexes = Vec<(Vec<PathBuf>, Arc<FallbackIndex>)>;
static INDEXES: LazyLock<Mutex<Indexes>> = LazyLock::new(Mutex::default);

/// Fallback faces loaded so far, per file and face (`None`: the face does
/// not load), shared by every index.
type LoadedFaces = HashMap<(PathBuf, u32), Option<Arc<FontFace>>>;
static LOADED: LazyLock<Mutex<LoadedFaces>> = LazyLock::new(Mutex::default);

/// The bytes of the font files faces were loaded from. Read once and kept
/// for the life of the process: the shaper borrows them for as long as a
/// face lives, and faces are kept once loaded.
static FILES: LazyLock<Mutex<HashMap<PathBuf, &'static [u8]>>> = LazyLock::new(Mutex::default);

/// Font files larger than this are left out (the largest CJK collections
/// are about 30 MB).
const MAX_FONT_FILE: u64 = 128 * 1024 * 1024;

impl FallbackIndex {
    fn for_dirs(dirs: &[PathBuf]) -> Arc<Self> {
        let mut indexes = INDEXES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, index)) = indexes.iter().find(|(d, _)| d == dirs) {
            return index.clone();
        }
        let index = Arc::new(Self::build(dirs));
        indexes.push((dirs.to_vec(), index.clone()));
        index
    }

    fn build(dirs: &[PathBuf]) -> Self {
        let started = Instant::now();
        let mut files = Vec::new();
        for dir in dirs {
            font_files(dir, 0, &mut files);
        }
        files.sort();
        files.dedup();
        let mut entries = Vec::new();
        for path in &files {
            if let Err(err) = index_file(path, &mut entries) {
                tracing::debug!(font.path = %path.display(), "Font file left out: {err}");
            }
        }
        // The order among equals: by family, then file and face.
        entries.sort_by(|a, b| (&a.family, &a.path, a.index).cmp(&(&b.family, &b.path, b.index)));
        entries.truncate(usize::from(u16::MAX));
        tracing::info!(
            fonts.dirs = ?dirs,
            fonts.faces = entries.len(),
            "Indexed {} fallback font faces in {} files for PDF documents in {} ms",
            entries.len(),
            files.len(),
            started.elapsed().as_millis()
        );
        Self {
            entries,
            choices: RwLock::default(),
        }
    }

    /// The face of entry `i`, loaded on first use.
    fn face(&self, i: u16) -> Option<&FontFace> {
        let entry = self.entries.get(usize::from(i))?;
        entry
            .face
            .get_or_init(|| {
                let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
                loaded
                    .entry((entry.path.clone(), entry.index))
                    .or_insert_with(|| load_face(&entry.path, entry.index).map(Arc::new))
                    .clone()
            })
            .as_deref()
    }

    /// The face for `c` in the style `face`: among the faces that cover it,
    /// the nearest to the style, the first in order among equals.
    fn pick(&self, c: char, face: Face) -> Option<u16> {
        if let Some(choice) = self
            .choices
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(c, face))
        {
            return *choice;
        }
        let mut candidates: Vec<(u8, usize)> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.covers(c))
            .map(|(i, entry)| (entry.distance(face), i))
            .collect();
        candidates.sort_unstable();
        let choice = candidates
            .into_iter()
            .filter_map(|(_, i)| u16::try_from(i).ok())
            .find(|i| self.face(*i).is_some_and(|f| f.covers(c)));
        self.choices
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((c, face), choice);
        choice
    }
}

fn load_face(path: &Path, index: u32) -> Option<FontFace> {
    let face = file_bytes(path).and_then(|bytes| FontFace::load(bytes, index));
    if face.is_none() {
        tracing::warn!(
            font.path = %path.display(),
            font.index = index,
            "Font face {index} of {} cannot be used in PDF documents; the next font covering its characters is used",
            path.display()
        );
    }
    face
}

fn file_bytes(path: &Path) -> Option<&'static [u8]> {
    let mut files = FILES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(bytes) = files.get(path) {
        return Some(bytes);
    }
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() as u64 > MAX_FONT_FILE {
        return None;
    }
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    files.insert(path.to_path_buf(), bytes);
    Some(bytes)
}

/// Font files under `dir`, following links, at most eight levels down.
fn font_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 8 {
        return;
    }
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    for item in listing.flatten() {
        let path = item.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            font_files(&path, depth + 1, out);
        } else if meta.is_file()
            && meta.len() <= MAX_FONT_FILE
            && path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                ["ttf", "otf", "ttc", "otc"].contains(&e.to_ascii_lowercase().as_str())
            })
        {
            out.push(path);
        }
    }
}

fn be32(bytes: &[u8]) -> u32 {
    bytes
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Add the faces of one font file to `entries`, reading only the table
/// directories and the `cmap`, `OS/2` and `name` tables.
fn index_file(path: &Path, entries: &mut Vec<Entry>) -> std::io::Result<()> {
    let mut file = File::open(path)?;
    let mut header = [0u8; 12];
    file.read_exact(&mut header)?;
    let offsets: Vec<u32> = if &header[..4] == b"ttcf" {
        let count = be32(&header[8..]).min(256) as usize;
        let mut table = vec![0u8; count * 4];
        file.read_exact(&mut table)?;
        table.chunks_exact(4).map(be32).collect()
    } else {
        vec![0]
    };
    for (index, offset) in (0u32..).zip(offsets) {
        if let Some(entry) = index_face(&mut file, path, index, offset)? {
            entries.push(entry);
        }
    }
    Ok(())
}

fn index_face(
    file: &mut File,
    path: &Path,
    index: u32,
    offset: u32,
) -> std::io::Result<Option<Entry>> {
    file.seek(SeekFrom::Start(u64::from(offset)))?;
    let mut head = [0u8; 12];
    file.read_exact(&mut head)?;
    let count = usize::from(u16::from_be_bytes([head[4], head[5]]));
    let mut records = vec![0u8; count * 16];
    file.read_exact(&mut records)?;
    let tables: HashMap<&[u8], (u32, u32)> = records
        .chunks_exact(16)
        .map(|r| (&r[..4], (be32(&r[8..]), be32(&r[12..]))))
        .collect();
    let has = |tag: &[u8]| tables.contains_key(tag);
    // Outlines a PDF can embed; colour bitmap fonts (emoji) have none.
    if !(has(b"glyf") || has(b"CFF ") || has(b"CFF2")) || has(b"CBDT") || has(b"sbix") {
        return Ok(None);
    }
    let mut read = |tag: &[u8]| -> std::io::Result<Option<Vec<u8>>> {
        let Some((at, length)) = tables.get(tag) else {
            return Ok(None);
        };
        if u64::from(*length) > MAX_FONT_FILE {
            return Ok(None);
        }
        file.seek(SeekFrom::Start(u64::from(*at)))?;
        let mut data = vec![0u8; *length as usize];
        file.read_exact(&mut data)?;
        Ok(Some(data))
    };
    let Some(cmap) = read(b"cmap")? else {
        return Ok(None);
    };
    let os2 = read(b"OS/2")?;
    let name = read(b"name")?;
    let Some(cmap) = ttf_parser::cmap::Table::parse(&cmap) else {
        return Ok(None);
    };
    let mut points = Vec::new();
    for subtable in cmap.subtables {
        if subtable.is_unicode() {
            subtable.codepoints(|c| {
                if subtable.glyph_index(c).is_some_and(|g| g.0 != 0) {
                    points.push(c);
                }
            });
        }
    }
    points.sort_unstable();
    points.dedup();
    let mut coverage: Vec<(u32, u32)> = Vec::new();
    for c in points {
        match coverage.last_mut() {
            Some((_, last)) if *last + 1 == c => *last = c,
            _ => coverage.push((c, c)),
        }
    }
    if coverage.is_empty() {
        return Ok(None);
    }
    let family = name
        .as_deref()
        .and_then(ttf_parser::name::Table::parse)
        .and_then(|names| family_name(&names))
        .unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let os2 = os2.as_deref().and_then(ttf_parser::os2::Table::parse);
    let bold = os2.is_some_and(|t| t.weight().to_number() >= 600);
    let italic = os2.is_some_and(|t| t.style() != ttf_parser::Style::Normal);
    Ok(Some(Entry {
        path: path.to_path_buf(),
        index,
        mono: family.contains("Mono"),
        family,
        bold,
        italic,
        coverage,
        face: OnceLock::new(),
    }))
}

/// The family a face belongs to: its typographic family when it has one
/// (weights beyond regular and bold are families of their own otherwise),
/// in English when it has that.
fn family_name(names: &ttf_parser::name::Table<'_>) -> Option<String> {
    use ttf_parser::name_id;
    for id in [name_id::TYPOGRAPHIC_FAMILY, name_id::FAMILY] {
        let mut found: Option<String> = None;
        for name in names.names {
            if name.name_id != id || !name.is_unicode() {
                continue;
            }
            if let Some(text) = name.to_string() {
                if name.language_id == 0x0409 {
                    return Some(text);
                }
                found.get_or_insert(text);
            }
        }
        if found.is_some() {
            return found;
        }
    }
    None
}
