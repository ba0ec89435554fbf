//! A minimal test-only loader over raw bpf(2) and perf_event_open(2): create
//! the maps of a `CompiledProgram`, patch the map fds into `lddw`, load each
//! program through the verifier (printing its log on failure), attach
//! tracepoints, and read maps back.

#![allow(dead_code)]

use flowtrace_codegen::object::{BpfMapType, CompiledProgram, ProgramCode, ProgramKind};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const BPF_MAP_CREATE: i64 = 0;
const BPF_MAP_LOOKUP_ELEM: i64 = 1;
const BPF_MAP_UPDATE_ELEM: i64 = 2;
const BPF_MAP_GET_NEXT_KEY: i64 = 4;
const BPF_PROG_LOAD: i64 = 5;
const BPF_PROG_TEST_RUN: i64 = 10;

/// `union bpf_attr` as raw bytes; 128 is more than every command here uses.
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }
    fn u32(&mut self, off: usize, v: u32) -> &mut Attr {
        self.0[off..off + 4].copy_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, off: usize, v: u64) -> &mut Attr {
        self.0[off..off + 8].copy_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, off: usize, b: &[u8]) -> &mut Attr {
        self.0[off..off + b.len()].copy_from_slice(b);
        self
    }
    fn get_u32(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.0[off..off + 4].try_into().unwrap())
    }
    fn call(&mut self, cmd: i64) -> Result<i64, std::io::Error> {
        let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, self.0.as_mut_ptr(), self.0.len()) };
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }
}

/// Root tests run only as root with FLOWTRACE_ROOT_TESTS=1.
pub fn root_tests_enabled(test: &str) -> bool {
    if std::env::var("FLOWTRACE_ROOT_TESTS").as_deref() != Ok("1") {
        eprintln!("SKIPPED {test}: set FLOWTRACE_ROOT_TESTS=1 (and run as root) to load programs into the kernel");
        return false;
    }
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("!!!!! SKIPPED {test} (needs root) !!!!!");
        return false;
    }
    true
}

