//! CSV as spreadsheets read it: RFC 4180 (fields separated by commas,
//! records ended by CRLF, a field quoted when it holds a comma, a quote, CR
//! or LF, a quote inside doubled), UTF-8, a header row first. A text cell
//! that a spreadsheet would take for a formula (starting with `=`, `+`,
//! `-`, `@`, tab or CR) is prefixed with `'`: an exported title such as
//! `=HYPERLINK(…)` stays text (OWASP's "CSV injection"). Numbers and times
//! Debrief writes itself are never prefixed.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::services::stats::{DurationFigure, PeriodStats, SeverityCounts};

/// The characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One cell of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// Text a person wrote (or any text): quoted as needed and protected
    /// against formula injection.
    Text(&'a str),
    /// A number or a time Debrief formatted: written as it is.
    Value(String),
    /// Nothing: an empty field.
    Empty,
}

impl<'a> Cell<'a> {
    pub fn text(text: &'a str) -> Self {
        Cell::Text(text)
    }

    pub fn opt_text(text: Option<&'a str>) -> Self {
        text.map_or(Cell::Empty, Cell::Text)
    }

    pub fn number(n: impl ToString) -> Self {
        Cell::Value(n.to_string())
    }

    pub fn opt_number(n: Option<impl ToString>) -> Self {
        n.map_or(Cell::Empty, |n| Cell::Value(n.to_string()))
    }

    /// A time as RFC 3339 in UTC, to the second (`2026-11-20T09:40:00Z`).
    pub fn time(at: Option<DateTime<Utc>>) -> Self {
        at.map_or(Cell::Empty, |at| {
            Cell::Value(at.to_rfc3339_opts(SecondsFormat::Secs, true))
        })
    }

    pub fn date(day: Option<NaiveDate>) -> Self {
        day.map_or(Cell::Empty, |d| Cell::Value(d.to_string()))
    }

    pub fn boolean(value: bool) -> Self {
        Cell::Value(if value { "true" } else { "false" }.into())
    }
}

