//! What a caller of the PDF layout sets (paper, title, marking, images,
//! fallback font directories) and the errors it can get back.

use std::{collections::BTreeMap, path::PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::fonts::SYSTEM_FONT_DIRS;

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
