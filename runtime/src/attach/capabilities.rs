//! What this kernel can attach, found by trying rather than by version
//! numbers: distribution kernels differ in configuration (this project's CI
//! host has no CONFIG_KPROBES and refuses fentry programs; Debian's 6.1 and
//! 6.12 kernels have both).
//!
//! [`plan`] runs before loading: it decides whether `kprobe:` probes run as
//! kprobes or, on a kernel without kprobes, as fentry/fexit programs, and it
//! turns "neither works" into an error that says so and names the tracepoint
//! that fires in the same place, where this kernel has one — or, under the
//! script's `missing_probes = "warn"`/`"ignore"`, leaves those probes out
//! (as a probe that fails to attach is left out) and runs the rest.

use super::{Failure, Link};
use crate::error::{AttachError, RuntimeError};
use aya::programs::{FEntry, FExit, ProgramError};
use aya::{Btf, EbpfLoader};
use flowtrace_codegen::insn::Insn;
use flowtrace_codegen::object::{CompiledProgram, ProgramCode, ProgramKind};
use flowtrace_lang::ast::{AttachKind, AttachPoint};
use std::io;
use std::path::Path;

/// How the compiled program's probes should be built.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Compile again with `CompileOptions::kprobes_as_fentry`.
    pub kprobes_as_fentry: bool,
    /// One line for stderr explaining a change of plan.
    pub notice: Option<String>,
    /// Programs (indices into `CompiledProgram::programs`) this kernel
    /// cannot run, left out under `missing_probes = "warn"`/`"ignore"`.
    pub left_out: Vec<usize>,
    /// What to print for them (`missing_probes = "warn"` only).
    pub warnings: Vec<String>,
}

/// Set to `1` to act as if the kernel had no kprobes (tests the fentry path
/// on kernels that have both).
pub const NO_KPROBES_ENV: &str = "FLOWTRACE_NO_KPROBES";

/// Without CONFIG_KPROBES the kernel registers no `kprobe` PMU and tracefs
/// has no `kprobe_events` file; either one is what aya attaches through.
pub fn kprobes_available() -> bool {
    if std::env::var_os(NO_KPROBES_ENV).is_some_and(|v| v == "1") {
        return false;
    }
    Path::new("/sys/bus/event_source/devices/kprobe/type").exists()
        || Path::new("/sys/kernel/tracing/kprobe_events").exists()
        || Path::new("/sys/kernel/debug/tracing/kprobe_events").exists()
}

/// Set to `1` to act as if the kernel refused tracing programs as EPERM
/// (as kernels that refuse fentry do): tests the `iter:` error on a host
/// that loads iterators.
pub const NO_TRACING_ENV: &str = "FLOWTRACE_NO_TRACING";

/// Set to `1` to act as if the kernel had no kprobe.multi links (tests and
/// measures the one-link-per-function path on kernels that have them).
pub const NO_KPROBE_MULTI_ENV: &str = "FLOWTRACE_NO_KPROBE_MULTI";

/// Whether this kernel attaches one program to many functions with one
/// kprobe.multi link (Linux 5.18 with CONFIG_FPROBE; Debian's 6.12 has it,
/// its 6.1 does not). Found by loading a do-nothing program for it and
/// linking it to one function, once per process.
pub fn kprobe_multi_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if std::env::var_os(NO_KPROBE_MULTI_ENV).is_some_and(|v| v == "1") {
        return false;
    }
    *AVAILABLE.get_or_init(|| kprobes_available() && try_kprobe_multi())
}

/// Set to `1` to act as if the kernel had no `bpf_loop` helper: `for`
/// ranges then compile to bounded back edges (tests of that form on kernels
/// that have the helper).
pub const NO_BPF_LOOP_ENV: &str = "FLOWTRACE_NO_BPF_LOOP";

/// Whether this kernel has `bpf_loop` (5.17; Debian's 6.1 has it). Found by
/// loading a program that calls it with a do-nothing callback (which needs
/// program BTF, like every program with callbacks), once per process.
pub fn bpf_loop_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if std::env::var_os(NO_BPF_LOOP_ENV).is_some_and(|v| v == "1") {
        return false;
    }
    *AVAILABLE.get_or_init(try_bpf_loop)
}

