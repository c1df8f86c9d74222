//! Tests of the PDF layout: documents rendered whole and read back (with
//! lopdf, and with `pdftotext` where poppler-utils is installed), and the
//! line breaking, right-to-left text, fallback fonts, page breaks and
//! serialisation in runs they rely on.

use printpdf::{PdfDocument, PdfSaveOptions};

use super::{
    PaperSize, PdfOptions,
    face::dejavu,
    fonts::{self, FontRef, Fonts},
    lay_out,
    layout::Layout,
    render_pdf,
    serialise::{FILE_ID_PLACEHOLDER, hex_upper, serialise},
    style::{Face, INK, MARGIN_X},
    system_font_dirs, uncovered_characters,
    wrap::{Span, wrap},
};

fn options() -> PdfOptions {
    let mut options = PdfOptions::new(
        "INC-7 Checkout outage",
        "2026-11-20T10:00:00Z".parse().unwrap(),
    );
    options.subject = "Post-mortem".into();
    options.marking = Some("INTERNAL".into());
    options
}

/// Text of each page, extracted with lopdf.
fn pages_text(pdf: &[u8]) -> Vec<String> {
    let doc = lopdf::Document::load_mem(pdf).expect("the PDF parses");
    doc.get_pages()
        .keys()
        .map(|n| doc.extract_text(&[*n]).expect("text extracts"))
        .collect()
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn wrap_respects_the_width_and_cuts_overlong_words() {
    let span = Span {
        text: format!("short words then {} end", "x".repeat(300)),
        face: Face::Regular,
        color: INK,
        link: None,
    };
    let fonts = Fonts::new(&[]);
    let lines = wrap(std::slice::from_ref(&span), 10.0, 200.0, &fonts);
    assert!(lines.len() > 3, "the long word spans several lines");
    for line in &lines {
        assert!(line.width <= 200.0 + 0.01, "line too wide: {}", line.width);
    }
    let joined: String = lines
        .iter()
        .flat_map(|l| l.frags.iter().map(|f| f.text.clone()))
        .collect();
    assert_eq!(joined.matches('x').count(), 300, "no character lost");
}

#[test]
fn widths_come_from_the_glyph_metrics() {
    let regular = dejavu(Face::Regular);
    assert!(regular.width("WWWW", 10.0) > regular.width("iiii", 10.0) * 2.0);
    let mono = dejavu(Face::Mono);
    assert!((mono.width("WWWW", 10.0) - mono.width("iiii", 10.0)).abs() < 0.01);
}

#[test]
fn a_document_with_every_block_renders_text_in_order() {
    let markdown = "# Title of the report\n\nA paragraph with **bold**, *italic*, `code` and a [link](https://example.com/x).\n\n## Lists\n\n- first bullet\n- second bullet\n  1. nested one\n  2. nested two\n\n| Time | Event |\n|---|---|\n| 10:00 | Alpha row |\n| 10:05 | Beta row |\n\n```\nfn main() {}\n```\n\n> quoted text\n\n---\n\nÜmlaut ✓ Ελληνικά Кириллица\n";
    let pdf = render_pdf(markdown, &options()).unwrap();
    let text = squash(&pages_text(&pdf).join("\n"));
    let expected = [
        "Title of the report",
        "bold",
        "italic",
        "code",
        "link",
        "first bullet",
        "nested two",
        "Time",
        "Alpha row",
        "Beta row",
        "fn main() {}",
        "quoted text",
        "Ümlaut ✓ Ελληνικά Кириллица",
    ];
    let mut at = 0;
    for needle in expected {
        let found = text[at..]
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` missing after {at} in {text}"));
        at += found;
    }
    assert!(text.contains("INTERNAL"));
    assert!(text.contains("INC-7 Checkout outage"));
    assert!(text.contains("Page 1 of 1"));
    let raw = String::from_utf8_lossy(&pdf);
    assert!(
        raw.contains("https://example.com/x"),
        "the link is clickable"
    );
}

#[test]
fn long_tables_break_pages_and_repeat_their_header() {
    let mut markdown = String::from("| When | What happened |\n|---|---|\n");
    for i in 0..400 {
        markdown.push_str(&format!("| 10:{i:03} | Event number {i} |\n"));
    }
    let pdf = render_pdf(&markdown, &options()).unwrap();
    let pages = pages_text(&pdf);
    assert!(pages.len() > 3, "{} pages", pages.len());
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.contains("What happened"),
            "page {} lacks the header",
            i + 1
        );
        assert!(page.contains(&format!("Page {} of {}", i + 1, pages.len())));
        assert!(page.contains("INTERNAL"));
    }
    let all = squash(&pages.join("\n"));
    let mut at = 0;
    for i in 0..400 {
        let needle = format!("Event number {i}");
        at += all[at..]
            .find(&needle)
            .unwrap_or_else(|| panic!("{needle} missing"));
    }
}

/// The decompressed content stream of every page.
fn page_contents(doc: &lopdf::Document) -> Vec<Vec<u8>> {
    doc.get_pages()
        .values()
        .map(|page| doc.get_page_content(*page))
        .collect()
}

/// The font names (subset tag and face) of the fonts embedded.
fn subsets(doc: &lopdf::Document) -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok()?.get(b"FontName").ok()?.as_name().ok())
        .map(<[u8]>::to_vec)
        .collect();
    names.sort();
    names
}

#[test]
fn a_document_serialised_in_runs_of_pages_is_the_same_document() {
    let mut markdown = String::from("# Timeline\n\n| When | What happened |\n|---|---|\n");
    for i in 0..300 {
        markdown.push_str(&format!(
            "| 10:{i:03} | **Event** number {i} `mono` [link](https://example.com/{i}) |\n"
        ));
    }
    let laid_out = lay_out(&markdown, &options(), false).unwrap();
    let render = |pages_per_run: usize| {
        let pdf = serialise(
            &laid_out.doc,
            &laid_out.pages,
            laid_out.page_size,
            pages_per_run,
        )
        .unwrap();
        (lopdf::Document::load_mem(&pdf).unwrap(), pdf)
    };
    let (whole, whole_bytes) = render(usize::MAX);
    let (joined, joined_bytes) = render(2);
    assert!(
        whole.get_pages().len() >= 6,
        "{} pages",
        whole.get_pages().len()
    );
    assert_eq!(
        pages_text(&joined_bytes),
        pages_text(&whole_bytes),
        "same text on the same pages"
    );
    assert!(
        page_contents(&joined) == page_contents(&whole),
        "the same content streams"
    );
    // And what printpdf writes for the whole document at once.
    let mut printpdf_doc = laid_out.doc.clone();
    printpdf_doc.with_pages(
        laid_out
            .pages
            .iter()
            .map(|page| page.to_page(laid_out.page_size))
            .collect(),
    );
    let printpdf = printpdf_doc.to_lopdf_document(&PdfSaveOptions::default(), &mut Vec::new());
    assert!(
        page_contents(&printpdf) == page_contents(&joined),
        "the content streams printpdf writes"
    );
    assert_eq!(
        subsets(&joined).len(),
        3,
        "one regular, bold and mono subset"
    );
    assert_eq!(subsets(&joined), subsets(&whole));
    assert_joined_whole(&joined, whole.get_pages().len());
}

/// A document joined from runs of pages is whole: one page tree that
/// counts all `pages`, every page with its links, a trailer that counts the
/// objects and an information dictionary with the title.
fn assert_joined_whole(joined: &lopdf::Document, pages: usize) {
    let tree = joined
        .catalog()
        .unwrap()
        .get(b"Pages")
        .unwrap()
        .as_reference()
        .unwrap();
    let count = joined.get_dictionary(tree).unwrap().get(b"Count").unwrap();
    assert_eq!(count.as_i64().unwrap(), pages as i64);
    for page in joined.get_pages().values() {
        let page = joined.get_dictionary(*page).unwrap();
        let parent = page.get(b"Parent").unwrap();
        assert_eq!(parent.as_reference().unwrap(), tree, "one page tree");
        let links = page.get(b"Annots").unwrap().as_array().unwrap();
        assert!(!links.is_empty(), "the links are kept");
    }
    let highest = joined.objects.keys().next_back().unwrap().0;
    let size = joined.trailer.get(b"Size").unwrap().as_i64().unwrap();
    assert_eq!(
        size,
        i64::from(highest) + 1,
        "the trailer counts the objects"
    );
    let info = joined.trailer.get(b"Info").unwrap().as_reference().unwrap();
    let title = joined.get_dictionary(info).unwrap().get(b"Title").unwrap();
    assert!(matches!(title, lopdf::Object::String(..)));
}

#[test]
fn overlong_cells_and_sections_render() {
    let word = "y".repeat(300);
    let long_section = "word ".repeat(5000);
    let markdown =
        format!("| A | B |\n|---|---|\n| {word} | short |\n\n{long_section}\n\n```\n{word}\n```\n");
    let pdf = render_pdf(&markdown, &options()).unwrap();
    let pages = pages_text(&pdf);
    assert!(pages.len() >= 5);
    let all: String = pages.concat();
    assert!(
        all.matches('y').count() >= 600,
        "the long word is all there"
    );
}

#[test]
fn metadata_and_letter_paper() {
    let mut options = options();
    options.paper = PaperSize::Letter;
    let pdf = render_pdf("Hello", &options).unwrap();
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    let page = doc.get_pages()[&1];
    let media_box = doc
        .get_dictionary(page)
        .unwrap()
        .get(b"MediaBox")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_float().unwrap())
        .collect::<Vec<_>>();
    assert!((media_box[2] - 612.0).abs() < 1.0, "{media_box:?}");
    assert!((media_box[3] - 792.0).abs() < 1.0, "{media_box:?}");
    let raw = String::from_utf8_lossy(&pdf);
    assert!(raw.contains("/CreationDate"), "has a creation date");
    assert!(raw.contains("D:20261120"), "creation date is the given one");
}

#[test]
fn images_are_embedded_and_bad_ones_refused() {
    let png = tiny_png();
    let mut options = options();
    options.images.insert("chart.png".into(), png);
    let pdf = render_pdf("Before\n\n![Trend](chart.png)\n\nAfter", &options).unwrap();
    let raw = String::from_utf8_lossy(&pdf);
    assert!(raw.contains("/Subtype /Image") || raw.contains("/Subtype/Image"));
    let text = pages_text(&pdf).concat();
    assert!(text.contains("Before") && text.contains("After"));

    let missing = render_pdf("![Gone](nope.png)", &options).unwrap();
    assert!(pages_text(&missing).concat().contains("[image: Gone]"));

    options
        .images
        .insert("bad.png".into(), b"not a png".to_vec());
    let err = render_pdf("![Bad](bad.png)", &options).unwrap_err();
    assert!(err.to_string().contains("bad.png"));
}

#[test]
fn the_same_document_gives_the_same_bytes() {
    let mut options = options();
    options.images.insert("chart.png".into(), tiny_png());
    let mut markdown = String::from(
        "# Title\n\n**Bold**, *italic*, ***both***, `mono` and a [link](https://example.com/x).\n\n![Trend](chart.png)\n\n| When | What |\n|---|---|\n",
    );
    // Long enough to be serialised in runs of pages, joined.
    for i in 0..300 {
        markdown.push_str(&format!("| 10:{:02} | event {i} |\n", i % 60));
    }
    let first = render_pdf(&markdown, &options).unwrap();
    let second = render_pdf(&markdown, &options).unwrap();
    assert!(first == second, "two renders differ");
    let raw = String::from_utf8_lossy(&first);
    assert!(raw.contains("/ID"), "the file has an identifier");
    assert!(
        !raw.contains(&hex_upper(FILE_ID_PLACEHOLDER)),
        "the identifier is made from the content"
    );
    options.title.push_str(" (changed)");
    let changed = render_pdf(&markdown, &options).unwrap();
    assert!(changed != first);
}

const CJK: &str = "決済システムの障害";
const EMOJI: &str = "🔥";
const HEBREW: &str = "שלום עולם";
const ARABIC: &str = "مرحبا بالعالم";

/// The text `pdftotext` extracts from a PDF (physical layout off, the
/// default reading order), without the direction marks it wraps
/// right-to-left words in; `None` when poppler-utils is not installed.
fn pdftotext(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("document.pdf");
    std::fs::write(&path, pdf).unwrap();
    let output = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .ok()?;
    assert!(output.status.success(), "pdftotext fails on the PDF");
    let text = String::from_utf8(output.stdout).expect("pdftotext writes UTF-8");
    Some(
        text.chars()
            .filter(|c| !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
            .collect(),
    )
}

fn scripts_markdown() -> String {
    format!(
        "# {CJK}\n\nStatus: {EMOJI} on fire since 10:02.\n\n{HEBREW}\n\n{ARABIC}\n\n\
         A sentence with {HEBREW} inside, then {ARABIC} too.\n\n\
         | Script | Text |\n|---|---|\n| Japanese | {CJK} |\n| Hebrew | {HEBREW} |\n\
         | Arabic | {ARABIC} |\n| Emoji | {EMOJI} |\n\n```\nlet s = \"{CJK}\";\n```\n"
    )
}

#[test]
fn every_script_comes_back_in_reading_order() {
    let missing = uncovered_characters(&scripts_markdown(), &system_font_dirs());
    if !missing.is_empty() {
        eprintln!(
            "skipped: no installed font covers {missing:?}; install fonts-noto-cjk, \
             fonts-noto-core and fonts-symbola (.ci/run does)"
        );
        return;
    }
    let laid_out = lay_out(&scripts_markdown(), &options(), true).unwrap();
    assert!(laid_out.missing.is_empty(), "{:?}", laid_out.missing);
    for needle in [CJK, EMOJI, HEBREW, ARABIC] {
        assert!(laid_out.text.contains(needle), "{needle} in the drawn text");
    }
    let pdf = render_pdf(&scripts_markdown(), &options()).unwrap();
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    let fonts: Vec<String> = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok()?.get(b"FontName").ok()?.as_name().ok())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    assert!(
        fonts.iter().any(|f| f.contains("CJK")),
        "a CJK font is embedded: {fonts:?}"
    );
    assert!(
        fonts.iter().any(|f| f.contains("Symbola")),
        "a monochrome emoji font is embedded: {fonts:?}"
    );
    let Some(text) = pdftotext(&pdf) else {
        eprintln!("skipped the extraction: pdftotext (poppler-utils) is not installed");
        return;
    };
    for needle in [CJK, EMOJI, HEBREW, ARABIC] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(text.matches(CJK).count() >= 3, "title, cell, code:\n{text}");
    assert!(text.contains(&format!("Status: {EMOJI} on fire")), "{text}");
    assert!(!text.contains('\u{FFFD}'), "{text}");
}

