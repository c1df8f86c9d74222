//! Tables: the cells as read (kept compactly: a table is held whole until
//! its column widths are known), the column widths, and the rows drawn,
//! split across pages under a repeated header.

use pulldown_cmark::Alignment;

use super::{Layout, draw::Placed};
use crate::reports::pdf::{
    fonts::Fonts,
    style::{
        CELL_PAD, Face, HEADER_SHADE, MARGIN_BOTTOM, MARGIN_TOP, PARAGRAPH_GAP, RULE, Rgb3,
        TABLE_LEADING, TABLE_SIZE,
    },
    wrap::{Line, Span, wrap},
};

/// A table being read.
#[derive(Debug, Default)]
pub(super) struct TableState {
    pub(super) alignments: Vec<Alignment>,
    pub(super) header: Vec<Vec<Span>>,
    pub(super) rows: TableRows,
    pub(super) in_header: bool,
    /// The header's cells, as read.
    pub(super) row: Vec<Vec<Span>>,
}

/// The body of a table as read. A table is held whole until its column
/// widths are known, and a long one (a 30,000-event timeline) is most of a
/// document: its cells are kept compactly, their text in one string, each
/// column's natural width measured as it is read.
#[derive(Debug, Default)]
pub(super) struct TableRows {
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
    pub(super) fn push_cell(&mut self, spans: &[Span], fonts: &Fonts) {
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

    /// End the row being read.
    pub(super) fn end_row(&mut self) {
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

/// A laid-out table cell.
struct CellLines {
    lines: Vec<Line>,
    x: f32,
    width: f32,
    align: Alignment,
}

/// Where the columns of a table are and how their cells align: lays out
/// each row as it is drawn.
struct Columns<'t> {
    left: f32,
    widths: Vec<f32>,
    alignments: &'t [Alignment],
    fonts: Fonts,
}

impl Columns<'_> {
    /// A row's cells, one for every column, wrapped to their columns'
    /// widths.
    fn lay_out(&self, cells: &[Vec<Span>]) -> Vec<CellLines> {
        let mut x = self.left;
        (0..self.widths.len())
            .map(|i| {
                let width = self.widths[i];
                let lines = match cells.get(i) {
                    Some(spans) if !spans.is_empty() => {
                        wrap(spans, TABLE_SIZE, width - 2.0 * CELL_PAD, &self.fonts)
                    }
                    _ => vec![Line::default()],
                };
                let cell = CellLines {
                    lines,
                    x,
                    width,
                    align: self.alignments.get(i).copied().unwrap_or(Alignment::None),
                };
                x += width;
                cell
            })
            .collect()
    }
}

impl Layout<'_> {
    /// Draw a table: column widths from the cells' natural widths, the
    /// header on the page of the first row and repeated on every page the
    /// table continues on, rows laid out one at a time as they are drawn.
    pub(super) fn draw_table(&mut self, table: TableState) {
        let columns = table.rows.columns.max(table.header.len());
        if columns == 0 {
            return;
        }
        let total = self.text_width();
        let header: Vec<Vec<Span>> = table
            .header
            .iter()
            .map(|cell| cell.iter().cloned().map(Span::in_bold).collect())
            .collect();
        // Rows are laid out one at a time as they are drawn (a long table
        // is not held laid out whole), with a handle on the same fonts.
        let columns = Columns {
            left: self.left(),
            widths: column_widths(&header, &table.rows.natural, columns, total, &self.fonts),
            alignments: &table.alignments,
            fonts: self.fonts.clone(),
        };
        let header_cells = (!header.is_empty()).then(|| columns.lay_out(&header));
        let mut rows = table.rows.iter().map(|row| columns.lay_out(&row));
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

    /// Draw a row (shaded when it is the header) and the rule under it.
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
}

/// The height of a row: its tallest cell's lines and the padding.
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
