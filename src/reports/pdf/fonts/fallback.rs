//! The fallback faces: the font files found in a list of directories,
//! indexed once per list and process by the characters each face covers
//! (read from their table directories and character maps, not their
//! glyphs), and the face picked for a character in a style, loaded on
//! first use.

use std::{
    collections::HashMap,
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError, RwLock},
    time::Instant,
};

use rustybuzz::ttf_parser;

use crate::reports::pdf::{face::FontFace, style::Face};

/// The faces found in a list of font directories and which characters
/// each covers: built once per list and process, on first need (a scan of
/// the files' table directories and character maps, not of their glyphs).
pub(super) struct FallbackIndex {
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
    /// The index of `dirs`, built on first need.
    pub(super) fn for_dirs(dirs: &[PathBuf]) -> Arc<Self> {
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
    pub(super) fn face(&self, i: u16) -> Option<&FontFace> {
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
    pub(super) fn pick(&self, c: char, face: Face) -> Option<u16> {
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

/// The entry of the face at `offset` of a font file: `None` when it has no
/// outlines a PDF can embed or maps no character.
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
    let coverage = coverage(&cmap);
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

/// The code points a character map maps to a glyph, as inclusive ranges,
/// ascending.
fn coverage(cmap: &ttf_parser::cmap::Table<'_>) -> Vec<(u32, u32)> {
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
    coverage
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
