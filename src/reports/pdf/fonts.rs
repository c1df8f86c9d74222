//! Fonts of the PDF layout: which font draws each character of a text —
//! the embedded DejaVu face of its style (`face.rs`), else a fallback face
//! found in the configured font directories for the characters DejaVu lacks
//! (CJK, emoji, the scripts of India …; indexed in `fonts/fallback.rs`) —
//! and which text needs shaping, with rustybuzz (right-to-left and joining
//! scripts), and where a line may break.
//!
//! Text that DejaVu covers in a script drawn one glyph per character
//! (Latin, Greek, Cyrillic …) takes the simple path it always took: advances
//! from the font's metrics, no shaping, and the fallback index is never
//! built.

mod fallback;

use std::{
    path::PathBuf,
    sync::{Arc, OnceLock},
};

use fallback::FallbackIndex;
use unicode_bidi::BidiClass;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use super::{
    face::{FontFace, dejavu},
    style::Face,
};

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
