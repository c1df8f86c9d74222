//! One font face: measured with its glyph advances, shaped with rustybuzz
//! (right-to-left and joining scripts), embedded by printpdf; and the five
//! embedded DejaVu faces of the text styles.

use std::sync::LazyLock;

use printpdf::ParsedFont;

use super::style::Face;

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
    /// Face `index` of a font file, if it parses.
    pub(super) fn load(bytes: &'static [u8], index: u32) -> Option<Self> {
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
