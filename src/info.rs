//! `flowtrace --info`: what this kernel offers flowtrace, found by trying
//! (as bpftrace's `--info` does) rather than by version numbers: each
//! program type, map type and helper flowtrace uses is loaded or created
//! once, and the answer printed. Needs root, like tracing itself.

use crate::cli::Cli;
use flowtrace_codegen::insn::{encode_all, Insn};
use flowtrace_runtime::sys::{map_create, prog_load};
use std::process::ExitCode;

/// `BPF_PROG_TYPE_*` of the providers flowtrace attaches.
const PROGRAM_TYPES: [(&str, u32); 6] =
    [("kprobe", 2), ("sched_cls (tc)", 3), ("tracepoint", 5), ("perf_event (interval)", 7), ("raw_tracepoint", 17), ("tracing (fentry/fexit)", 26)];

/// `BPF_MAP_TYPE_*` flowtrace creates, with a key and value size each takes.
const MAP_TYPES: [(&str, u32, u32, u32); 7] = [
    ("hash", 1, 8, 8),
    ("array", 2, 4, 8),
    ("percpu_hash", 5, 8, 8),
    ("percpu_array", 6, 4, 8),
    ("stack_trace", 7, 4, 8 * 127),
    ("lru_hash", 9, 8, 8),
    ("ringbuf", 27, 0, 0),
];

/// `BPF_FUNC_*` ids of the helpers flowtrace's code calls.
const HELPERS: [(&str, i32); 17] = [
    ("map_lookup_elem", 1),
    ("map_update_elem", 2),
    ("map_delete_elem", 3),
    ("ktime_get_ns", 5),
    ("get_smp_processor_id", 8),
    ("get_current_pid_tgid", 14),
    ("get_current_uid_gid", 15),
    ("get_current_comm", 16),
    ("get_stackid", 27),
    ("get_current_task", 35),
    ("get_current_cgroup_id", 80),
    ("send_signal", 109),
    ("probe_read_user", 112),
    ("probe_read_kernel", 113),
    ("probe_read_kernel_str", 115),
    ("ringbuf_output", 130),
    ("map_lookup_percpu_elem", 195),
];

pub fn run(cli: &Cli) -> ExitCode {
    // Without the privilege every probe below fails: a page of "no" would
    // describe the user, not the kernel.
    if let Err(e) = map_create("ft_info", 2, 4, 8, 1) {
        if e.raw_os_error() == Some(libc::EPERM) {
            eprintln!("flowtrace: error: --info loads test programs and maps, which {}", flowtrace_kernel::tracefs::NEEDS_ROOT);
            return ExitCode::from(1);
        }
    }
    let mut out = String::from("System\n");
    let (release, machine) = uname();
    out.push_str(&format!("  OS: Linux {release}\n  Arch: {machine}\n\n"));
    out.push_str(&format!("Build\n  version: flowtrace {}\n  code generator: own eBPF emitter (no LLVM)\n\n", env!("CARGO_PKG_VERSION")));
    out.push_str("Kernel features\n");
    let kernel = crate::frontend::open_kernel(cli);
    let btf = match &kernel {
        Ok(k) => format!("yes ({} types)", k.btf().len()),
        Err(e) => format!("no ({e})"),
    };
    out.push_str(&format!("  BTF: {btf}\n"));
    let tracefs = match kernel.map(|k| k.tracefs().root()) {
        Ok(Ok(root)) => format!("yes ({})", root.display()),
        Ok(Err(e)) | Err(e) => format!("no ({e})"),
    };
    out.push_str(&format!("  tracefs: {tracefs}\n"));
    out.push_str(&format!("  kprobes: {}\n", yes_no(flowtrace_runtime::kprobes_available())));
    out.push_str(&format!("  kprobe.multi links: {}\n", yes_no(flowtrace_runtime::capabilities::kprobe_multi_available())));
    // bpftrace's "iter" feature is this same test on the task iterator.
    out.push_str(&format!("  iter: {}\n\n", yes_no(flowtrace_runtime::capabilities::iterator_available("task").is_ok())));
    let exit = [encode(&[Insn::new(0xb7, 0, 0, 0, 0), Insn::new(0x95, 0, 0, 0, 0)])];
    out.push_str("Program types\n");
    for (name, ty) in PROGRAM_TYPES {
        // fentry/fexit need a BTF attach target to load: a kernel that knows
        // the type says that one is missing ("must provide btf_id").
        let ok = match prog_load("ft_info", ty, &exit[0]) {
            Ok(_) => true,
            Err(e) => ty == 26 && e.log.contains("btf_id"),
        };
        out.push_str(&format!("  {name}: {}\n", yes_no(ok)));
    }
    out.push_str("\nMap types\n");
    for (name, ty, key, value) in MAP_TYPES {
        let entries = if ty == 27 { 4096 } else { 1 };
        out.push_str(&format!("  {name}: {}\n", yes_no(map_create("ft_info", ty, key, value, entries).is_ok())));
    }
    out.push_str("\nHelpers (in tracepoint programs)\n");
    for (name, id) in HELPERS {
        out.push_str(&format!("  {name}: {}\n", yes_no(helper_available(id))));
    }
    match crate::stdout::print(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => failed.report(),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn encode(insns: &[Insn]) -> Vec<u8> {
    encode_all(insns)
}

/// A program that only calls helper `id`: the verifier names an unknown
/// helper ("invalid func", "unknown func") before it looks at arguments,
/// so any other rejection means the helper exists.
fn helper_available(id: i32) -> bool {
    let insns = encode(&[Insn::new(0x85, 0, 0, 0, id), Insn::new(0xb7, 0, 0, 0, 0), Insn::new(0x95, 0, 0, 0, 0)]);
    match prog_load("ft_info", 5, &insns) {
        Ok(_) => true,
        Err(e) => !(e.log.contains("invalid func") || e.log.contains("unknown func") || e.log.contains("cannot use helper")),
    }
}

fn uname() -> (String, String) {
    // SAFETY: uname fills the struct we own.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return ("unknown".into(), "unknown".into());
    }
    let text = |field: &[libc::c_char]| {
        let bytes: Vec<u8> = field.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (text(&u.release), text(&u.machine))
}
