//! eBPF instructions as the kernel reads them (`struct bpf_insn`), and the
//! opcode constants from `linux/bpf_common.h` / `linux/bpf.h`.

/// One 8-byte eBPF instruction. A 64-bit immediate load (`lddw`) takes two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Insn {
    pub code: u8,
    /// Low nibble of the register byte.
    pub dst: u8,
    /// High nibble of the register byte.
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn { code, dst, src, off, imm }
    }

    /// Little-endian encoding (x86-64, arm64).
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.dst & 0x0f) | (self.src << 4);
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }

    pub fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

pub fn encode_all(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.to_bytes()).collect()
}

// Instruction classes.
pub const BPF_LD: u8 = 0x00;
pub const BPF_LDX: u8 = 0x01;
pub const BPF_ST: u8 = 0x02;
pub const BPF_STX: u8 = 0x03;
pub const BPF_ALU: u8 = 0x04;
pub const BPF_JMP: u8 = 0x05;
pub const BPF_JMP32: u8 = 0x06;
pub const BPF_ALU64: u8 = 0x07;

// Sizes.
pub const BPF_W: u8 = 0x00;
pub const BPF_H: u8 = 0x08;
pub const BPF_B: u8 = 0x10;
pub const BPF_DW: u8 = 0x18;

// Modes.
pub const BPF_IMM: u8 = 0x00;
pub const BPF_ABS: u8 = 0x20;
pub const BPF_IND: u8 = 0x40;
pub const BPF_MEM: u8 = 0x60;
pub const BPF_ATOMIC: u8 = 0xc0;

// ALU operations.
pub const BPF_ADD: u8 = 0x00;
pub const BPF_SUB: u8 = 0x10;
pub const BPF_MUL: u8 = 0x20;
pub const BPF_DIV: u8 = 0x30;
pub const BPF_OR: u8 = 0x40;
pub const BPF_AND: u8 = 0x50;
pub const BPF_LSH: u8 = 0x60;
pub const BPF_RSH: u8 = 0x70;
pub const BPF_NEG: u8 = 0x80;
pub const BPF_MOD: u8 = 0x90;
pub const BPF_XOR: u8 = 0xa0;
pub const BPF_MOV: u8 = 0xb0;
pub const BPF_ARSH: u8 = 0xc0;
pub const BPF_END: u8 = 0xd0;

// Jump operations.
pub const BPF_JA: u8 = 0x00;
pub const BPF_JEQ: u8 = 0x10;
pub const BPF_JGT: u8 = 0x20;
pub const BPF_JGE: u8 = 0x30;
pub const BPF_JSET: u8 = 0x40;
pub const BPF_JNE: u8 = 0x50;
pub const BPF_JSGT: u8 = 0x60;
pub const BPF_JSGE: u8 = 0x70;
pub const BPF_CALL: u8 = 0x80;
pub const BPF_EXIT: u8 = 0x90;
pub const BPF_JLT: u8 = 0xa0;
pub const BPF_JLE: u8 = 0xb0;
pub const BPF_JSLT: u8 = 0xc0;
pub const BPF_JSLE: u8 = 0xd0;

// Operand source.
pub const BPF_K: u8 = 0x00;
pub const BPF_X: u8 = 0x08;

/// `src` of an `lddw` whose immediate is a map fd (relocated at load).
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
/// `lddw` of a kernel variable by its vmlinux BTF id.
pub const BPF_PSEUDO_BTF_ID: u8 = 3;
/// `lddw` source marker: the immediate is a subprogram's offset (a callback).
pub const BPF_PSEUDO_FUNC: u8 = 4;

/// Kernel helper function ids (`enum bpf_func_id`) that flowtrace calls.
pub mod helper {
    pub const MAP_LOOKUP_ELEM: i32 = 1;
    pub const MAP_UPDATE_ELEM: i32 = 2;
    pub const MAP_DELETE_ELEM: i32 = 3;
    pub const PROBE_READ: i32 = 4;
    pub const KTIME_GET_NS: i32 = 5;
    pub const GET_PRANDOM_U32: i32 = 7;
    pub const GET_SMP_PROCESSOR_ID: i32 = 8;
    pub const GET_CURRENT_PID_TGID: i32 = 14;
    pub const GET_CURRENT_UID_GID: i32 = 15;
    pub const GET_CURRENT_COMM: i32 = 16;
    pub const GET_CGROUP_CLASSID: i32 = 17;
    pub const PERF_EVENT_OUTPUT: i32 = 25;
    pub const SKB_LOAD_BYTES: i32 = 26;
    pub const GET_STACKID: i32 = 27;
    pub const GET_CURRENT_TASK: i32 = 35;
    pub const GET_SOCKET_COOKIE: i32 = 46;
    pub const GET_CURRENT_CGROUP_ID: i32 = 80;
    pub const PROBE_READ_USER: i32 = 112;
    pub const PROBE_READ_KERNEL: i32 = 113;
    pub const PROBE_READ_USER_STR: i32 = 114;
    pub const PROBE_READ_KERNEL_STR: i32 = 115;
    pub const RINGBUF_OUTPUT: i32 = 130;
    pub const RINGBUF_RESERVE: i32 = 131;
    pub const RINGBUF_SUBMIT: i32 = 132;
    pub const RINGBUF_DISCARD: i32 = 133;
    pub const RINGBUF_QUERY: i32 = 134;
    pub const SKB_CGROUP_ID: i32 = 79;
    pub const GET_FUNC_IP: i32 = 173;
    pub const GET_ATTACH_COOKIE: i32 = 174;
    pub const KTIME_GET_BOOT_NS: i32 = 125;
    /// Since 5.19.
    pub const MAP_LOOKUP_PERCPU_ELEM: i32 = 195;
    pub const GET_NUMA_NODE_ID: i32 = 42;
    pub const PER_CPU_PTR: i32 = 153;
    pub const THIS_CPU_PTR: i32 = 154;
    pub const SEND_SIGNAL: i32 = 109;
    pub const D_PATH: i32 = 147;
    pub const KTIME_GET_TAI_NS: i32 = 208;
    /// bpf_for_each_map_elem(map, callback, ctx, flags): 5.13.
    pub const FOR_EACH_MAP_ELEM: i32 = 164;
    /// bpf_loop(rounds, callback, ctx, flags): 5.17.
    pub const LOOP: i32 = 181;
}