#[test]
fn hebrew_and_arabic_are_laid_out_right_to_left_and_shaped() {
    // DejaVu has Hebrew and Arabic: no fallback font is involved.
    let fonts = Fonts::new(&[]);
    let span = |text: &str| Span {
        text: text.to_string(),
        face: Face::Regular,
        color: INK,
        link: None,
    };
    let lines = wrap(&[span(HEBREW)], 10.0, 400.0, &fonts);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].rtl, "a Hebrew paragraph is right to left");
    assert!(lines[0].frags.iter().all(|f| f.rtl));
    let glyphs = dejavu(Face::Regular).shape(HEBREW, true);
    let nominal = |c: char| dejavu(Face::Regular).glyph(c).unwrap();
    assert_eq!(
        glyphs[0].gid,
        nominal('ם'),
        "the last letter is drawn leftmost"
    );
    assert_eq!(glyphs.last().unwrap().gid, nominal('ש'));
    let read: String = glyphs.iter().rev().map(|g| g.text.as_str()).collect();
    assert_eq!(read, HEBREW, "each glyph stands for its letter");

    // Arabic letters take their joined forms: few glyphs are the
    // isolated letters the character map gives.
    let glyphs = dejavu(Face::Regular).shape(ARABIC, true);
    let isolated = glyphs
        .iter()
        .zip(ARABIC.chars().rev())
        .filter(|(g, c)| g.gid == nominal(*c))
        .count();
    assert!(
        isolated <= 3,
        "{isolated} of {} glyphs unjoined",
        glyphs.len()
    );
    let read: String = glyphs.iter().rev().map(|g| g.text.as_str()).collect();
    assert_eq!(read, ARABIC);

    // In a left-to-right paragraph, the right-to-left words are
    // reversed in place and the rest keeps its order.
    let lines = wrap(
        &[span(&format!("Then {HEBREW} said hi"))],
        10.0,
        400.0,
        &fonts,
    );
    let line = &lines[0];
    assert!(!line.rtl);
    let texts: Vec<(&str, bool)> = line
        .frags
        .iter()
        .map(|f| (f.text.as_str(), f.rtl))
        .collect();
    assert_eq!(
        texts,
        [("Then ", false), (HEBREW, true), (" said hi", false)]
    );
    for pair in line.frags.windows(2) {
        assert!(
            (pair[0].x + pair[0].width - pair[1].x).abs() < 0.01,
            "{pair:?}"
        );
    }

    // The extracted text reads in logical order, with DejaVu alone.
    let mut options = options();
    options.font_dirs = Vec::new();
    let markdown =
        format!("{HEBREW}\n\n{ARABIC}\n\n| A | B |\n|---|---|\n| {ARABIC} | {HEBREW} (1) |\n");
    let pdf = render_pdf(&markdown, &options).unwrap();
    if let Some(text) = pdftotext(&pdf) {
        assert!(text.contains(HEBREW), "{text}");
        assert!(text.contains(ARABIC), "{text}");
    } else {
        eprintln!("skipped the extraction: pdftotext (poppler-utils) is not installed");
    }
}

