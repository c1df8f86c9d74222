//! The look of a PDF: the text styles (each a DejaVu face), the page
//! margins, type sizes and leading, and the colours.

use printpdf::{Color, Rgb};

/// The styles of text a document uses: each a DejaVu face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Face {
    Regular,
    Bold,
    Italic,
    BoldItalic,
    Mono,
}

impl Face {
    pub(super) fn index(self) -> usize {
        self as usize
    }

    /// This style in bold and/or italic (code stays monospaced).
    pub(super) fn with(self, bold: bool, italic: bool) -> Face {
        match (self, bold, italic) {
            (Face::Mono, _, _) => Face::Mono,
            (_, true, true) => Face::BoldItalic,
            (_, true, false) => Face::Bold,
            (_, false, true) => Face::Italic,
            (_, false, false) => Face::Regular,
        }
    }
}

/// Page margins, in points.
pub(super) const MARGIN_X: f32 = 56.0;
pub(super) const MARGIN_TOP: f32 = 62.0;
pub(super) const MARGIN_BOTTOM: f32 = 56.0;
/// Type sizes and the distance between baselines, in points.
pub(super) const BODY_SIZE: f32 = 10.0;
pub(super) const BODY_LEADING: f32 = 14.0;
pub(super) const TABLE_SIZE: f32 = 8.5;
pub(super) const TABLE_LEADING: f32 = 11.5;
pub(super) const CODE_SIZE: f32 = 8.5;
pub(super) const CODE_LEADING: f32 = 11.0;
/// Room inside a table cell, a list's indent, the gap after a paragraph.
pub(super) const CELL_PAD: f32 = 4.0;
pub(super) const LIST_INDENT: f32 = 16.0;
pub(super) const PARAGRAPH_GAP: f32 = 6.0;

/// A colour: red, green, blue from 0 to 1.
pub(super) type Rgb3 = [f32; 3];
pub(super) const INK: Rgb3 = [0.11, 0.12, 0.14];
pub(super) const GREY: Rgb3 = [0.42, 0.45, 0.50];
pub(super) const LINK: Rgb3 = [0.05, 0.33, 0.70];
pub(super) const CODE_INK: Rgb3 = [0.55, 0.10, 0.25];
pub(super) const RULE: Rgb3 = [0.80, 0.82, 0.85];
pub(super) const SHADE: Rgb3 = [0.95, 0.96, 0.97];
pub(super) const HEADER_SHADE: Rgb3 = [0.90, 0.92, 0.95];
pub(super) const MARKING: Rgb3 = [0.75, 0.08, 0.08];

/// The colour as printpdf takes it.
pub(super) fn color(c: Rgb3) -> Color {
    Color::Rgb(Rgb::new(c[0], c[1], c[2], None))
}
