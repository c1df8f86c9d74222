//! Internal post-mortem documents of incidents with 1,000 and 10,000
//! timeline events: Markdown (template) and PDF (layout), timed and with the
//! peak RSS of a process that renders one size, compared in the same run
//! with `typst compile` of an equivalent document (the `typst` wheel from
//! PyPI, installed into `target/typst-venv` by this benchmark, one fresh
//! process per compile as the `typst compile` command).
//!
//! Run: `cargo bench --bench documents`. Targets: 1,000 events to PDF under
//! 30 ms, 10,000 under 300 ms, peak RSS under 150 MB, at least 20× faster
//! than typst.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use chrono::{TimeZone, Utc};
use debrief::reports::{
    Figure, PostmortemDocument, SectionBlock, Templates, TimelineRow, Variant,
    markdown::render_postmortem,
    pdf::{PdfOptions, render_pdf},
};

const SIZES: [usize; 2] = [1_000, 10_000];
const KINDS: [&str; 5] = ["detection", "action", "communication", "mitigation", "note"];
const AUTHORS: [&str; 4] = ["Ana Lima", "Ben Okafor", "Chen Wei", "Debrief"];

fn document(events: usize) -> PostmortemDocument {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    let timeline = (0..events)
        .map(|i| TimelineRow {
            at: (start + chrono::TimeDelta::seconds(i as i64 * 7))
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
            kind: KINDS[i % KINDS.len()].into(),
            author: AUTHORS[i % AUTHORS.len()].into(),
            body: format!(
                "Event {i}: checked replica lag on the payments cluster and rolled the canary back to build {}",
                4000 + i
            ),
        })
        .collect();
    let section = |key: &str, title: &str, body: &str| SectionBlock {
        key: key.into(),
        title: title.into(),
        body: body.into(),
        visibility: "internal".into(),
    };
    PostmortemDocument {
        variant: Variant::Internal,
        reference: "INC-42".into(),
        title: "Checkout failing for EU customers".into(),
        severity: "sev1".into(),
        incident_status: "resolved".into(),
        status: "in review".into(),
        kind: "dedicated".into(),
        owner: Some("Ana Lima".into()),
        due_date: Some("2026-11-23".into()),
        review_at: None,
        customer_impact: Some("About 30% of card payments failed".into()),
        affected_components: vec!["checkout".into(), "payments-api".into()],
        time_zone: "UTC".into(),
        milestones: vec![Figure {
            label: "Started".into(),
            value: "2026-11-20 09:00 UTC".into(),
        }],
        figures: vec![Figure {
            label: "Total duration".into(),
            value: "1 h 19 min".into(),
        }],
        roles: Vec::new(),
        timeline,
        sitreps: Vec::new(),
        status_updates: Vec::new(),
        cleanup_items: Vec::new(),
        remediations: Vec::new(),
        related: Vec::new(),
        sections: vec![
            section(
                "summary",
                "Summary",
                "Deploy 4312 broke **card payments** for a third of EU customers.",
            ),
            section("timeline", "Timeline", ""),
            section(
                "root_cause",
                "Root cause",
                "A configuration change halved the connection pool.",
            ),
        ],
        factors: Vec::new(),
        factors_section: false,
        generated_at: "2026-11-24 10:00 UTC".into(),
    }
}

/// The same document for typst: title, summary, and the timeline as a
/// four-column table with a repeating header.
fn typst_source(events: usize) -> String {
    let doc = document(events);
    let mut out = String::from(
        "#set page(paper: \"a4\", margin: 2cm, header: [INC-42 post-mortem #h(1fr) INTERNAL], \
         footer: context [#h(1fr) Page #counter(page).display() of #counter(page).final().first()])\n\
         #set text(size: 10pt)\n= INC-42 post-mortem: Checkout failing for EU customers\n\n\
         == Summary\nDeploy 4312 broke *card payments* for a third of EU customers.\n\n\
         == Timeline\n#table(columns: (auto, auto, auto, 1fr), table.header([*Time*], [*Kind*], [*Author*], [*Event*]),\n",
    );
    for e in &doc.timeline {
        out.push_str(&format!(
            "[{}], [{}], [{}], [{}],\n",
            e.at, e.kind, e.author, e.body
        ));
    }
    out.push_str(")\n\n== Root cause\nA configuration change halved the connection pool.\n");
    out
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Render one size `runs` times: median Markdown and PDF times, PDF size.
fn time_size(templates: &Templates, events: usize, runs: usize) -> (Duration, Duration, usize) {
    let doc = document(events);
    let options = PdfOptions::new("INC-42 post-mortem", Utc::now());
    let mut md_times = Vec::new();
    let mut pdf_times = Vec::new();
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let markdown = render_postmortem(templates, &doc).expect("markdown renders");
        md_times.push(t.elapsed());
        let t = Instant::now();
        let pdf = render_pdf(&markdown, &options).expect("pdf renders");
        pdf_times.push(t.elapsed());
        size = pdf.len();
    }
    (median(md_times), median(pdf_times), size)
}

