//! What can go wrong between an ELF object and running probes. Each variant
//! carries what the caller needs to render a message against the source:
//! which program (by index into `CompiledProgram::programs`), which
//! instruction, which attach point, and a hint where one helps.

use std::fmt;
use std::io;

#[derive(Debug)]
pub enum RuntimeError {
    /// The ELF writer refused the compiled program (a compiler bug).
    Elf(String),
    /// aya could not parse the object or create a map.
    Load(String),
    /// The verifier rejected a program.
    Verifier(VerifierError),
    /// A program loaded but could not be attached.
    Attach(AttachError),
    /// A bpf(2) or other kernel call failed outside loading/attaching.
    Kernel { what: String, error: io::Error },
}

#[derive(Debug)]
pub struct VerifierError {
    /// Index into `CompiledProgram::programs`.
    pub program: usize,
    pub name: String,
    /// errno of `BPF_PROG_LOAD` as text (`Permission denied (os error 13)`).
    pub errno: String,
    /// The whole verifier log.
    pub log: String,
    /// The instruction the verifier stopped at, read from the log; index
    /// into `ProgramCode::insns` / `spans`.
    pub insn: Option<usize>,
}

impl VerifierError {
    /// Why the verifier refused, in words. Usually the errno (EACCES,
    /// EINVAL) is enough beside the log; but a program the verifier walks to
    /// its instruction limit writes more log than any buffer holds, and then
    /// the kernel reports the truncated log (ENOSPC, "No space left on
    /// device") instead of the rejection.
    pub fn reason(&self) -> String {
        if let Some(processed) = self.log.lines().find_map(too_large) {
            return format!(
                "the program is too large or has a loop the verifier cannot bound: it gave up after {processed} instructions"
            );
        }
        if self.errno.contains(&format!("os error {}", libc::ENOSPC)) {
            return "the verifier's log overflowed; its last lines say why it refused".to_string();
        }
        self.errno.clone()
    }

    /// The last `n` non-empty lines of the log: where the reason is.
    pub fn tail(&self, n: usize) -> Vec<&str> {
        let lines: Vec<&str> = self.log.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].to_vec()
    }
}

#[derive(Debug)]
pub struct AttachError {
    /// Index into `CompiledProgram::programs`.
    pub program: usize,
    /// The attach point as written (`kprobe:tcp_sendmsg`).
    pub probe: String,
    pub reason: String,
    /// What the user could do instead.
    pub hint: Option<String>,
}

/// N from the verifier's `BPF program is too large. Processed N insn`.
fn too_large(line: &str) -> Option<&str> {
    let rest = line.split_once("BPF program is too large. Processed ")?.1;
    Some(rest.split_whitespace().next().unwrap_or("?"))
}

/// The instruction a verifier log ends at: the last line of the form
/// `N: (op) …`, which is what the verifier printed just before giving up.
pub fn failing_insn(log: &str) -> Option<usize> {
    log.lines().rev().find_map(|line| {
        let (num, rest) = line.split_once(": ")?;
        let n = num.trim().parse::<usize>().ok()?;
        rest.starts_with('(').then_some(n)
    })
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::Elf(m) => write!(f, "writing the BPF object: {m}"),
            RuntimeError::Load(m) => write!(f, "loading the BPF object: {m}"),
            RuntimeError::Verifier(v) => {
                write!(f, "the kernel verifier rejected {}: {}", v.name, v.reason())?;
                if let Some(i) = v.insn {
                    write!(f, " (at instruction {i})")?;
                }
                for line in v.tail(3) {
                    write!(f, "\n  {line}")?;
                }
                Ok(())
            }
            RuntimeError::Attach(a) => {
                write!(f, "cannot attach {}: {}", a.probe, a.reason)?;
                if let Some(h) = &a.hint {
                    write!(f, "\n  hint: {h}")?;
                }
                Ok(())
            }
            RuntimeError::Kernel { what, error } => write!(f, "{what}: {error}"),
        }
    }
}

impl std::error::Error for RuntimeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_instruction_the_verifier_stopped_at() {
        let log = "func#0 @0\n0: R1=ctx() R10=fp0\n0: (b7) r0 = 0                        ; R0_w=0\n\
                   1: (61) r2 = *(u32 *)(r1 +200)\ninvalid bpf_context access off=200 size=4\n\
                   processed 2 insns (limit 1000000)";
        assert_eq!(failing_insn(log), Some(1));
        assert_eq!(failing_insn("nothing useful"), None);
    }

    #[test]
    fn tail_skips_blank_lines() {
        let v = VerifierError {
            program: 0,
            name: "ft_x".into(),
            errno: "EACCES".into(),
            log: "a\nb\n\nc\n\n".into(),
            insn: None,
        };
        assert_eq!(v.tail(2), ["b", "c"]);
    }

    #[test]
    fn an_overflowed_log_gives_the_verifiers_reason_not_the_errno() {
        let mut v = VerifierError {
            program: 0,
            name: "ft_x".into(),
            errno: "No space left on device (os error 28)".into(),
            log: "8: (05) goto pc-6\nBPF program is too large. Processed 1000001 insn\nprocessed 1000001 insns (limit 1000000)\n".into(),
            insn: None,
        };
        assert_eq!(
            v.reason(),
            "the program is too large or has a loop the verifier cannot bound: it gave up after 1000001 instructions"
        );
        v.log = "3: (b7) r0 = 1\n".into();
        assert!(v.reason().contains("log overflowed"), "{}", v.reason());
        v.errno = "Permission denied (os error 13)".into();
        assert_eq!(v.reason(), "Permission denied (os error 13)");
    }
}