pub fn possible_cpus() -> usize {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_else(|_| "0".into());
    text.trim()
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

pub struct Loaded {
    pub maps: Vec<OwnedFd>,
    pub progs: Vec<OwnedFd>,
}

pub fn create_map(map_type: BpfMapType, key: u32, value: u32, entries: u32, name: &str) -> Result<OwnedFd, String> {
    let mut a = Attr::new();
    let mut n = name.as_bytes().to_vec();
    n.truncate(15);
    a.u32(0, map_type as u32).u32(4, key).u32(8, value).u32(12, entries).bytes(28, &n);
    let fd = a.call(BPF_MAP_CREATE).map_err(|e| format!("map {name}: {e}"))?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn prog_type(kind: ProgramKind) -> u32 {
    match kind {
        ProgramKind::Kprobe | ProgramKind::Kretprobe => 2,
        ProgramKind::SchedCls => 3,
        ProgramKind::Tracepoint => 5,
        ProgramKind::PerfEvent => 7,
        ProgramKind::RawTracepoint | ProgramKind::Special => 17,
        ProgramKind::Fentry | ProgramKind::Fexit => 26,
    }
}

/// Load one program; the error is the verifier log.
pub fn load_program(code: &ProgramCode, maps: &[OwnedFd]) -> Result<OwnedFd, String> {
    let mut insns = code.insns.clone();
    for (at, m) in &code.map_relocs {
        insns[*at].imm = maps[m.0 as usize].as_raw_fd();
    }
    let bytes = flowtrace_codegen::insn::encode_all(&insns);
    let license = b"GPL\0";
    let mut log = vec![0u8; 4 << 20];
    let mut name = code.name.as_bytes().to_vec();
    name.truncate(15);
    let mut a = Attr::new();
    a.u32(0, prog_type(code.kind))
        .u32(4, insns.len() as u32)
        .u64(8, bytes.as_ptr() as u64)
        .u64(16, license.as_ptr() as u64)
        .u32(24, 1)
        .u32(28, log.len() as u32)
        .u64(32, log.as_mut_ptr() as u64)
        .bytes(48, &name);
    match a.call(BPF_PROG_LOAD) {
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            let tail: Vec<&str> = text.lines().collect();
            let tail = tail[tail.len().saturating_sub(60)..].join("\n");
            Err(format!("program {} rejected: {e}\n--- verifier log (tail) ---\n{tail}", code.name))
        }
    }
}

pub fn load_all(c: &CompiledProgram) -> Result<Loaded, String> {
    let mut maps = Vec::new();
    for m in &c.maps {
        maps.push(create_map(m.map_type, m.key_size, m.value_size, m.max_entries, &m.name)?);
    }
    let mut progs = Vec::new();
    for p in &c.programs {
        progs.push(load_program(p, &maps)?);
    }
    Ok(Loaded { maps, progs })
}

pub fn tracepoint_id(category: &str, name: &str) -> Result<u64, String> {
    let path = format!("/sys/kernel/tracing/events/{category}/{name}/id");
    if !std::path::Path::new("/sys/kernel/tracing/events").exists() {
        let _ = std::process::Command::new("mount").args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"]).status();
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.trim().parse().map_err(|e| format!("{path}: {e}"))
}

/// Attach a loaded tracepoint program; the returned fd keeps it attached.
pub fn attach_tracepoint(prog: &OwnedFd, category: &str, name: &str) -> Result<OwnedFd, String> {
    let id = tracepoint_id(category, name)?;
    // struct perf_event_attr: type, size, config, sample_period, sample_type, …
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&2u32.to_le_bytes()); // PERF_TYPE_TRACEPOINT
    attr[4..8].copy_from_slice(&128u32.to_le_bytes());
    attr[8..16].copy_from_slice(&id.to_le_bytes());
    attr[16..24].copy_from_slice(&1u64.to_le_bytes());
    attr[24..32].copy_from_slice(&(1u64 << 10).to_le_bytes()); // PERF_SAMPLE_RAW
    let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, attr.as_ptr(), -1i32, 0i32, -1i32, 8u64 /* PERF_FLAG_FD_CLOEXEC */) };
    if fd < 0 {
        return Err(format!("perf_event_open {category}:{name}: {}", std::io::Error::last_os_error()));
    }
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    const PERF_EVENT_IOC_SET_BPF: u64 = 0x4004_2408;
    const PERF_EVENT_IOC_ENABLE: u64 = 0x2400;
    unsafe {
        if libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_SET_BPF as _, prog.as_raw_fd()) < 0 {
            return Err(format!("SET_BPF: {}", std::io::Error::last_os_error()));
        }
        if libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_ENABLE as _, 0) < 0 {
            return Err(format!("ENABLE: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(fd)
}

pub fn lookup(map: &OwnedFd, key: &[u8], value_len: usize) -> Option<Vec<u8>> {
    let mut value = vec![0u8; value_len];
    let mut a = Attr::new();
    a.u32(0, map.as_raw_fd() as u32).u64(8, key.as_ptr() as u64).u64(16, value.as_mut_ptr() as u64);
    a.call(BPF_MAP_LOOKUP_ELEM).ok().map(|_| value)
}

pub fn update(map: &OwnedFd, key: &[u8], value: &[u8]) -> Result<(), String> {
    let mut a = Attr::new();
    a.u32(0, map.as_raw_fd() as u32).u64(8, key.as_ptr() as u64).u64(16, value.as_ptr() as u64);
    a.call(BPF_MAP_UPDATE_ELEM).map(|_| ()).map_err(|e| e.to_string())
}

pub fn keys(map: &OwnedFd, key_len: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut prev: Option<Vec<u8>> = None;
    loop {
        let mut next = vec![0u8; key_len];
        let mut a = Attr::new();
        a.u32(0, map.as_raw_fd() as u32)
            .u64(8, prev.as_ref().map_or(0, |k| k.as_ptr() as u64))
            .u64(16, next.as_mut_ptr() as u64);
        if a.call(BPF_MAP_GET_NEXT_KEY).is_err() {
            return out;
        }
        out.push(next.clone());
        prev = Some(next);
    }
}

/// A per-CPU value's u64 words, summed over CPUs.
pub fn percpu_u64s(map: &OwnedFd, key: &[u8], value_size: usize) -> Option<Vec<u64>> {
    let cpus = possible_cpus();
    let stride = value_size.div_ceil(8) * 8;
    let raw = lookup(map, key, stride * cpus)?;
    let mut sum = vec![0u64; value_size / 8];
    for cpu in 0..cpus {
        for (i, s) in sum.iter_mut().enumerate() {
            let at = cpu * stride + i * 8;
            *s = s.wrapping_add(u64::from_le_bytes(raw[at..at + 8].try_into().unwrap()));
        }
    }
    Some(sum)
}

/// Per-CPU values, one Vec<u64> per CPU (for min/max, which do not sum).
pub fn percpu_values(map: &OwnedFd, key: &[u8], value_size: usize) -> Option<Vec<Vec<u64>>> {
    let cpus = possible_cpus();
    let stride = value_size.div_ceil(8) * 8;
    let raw = lookup(map, key, stride * cpus)?;
    Some(
        (0..cpus)
            .map(|c| (0..value_size / 8).map(|i| u64::from_le_bytes(raw[c * stride + i * 8..c * stride + i * 8 + 8].try_into().unwrap())).collect())
            .collect(),
    )
}

/// Run a raw-tracepoint (or BEGIN/END) program once with BPF_PROG_TEST_RUN;
/// returns its return value.
pub fn test_run_raw_tp(prog: &OwnedFd, args: &[u64]) -> Result<u32, String> {
    let ctx: Vec<u8> = args.iter().flat_map(|a| a.to_le_bytes()).collect();
    let mut a = Attr::new();
    a.u32(0, prog.as_raw_fd() as u32).u32(40, ctx.len() as u32).u64(48, if ctx.is_empty() { 0 } else { ctx.as_ptr() as u64 });
    a.call(BPF_PROG_TEST_RUN).map_err(|e| format!("test run: {e}"))?;
    Ok(a.get_u32(4))
}

/// Run a sched_cls program on one packet with BPF_PROG_TEST_RUN.
pub fn test_run_skb(prog: &OwnedFd, packet: &[u8]) -> Result<u32, String> {
    let mut out = vec![0u8; packet.len() + 256];
    let mut a = Attr::new();
    a.u32(0, prog.as_raw_fd() as u32)
        .u32(8, packet.len() as u32)
        .u32(12, out.len() as u32)
        .u64(16, packet.as_ptr() as u64)
        .u64(24, out.as_mut_ptr() as u64)
        .u32(32, 1);
    a.call(BPF_PROG_TEST_RUN).map_err(|e| format!("test run: {e}"))?;
    Ok(a.get_u32(4))
}