fn try_bpf_loop() -> bool {
    use flowtrace_codegen::insn::{helper, BPF_PSEUDO_FUNC};
    use std::os::fd::AsFd;
    let mov = |dst: u8| Insn::new(0xb7, dst, 0, 0, 0);
    let insns = [
        mov(1),
        // lddw r2, callback: the callback at 8, counted from the
        // instruction after the lddw's first slot (1 + 6 + 1).
        Insn::new(0x18, 2, BPF_PSEUDO_FUNC, 0, 6),
        Insn::new(0, 0, 0, 0, 0),
        mov(3),
        mov(4),
        Insn::new(0x85, 0, 0, 0, helper::LOOP),
        mov(0),
        Insn::new(0x95, 0, 0, 0, 0),
        mov(0),
        Insn::new(0x95, 0, 0, 0, 0),
    ];
    let btf = flowtrace_codegen::prog_btf::for_functions(&[8]);
    let Ok(btf_fd) = crate::sys::btf_load(&btf.blob) else {
        return false;
    };
    let prog_btf = crate::sys::ProgBtf { fd: btf_fd.as_fd(), func_info: &btf.func_info };
    let bytes = flowtrace_codegen::insn::encode_all(&insns);
    crate::sys::prog_load_with_btf("ft_cap_loop", ProgramKind::Special.bpf_prog_type(), 0, &bytes, Some(&prog_btf)).is_ok()
}

fn try_kprobe_multi() -> bool {
    use crate::sys_links::{kprobe_multi_link, BPF_TRACE_KPROBE_MULTI};
    use std::os::fd::AsFd;
    // r0 = 0; exit
    let insns = flowtrace_codegen::insn::encode_all(&[Insn::new(0xb7, 0, 0, 0, 0), Insn::new(0x95, 0, 0, 0, 0)]);
    let Ok(prog) = crate::sys::prog_load_as("ft_cap_kmulti", ProgramKind::Kprobe.bpf_prog_type(), BPF_TRACE_KPROBE_MULTI, &insns) else {
        return false;
    };
    // Functions every x86-64 kernel has and ftrace can trace; the first one
    // this kernel knows decides (the link is dropped, detaching it, at once).
    for func in ["vfs_read", "ksys_read", "__x64_sys_getpid"] {
        match kprobe_multi_link(prog.as_fd(), &[func], &[0], false) {
            Ok(_link) => return true,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => continue,
            Err(_) => return false,
        }
    }
    false
}

/// Decides how kprobe, fentry and iterator probes run here; an error when
/// one cannot, unless the script's `missing_probes` leaves it out. Under the
/// default (`"error"`) the first probe of each kind stands for all of them.
pub fn plan(compiled: &CompiledProgram) -> Result<Plan, RuntimeError> {
    use flowtrace_lang::config::MissingProbes;
    let every = compiled.missing_probes != MissingProbes::Error;
    let mut plan = Plan::default();
    let refuse = |plan: &mut Plan, index: usize, error: RuntimeError| -> Result<(), RuntimeError> {
        if !every {
            return Err(error);
        }
        if compiled.missing_probes == MissingProbes::Warn {
            let text = match &error {
                RuntimeError::Attach(a) => format!("cannot attach '{}': {}", a.probe, a.reason),
                other => other.to_string(),
            };
            plan.warnings.push(format!("warning: {text}; left out (missing_probes = warn)"));
        }
        plan.left_out.push(index);
        Ok(())
    };
    let mut seen: Vec<ProgramKind> = Vec::new();
    for (index, prog) in compiled.programs.iter().enumerate() {
        let kind = match prog.kind {
            ProgramKind::Kretprobe => ProgramKind::Kprobe,
            ProgramKind::Fexit => ProgramKind::Fentry,
            k => k,
        };
        if !matches!(kind, ProgramKind::Kprobe | ProgramKind::Fentry | ProgramKind::Iter) || (!every && seen.contains(&kind)) {
            continue;
        }
        seen.push(kind);
        let func = prog.attach.kind.function().unwrap_or_default();
        match kind {
            ProgramKind::Kprobe if !kprobes_available() => match fentry_refusal(func, prog.kind == ProgramKind::Kretprobe) {
                None => {
                    plan.kprobes_as_fentry = true;
                    plan.notice = Some(
                        "flowtrace: this kernel has no kprobes; running kprobe/kretprobe probes as fentry/fexit \
                         (argN and retval mean the same)"
                            .into(),
                    );
                }
                Some(why) => refuse(&mut plan, index, neither(index, prog, func, &why))?,
            },
            ProgramKind::Fentry => {
                if let Some(why) = fentry_refusal(func, prog.kind == ProgramKind::Fexit) {
                    refuse(&mut plan, index, no_fentry(index, prog, func, &why))?;
                }
            }
            ProgramKind::Iter => {
                if let Err(reason) = iter_load_test(&prog.attach) {
                    let hint = "iterators need a kernel that loads tracing programs (where fentry: works too); \
                                `ss -tin` / `ps` show the same objects here";
                    refuse(&mut plan, index, attach_error(index, prog, reason, Some(hint.into())))?;
                }
            }
            _ => {}
        }
    }
    Ok(plan)
}

