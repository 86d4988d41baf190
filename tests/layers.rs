//! The code's layers, read from its own imports (`crate::module` paths in `src/`):
//!
//! - no circle among the modules of `src/`: an arrow from a module to another never comes
//!   back round to it;
//! - no source file of `src/` or `crates/` is over 400 lines, and every `src/` path the
//!   docs name exists;
//! - Slack (its types, Block Kit, mrkdwn escaping: anything under `crate::slack`, or
//!   slack-morphism) is named only in `slack/`, `server/` and what starts them (`cli`,
//!   `demo`, `offline`); nowhere else is Block Kit written (`"mrkdwn"`, `"plain_text"`,
//!   a `"section"` block), a mention or a channel written in mrkdwn (`<@…>`, `<#…>`),
//!   text escaped, or a conversation's kind guessed from its id.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules that may name Slack: the adapter, the front doors and what starts them.
const SLACK_ALLOWED: &[&str] = &["slack", "server", "cli", "demo", "offline", "main", "lib"];

/// What only Block Kit and mrkdwn say: block types, a mention or a channel written by
/// hand, an escape.
const BLOCK_KIT: &[&str] = &["\"mrkdwn\"", "\"plain_text\"", "\"section\"", "\"blocks\"", "<@{", "<#{", "escape("];

/// The most lines a source file should have.
const MOST_LINES: usize = 400;

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file of `src/` and its text, as `src/a/b.rs`.
fn files() -> Vec<(String, String)> {
    files_under(&["src"])
}

/// The files of these folders and their texts, by their paths from the project's root.
fn files_under(folders: &[&str]) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    for folder in folders {
        sources(&root.join(folder), &mut paths);
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| (p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

/// The module a file of `src/` belongs to: `src/store/mod.rs` → `store`, `src/cli.rs` → `cli`.
fn module_of(file: &str) -> &str {
    let rest = file.strip_prefix("src/").unwrap();
    let first = rest.split('/').next().unwrap();
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The lines of code of a text (comments left out), numbered from 1.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.starts_with("//"))
}

/// The modules a line names with `crate::`: `crate::store::Store` and
/// `use crate::{bot::Bot, store}` both name theirs.
fn named_modules(line: &str) -> Vec<String> {
    let mut named = Vec::new();
    for (at, _) in line.match_indices("crate::") {
        let rest = &line[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The top-level items of the group, at brace depth 0.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        named.push(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            named.push(item);
        } else {
            named.push(rest.to_owned());
        }
    }
    named
        .iter()
        .filter_map(|n| {
            let name: String = n.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            (!name.is_empty() && name != "self").then_some(name)
        })
        .collect()
}

/// Module → module, with the lines that make each arrow.
fn arrows() -> BTreeMap<(String, String), Vec<String>> {
    let mut arrows: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (file, text) in files() {
        let from = module_of(&file).to_owned();
        for (number, line) in code_lines(&text) {
            for to in named_modules(line) {
                if to != from {
                    arrows.entry((from.clone(), to)).or_default().push(format!("{file}:{number}: {line}"));
                }
            }
        }
    }
    arrows
}

/// A path of arrows from `from` to `to`, if there is one.
fn path(next: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![vec![from.to_owned()]];
    while let Some(route) = stack.pop() {
        let last = route.last().unwrap();
        if last == to {
            return Some(route);
        }
        for n in next.get(last).into_iter().flatten() {
            if seen.insert(n.clone()) {
                let mut longer = route.clone();
                longer.push(n.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn no_module_of_src_imports_its_way_back_to_itself() {
    let arrows = arrows();
    assert!(arrows.len() > 50, "the imports were read: {} arrows", arrows.len());
    let mut next: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in arrows.keys() {
        next.entry(from.clone()).or_default().insert(to.clone());
    }
    let mut circles = Vec::new();
    for ((from, to), lines) in &arrows {
        if let Some(back) = path(&next, to, from) {
            circles.push(format!("{from} -> {}, the first arrow from\n    {}", back.join(" -> "), lines.join("\n    ")));
        }
    }
    assert!(circles.is_empty(), "import circles among the modules of src/:\n{}", circles.join("\n"));
}

#[test]
fn slack_is_named_only_at_the_edge() {
    let mut naming = BTreeMap::new();
    for (file, text) in files() {
        if SLACK_ALLOWED.contains(&module_of(&file)) {
            continue;
        }
        let lines: Vec<String> = code_lines(&text)
            .filter(|(_, l)| {
                named_modules(l).iter().any(|m| m == "slack")
                    || l.contains("slack_morphism")
                    || BLOCK_KIT.iter().any(|word| l.contains(word))
                    || l.contains("starts_with('D')")
            })
            .map(|(n, l)| format!("{file}:{n}: {l}"))
            .collect();
        if !lines.is_empty() {
            naming.insert(file, lines);
        }
    }
    let named: Vec<String> = naming.values().map(|l| l.join("\n")).collect();
    assert!(
        named.is_empty(),
        "Slack named outside slack/ and server/ (build a surface-neutral model in chat/, render it in slack/):\n{}",
        named.join("\n")
    );
}

#[test]
fn no_source_file_is_over_400_lines() {
    let long: Vec<String> = files_under(&["src", "crates"])
        .into_iter()
        .map(|(file, text)| (file, text.lines().count()))
        .filter(|(_, lines)| *lines > MOST_LINES)
        .map(|(file, lines)| format!("{file}: {lines} lines"))
        .collect();
    assert!(long.is_empty(), "over {MOST_LINES} lines (split it by responsibility): {long:?}");
}

#[test]
fn every_source_path_the_docs_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    for doc in ["README.md", "docs/internals.md", "docs/development.md", "docs/architecture.md", "bench/RESULTS.md"] {
        let Ok(text) = std::fs::read_to_string(root.join(doc)) else { continue };
        for (at, _) in text.match_indices("src/") {
            let before = text[..at].chars().last();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '-' || c == '_') {
                continue; // `crates/x/src/...`, `tools/x/src/...`: named whole elsewhere
            }
            let path: String = text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || "/_.-".contains(*c)).collect();
            let path = path.trim_end_matches('.');
            if !root.join(path).exists() {
                missing.push(format!("{doc}: {path}"));
            }
        }
    }
    assert!(missing.is_empty(), "paths the docs name that do not exist: {missing:?}");
}

#[test]
fn the_reader_sees_arrows_in_groups_and_ignores_comments() {
    assert_eq!(named_modules("use crate::{bot::{Ack, Bot}, store, self};"), ["bot", "store"]);
    assert_eq!(named_modules("let x = crate::slack::blocks::escape(&y) + crate::tailer::X;"), ["slack", "tailer"]);
    assert_eq!(code_lines("// crate::slack\nuse crate::store;").map(|(n, _)| n).collect::<Vec<_>>(), [2]);
}
