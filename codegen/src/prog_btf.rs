//! The program BTF a program with callback subprograms must be loaded with:
//! the verifier only lets `bpf_for_each_map_elem`/`bpf_loop` call a
//! subprogram when the program carries `func_info` (one BTF FUNC per
//! function, by first instruction), else it refuses the load with "missing
//! btf func_info". Nothing else in the program needs types, so the BTF is
//! tiny: a `long`, a prototype per shape of function, a FUNC per function.

use flowtrace_kernel::btf::write::{BtfWriter, IntSpec};

/// A program's BTF blob and its `func_info` records.
#[derive(Clone, Debug, PartialEq)]
pub struct ProgramBtf {
    pub blob: Vec<u8>,
    /// `struct bpf_func_info`: (first instruction, FUNC type id), by
    /// instruction, the main function first.
    pub func_info: Vec<(u32, u32)>,
}

/// BTF for a main function at 0 and callbacks starting at `callbacks`
/// (each `long cb(long map, long key, long value, long ctx)`). The names
/// only need to be valid identifiers; they show in `bpftool prog dump`.
pub fn for_functions(callbacks: &[usize]) -> ProgramBtf {
    let mut w = BtfWriter::new();
    let long = w.int("long", 8, IntSpec { signed: true, bits: 64, ..Default::default() });
    // Static linkage (0): the verifier checks a static function with its
    // caller's argument types, not against this prototype, as it would a
    // global one.
    let main_proto = w.func_proto(long, &[("ctx", long)]);
    let main = w.func("ft_main", main_proto, 0);
    let cb_proto = w.func_proto(long, &[("map", long), ("key", long), ("value", long), ("ctx", long)]);
    let mut func_info = vec![(0, main)];
    for (i, &start) in callbacks.iter().enumerate() {
        let f = w.func(&format!("ft_callback_{i}"), cb_proto, 0);
        func_info.push((start as u32, f));
    }
    ProgramBtf { blob: w.finish(), func_info }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtrace_kernel::btf::{Btf, Kind};

    #[test]
    fn one_func_per_function_named_and_placed() {
        let b = for_functions(&[40, 75]);
        assert_eq!(b.func_info.iter().map(|f| f.0).collect::<Vec<_>>(), vec![0, 40, 75]);
        let btf = Btf::from_bytes(b.blob).unwrap();
        for (&(_, id), name) in b.func_info.iter().zip(["ft_main", "ft_callback_0", "ft_callback_1"]) {
            assert_eq!(btf.kind_of(id), Kind::Func as u8);
            assert_eq!(btf.find_func(name), Some(id));
        }
    }
}