/// Whether this kernel loads an iterator program for `iter:NAME` (for
/// `--info`); else why not.
pub fn iterator_available(name: &str) -> Result<(), String> {
    let kind = AttachKind::Iter { name: name.into(), pid: None };
    iter_load_test(&AttachPoint { raw: format!("iter:{name}"), kind, span: Default::default() })
}

/// Loads a do-nothing program for iterator `point`; the reason in words
/// when that fails. Loading is where a kernel that refuses tracing programs
/// says so (EPERM), before any map or probe exists.
fn iter_load_test(point: &AttachPoint) -> Result<(), String> {
    let name = point.kind.iterator().unwrap_or_default();
    let refused = |why: &str| format!("this kernel refuses tracing programs (BPF_PROG_TYPE_TRACING) for iterator '{name}': {why}");
    if std::env::var_os(NO_TRACING_ENV).is_some_and(|v| v == "1") {
        return Err(refused(errno_words(libc::EPERM)));
    }
    let id = super::iter::btf_id(point)?;
    // r0 = 0; exit
    let insns = flowtrace_codegen::insn::encode_all(&[Insn::new(0xb7, 0, 0, 0, 0), Insn::new(0x95, 0, 0, 0, 0)]);
    let loaded = crate::sys::prog_load_full("ft_cap_iter", ProgramKind::Iter.bpf_prog_type(), super::iter::BPF_TRACE_ITER, id, &insns, None);
    loaded.map(drop).map_err(|e| match e.error.raw_os_error() {
        Some(libc::EPERM) => refused(errno_words(libc::EPERM)),
        _ => {
            let log = e.log.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
            format!("the kernel refused a do-nothing program for iterator '{name}' ({}): {log}", e.error)
        }
    })
}

fn attach_error(index: usize, prog: &ProgramCode, reason: String, hint: Option<String>) -> RuntimeError {
    RuntimeError::Attach(AttachError { program: index, probe: prog.attach.raw.clone(), reason, hint })
}

fn neither(index: usize, prog: &ProgramCode, func: &str, why: &str) -> RuntimeError {
    let reason = format!(
        "this kernel has no kprobes (built without CONFIG_KPROBES) and cannot run fentry programs either ({why})"
    );
    let hint = match tracepoint_for(func) {
        Some(tp) => format!("`{tp}` fires in the same place; its fields are `args.NAME` instead of argN"),
        None => "kprobe probes cannot run here; use a tracepoint (`flowtrace -l 'tracepoint:tcp:*'` lists some)".into(),
    };
    attach_error(index, prog, reason, Some(hint))
}

fn no_fentry(index: usize, prog: &ProgramCode, func: &str, why: &str) -> RuntimeError {
    let reason = format!("this kernel cannot run fentry/fexit programs ({why})");
    let hint = if kprobes_available() {
        let kind = if prog.kind == ProgramKind::Fexit { "kretprobe" } else { "kprobe" };
        format!("`{kind}:{func}` traces the same function (arguments as arg0…arg5)")
    } else {
        match tracepoint_for(func) {
            Some(tp) => format!("`{tp}` fires in the same place"),
            None => "use a tracepoint (`flowtrace -l 'tracepoint:tcp:*'` lists some)".into(),
        }
    };
    attach_error(index, prog, reason, Some(hint))
}

