//! The shared corpus (`tests/corpus/`) and the runbooks (`examples/`), listed
//! the same way for every crate's tests, and the `// params:` header that
//! gives a corpus program its positional parameters.

use std::path::{Path, PathBuf};

/// The workspace root (where `tests/`, `examples/` and `docs/` are).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("testkit/ lives in the workspace root").to_path_buf()
}

/// `tests/corpus/SUB` (`valid`, `invalid`, `invalid_syntax`).
pub fn corpus_dir(sub: &str) -> PathBuf {
    repo_root().join("tests/corpus").join(sub)
}

/// The files of `dir` whose names end in `.EXT`, sorted. A missing or
/// unreadable directory is a failure: an empty corpus would pass vacuously.
pub fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())).path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

/// The `.ft` programs of `tests/corpus/SUB`, sorted.
pub fn corpus(sub: &str) -> Vec<PathBuf> {
    files_with_extension(&corpus_dir(sub), "ft")
}

/// The runbooks in `examples/`, sorted.
pub fn examples() -> Vec<PathBuf> {
    files_with_extension(&repo_root().join("examples"), "ft")
}

/// Positional parameters of a corpus program: a first line `// params: a b`.
pub fn params(text: &str) -> Vec<String> {
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("// params:"))
        .map(|rest| rest.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// The file name of `path`, for messages and `Source` names.
pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_come_from_the_first_line_only() {
        assert_eq!(params("// params: 80 eth0\nBEGIN {}"), vec!["80", "eth0"]);
        assert!(params("BEGIN {}\n// params: 1").is_empty());
        assert!(params("").is_empty());
    }

    #[test]
    fn the_corpus_is_found() {
        assert!(corpus("valid").iter().all(|p| p.extension().is_some_and(|x| x == "ft")));
        assert!(!corpus("valid").is_empty());
        assert!(!examples().is_empty());
    }
}
