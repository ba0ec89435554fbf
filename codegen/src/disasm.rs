//! eBPF instructions as text, in the notation of the kernel's verifier log
//! (`r1 = *(u32 *)(r6 + 16)`, `if r0 == 0 goto +5 <17>`), so `flowtrace -d bpf`
//! output can be read side by side with a verifier rejection.

use crate::insn::*;
use crate::object::{MapSpec, ProgramCode};
use std::fmt::Write;

/// One line per instruction (`  12: …`); each comment is printed as a `; …`
/// line before the instruction it is attached to. An `lddw` of a map shows
/// `map[N]` with N its immediate (the code generator stores the map index
/// there; the loader overwrites it with the map's fd).
pub fn disassemble(insns: &[Insn], comments: &[(usize, String)]) -> String {
    render(insns, comments, &[])
}

/// Like [`disassemble`], but map loads are named from the program's
/// relocations: `r1 = map[ft_events] ll`.
pub fn disassemble_program(p: &ProgramCode, maps: &[MapSpec]) -> String {
    let mut insns = p.insns.clone();
    let mut names = Vec::new();
    for &(at, map) in &p.map_relocs {
        if let (Some(i), Some(spec)) = (insns.get_mut(at), maps.get(map.0 as usize)) {
            i.imm = map.0 as i32;
            names.push((map.0 as i32, spec.name.clone()));
        }
    }
    render(&insns, &p.comments, &names)
}

fn render(insns: &[Insn], comments: &[(usize, String)], map_names: &[(i32, String)]) -> String {
    let mut out = String::new();
    let mut comments: Vec<&(usize, String)> = comments.iter().collect();
    comments.sort_by_key(|c| c.0);
    let mut next_comment = comments.iter().peekable();
    let mut pc = 0;
    while pc < insns.len() {
        while let Some(c) = next_comment.next_if(|c| c.0 <= pc) {
            let _ = writeln!(out, "; {}", c.1);
        }
        let insn = insns[pc];
        let text = if is_lddw(insn) {
            lddw(insn, insns.get(pc + 1).copied().unwrap_or_default(), map_names)
        } else {
            one(insn, pc)
        };
        let _ = writeln!(out, "{pc:>4}: {text}");
        pc += if is_lddw(insn) { 2 } else { 1 };
    }
    for c in next_comment {
        let _ = writeln!(out, "; {}", c.1);
    }
    out
}

fn is_lddw(i: Insn) -> bool {
    i.code == BPF_LD | BPF_DW | BPF_IMM
}

fn lddw(first: Insn, second: Insn, map_names: &[(i32, String)]) -> String {
    if first.src == BPF_PSEUDO_MAP_FD {
        let name = map_names.iter().find(|(id, _)| *id == first.imm).map(|(_, n)| n.clone());
        return format!("r{} = map[{}] ll", first.dst, name.unwrap_or_else(|| first.imm.to_string()));
    }
    if first.src == BPF_PSEUDO_FUNC {
        // The immediate counts from the instruction after the lddw.
        return format!("r{} = callback at pc{:+} ll", first.dst, i64::from(first.imm) + 1);
    }
    let v = (first.imm as u32 as u64) | ((second.imm as u32 as u64) << 32);
    format!("r{} = {v:#x} ll", first.dst)
}

/// One instruction that is not an `lddw`.
fn one(i: Insn, pc: usize) -> String {
    match i.code & 0x07 {
        BPF_ALU64 => alu(i, 'r'),
        BPF_ALU => alu(i, 'w'),
        BPF_JMP => jump(i, pc, 'r'),
        BPF_JMP32 => jump(i, pc, 'w'),
        BPF_LDX if i.code & 0xe0 == BPF_MEM => {
            format!("r{} = *({} *)(r{}{})", i.dst, size_name(i.code), i.src, offset(i.off))
        }
        BPF_STX if i.code & 0xe0 == BPF_MEM => {
            format!("*({} *)(r{}{}) = r{}", size_name(i.code), i.dst, offset(i.off), i.src)
        }
        BPF_STX if i.code & 0xe0 == BPF_ATOMIC => atomic(i),
        BPF_ST if i.code & 0xe0 == BPF_MEM => {
            format!("*({} *)(r{}{}) = {}", size_name(i.code), i.dst, offset(i.off), i.imm)
        }
        _ => unknown(i),
    }
}

fn unknown(i: Insn) -> String {
    format!("<unknown code {:#04x} dst r{} src r{} off {} imm {}>", i.code, i.dst, i.src, i.off, i.imm)
}

fn size_name(code: u8) -> &'static str {
    match code & 0x18 {
        BPF_B => "u8",
        BPF_H => "u16",
        BPF_W => "u32",
        _ => "u64",
    }
}

