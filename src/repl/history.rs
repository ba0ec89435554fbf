//! `~/.flowtrace_history`, read and written only when it is safely the
//! user's own file.
//!
//! flowtrace runs as root, often with HOME pointing at an ordinary user's
//! home (`sudo` keeps it). rustyline's own load and save open the path and
//! follow a symlink there, then rewrite and chmod whatever it points to — a
//! user could aim root's history at any file. So the file is opened here with
//! O_NOFOLLOW (a symlink is an error, not a detour), and the open file (not
//! the path, which could be swapped meanwhile) must be a regular file with
//! one link, owned by the effective user. Anything else is refused: one
//! warning, and the session runs without history.
//!
//! The format is rustyline's (`#V2`, then one entry a line with `\n` and `\\`
//! escaped), so files written before stay readable.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const VERSION_LINE: &str = "#V2";

pub struct HistoryFile {
    path: PathBuf,
    /// Whose file it must be (the effective uid).
    owner: u32,
    /// Set after a refusal: nothing more is read or written, nor said.
    disabled: bool,
}

impl HistoryFile {
    /// `$HOME/.flowtrace_history`, for the effective user; none without HOME.
    pub fn in_home() -> Option<HistoryFile> {
        let home = std::env::var_os("HOME")?;
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        Some(HistoryFile::new(Path::new(&home).join(".flowtrace_history"), euid))
    }

    pub fn new(path: PathBuf, owner: u32) -> HistoryFile {
        HistoryFile { path, owner, disabled: false }
    }

    /// The saved entries, oldest first; none when the file does not exist.
    /// `Err` is the warning to print (once): history is off from then on.
    pub fn load(&mut self) -> Result<Vec<String>, String> {
        if self.disabled {
            return Ok(Vec::new());
        }
        // O_NONBLOCK: a FIFO planted there must not hang the session; it is
        // refused as not a regular file once opened.
        let opened = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(&self.path);
        let file = match opened {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => self.checked(other)?,
        };
        parse(BufReader::new(file)).map_err(|e| self.refuse(&format!("cannot read it: {e}")))
    }

    /// Replaces the file's contents with `entries`, creating it (mode 0600)
    /// if missing. `Err` is the warning to print (once).
    pub fn save<'a>(&mut self, entries: impl Iterator<Item = &'a String>) -> Result<(), String> {
        if self.disabled {
            return Ok(());
        }
        let opened = OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&self.path);
        let mut file = self.checked(opened)?;
        let mut text = format!("{VERSION_LINE}\n");
        for entry in entries {
            text.push_str(&entry.replace('\\', "\\\\").replace('\n', "\\n"));
            text.push('\n');
        }
        // Truncate only now, after the checks: a refused file is untouched.
        file.set_len(0)
            .and_then(|()| file.write_all(text.as_bytes()))
            .map_err(|e| self.refuse(&format!("cannot write it: {e}")))
    }

    /// The opened file, if it is one we may use.
    fn checked(&mut self, opened: io::Result<File>) -> Result<File, String> {
        let file = match opened {
            Ok(f) => f,
            // O_NOFOLLOW on a symlink.
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(self.refuse("it is a symbolic link")),
            Err(e) => return Err(self.refuse(&format!("cannot open it: {e}"))),
        };
        let meta = file.metadata().map_err(|e| self.refuse(&format!("cannot stat it: {e}")))?;
        if !meta.file_type().is_file() {
            return Err(self.refuse("it is not a regular file"));
        }
        if meta.uid() != self.owner {
            return Err(self.refuse(&format!("it belongs to uid {}, not to this user (uid {})", meta.uid(), self.owner)));
        }
        // Another name for someone else's file would let us rewrite it.
        if meta.nlink() != 1 {
            return Err(self.refuse(&format!("it has {} hard links", meta.nlink())));
        }
        Ok(file)
    }

    fn refuse(&mut self, why: &str) -> String {
        self.disabled = true;
        format!("flowtrace: warning: not using the history file {}: {why}; running without history", self.path.display())
    }
}

/// rustyline's format: after a `#V2` line, `\n` and `\\` are escapes; a
/// file without it holds one plain entry a line.
fn parse(reader: impl BufRead) -> io::Result<Vec<String>> {
    let mut lines = reader.lines();
    let mut entries = Vec::new();
    let escaped = match lines.next().transpose()? {
        Some(first) if first == VERSION_LINE => true,
        Some(first) => {
            entries.push(first);
            false
        }
        None => return Ok(entries),
    };
    for line in lines {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        entries.push(if escaped { unescape(&line) } else { line });
    }
    Ok(entries)
}

fn unescape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ft-history-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn me() -> u32 {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() }
    }

    #[test]
    fn entries_round_trip_in_rustylines_format() {
        let dir = scratch("roundtrip");
        let mut h = HistoryFile::new(dir.join("h"), me());
        assert_eq!(h.load(), Ok(Vec::new()), "a missing file is an empty history");
        let entries = vec!["BEGIN {\n  exit();\n}".to_string(), "a\\b".to_string(), ".probes".to_string()];
        h.save(entries.iter()).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("h")).unwrap(), "#V2\nBEGIN {\\n  exit();\\n}\na\\\\b\n.probes\n");
        assert_eq!(std::fs::metadata(dir.join("h")).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(HistoryFile::new(dir.join("h"), me()).load(), Ok(entries));
        // A shorter history replaces a longer one completely.
        h.save(["x".to_string()].iter()).unwrap();
        assert_eq!(HistoryFile::new(dir.join("h"), me()).load(), Ok(vec!["x".to_string()]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_is_never_followed() {
        let dir = scratch("symlink");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("h")).unwrap();
        let mut h = HistoryFile::new(dir.join("h"), me());
        let warning = h.load().unwrap_err();
        assert!(warning.contains("is a symbolic link; running without history"), "{warning}");
        // Refused once: later saves write nothing and say nothing.
        assert_eq!(h.save(["x".to_string()].iter()), Ok(()));
        // Planted after a clean load: the save refuses by itself.
        let mut late = HistoryFile::new(dir.join("late"), me());
        assert_eq!(late.load(), Ok(Vec::new()));
        std::os::unix::fs::symlink(&victim, dir.join("late")).unwrap();
        assert!(late.save(["x".to_string()].iter()).unwrap_err().contains("symbolic link"));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777, 0o644);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn another_users_file_or_a_second_link_is_refused() {
        let dir = scratch("owner");
        std::fs::write(dir.join("h"), "#V2\nold\n").unwrap();
        // The file is ours; the session's user is someone else.
        let mut h = HistoryFile::new(dir.join("h"), me() + 1);
        let warning = h.load().unwrap_err();
        assert!(warning.contains(&format!("it belongs to uid {}, not to this user (uid {})", me(), me() + 1)), "{warning}");
        let mut h = HistoryFile::new(dir.join("h"), me() + 1);
        assert!(h.save(["x".to_string()].iter()).is_err());
        assert_eq!(std::fs::read_to_string(dir.join("h")).unwrap(), "#V2\nold\n");

        std::fs::hard_link(dir.join("h"), dir.join("linked")).unwrap();
        let warning = HistoryFile::new(dir.join("linked"), me()).load().unwrap_err();
        assert!(warning.contains("it has 2 hard links"), "{warning}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = scratch("fifo");
        let path = std::ffi::CString::new(dir.join("h").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        let warning = HistoryFile::new(dir.join("h"), me()).load().unwrap_err();
        assert!(warning.contains("not a regular file"), "{warning}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
