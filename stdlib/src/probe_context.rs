//! What the probe was called with: `arg0`…`arg5` (kprobe registers),
//! `args` (tracepoint fields, fentry/fexit parameters), `retval`, and the
//! names `probe` and `func`.

use crate::registry::{BuiltinInfo, ProbeKind};
use crate::Builtin;

use ProbeKind::*;

const ARGN_PROBES: &[ProbeKind] = &[Kprobe, RawTracepoint, Uprobe, Usdt];

/// One entry per register argument: the x86-64 calling convention passes
/// six in registers, which is what `pt_regs` gives a kprobe.
macro_rules! arg {
    ($n:literal, $name:literal) => {
        BuiltinInfo {
            builtin: Builtin::Arg($n),
            name: $name,
            ty: "uint64",
            usable_in: ARGN_PROBES,
            doc: "a register argument of the probed function (cast it to the real type)",
        }
    };
}

pub(crate) const BUILTINS: &[BuiltinInfo] = &[
    arg!(0, "arg0"),
    arg!(1, "arg1"),
    arg!(2, "arg2"),
    arg!(3, "arg3"),
    arg!(4, "arg4"),
    arg!(5, "arg5"),
    BuiltinInfo {
        builtin: Builtin::Args,
        name: "args",
        ty: "args",
        usable_in: &[Tracepoint, Fentry, Fexit],
        doc: "the tracepoint's fields or the function's parameters, by name: args.NAME",
    },
    BuiltinInfo {
        builtin: Builtin::Retval,
        name: "retval",
        ty: "uint64 (kretprobe, uretprobe) or the return type (fexit)",
        usable_in: &[Kretprobe, Fexit, Uretprobe],
        doc: "the probed function's return value",
    },
    BuiltinInfo {
        builtin: Builtin::Probe,
        name: "probe",
        ty: "probe",
        usable_in: ProbeKind::ALL,
        doc: "the full name of the probe that fired, e.g. tracepoint:tcp:tcp_retransmit_skb",
    },
    BuiltinInfo {
        builtin: Builtin::Func,
        name: "func",
        ty: "probe",
        usable_in: &[Kprobe, Kretprobe, Fentry, Fexit, Uprobe, Uretprobe],
        doc: "the name of the probed function (kernel or user space)",
    },
];