fn offset(off: i16) -> String {
    if off < 0 {
        format!(" - {}", -(off as i32))
    } else {
        format!(" + {off}")
    }
}

fn alu(i: Insn, reg: char) -> String {
    let dst = format!("{reg}{}", i.dst);
    let src = if i.code & BPF_X != 0 { format!("{reg}{}", i.src) } else { i.imm.to_string() };
    let op = match i.code & 0xf0 {
        BPF_ADD => "+=",
        BPF_SUB => "-=",
        BPF_MUL => "*=",
        BPF_DIV => "/=",
        BPF_OR => "|=",
        BPF_AND => "&=",
        BPF_LSH => "<<=",
        BPF_RSH => ">>=",
        BPF_MOD => "%=",
        BPF_XOR => "^=",
        BPF_MOV => "=",
        BPF_ARSH => "s>>=",
        BPF_NEG => return format!("{dst} = -{dst}"),
        BPF_END => {
            // BPF_X in the source bit means "to big endian" for BPF_END.
            let order = if i.code & BPF_X != 0 { "be" } else { "le" };
            return format!("{dst} = {order}{} {dst}", i.imm);
        }
        _ => return unknown(i),
    };
    format!("{dst} {op} {src}")
}

fn jump(i: Insn, pc: usize, reg: char) -> String {
    let target = pc as i64 + i.off as i64 + 1;
    let op = match i.code & 0xf0 {
        BPF_JA if i.code & 0x07 == BPF_JMP => return format!("goto {:+} <{target}>", i.off),
        BPF_CALL => return call(i),
        BPF_EXIT => return "exit".to_string(),
        BPF_JEQ => "==",
        BPF_JGT => ">",
        BPF_JGE => ">=",
        BPF_JSET => "&",
        BPF_JNE => "!=",
        BPF_JSGT => "s>",
        BPF_JSGE => "s>=",
        BPF_JLT => "<",
        BPF_JLE => "<=",
        BPF_JSLT => "s<",
        BPF_JSLE => "s<=",
        _ => return unknown(i),
    };
    let src = if i.code & BPF_X != 0 { format!("{reg}{}", i.src) } else { i.imm.to_string() };
    format!("if {reg}{} {op} {src} goto {:+} <{target}>", i.dst, i.off)
}

fn call(i: Insn) -> String {
    match i.src {
        // BPF_PSEUDO_CALL: a bpf-to-bpf call, relative like a jump.
        1 => format!("call pc{:+}", i.imm),
        _ => match helper_name(i.imm) {
            Some(name) => format!("call bpf_{name}#{}", i.imm),
            None => format!("call #{}", i.imm),
        },
    }
}

fn atomic(i: Insn) -> String {
    let size = size_name(i.code);
    let (dst, src) = (i.dst, i.src);
    let off = offset(i.off);
    const FETCH: i32 = 0x01;
    match i.imm {
        0xe1 => format!("r{src} = atomic_xchg(({size} *)(r{dst}{off}), r{src})"),
        0xf1 => format!("r0 = atomic_cmpxchg(({size} *)(r{dst}{off}), r0, r{src})"),
        imm => {
            let op = match imm & !FETCH {
                0x00 => "+=",
                0x40 => "|=",
                0x50 => "&=",
                0xa0 => "^=",
                _ => return unknown(i),
            };
            let fetch = if imm & FETCH != 0 { " (fetch)" } else { "" };
            format!("lock *({size} *)(r{dst}{off}) {op} r{src}{fetch}")
        }
    }
}