/// Peak resident set size of this process, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The typst wheel in a venv under `target/`, installed on first use.
fn typst_python(target: &Path) -> Option<PathBuf> {
    let venv = target.join("typst-venv");
    let python = venv.join("bin/python3");
    let has_typst = |python: &Path| {
        Command::new(python)
            .args(["-c", "import typst"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.exists() && has_typst(&python) {
        return Some(python);
    }
    eprintln!("installing the typst wheel into {} …", venv.display());
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    let installed = made
        && Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "typst==0.15.0"])
            .status()
            .is_ok_and(|s| s.success());
    (installed && has_typst(&python)).then_some(python)
}

/// Median time of `typst.compile` over `runs`, each in a fresh Python
/// process as `typst compile` runs (the interpreter start and `import typst`
/// are not counted). Compiling the same source again inside one process is
/// answered from typst's memoisation cache (about ten times faster than
/// any new document), so repeated calls in one process would not measure
/// a compile.
fn time_typst(python: &Path, source: &Path, runs: usize) -> Option<Duration> {
    let script = format!(
        "import time, typst\nt=time.perf_counter(); typst.compile({src:?}, output={out:?}); print(time.perf_counter()-t)",
        src = source.display().to_string(),
        out = source.with_extension("pdf").display().to_string(),
    );
    let mut samples = Vec::new();
    for _ in 0..runs {
        let out = Command::new(python).args(["-c", &script]).output().ok()?;
        if !out.status.success() {
            eprintln!("typst failed: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        samples.push(Duration::from_secs_f64(secs));
    }
    Some(median(samples))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let templates = Templates::load(None).expect("embedded templates load");
    // A child renders one size and reports its peak RSS.
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        let events: usize = args[pos + 1].parse().expect("a size");
        time_size(&templates, events, 3);
        println!("{:.1}", peak_rss_mib().unwrap_or(f64::NAN));
        return;
    }
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", loadavg.trim());
    // Warm up: fonts are parsed once per process.
    time_size(&templates, 10, 2);
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let python = typst_python(&target);
    let work = tempfile_dir(&target);
    println!(
        "{:>7} | {:>9} | {:>9} | {:>9} | {:>6} | {:>9} | {:>8} | {:>7}",
        "events", "md ms", "pdf ms", "total ms", "KiB", "typst ms", "speed-up", "RSS MiB"
    );
    for events in SIZES {
        let runs = if events >= 10_000 { 5 } else { 15 };
        let (md, pdf, bytes) = time_size(&templates, events, runs);
        let total = md + pdf;
        let rss = Command::new(std::env::current_exe().expect("own path"))
            .args(["--child", &events.to_string()])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "?".into());
        let typst = python.as_ref().and_then(|python| {
            let source = work.join(format!("timeline-{events}.typ"));
            std::fs::write(&source, typst_source(events)).ok()?;
            time_typst(python, &source, if events >= 10_000 { 3 } else { 7 })
        });
        let (typst_ms, speedup) = match typst {
            Some(t) => (
                format!("{:.0}", ms(t)),
                format!("{:.0}×", t.as_secs_f64() / total.as_secs_f64()),
            ),
            None => ("n/a".into(), "n/a".into()),
        };
        println!(
            "{events:>7} | {:>9.2} | {:>9.2} | {:>9.2} | {:>6} | {typst_ms:>9} | {speedup:>8} | {rss:>7}",
            ms(md),
            ms(pdf),
            ms(total),
            bytes / 1024,
        );
    }
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after: {}", loadavg.trim());
}

fn tempfile_dir(target: &Path) -> PathBuf {
    let dir = target.join("bench-documents");
    std::fs::create_dir_all(&dir).expect("a work directory under target/");
    dir
}
