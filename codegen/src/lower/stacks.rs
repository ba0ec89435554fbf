//! `kstack`/`ustack` and `usym`: what the kernel records for userspace to
//! name. A stack is `bpf_get_stackid`'s id into a stack map (one map per
//! depth); a user stack also carries the pid, since its addresses mean
//! something only in that process's mappings.

use super::{Arg, LowerResult, Lowerer, Val};
use crate::insn::helper;
use crate::ir::{AluOp, Cond, Inst, Src};
use crate::object::{BpfMapType, MapRef, MapRole, MapSpec};
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::TExpr;
use flowtrace_lang::types::{Rendered, StackType, Type};

/// `bpf_get_stackid` flag: walk the user-space stack.
const BPF_F_USER_STACK: i32 = 1 << 8;
const EFAULT: i32 = 14;

impl Lowerer<'_> {
    /// The stack id (low 32 bits) and, for `ustack`, the pid (high 32).
    pub(super) fn stack(&mut self, e: &TExpr) -> LowerResult<Val> {
        let Type::Rendered(Rendered::Stack(stack)) = &e.ty else {
            return Err(Diagnostic::error(e.span, "internal error: a stack call without its stack type"));
        };
        let map = self.stack_map(*stack);
        let flags = if stack.user { BPF_F_USER_STACK } else { 0 };
        let ctx = self.ctx;
        let id = self.call(helper::GET_STACKID, &[Arg::Reg(ctx), Arg::Map(map), Arg::Imm(flags)]);
        // -EEXIST (another stack with the same hash holds the bucket) and
        // -ENOMEM (the map is full) are counted; -EFAULT is no stack to take
        // (a kernel stack sampled in user mode, a user stack in a kernel
        // thread), as bpftrace ignores it. The id is kept either way, so
        // the stack prints empty as in bpftrace.
        let recorded = self.label();
        self.jump(Cond::Sge, id, Src::Imm(0), recorded);
        self.jump(Cond::Eq, id, Src::Imm(-EFAULT), recorded);
        let slot = crate::object::stats_stacks_lost_slot(self.g.user_maps.len() as u32);
        self.count_stat(slot);
        self.place(recorded);
        // A 32-bit move zero-extends: the id alone, without its sign bits.
        self.emit(Inst::Alu32 { op: AluOp::Mov, dst: id, src: Src::Reg(id) });
        if stack.user {
            let pid = self.call(helper::GET_CURRENT_PID_TGID, &[]);
            self.alu(AluOp::Rsh, pid, Src::Imm(32));
            self.alu(AluOp::Lsh, pid, Src::Imm(32));
            self.alu(AluOp::Or, id, Src::Reg(pid));
        }
        Ok(Val::Scalar(id))
    }

    /// `usym(addr)`: the address, then the pid it is resolved in.
    pub(super) fn usym(&mut self, addr: &TExpr) -> LowerResult<Val> {
        let v = self.expr(addr)?;
        let a = self.scalar(v)?;
        let buf = self.alloc(16)?;
        self.store_scalar(buf, a);
        let pid = self.call(helper::GET_CURRENT_PID_TGID, &[]);
        self.alu(AluOp::Rsh, pid, Src::Imm(32));
        self.store_scalar(buf.at(8), pid);
        Ok(Val::Bytes(buf))
    }

    /// The stack map for this depth, made on first use.
    fn stack_map(&mut self, stack: StackType) -> MapRef {
        let found = self.g.maps.iter().position(|m| matches!(m.role, MapRole::Stacks { limit } if limit == stack.limit));
        if let Some(i) = found {
            return MapRef(i as u32);
        }
        let r = MapRef(self.g.maps.len() as u32);
        self.g.maps.push(MapSpec {
            name: format!("ft_stack_{}", stack.limit),
            map_type: BpfMapType::StackTrace,
            key_size: 4,
            value_size: 8 * stack.limit,
            max_entries: self.g.stack_entries,
            role: MapRole::Stacks { limit: stack.limit },
        });
        r
    }
}