/// Append one record to `out`: the cells, then CRLF.
pub fn write_row(out: &mut Vec<u8>, cells: &[Cell<'_>]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match cell {
            Cell::Text(text) => write_text(out, text),
            // Debrief's own values hold no comma, quote or line break.
            Cell::Value(value) => out.extend_from_slice(value.as_bytes()),
            Cell::Empty => {}
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Append the header row.
pub fn write_header(out: &mut Vec<u8>, names: &[&str]) {
    let cells: Vec<Cell<'_>> = names.iter().map(|n| Cell::Text(n)).collect();
    write_row(out, &cells);
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    let guarded = text.starts_with(FORMULA_STARTS);
    let quoted = text.contains([',', '"', '\r', '\n']);
    if quoted {
        out.push(b'"');
    }
    if guarded {
        out.push(b'\'');
    }
    for part in text.split_inclusive('"') {
        out.extend_from_slice(part.as_bytes());
        if quoted && part.ends_with('"') {
            out.push(b'"');
        }
    }
    if quoted {
        out.push(b'"');
    }
}

/// The columns of `GET /api/v1/stats.csv`.
pub const STATS_HEADER: [&str; 5] = ["from", "to", "figure", "key", "value"];

/// The figures of a period in long form, one figure per row: `from`, `to`,
/// the figure (`incidents_opened`), what it is counted by (`sev1`, a
/// factor's id; empty when nothing) and its value. The lists of the JSON
/// (the period's incidents, overdue items …) are left out: the incident
/// and remediation exports have them.
pub fn stats_csv(stats: &PeriodStats) -> Vec<u8> {
    let mut out = Vec::new();
    write_header(&mut out, &STATS_HEADER);
    let from = stats.from.to_rfc3339_opts(SecondsFormat::Secs, true);
    let to = stats.to.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut row = |figure: &str, key: &str, value: Cell<'_>| {
        write_row(
            &mut out,
            &[
                Cell::Value(from.clone()),
                Cell::Value(to.clone()),
                Cell::Text(figure),
                Cell::opt_text(Some(key).filter(|k| !k.is_empty())),
                value,
            ],
        );
    };
    let by_severity = |counts: &SeverityCounts| {
        [
            ("sev1", counts.sev1),
            ("sev2", counts.sev2),
            ("sev3", counts.sev3),
            ("sev4", counts.sev4),
            ("total", counts.total),
        ]
    };
    for (figure, counts) in [
        ("incidents_opened", &stats.opened),
        ("incidents_resolved", &stats.resolved),
    ] {
        for (key, n) in by_severity(counts) {
            row(figure, key, Cell::number(n));
        }
    }
    let times: [(&str, &DurationFigure); 4] = [
        ("detect", &stats.response_times.detect),
        ("acknowledge", &stats.response_times.acknowledge),
        ("mitigate", &stats.response_times.mitigate),
        ("resolve", &stats.response_times.resolve),
    ];
    for (key, figure) in times {
        row("time_to_incidents", key, Cell::number(figure.count));
        row(
            "time_to_median_seconds",
            key,
            Cell::opt_number(figure.median_seconds),
        );
        row(
            "time_to_worst_seconds",
            key,
            Cell::opt_number(figure.worst_seconds),
        );
    }
    review_rows(stats, &mut row);
    for factor in &stats.contributing_factors {
        for (severity, n) in by_severity(&factor.incidents) {
            let figure = format!("contributing_factor_{severity}");
            row(&figure, &factor.factor, Cell::number(n));
        }
    }
    out
}

/// The rows of the post-mortem, remediation, cleanup and customer-update
/// figures.
fn review_rows(stats: &PeriodStats, row: &mut impl FnMut(&str, &str, Cell<'_>)) {
    let pm = &stats.postmortems;
    row("postmortems_due", "", Cell::number(pm.due));
    row("postmortems_published", "", Cell::number(pm.published));
    row("postmortems_overdue", "", Cell::number(pm.overdue));
    let r = &stats.remediations;
    row("remediations_opened", "", Cell::number(r.opened));
    row("remediations_closed", "", Cell::number(r.closed));
    row("remediations_overdue", "", Cell::number(r.overdue));
    row("remediations_due", "", Cell::number(r.due_in_period));
    row(
        "remediations_done_on_time",
        "",
        Cell::number(r.done_on_time),
    );
    row(
        "remediations_completion_rate",
        "",
        Cell::opt_number(r.completion_rate),
    );
    row(
        "cleanup_items_pending",
        "",
        Cell::number(stats.pending_cleanup.len()),
    );
    row(
        "incidents_with_late_customer_updates",
        "",
        Cell::number(stats.late_customer_updates.len()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(cells: &[Cell<'_>]) -> String {
        let mut out = Vec::new();
        write_row(&mut out, cells);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        assert_eq!(line(&[Cell::text("plain"), Cell::number(3)]), "plain,3\r\n");
        assert_eq!(line(&[Cell::text("a,b")]), "\"a,b\"\r\n");
        assert_eq!(line(&[Cell::text("say \"hi\"")]), "\"say \"\"hi\"\"\"\r\n");
        assert_eq!(line(&[Cell::text("two\nlines")]), "\"two\nlines\"\r\n");
        assert_eq!(line(&[Cell::text("cr\rhere")]), "\"cr\rhere\"\r\n");
        assert_eq!(
            line(&[Cell::Empty, Cell::text("x"), Cell::Empty]),
            ",x,\r\n"
        );
        assert_eq!(line(&[Cell::text("Zürich ✓ 東京")]), "Zürich ✓ 東京\r\n");
        assert_eq!(line(&[Cell::text("")]), "\r\n");
    }

    #[test]
    fn formula_starts_are_kept_as_text() {
        for (text, written) in [
            ("=1+2", "'=1+2\r\n"),
            ("+44 20", "'+44 20\r\n"),
            ("-rf", "'-rf\r\n"),
            ("@SUM(A1)", "'@SUM(A1)\r\n"),
            ("\tx", "'\tx\r\n"),
            ("\rx", "\"'\rx\"\r\n"),
            (
                "=HYPERLINK(\"http://x\",\"a\")",
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"a\"\")\"\r\n",
            ),
            ("a=b", "a=b\r\n"),
        ] {
            assert_eq!(line(&[Cell::text(text)]), written, "{text:?}");
        }
        // Debrief's own numbers are left alone.
        assert_eq!(line(&[Cell::number(-5)]), "-5\r\n");
    }
}
