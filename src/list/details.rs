//! What `-lv` adds under each probe, and what `-l 'struct NAME'` lists:
//! read from the kernel as bpftrace reads it — tracepoint fields from their
//! tracefs format (without the `common_` header), function and raw
//! tracepoint arguments from BTF, struct definitions from BTF.

use flowtrace_kernel::glob::glob_match;
use flowtrace_kernel::tracefs::{parse_format, Location};
use flowtrace_kernel::KernelInfo;

/// The kernel facts listing needs beyond names (a trait so tests can feed
/// them without a kernel).
pub trait Details {
    /// `TYPE NAME` per tracepoint field, as its format declares it.
    fn tracepoint_fields(&self, category: &str, name: &str) -> Vec<String>;
    /// `TYPE NAME` per parameter; with `retval`, the return type last.
    /// With `registers`, parameters are named `arg0`, `arg1`, … as a
    /// kprobe reads them.
    fn function_args(&self, func: &str, retval: bool, registers: bool) -> Vec<String>;
    /// `TYPE NAME` per argument a raw tracepoint passes.
    fn raw_tracepoint_args(&self, name: &str) -> Vec<String>;
    /// `struct NAME` / `union NAME` matching the glob, sorted.
    fn records(&self, pattern: &str) -> Vec<String>;
    /// The C definition of a record listed by [`Details::records`].
    fn record_definition(&self, record: &str) -> Option<String>;
}

impl Details for KernelInfo {
    fn tracepoint_fields(&self, category: &str, name: &str) -> Vec<String> {
        let Ok(text) = self.tracefs().read_format(category, name) else { return Vec::new() };
        parse_format(&text)
            .into_iter()
            .map(|f| match (f.location, f.array_len) {
                (Location::DataLoc, _) => format!("__data_loc {}[] {}", f.c_type, f.name),
                (Location::RelLoc, _) => format!("__rel_loc {}[] {}", f.c_type, f.name),
                (Location::Inline, Some(n)) => format!("{} {}[{n}]", f.c_type, f.name),
                (Location::Inline, None) => format!("{} {}", f.c_type, f.name),
            })
            .collect()
    }

    fn function_args(&self, func: &str, retval: bool, registers: bool) -> Vec<String> {
        let btf = self.btf();
        let Some(id) = self.find_func(func) else { return Vec::new() };
        let params = btf.c_params(id).unwrap_or_default().into_iter().enumerate();
        // bpftrace lists both with a space before the name: `struct sock * sk`.
        let mut args: Vec<String> = params
            .map(|(i, (ty, name))| if registers { format!("{ty} arg{i}") } else { format!("{ty} {name}") })
            .collect();
        if retval {
            args.extend(btf.c_return(id).filter(|r| r != "void").map(|r| format!("{r} retval")));
        }
        args
    }

    fn raw_tracepoint_args(&self, name: &str) -> Vec<String> {
        // The kernel's `__bpf_trace_NAME` takes the raw tracepoint's
        // arguments after a first `void *__data` that is not one of them.
        let btf = self.btf();
        let Some(id) = self.find_func(&format!("__bpf_trace_{name}")) else { return Vec::new() };
        btf.c_params(id).unwrap_or_default().into_iter().skip(1).map(|(ty, name)| format!("{ty} {name}")).collect()
    }

    fn records(&self, pattern: &str) -> Vec<String> {
        self.btf().records().into_iter().map(|(name, _)| name).filter(|name| glob_match(pattern, name)).collect()
    }

    fn record_definition(&self, record: &str) -> Option<String> {
        let btf = self.btf();
        let (keyword, name) = record.split_once(' ')?;
        let id = match keyword {
            "struct" => btf.find_record(name, false),
            "union" => btf.find_record(name, true),
            _ => None,
        }?;
        Some(btf.c_definition(id))
    }
}
