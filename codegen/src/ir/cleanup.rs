//! Clean-ups between lowering and register allocation. The verifier rejects
//! a program with instructions no path reaches ("unreachable insn"), which
//! lowering produces after `return`, `exit()` and constant conditions.

use super::{Inst, IrFunc, Label};
use std::collections::HashMap;

/// Successor line indices of each line, or the first undefined label.
pub fn successors(func: &IrFunc) -> Result<Vec<Vec<usize>>, Label> {
    let mut at: HashMap<Label, usize> = HashMap::new();
    for (i, l) in func.lines.iter().enumerate() {
        if let Inst::Label(lab) = l.inst {
            at.insert(lab, i);
        }
    }
    let target = |l: &Label| at.get(l).copied().ok_or(*l);
    let n = func.lines.len();
    let mut succ = Vec::with_capacity(n);
    for (i, l) in func.lines.iter().enumerate() {
        let next = if i + 1 < n { vec![i + 1] } else { vec![] };
        succ.push(match &l.inst {
            Inst::Jump { target: t, .. } => {
                let mut s = next;
                s.push(target(t)?);
                s
            }
            Inst::Goto(t) => vec![target(t)?],
            Inst::Exit => vec![],
            _ => next,
        });
    }
    Ok(succ)
}

/// Drop unreachable instructions and jumps to the very next instruction.
pub fn simplify(func: &mut IrFunc) -> Result<(), Label> {
    loop {
        let succ = successors(func)?;
        let mut reached = vec![false; func.lines.len()];
        let mut work = vec![0usize];
        while let Some(i) = work.pop() {
            if i < reached.len() && !reached[i] {
                reached[i] = true;
                work.extend(&succ[i]);
            }
        }
        let before = func.lines.len();
        let old = std::mem::take(&mut func.lines);
        for (i, line) in old.into_iter().enumerate() {
            // Comments stay (they cost nothing); labels of dead code go.
            if reached[i] || matches!(line.inst, Inst::Comment(_)) {
                func.lines.push(line);
            }
        }
        remove_jumps_to_next(func);
        if func.lines.len() == before {
            return Ok(());
        }
    }
}

/// `ja L` directly followed (ignoring labels and comments) by `L:`.
fn remove_jumps_to_next(func: &mut IrFunc) {
    let mut keep = vec![true; func.lines.len()];
    for (i, line) in func.lines.iter().enumerate() {
        if let Inst::Goto(t) = line.inst {
            let falls_into = func.lines[i + 1..]
                .iter()
                .take_while(|l| matches!(l.inst, Inst::Label(_) | Inst::Comment(_)))
                .any(|l| l.inst == Inst::Label(t));
            if falls_into {
                keep[i] = false;
            }
        }
    }
    let mut i = 0;
    func.lines.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{AluOp, Src, R0};
    use flowtrace_lang::span::Span;

    #[test]
    fn code_after_a_jump_is_dropped() {
        let mut f = IrFunc::default();
        let end = f.new_label();
        let s = Span::default();
        f.push(Inst::Goto(end), s);
        f.push(Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Imm(1) }, s);
        f.push(Inst::Label(end), s);
        f.push(Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Imm(0) }, s);
        f.push(Inst::Exit, s);
        simplify(&mut f).unwrap();
        let insts: Vec<&Inst> = f.lines.iter().map(|l| &l.inst).filter(|i| !matches!(i, Inst::Label(_))).collect();
        assert_eq!(insts, vec![&Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Imm(0) }, &Inst::Exit]);
    }
}
