//! Builtin variables: `pid`, `comm`, `nsecs`, `arg0`, … and the tc packet
//! builtins (in [`super::context`] for the parts that read the context).

use super::{Arg, LowerResult, Lowerer, Val};
use crate::insn::helper;
use crate::ir::{AluOp, Inst, Src};
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::TExpr;
use flowtrace_stdlib::Builtin;

/// `comm` is a 16-byte buffer (TASK_COMM_LEN).
pub const COMM_LEN: u32 = 16;

impl Lowerer<'_> {
    pub fn builtin(&mut self, b: Builtin, e: &TExpr) -> LowerResult<Val> {
        let scalar = |r| Ok(Val::Scalar(r));
        match b {
            Builtin::Pid => {
                let r = self.call(helper::GET_CURRENT_PID_TGID, &[]);
                self.alu(AluOp::Rsh, r, Src::Imm(32));
                scalar(r)
            }
            Builtin::Tid => {
                let r = self.call(helper::GET_CURRENT_PID_TGID, &[]);
                self.emit(Inst::Alu32 { op: AluOp::Mov, dst: r, src: Src::Reg(r) });
                scalar(r)
            }
            Builtin::Uid => {
                let r = self.call(helper::GET_CURRENT_UID_GID, &[]);
                self.emit(Inst::Alu32 { op: AluOp::Mov, dst: r, src: Src::Reg(r) });
                scalar(r)
            }
            Builtin::Gid => {
                let r = self.call(helper::GET_CURRENT_UID_GID, &[]);
                self.alu(AluOp::Rsh, r, Src::Imm(32));
                scalar(r)
            }
            Builtin::Comm => {
                let buf = self.alloc(COMM_LEN)?;
                // Older kernels (6.1 among them) copy with strscpy, which leaves the
                // bytes after the NUL as they were: unzeroed, `@[comm]` gets
                // a new key for the same name whenever old stack data differs.
                self.zero(buf, COMM_LEN);
                self.call(helper::GET_CURRENT_COMM, &[Arg::Addr(buf), Arg::Imm(COMM_LEN as i32)]);
                Ok(Val::Bytes(buf))
            }
            // Today's bpftrace counts `nsecs` on the boot clock (0.17 used the
            // monotonic one; they differ only after a suspend).
            Builtin::Nsecs => scalar(self.call(helper::KTIME_GET_BOOT_NS, &[])),
            Builtin::Numaid => {
                let r = self.call(helper::GET_NUMA_NODE_ID, &[]);
                self.emit(Inst::Alu32 { op: AluOp::Mov, dst: r, src: Src::Reg(r) });
                scalar(r)
            }
            // The uid; userspace prints the name.
            Builtin::Username => {
                let r = self.call(helper::GET_CURRENT_UID_GID, &[]);
                self.emit(Inst::Alu32 { op: AluOp::Mov, dst: r, src: Src::Reg(r) });
                scalar(r)
            }
            Builtin::Elapsed => {
                let now = self.call(helper::KTIME_GET_NS, &[]);
                let start = self.constant(self.g.start_ns);
                self.alu(AluOp::Sub, now, Src::Reg(start));
                scalar(now)
            }
            Builtin::Cpu => scalar(self.call(helper::GET_SMP_PROCESSOR_ID, &[])),
            Builtin::Arg(n) => self.lower_arg(n),
            Builtin::Retval => self.lower_retval(&e.ty),
            Builtin::Curtask => scalar(self.call(helper::GET_CURRENT_TASK, &[])),
            // tc programs run outside any task: the packet's socket's cgroup.
            Builtin::Cgroup if self.kind == crate::object::ProgramKind::SchedCls => self.packet_builtin(b, e),
            Builtin::Cgroup => scalar(self.call(helper::GET_CURRENT_CGROUP_ID, &[])),
            // The checker resolves these (`probe` and `func` to probe-name
            // values, `dir` to a string constant, `ncpus` to a number) or rejects them (`args`
            // without a field), so they never reach lowering.
            Builtin::Probe | Builtin::Func | Builtin::Dir | Builtin::Args | Builtin::Ncpus => {
                debug_assert!(false, "{b:?} should have been resolved by the checker");
                Err(Diagnostic::error(e.span, format!("internal error: {b:?} was not resolved by the checker")))
            }
            Builtin::Len
            | Builtin::Ifindex
            | Builtin::Ifname
            | Builtin::Family
            | Builtin::Proto
            | Builtin::Saddr
            | Builtin::Daddr
            | Builtin::Sport
            | Builtin::Dport
            | Builtin::Tcpflags
            | Builtin::Mark
            | Builtin::Cookie
            | Builtin::Skb => self.packet_builtin(b, e),
        }
    }
}