/// Kernel functions people probe during network incidents, and the stable
/// tracepoint that fires in (or next to) each. Only tracepoints the running
/// kernel has are offered.
const TRACEPOINT_ALTERNATIVES: &[(&[&str], &str)] = &[
    (&["tcp_retransmit_skb", "__tcp_retransmit_skb"], "tcp:tcp_retransmit_skb"),
    (&["tcp_retransmit_synack", "tcp_rtx_synack"], "tcp:tcp_retransmit_synack"),
    (&["tcp_send_reset", "tcp_v4_send_reset", "tcp_v6_send_reset"], "tcp:tcp_send_reset"),
    (&["tcp_reset", "tcp_receive_reset"], "tcp:tcp_receive_reset"),
    (&["tcp_destroy_sock", "tcp_v4_destroy_sock"], "tcp:tcp_destroy_sock"),
    (&["tcp_rcv_established"], "tcp:tcp_probe"),
    (&["tcp_sendmsg", "tcp_sendmsg_locked"], "tcp:tcp_sendmsg_locked"),
    (&["tcp_sendmsg", "sock_sendmsg", "inet_sendmsg"], "sock:sock_send_length"),
    (&["tcp_recvmsg", "sock_recvmsg", "inet_recvmsg"], "sock:sock_recv_length"),
    (
        &["tcp_set_state", "inet_sock_set_state", "tcp_v4_connect", "tcp_v6_connect", "tcp_connect", "tcp_close", "inet_csk_accept"],
        "sock:inet_sock_set_state",
    ),
    (&["kfree_skb", "kfree_skb_reason", "sk_skb_reason_drop", "tcp_drop"], "skb:kfree_skb"),
    (&["consume_skb"], "skb:consume_skb"),
    (&["__netif_receive_skb", "netif_receive_skb"], "net:netif_receive_skb"),
    (&["dev_queue_xmit", "__dev_queue_xmit"], "net:net_dev_queue"),
];

/// The tracepoint to suggest instead of probing `func`, if this kernel has one.
pub fn tracepoint_for(func: &str) -> Option<String> {
    super::tracepoint::ensure_tracefs();
    tracepoint_for_in(func, Path::new("/sys/kernel/tracing/events"))
}

fn tracepoint_for_in(func: &str, events: &Path) -> Option<String> {
    TRACEPOINT_ALTERNATIVES
        .iter()
        .filter(|(funcs, _)| funcs.contains(&func))
        .map(|(_, tp)| *tp)
        .find(|tp| {
            let (cat, name) = tp.split_once(':').unwrap_or((tp, ""));
            events.join(cat).join(name).is_dir()
        })
        .map(|tp| format!("tracepoint:{tp}"))
}

/// `None` when a do-nothing fentry (or fexit) program loads and attaches to
/// `func`; else why not, in words.
pub fn fentry_refusal(func: &str, exit: bool) -> Option<String> {
    try_fentry(func, exit).err()
}

