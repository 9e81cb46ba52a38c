//! The import structure of `src/`, measured from the code: every `crate::…` and `super::…`
//! path a file names is an arrow to the file that defines it. Two rules hold:
//! - no cycles: no set of files imports itself round;
//! - imports run down the layers below, never up and never sideways between modules of one
//!   layer (a module may use its own files freely).
//!
//! `cargo test --test layering -- --nocapture` prints the figures.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Top-level modules from the top of the building to the ground. A module imports only
/// modules on lower floors.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["api", "queue"],
    &["travel", "weather_mcp"],
    &["llm"],
    &["providers"],
    &["store", "catalog", "telemetry", "results"],
    &["graph", "config"],
    &["resilience"],
    &["domain", "db", "metrics", "webhook"],
];

type Module = Vec<String>;

struct Source {
    file: PathBuf,
    module: Module,
    text: String,
}

fn sources(root: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && path != root.join("main.rs") {
                let relative = path.strip_prefix(root).expect("under src");
                let mut module: Module = relative
                    .with_extension("")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().to_string())
                    .collect();
                if module.last().is_some_and(|m| m == "mod" || m == "lib" || m == "main") {
                    module.pop();
                }
                let text = std::fs::read_to_string(&path).expect("source is readable");
                out.push(Source {
                    file: relative.to_path_buf(),
                    module,
                    text,
                });
            }
        }
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

/// Drops `//` comments (doc comments too), so that a path named in prose is no arrow.
fn code_only(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut in_string = false;
            let bytes = line.as_bytes();
            for i in 0..bytes.len() {
                match bytes[i] {
                    b'"' if i == 0 || bytes[i - 1] != b'\\' => in_string = !in_string,
                    b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
                    _ => {}
                }
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path in a `use` tree: `a::{b, c::{self, d}}` gives `a::b`, `a::c`, `a::c::d`.
fn expand(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    let mut depth = 0;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, c) in tree.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&tree[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tree[start..]);
    if parts.len() > 1 {
        for part in parts {
            expand(part, prefix, out);
        }
        return;
    }
    let part = parts[0].trim();
    if let Some(brace) = part.find('{') {
        let head: Vec<String> = path_words(&part[..brace]);
        let inner = part[brace + 1..].trim_end().trim_end_matches('}');
        let mut base = prefix.to_vec();
        base.extend(head);
        expand(inner, &base, out);
        return;
    }
    let words = path_words(part.split(" as ").next().unwrap_or(part));
    let mut path = prefix.to_vec();
    for w in words {
        if w != "self" && w != "*" {
            path.push(w);
        }
    }
    out.push(path);
}

fn path_words(raw: &str) -> Vec<String> {
    raw.split("::")
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The paths a file names, each from the crate root.
fn named_paths(source: &Source) -> Vec<Vec<String>> {
    let code = code_only(&source.text);
    // Inside an inline test module, `super` is the file's own module.
    let tests_at = code.find("#[cfg(test)]").unwrap_or(code.len());
    let parent: Module = source.module[..source.module.len().saturating_sub(1)].to_vec();
    let declared = child_modules(&code);
    let mut out = Vec::new();
    let mut rest = code.as_str();
    let mut offset = 0;
    while let Some(at) = rest.find("use ") {
        let absolute = offset + at;
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        let tree = after[..end].trim();
        let in_tests = absolute >= tests_at;
        let base = |root: &str| -> Option<Module> {
            match root {
                "crate" => Some(Vec::new()),
                "super" if in_tests => Some(source.module.clone()),
                "super" => Some(parent.clone()),
                "self" => Some(source.module.clone()),
                child if declared.iter().any(|c| c == child) => {
                    let mut module = source.module.clone();
                    module.push(child.to_string());
                    Some(module)
                }
                _ => None,
            }
        };
        let word_before = absolute == 0 || !code.as_bytes()[absolute - 1].is_ascii_alphanumeric();
        if word_before
            && let Some((root, tail)) = tree.split_once("::")
            && let Some(prefix) = base(root.trim())
        {
            expand(tail, &prefix, &mut out);
        }
        offset += at + 4;
        rest = &code[offset..];
    }
    // Paths written inline, outside `use`: `crate::metrics::timeout("node")`, and paths into
    // the file's own child modules: `day::DayPlanner` in a file that declares `mod day;`.
    let children = child_modules(&code);
    let mut roots: Vec<(String, Module)> = vec![("crate".to_string(), Vec::new())];
    for child in &children {
        let mut module = source.module.clone();
        module.push(child.clone());
        roots.push((child.clone(), module));
    }
    for (root, base) in &roots {
        let needle = format!("{root}::");
        for (at, _) in code.match_indices(&needle) {
            let before = at.checked_sub(1).map(|i| code.as_bytes()[i]);
            if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
                continue;
            }
            let tail: String = code[at + needle.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            // `crate::a::{b, c}` is a use tree: `expand` read it whole.
            if tail.ends_with("::") {
                continue;
            }
            let mut path = base.clone();
            path.extend(path_words(&tail));
            out.push(path);
        }
    }
    out
}

/// The modules a file declares: `mod day;`, `pub mod outputs;`.
fn child_modules(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("pub(crate) mod "))
                .or_else(|| line.strip_prefix("mod "))?;
            rest.strip_suffix(';').map(|name| name.trim().to_string())
        })
        .collect()
}

