//! The code's shape, checked (docs/ARCHITECTURE.md, "Layers and their
//! rules"): no import cycle between the files of one layer, no file over
//! 800 lines and no function over 80 without a stated reason ("Long
//! because …" in the file's `//!` or in the comment above the function).
//! The few that still break a rule are listed below by name, so the list
//! can only shrink: a new one fails the test.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Files over 800 lines not yet split (issue 14).
const LONG_FILES_TO_SPLIT: &[&str] = &[];

/// Functions over 80 lines not yet split (issue 14), as `file::name`.
const LONG_FUNCTIONS_TO_SPLIT: &[&str] = &[];

const REASON: &str = "Long because";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

/// The code of a file without its unit tests (`#[cfg(test)]` to the end).
fn code(text: &str) -> &str {
    text.split("\n#[cfg(test)]").next().unwrap_or(text)
}

#[test]
fn no_file_is_over_800_lines_without_a_reason() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut long = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines = text.lines().count();
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join(" ");
        let name = relative(&file);
        if lines > 800 && !header.contains(REASON) && !LONG_FILES_TO_SPLIT.contains(&name.as_str())
        {
            long.push(format!("{name}: {lines} lines"));
        }
    }
    assert!(long.is_empty(), "split these or state why: {long:#?}");
    for listed in LONG_FILES_TO_SPLIT {
        let lines = std::fs::read_to_string(root().join(listed)).map_or(0, |t| t.lines().count());
        assert!(
            lines > 800,
            "{listed} is split now: take it off LONG_FILES_TO_SPLIT"
        );
    }
}

/// Every `fn` of `text` with its length in lines and whether the comment
/// just above it states a reason.
fn functions(text: &str) -> Vec<(String, usize, bool)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let head = trimmed
            .trim_start_matches("pub ")
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("async ")
            .trim_start_matches("const ");
        let Some(rest) = head.strip_prefix("fn ") else {
            i += 1;
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // A declaration without a body (in a trait) ends with `;` first.
        let body_first = lines[i..]
            .iter()
            .find(|l| l.contains('{') || l.trim_end().ends_with(';'))
            .is_some_and(|l| l.contains('{'));
        if !body_first {
            i += 1;
            continue;
        }
        let close = format!("{}}}", " ".repeat(indent));
        let Some(end) = (i + 1..lines.len()).find(|&j| lines[j].starts_with(&close)) else {
            i += 1;
            continue;
        };
        let mut above = i;
        while above > 0 {
            let prev = lines[above - 1].trim_start();
            if prev.starts_with("//") || prev.starts_with("#[") {
                above -= 1;
            } else {
                break;
            }
        }
        let reason = lines[above..i].iter().any(|l| l.contains(REASON));
        out.push((name, end - i + 1, reason));
        i = end + 1;
    }
    out
}

#[test]
fn no_function_is_over_80_lines_without_a_reason() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut long = Vec::new();
    let mut still_long = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = relative(&file);
        for (function, lines, reason) in functions(code(&text)) {
            let key = format!("{name}::{function}");
            if lines > 80 && !reason {
                if LONG_FUNCTIONS_TO_SPLIT.contains(&key.as_str()) {
                    still_long.insert(key);
                } else {
                    long.push(format!("{key}: {lines} lines"));
                }
            }
        }
    }
    assert!(long.is_empty(), "split these or state why: {long:#?}");
    for listed in LONG_FUNCTIONS_TO_SPLIT {
        assert!(
            still_long.contains(*listed),
            "{listed} is short now (or gone): take it off LONG_FUNCTIONS_TO_SPLIT"
        );
    }
}

#[test]
fn the_files_of_a_layer_import_each_other_without_cycles() {
    // Not `entities/`: a relation is declared on both of its ends, as
    // sea-orm has it, so entities name each other by design.
    for layer in [
        "api", "services", "domain", "ingest", "reports", "jobs", "notify", "commands",
    ] {
        let dir = root().join("src").join(layer);
        // Each file of the layer (a sub-directory counts as one module).
        let mut modules: BTreeMap<String, String> = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            if stem == "mod" {
                continue;
            }
            let text = if path.is_dir() {
                let mut files = Vec::new();
                rust_files(&path, &mut files);
                files
                    .iter()
                    .map(|f| std::fs::read_to_string(f).unwrap())
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                std::fs::read_to_string(&path).unwrap()
            };
            modules.entry(stem).or_default().push_str(code(&text));
        }
        let names: Vec<String> = modules.keys().cloned().collect();
        let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (module, text) in &modules {
            let uses: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            for other in &names {
                if other == module {
                    continue;
                }
                let direct = [
                    format!("super::{other}::"),
                    format!("super::{other};"),
                    format!("crate::{layer}::{other}::"),
                    format!("crate::{layer}::{other}}}"),
                    format!("crate::{layer}::{other};"),
                ];
                let grouped = uses.split("super::{").skip(1).any(|group| {
                    let group = group.split('}').next().unwrap_or_default();
                    group
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .any(|w| w == other)
                });
                if direct.iter().any(|d| uses.contains(d.as_str())) || grouped {
                    edges.entry(module).or_default().insert(other);
                }
            }
        }
        // A cycle: a module that reaches itself.
        for start in modules.keys() {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<&str> = edges
                .get(start.as_str())
                .map(|e| e.iter().copied().collect())
                .unwrap_or_default();
            while let Some(next) = stack.pop() {
                assert_ne!(
                    next, start,
                    "src/{layer}: {start} imports a module that imports it back ({edges:?})"
                );
                if seen.insert(next) {
                    stack.extend(edges.get(next).into_iter().flatten().copied());
                }
            }
        }
    }
}