fn try_fentry(func: &str, exit: bool) -> Result<(), String> {
    // r0 = 0; exit
    let insns = vec![Insn::new(0xb7, 0, 0, 0, 0), Insn::new(0x95, 0, 0, 0, 0)];
    let (kind, attach) = if exit {
        (ProgramKind::Fexit, AttachKind::Fexit { module: None, func: func.into() })
    } else {
        (ProgramKind::Fentry, AttachKind::Fentry { module: None, func: func.into() })
    };
    let name = "ft_cap_fentry";
    let code = ProgramCode {
        name: name.into(),
        kind,
        attach: AttachPoint { kind: attach, raw: String::new(), span: Default::default() },
        spans: vec![Default::default(); insns.len()],
        insns,
        map_relocs: Vec::new(),
        comments: Vec::new(),
        members: Vec::new(),
        btf: None,
    };
    let object = CompiledProgram { programs: vec![code], maps: Vec::new(), events: Vec::new(), probe_names: Vec::new(), records: Default::default(), str_trunc_trailer: String::new(), missing_probes: Default::default() };
    let elf = flowtrace_codegen::elf::write_elf(&object)?;
    let mut loader = EbpfLoader::new();
    loader.btf(None);
    let mut ebpf = loader.load(&elf).map_err(|e| format!("the test program was not accepted: {e}"))?;
    let btf = Btf::from_sys_fs().map_err(|_| "the kernel's BTF cannot be read".to_string())?;
    let prog = ebpf.program_mut(name).ok_or("the test program is missing")?;
    // Dropping the link (end of scope) detaches the test program again.
    let _link: Link = if exit {
        let p: &mut FExit = prog.try_into().map_err(|e: ProgramError| in_words(&e))?;
        p.load(func, &btf).map_err(|e| in_words(&e))?;
        let id = p.attach().map_err(|e| in_words(&e))?;
        Link::FExit(p.take_link(id).map_err(|e| in_words(&e))?)
    } else {
        let p: &mut FEntry = prog.try_into().map_err(|e: ProgramError| in_words(&e))?;
        p.load(func, &btf).map_err(|e| in_words(&e))?;
        let id = p.attach().map_err(|e| in_words(&e))?;
        Link::FEntry(p.take_link(id).map_err(|e| in_words(&e))?)
    };
    Ok(())
}

/// An aya error as words for the user: the errno's meaning in this
/// context instead of `(os error N)`.
pub(crate) fn in_words(e: &ProgramError) -> String {
    match os_error(e) {
        Some(code) => errno_words(code).to_string(),
        None => super::error_chain(e),
    }
}

/// The first OS error in an error's chain.
pub(crate) fn os_error(e: &(dyn std::error::Error + 'static)) -> Option<i32> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(code) = err.downcast_ref::<io::Error>().and_then(io::Error::raw_os_error) {
            return Some(code);
        }
        cur = err.source();
    }
    None
}

/// What an errno means when loading or attaching a tracing program.
pub(crate) fn errno_words(code: i32) -> &'static str {
    match code {
        libc::EPERM | libc::EACCES => "the kernel does not permit loading such programs here",
        libc::ENOENT | libc::ESRCH => "the function is not known to the kernel (not in its symbol table or BTF)",
        libc::EINVAL => "the kernel refuses to trace this function (inlined, notrace or blacklisted)",
        libc::EBUSY => "the function is already traced in a way that excludes this probe",
        libc::E2BIG | libc::ENOMEM => "the kernel ran out of memory for the probe",
        libc::EOPNOTSUPP | 524 /* ENOTSUPP */ => "this kernel does not support it",
        libc::EMFILE | libc::ENFILE => "too many open files (raise `ulimit -n`)",
        _ => "the kernel refused it",
    }
}

pub(crate) fn failure(e: &ProgramError) -> Failure {
    Failure::new(in_words(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracepoint_hints_only_for_tracepoints_that_exist() {
        let dir = std::env::temp_dir().join(format!("ft-cap-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("tcp/tcp_retransmit_skb")).unwrap();
        std::fs::create_dir_all(dir.join("sock/sock_send_length")).unwrap();
        assert_eq!(tracepoint_for_in("tcp_retransmit_skb", &dir).as_deref(), Some("tracepoint:tcp:tcp_retransmit_skb"));
        // tcp:tcp_sendmsg_locked is missing here: the next entry for the function is used.
        assert_eq!(tracepoint_for_in("tcp_sendmsg", &dir).as_deref(), Some("tracepoint:sock:sock_send_length"));
        assert_eq!(tracepoint_for_in("tcp_send_reset", &dir), None);
        assert_eq!(tracepoint_for_in("no_such_function", &dir), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_are_words_not_errnos() {
        let e = ProgramError::SyscallError(aya::sys::SyscallError {
            call: "bpf_prog_load",
            io_error: io::Error::from_raw_os_error(libc::EPERM),
        });
        let text = in_words(&e);
        assert!(!text.contains("os error"), "{text}");
        assert!(text.contains("not permit"), "{text}");
    }
}