/// Names of the helpers flowtrace emits (the kernel's `bpf_` prefix is added
/// by the caller).
fn helper_name(id: i32) -> Option<&'static str> {
    use crate::insn::helper::*;
    Some(match id {
        MAP_LOOKUP_ELEM => "map_lookup_elem",
        FOR_EACH_MAP_ELEM => "for_each_map_elem",
        LOOP => "loop",
        MAP_UPDATE_ELEM => "map_update_elem",
        MAP_DELETE_ELEM => "map_delete_elem",
        PROBE_READ => "probe_read",
        KTIME_GET_NS => "ktime_get_ns",
        GET_PRANDOM_U32 => "get_prandom_u32",
        GET_SMP_PROCESSOR_ID => "get_smp_processor_id",
        GET_CURRENT_PID_TGID => "get_current_pid_tgid",
        GET_CURRENT_UID_GID => "get_current_uid_gid",
        GET_CURRENT_COMM => "get_current_comm",
        GET_CGROUP_CLASSID => "get_cgroup_classid",
        PERF_EVENT_OUTPUT => "perf_event_output",
        SKB_LOAD_BYTES => "skb_load_bytes",
        GET_STACKID => "get_stackid",
        GET_CURRENT_TASK => "get_current_task",
        GET_SOCKET_COOKIE => "get_socket_cookie",
        SKB_CGROUP_ID => "skb_cgroup_id",
        GET_CURRENT_CGROUP_ID => "get_current_cgroup_id",
        PROBE_READ_USER => "probe_read_user",
        PROBE_READ_KERNEL => "probe_read_kernel",
        PROBE_READ_USER_STR => "probe_read_user_str",
        PROBE_READ_KERNEL_STR => "probe_read_kernel_str",
        KTIME_GET_BOOT_NS => "ktime_get_boot_ns",
        RINGBUF_OUTPUT => "ringbuf_output",
        RINGBUF_RESERVE => "ringbuf_reserve",
        RINGBUF_SUBMIT => "ringbuf_submit",
        RINGBUF_DISCARD => "ringbuf_discard",
        RINGBUF_QUERY => "ringbuf_query",
        GET_FUNC_IP => "get_func_ip",
        GET_ATTACH_COOKIE => "get_attach_cookie",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(insns: &[Insn]) -> Vec<String> {
        disassemble(insns, &[]).lines().map(String::from).collect()
    }

    #[test]
    fn memory_access_reads_like_the_verifier_log() {
        let insns = [
            Insn::new(BPF_LDX | BPF_MEM | BPF_W, 1, 6, 16, 0),
            Insn::new(BPF_STX | BPF_MEM | BPF_DW, 10, 1, -8, 0),
            Insn::new(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -16, 0),
            Insn::new(BPF_STX | BPF_ATOMIC | BPF_DW, 0, 1, 0, BPF_ADD as i32),
        ];
        assert_eq!(
            lines(&insns),
            [
                "   0: r1 = *(u32 *)(r6 + 16)",
                "   1: *(u64 *)(r10 - 8) = r1",
                "   2: *(u64 *)(r10 - 16) = 0",
                "   3: lock *(u64 *)(r0 + 0) += r1",
            ]
        );
    }

    #[test]
    fn jumps_show_their_target_and_lddw_takes_two_slots() {
        let insns = [
            Insn::new(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, 3),
            Insn::new(0, 0, 0, 0, 0),
            Insn::new(BPF_JMP | BPF_CALL, 0, 0, 0, helper::MAP_LOOKUP_ELEM),
            Insn::new(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 5, 0),
            Insn::new(BPF_JMP32 | BPF_JSGT | BPF_X, 1, 2, -2, 0),
            Insn::new(BPF_JMP | BPF_JA, 0, 0, 1, 0),
            Insn::new(BPF_LD | BPF_DW | BPF_IMM, 2, 0, 0, -1),
            Insn::new(0, 0, 0, 0, 1),
            Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
        ];
        assert_eq!(
            lines(&insns),
            [
                "   0: r1 = map[3] ll",
                "   2: call bpf_map_lookup_elem#1",
                "   3: if r0 == 0 goto +5 <9>",
                "   4: if w1 s> w2 goto -2 <3>",
                "   5: goto +1 <7>",
                "   6: r2 = 0x1ffffffff ll",
                "   8: exit",
            ]
        );
    }

    #[test]
    fn alu_in_both_widths() {
        let insns = [
            Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, -1),
            Insn::new(BPF_ALU64 | BPF_ADD | BPF_X, 1, 2, 0, 0),
            Insn::new(BPF_ALU | BPF_AND | BPF_K, 3, 0, 0, 255),
            Insn::new(BPF_ALU64 | BPF_ARSH | BPF_K, 4, 0, 0, 3),
            Insn::new(BPF_ALU | BPF_END | BPF_X, 5, 0, 0, 16),
            Insn::new(BPF_ALU64 | BPF_NEG, 6, 0, 0, 0),
        ];
        assert_eq!(
            lines(&insns),
            ["   0: r0 = -1", "   1: r1 += r2", "   2: w3 &= 255", "   3: r4 s>>= 3", "   4: w5 = be16 w5", "   5: r6 = -r6"]
        );
    }

    #[test]
    fn comments_come_before_their_instruction() {
        let insns = [Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0), Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)];
        let comments = [(1, "return".to_string()), (0, ">probe tracepoint:sock:x".to_string()), (2, "end".to_string())];
        assert_eq!(
            disassemble(&insns, &comments),
            "; >probe tracepoint:sock:x\n   0: r0 = 0\n; return\n   1: exit\n; end\n"
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        let insns = [Insn::new(0xff, 15, 15, 0, 0), Insn::new(BPF_LD | BPF_DW | BPF_IMM, 1, 0, 0, 0)];
        let text = disassemble(&insns, &[]);
        assert!(text.contains("<unknown code 0xff"));
        assert!(text.contains("r1 = 0x0 ll"));
    }
}
