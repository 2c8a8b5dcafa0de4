//! SPEC §13: the library never prints and never exits the process; only the
//! binary (`src/bin/`) does. This reads the sources, so a `println!` that
//! comes back fails here and not in a user's program.

use std::fs;
use std::path::{Path, PathBuf};

/// What library code must not contain (not as the end of a longer name).
const FORBIDDEN: [&str; 8] = [
    "println!",
    "print!",
    "eprintln!",
    "eprint!",
    "dbg!",
    "process::exit",
    "stdout()",
    "stderr()",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `needle` at `at` in `line` is a use, not part of a longer name
/// (`eprintln!` contains `println!`) or a comment.
fn is_use(line: &str, at: usize) -> bool {
    let before = line[..at].chars().next_back();
    let named = before.is_some_and(|c| c.is_alphanumeric() || c == '_');
    !named && !line[..at].contains("//")
}

#[test]
fn library_code_never_prints_or_exits() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let binary = src.join("bin");
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&binary)) {
        let text = fs::read_to_string(file).expect("readable source file");
        for (n, line) in text.lines().enumerate() {
            for needle in FORBIDDEN {
                let hit = line.match_indices(needle).any(|(at, _)| is_use(line, at));
                if hit {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "library code prints or exits:\n{}",
        found.join("\n")
    );
    assert!(files.len() > 20, "no sources found under {}", src.display());
}