#[test]
fn characters_no_font_covers_are_drawn_as_placeholders_and_counted() {
    let mut options = options();
    options.font_dirs = Vec::new();
    // A tag character (default ignorable, in no font here) is not drawn.
    let markdown = format!("Before {CJK} {EMOJI} after\u{E007F}.");
    let laid_out = lay_out(&markdown, &options, true).unwrap();
    let count: usize = laid_out.missing.values().sum();
    assert_eq!(count, CJK.chars().count() + 1, "{:?}", laid_out.missing);
    assert_eq!(laid_out.missing.get(&'🔥'), Some(&1));
    let placeholders = "\u{FFFD}".repeat(CJK.chars().count());
    assert!(
        laid_out
            .text
            .contains(&format!("Before {placeholders} \u{FFFD} after.")),
        "{}",
        laid_out.text
    );
    let pdf = render_pdf(&markdown, &options).unwrap();
    let text = pages_text(&pdf).concat();
    assert_eq!(text.matches('\u{FFFD}').count(), count, "{text}");
    assert_eq!(
        uncovered_characters(&markdown, &[]),
        CJK.chars()
            .chain([EMOJI.chars().next().unwrap()])
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
}

#[test]
fn dejavu_text_takes_the_simple_path() {
    let fonts = Fonts::new(&system_font_dirs());
    for (text, face) in [
        (
            "Plain text, punctuation — and “quotes” ✓ → €",
            Face::Regular,
        ),
        ("Ümlaut Ελληνικά Кириллица", Face::Bold),
        ("fn main() { println!(\"{x:?}\"); }", Face::Mono),
    ] {
        let runs = fonts.runs(text, face);
        assert_eq!(runs, [(FontRef::dejavu(face), text)]);
        assert!(!text.chars().any(fonts::needs_shaping));
        let span = Span {
            text: text.to_string(),
            face,
            color: INK,
            link: None,
        };
        for line in wrap(&[span], 10.0, 120.0, &fonts) {
            assert!(
                line.frags
                    .iter()
                    .all(|f| !f.rtl && f.font == FontRef::dejavu(face))
            );
        }
    }
    assert!(
        !fonts.fallback_consulted(),
        "the fallback fonts are never indexed for DejaVu text"
    );
}

#[test]
fn cjk_text_breaks_between_ideographs() {
    let fonts = Fonts::new(&system_font_dirs());
    let span = Span {
        text: format!("Impact: {}", CJK.repeat(12)),
        face: Face::Regular,
        color: INK,
        link: None,
    };
    let lines = wrap(&[span], 10.0, 200.0, &fonts);
    assert!(lines.len() > 2);
    assert!(
        lines[0].frags[0].text.starts_with("Impact: "),
        "the ideographs start on the first line: {:?}",
        lines[0].frags
    );
    for line in &lines {
        assert!(line.width <= 200.0 + 0.01, "{}", line.width);
    }
    let joined: String = lines
        .iter()
        .flat_map(|l| l.frags.iter().map(|f| f.text.as_str()))
        .collect();
    assert_eq!(joined, format!("Impact: {}", CJK.repeat(12)));
    assert!(
        !fonts::breaks_between('決', '。'),
        "no break before a full stop"
    );
    assert!(
        !fonts::breaks_between('「', '決'),
        "nor after an opening bracket"
    );
}

/// The number of the first page whose text contains `needle`.
fn page_of(pages: &[String], needle: &str) -> usize {
    pages
        .iter()
        .position(|p| squash(p).contains(needle))
        .unwrap_or_else(|| panic!("{needle} on no page"))
        + 1
}

#[test]
fn headings_stay_with_what_follows_them() {
    let followers = [
        "| When | What |\n|---|---|\n| 10:00 | Follower row with a long text that wraps over several lines of the table cell, as timeline entries do, and then some more words to make it three lines at least |\n",
        "Follower paragraph.\n",
        "```\nFollower code\n```\n",
        "- Follower item\n",
    ];
    for follower in followers {
        let mut moved = 0;
        for filler in 30..75 {
            let mut markdown = String::new();
            for i in 0..filler {
                markdown.push_str(&format!("Filler paragraph {i}.\n\n"));
            }
            markdown.push_str("## Section heading\n\n");
            markdown.push_str(follower);
            let pdf = render_pdf(&markdown, &options()).unwrap();
            let pages = pages_text(&pdf);
            let heading = page_of(&pages, "Section heading");
            assert_eq!(
                heading,
                page_of(&pages, "Follower"),
                "with {filler} paragraphs the heading is alone at the bottom of page {heading}"
            );
            if heading > 1 && !squash(&pages[heading - 1]).contains("Filler") {
                moved += 1;
            }
        }
        assert!(
            moved > 0,
            "no filler length puts the heading at a page break"
        );
    }
}

#[test]
fn table_headers_stay_with_the_first_row_and_repeat() {
    for filler in 30..75 {
        let mut markdown = String::new();
        for i in 0..filler {
            markdown.push_str(&format!("Filler paragraph {i}.\n\n"));
        }
        markdown.push_str("| When | What happened |\n|---|---|\n");
        markdown.push_str("| 10:00 | First row with a long text that wraps over several lines of the table cell, as timeline entries do, and then some more words to make it three lines at least |\n");
        for i in 0..80 {
            markdown.push_str(&format!("| 10:{i:02} | Event number {i} |\n"));
        }
        let pdf = render_pdf(&markdown, &options()).unwrap();
        let pages = pages_text(&pdf);
        let header = page_of(&pages, "What happened");
        assert_eq!(
            header,
            page_of(&pages, "First row"),
            "with {filler} paragraphs"
        );
        let last = page_of(&pages, "Event number 79");
        for page in header..=last {
            assert!(
                pages[page - 1].contains("What happened"),
                "page {page} of the table repeats its header"
            );
        }
    }
}

#[test]
fn a_long_title_is_shortened_before_the_marking() {
    let titles = [
        "INC-1 post-mortem: Cloudflare global 502 outage caused by a WAF rule regular expression (July 2, 2019)".to_string(),
        format!("INC-2 post-mortem: {}", CJK.repeat(8)),
        format!("INC-3 post-mortem: {}", HEBREW.repeat(10)),
        "INC-4 Short title".to_string(),
    ];
    for title in titles {
        let mut options = options();
        options.title = title.clone();
        let mut doc = PdfDocument::new(&title);
        let layout = Layout::new(&options, &mut doc);
        let header = layout.header();
        let marking = header.marking.as_ref().expect("a marking");
        let room = layout.page_width - 2.0 * MARGIN_X - marking.width - 16.0;
        assert!(
            header.title.width <= room + 0.01,
            "{title}: the title reaches the marking"
        );
        let shown: String = header.title.frags.iter().map(|f| f.text.as_str()).collect();
        if title.starts_with("INC-4") {
            assert_eq!(shown, title);
        } else {
            assert!(
                shown.ends_with('…') || shown.starts_with('…'),
                "{title}: {shown}"
            );
            assert!(header.title.width > room * 0.8, "{title}: cut short");
        }
    }
}

/// A 4×2 RGB PNG.
fn tiny_png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 4, 2);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&[200u8; 4 * 2 * 3]).unwrap();
    writer.finish().unwrap();
    out
}
