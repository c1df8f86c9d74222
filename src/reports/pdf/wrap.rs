//! Inline text into lines: spans of one look broken into lines of a
//! width, measured with the fonts' real advances (at spaces, between
//! ideographs, inside a word only when it is wider than a line), put in
//! visual order with the Bidirectional Algorithm; one-line texts shortened
//! to fit; code broken by characters.

use super::{
    fonts::{self, FontRef, Fonts},
    style::{Face, INK, Rgb3},
};

/// A run of inline text with one look.
#[derive(Debug, Clone)]
pub(super) struct Span {
    pub(super) text: String,
    pub(super) face: Face,
    pub(super) color: Rgb3,
    pub(super) link: Option<String>,
}

impl Span {
    /// The span as headings and table headers set it: bold, unless it is
    /// code.
    pub(super) fn in_bold(mut self) -> Self {
        if self.face != Face::Mono {
            self.face = Face::Bold;
        }
        self
    }
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
pub(super) struct Frag {
    pub(super) x: f32,
    pub(super) text: String,
    pub(super) font: FontRef,
    pub(super) color: Rgb3,
    pub(super) link: Option<String>,
    pub(super) width: f32,
    /// Right to left: shaped as such, its glyphs drawn in visual order.
    pub(super) rtl: bool,
    /// Where the piece starts in the line's text in reading order (pieces
    /// of a right-to-left run are placed in the reverse order).
    pub(super) order: usize,
}

/// One laid-out line; `x` of each fragment is relative to the line start,
/// the fragments in visual order (left to right).
#[derive(Debug, Clone, Default)]
pub(super) struct Line {
    pub(super) frags: Vec<Frag>,
    pub(super) width: f32,
    /// The paragraph is written right to left: the line is set flush right.
    pub(super) rtl: bool,
}

/// Break spans into lines no wider than `width` at `size` points: at spaces,
/// between ideographs, and inside a word only when the word alone is wider
/// than a line. Each line is then put in visual order.
pub(super) fn wrap(spans: &[Span], size: f32, width: f32, fonts: &Fonts) -> Vec<Line> {
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
pub(super) fn one_line(text: &str, face: Face, color: Rgb3, size: f32, fonts: &Fonts) -> Line {
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

/// The state of [`wrap`]: the lines done, the line and the word being
/// filled.
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

/// `text`, shortened with an ellipsis to fit `width` points when it does
/// not.
pub(super) fn truncate_to_width(
    text: &str,
    face: Face,
    size: f32,
    width: f32,
    fonts: &Fonts,
) -> String {
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
pub(super) fn wrap_code(text: &str, size: f32, width: f32, fonts: &Fonts) -> Vec<Line> {
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
