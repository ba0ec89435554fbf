//! `-d ir`: the IR as assembly text, with the `;; >…` comments lowering left
//! to show which source construct produced which instructions.

use super::{Inst, IrFunc, Size};
use crate::insn::helper;
use std::fmt::Write;

/// Render one program's IR, one instruction per line.
pub fn dump_ir(name: &str, ir: &IrFunc) -> String {
    let mut out = format!("{name}:\n");
    for line in &ir.lines {
        match &line.inst {
            Inst::Label(l) => {
                let _ = writeln!(out, "L{}:", l.0);
            }
            Inst::Comment(text) => {
                let _ = writeln!(out, "\t;; {text}");
            }
            inst => {
                let _ = writeln!(out, "\t{}", format_inst(inst));
            }
        }
    }
    out
}

fn size_suffix(size: Size) -> &'static str {
    match size {
        Size::B => "b",
        Size::H => "h",
        Size::W => "w",
        Size::DW => "dw",
    }
}

fn mem(base: super::Reg, off: i16) -> String {
    if off < 0 {
        format!("[{base}{off}]")
    } else {
        format!("[{base}+{off}]")
    }
}

/// One instruction in assembly syntax (also used for `-d bpf` after allocation).
pub fn format_inst(inst: &Inst) -> String {
    match inst {
        Inst::Alu { op, dst, src } => format!("{} {dst}, {src}", op.name()),
        Inst::Alu32 { op, dst, src } => format!("{}32 {dst}, {src}", op.name()),
        Inst::Neg { dst } => format!("neg {dst}"),
        Inst::ToBe { dst, bits } => format!("be{bits} {dst}"),
        Inst::LdImm64 { dst, imm } => format!("lddw {dst}, {imm:#x}"),
        Inst::LdMap { dst, map } => format!("lddw {dst}, map#{}", map.0),
        Inst::LdBtfVar { dst, btf_id } => format!("lddw {dst}, btf#{btf_id}"),
        Inst::LdFunc { dst, func } => format!("lddw {dst}, callback#{func}"),
        Inst::Load { size, dst, base, off } => format!("ldx{} {dst}, {}", size_suffix(*size), mem(*base, *off)),
        Inst::Store { size, base, off, src } => match src {
            super::Src::Reg(r) => format!("stx{} {}, {r}", size_suffix(*size), mem(*base, *off)),
            super::Src::Imm(i) => format!("st{} {}, {i}", size_suffix(*size), mem(*base, *off)),
        },
        Inst::Jump { cond, lhs, rhs, target } => format!("{} {lhs}, {rhs}, L{}", cond.name(), target.0),
        Inst::Goto(l) => format!("ja L{}", l.0),
        Inst::Call { helper, .. } => format!("call {}", helper_name(*helper)),
        Inst::Exit => "exit".to_string(),
        Inst::Label(l) => format!("L{}:", l.0),
        Inst::Comment(c) => format!(";; {c}"),
    }
}

pub fn helper_name(id: i32) -> String {
    let name = match id {
        helper::MAP_LOOKUP_ELEM => "map_lookup_elem",
        helper::FOR_EACH_MAP_ELEM => "for_each_map_elem",
        helper::LOOP => "loop",
        helper::MAP_UPDATE_ELEM => "map_update_elem",
        helper::MAP_DELETE_ELEM => "map_delete_elem",
        helper::KTIME_GET_NS => "ktime_get_ns",
        helper::GET_SMP_PROCESSOR_ID => "get_smp_processor_id",
        helper::GET_CURRENT_PID_TGID => "get_current_pid_tgid",
        helper::GET_CURRENT_UID_GID => "get_current_uid_gid",
        helper::GET_CURRENT_COMM => "get_current_comm",
        helper::GET_CURRENT_TASK => "get_current_task",
        helper::GET_CURRENT_CGROUP_ID => "get_current_cgroup_id",
        helper::PROBE_READ_KERNEL => "probe_read_kernel",
        helper::PROBE_READ_KERNEL_STR => "probe_read_kernel_str",
        helper::PROBE_READ_USER => "probe_read_user",
        helper::PROBE_READ_USER_STR => "probe_read_user_str",
        helper::RINGBUF_RESERVE => "ringbuf_reserve",
        helper::RINGBUF_SUBMIT => "ringbuf_submit",
        helper::RINGBUF_DISCARD => "ringbuf_discard",
        helper::RINGBUF_QUERY => "ringbuf_query",
        helper::RINGBUF_OUTPUT => "ringbuf_output",
        helper::SKB_LOAD_BYTES => "skb_load_bytes",
        helper::GET_SOCKET_COOKIE => "get_socket_cookie",
        helper::GET_FUNC_IP => "get_func_ip",
        _ => return format!("#{id}"),
    };
    name.to_string()
}