/// The file that defines the longest module prefix of `path`.
fn resolve<'a>(path: &[String], modules: &'a BTreeMap<Module, PathBuf>) -> Option<&'a PathBuf> {
    (1..=path.len()).rev().find_map(|n| modules.get(&path[..n].to_vec()))
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

struct Structure {
    arrows: BTreeSet<(PathBuf, PathBuf)>,
    top: BTreeMap<PathBuf, String>,
}

fn structure() -> Structure {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources = sources(&root);
    let modules: BTreeMap<Module, PathBuf> = sources.iter().map(|s| (s.module.clone(), s.file.clone())).collect();
    let mut arrows = BTreeSet::new();
    let mut top = BTreeMap::new();
    for source in &sources {
        top.insert(source.file.clone(), source.module.first().cloned().unwrap_or_default());
        for path in named_paths(source) {
            if let Some(target) = resolve(&path, &modules)
                && *target != source.file
                && modules.get(&Vec::new()).is_none_or(|lib| lib != target)
            {
                arrows.insert((source.file.clone(), target.clone()));
            }
        }
    }
    Structure { arrows, top }
}

/// Strongly connected sets of more than one file (Tarjan).
fn cycles(arrows: &BTreeSet<(PathBuf, PathBuf)>) -> Vec<Vec<PathBuf>> {
    let mut next: BTreeMap<&PathBuf, Vec<&PathBuf>> = BTreeMap::new();
    for (a, b) in arrows {
        next.entry(a).or_default().push(b);
        next.entry(b).or_default();
    }
    struct State<'a> {
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on_stack: BTreeSet<&'a PathBuf>,
        found: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(v: &'a PathBuf, next: &BTreeMap<&'a PathBuf, Vec<&'a PathBuf>>, s: &mut State<'a>) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in &next[v] {
            if !s.index.contains_key(w) {
                visit(w, next, s);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut set = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                set.push(w.clone());
                if w == v {
                    break;
                }
            }
            if set.len() > 1 {
                set.sort();
                s.found.push(set);
            }
        }
    }
    let mut state = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    let nodes: Vec<&PathBuf> = next.keys().copied().collect();
    for v in nodes {
        if !state.index.contains_key(v) {
            visit(v, &next, &mut state);
        }
    }
    state.found
}

#[test]
fn imports_form_no_cycle() {
    let s = structure();
    let found = cycles(&s.arrows);
    println!(
        "{} imports between {} files; {} import cycles",
        s.arrows.len(),
        s.top.len(),
        found.len()
    );
    for cycle in &found {
        println!("  cycle: {cycle:?}");
    }
    assert!(found.is_empty(), "import cycles: {found:#?}");
}

#[test]
fn imports_run_down_the_layers() {
    let s = structure();
    let mut against = Vec::new();
    for (from, to) in &s.arrows {
        let (a, b) = (&s.top[from], &s.top[to]);
        if a == b || a.is_empty() {
            continue;
        }
        match (layer_of(a), layer_of(b)) {
            (Some(la), Some(lb)) if la < lb => {}
            _ => against.push(format!("{} -> {}", from.display(), to.display())),
        }
    }
    let unplaced: BTreeSet<&String> = s
        .top
        .values()
        .filter(|m| !m.is_empty() && layer_of(m).is_none())
        .collect();
    println!("{} imports against the layering", against.len());
    for line in &against {
        println!("  {line}");
    }
    assert!(unplaced.is_empty(), "modules on no layer: {unplaced:?}");
    assert!(
        against.is_empty(),
        "imports against the layering:\n{}",
        against.join("\n")
    );
}
