//! Register allocation: every virtual register gets one of r0–r9.
//!
//! Liveness is computed by dataflow over the instruction-level control-flow
//! graph (loops included), from which an interference graph is built; the
//! physical registers are precoloured nodes, so ABI facts fall out of the
//! graph: a helper call defines r0–r5, hence a value live across a call
//! interferes with them and lands in a callee-saved r6–r9 (or is spilled).
//! Colouring is greedy in order of first definition (a linear scan in
//! effect); a value that cannot be coloured is spilled to an 8-byte stack
//! slot below the lowering's own stack use, and allocation restarts.

use crate::ir::{AluOp, Inst, IrFunc, Line, Reg, Size, Src, FP};
use std::collections::HashSet;
use std::ops::Range;

/// Physical registers that can hold values (r10 is the read-only frame pointer).
const COLORS: usize = 10;

/// Why allocation gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocError(pub String);

/// The allocated program (only physical registers remain) and its total stack use.
#[derive(Debug, Clone)]
pub struct Allocated {
    pub func: IrFunc,
    /// Lowering's stack plus spill slots, in bytes.
    pub stack_size: u32,
    pub spills: u32,
}

pub fn allocate(func: &IrFunc) -> Result<Allocated, AllocError> {
    let mut func = func.clone();
    let mut spill_temps: HashSet<u32> = HashSet::new();
    let mut spills = 0u32;
    for _round in 0..200 {
        let graph = Graph::build(&func)?;
        match graph.color(&spill_temps) {
            Ok(colors) => {
                rewrite(&mut func, &colors);
                let stack_size = func.stack_size + 8 * spills;
                return Ok(Allocated { func, stack_size, spills });
            }
            Err(victim) => {
                spills += 1;
                let off = -((func.stack_size + 8 * spills) as i64);
                let off = i16::try_from(off).map_err(|_| AllocError("stack frame too large".into()))?;
                spill(&mut func, victim, off, &mut spill_temps);
            }
        }
    }
    Err(AllocError("register allocation did not converge (too many values live at once)".into()))
}

/// Dense node index: r0–r9 are 0–9, `v{n}` is 10 + n.
fn node(r: Reg) -> Option<usize> {
    match r {
        Reg::P(10) => None,
        Reg::P(p) => Some(p as usize),
        Reg::V(v) => Some(COLORS + v as usize),
    }
}

/// A set of nodes with O(1) insert, remove and membership and iteration
/// over the members only: a dense bit set per line was O(lines × values)
/// in time and memory (80k statements took 8 GB).
struct LiveSet {
    /// Where each node is in `members`, or `ABSENT`.
    pos: Vec<u32>,
    members: Vec<usize>,
}

const ABSENT: u32 = u32::MAX;

impl LiveSet {
    fn new(nodes: usize) -> LiveSet {
        LiveSet { pos: vec![ABSENT; nodes], members: Vec::new() }
    }
    fn insert(&mut self, n: usize) {
        if self.pos[n] == ABSENT {
            self.pos[n] = self.members.len() as u32;
            self.members.push(n);
        }
    }
    fn remove(&mut self, n: usize) {
        let at = self.pos[n];
        if at != ABSENT {
            self.members.swap_remove(at as usize);
            if let Some(&moved) = self.members.get(at as usize) {
                self.pos[moved] = at;
            }
            self.pos[n] = ABSENT;
        }
    }
    fn clear(&mut self) {
        for &n in &self.members {
            self.pos[n] = ABSENT;
        }
        self.members.clear();
    }
}

struct Graph {
    nodes: usize,
    adj: Vec<HashSet<usize>>,
    /// First line defining (or using) each node, for the colouring order.
    first: Vec<usize>,
    /// Lines at which each node is live: the spill heuristic's cost.
    live_len: Vec<usize>,
    /// Physical registers a node is moved to or from: preferred colours.
    hints: Vec<Vec<usize>>,
    present: Vec<bool>,
}

fn successors(func: &IrFunc) -> Result<Vec<Vec<usize>>, AllocError> {
    crate::ir::cleanup::successors(func).map_err(|l| AllocError(format!("jump to undefined label L{}", l.0)))
}

impl Graph {
    fn build(func: &IrFunc) -> Result<Graph, AllocError> {
        let nodes = COLORS + func.next_vreg as usize;
        let succ = successors(func)?;
        let uses: Vec<Vec<usize>> = func.lines.iter().map(|l| l.inst.uses().into_iter().filter_map(node).collect()).collect();
        let defs: Vec<Vec<usize>> = func.lines.iter().map(|l| l.inst.defs().into_iter().filter_map(node).collect()).collect();
        let blocks = Blocks::of(&succ);
        let live_out = blocks.live_out(nodes, &uses, &defs);

        let mut g = Graph {
            nodes,
            adj: vec![HashSet::new(); nodes],
            first: vec![usize::MAX; nodes],
            live_len: vec![0; nodes],
            hints: vec![Vec::new(); nodes],
            present: vec![false; nodes],
        };
        // Walk each block backwards from what is live at its end: `live` is
        // what is live after line `i`, then (after its defs and uses) before it.
        let mut live = LiveSet::new(nodes);
        for (b, range) in blocks.ranges.iter().enumerate() {
            live.clear();
            for &n in &live_out[b] {
                live.insert(n);
            }
            for i in range.clone().rev() {
                g.add_line(&func.lines[i].inst, i, &uses[i], &defs[i], &mut live);
            }
        }
        Ok(g)
    }

    /// Interference and hints of line `i`, given what is live after it;
    /// leaves in `live` what is live before it.
    fn add_line(&mut self, inst: &Inst, i: usize, uses: &[usize], defs: &[usize], live: &mut LiveSet) {
        // A move's source may share its destination's register.
        let move_src = match inst {
            Inst::Alu { op: AluOp::Mov, src: Src::Reg(r), dst } => {
                if let (Some(s), Some(d)) = (node(*r), node(*dst)) {
                    if s < COLORS && d >= COLORS {
                        self.hints[d].push(s);
                    } else if d < COLORS && s >= COLORS {
                        self.hints[s].push(d);
                    }
                }
                node(*r)
            }
            _ => None,
        };
        for &d in defs {
            for &l in &live.members {
                if l != d && Some(l) != move_src {
                    self.adj[d].insert(l);
                    self.adj[l].insert(d);
                }
            }
        }
        for &r in uses.iter().chain(defs) {
            self.present[r] = true;
            self.first[r] = self.first[r].min(i);
        }
        for &d in defs {
            live.remove(d);
        }
        for &u in uses {
            live.insert(u);
        }
        for &r in &live.members {
            self.live_len[r] += 1;
        }
    }

    /// Colours for every present virtual node, or the node to spill.
    fn color(&self, spill_temps: &HashSet<u32>) -> Result<Vec<Option<u8>>, u32> {
        let mut colors: Vec<Option<u8>> = vec![None; self.nodes];
        for (p, c) in colors.iter_mut().enumerate().take(COLORS) {
            *c = Some(p as u8);
        }
        let mut order: Vec<usize> = (COLORS..self.nodes).filter(|&v| self.present[v]).collect();
        order.sort_by_key(|&v| self.first[v]);
        for v in order {
            let taken: HashSet<u8> = self.adj[v].iter().filter_map(|&n| colors[n]).collect();
            let preferred = self.hints[v].iter().map(|&h| h as u8);
            let pick = preferred.chain(0..COLORS as u8).find(|c| !taken.contains(c));
            match pick {
                Some(c) => colors[v] = Some(c),
                None => return Err(self.spill_victim(v, &colors, spill_temps)),
            }
        }
        Ok(colors)
    }

    /// The value to spill when `v` finds no register: the longest-lived of
    /// `v` and its coloured neighbours, never a spill temporary (spilling one
    /// of those again would not make progress).
    fn spill_victim(&self, v: usize, colors: &[Option<u8>], spill_temps: &HashSet<u32>) -> u32 {
        let candidates = std::iter::once(v).chain(self.adj[v].iter().copied().filter(|&n| n >= COLORS && colors[n].is_some()));
        candidates
            .filter(|&n| !spill_temps.contains(&((n - COLORS) as u32)))
            .max_by_key(|&n| self.live_len[n])
            .map(|n| (n - COLORS) as u32)
            .unwrap_or((v - COLORS) as u32)
    }
}

/// The lines as basic blocks, for liveness: dataflow over blocks touches
/// each block's (small) live set, where dataflow over lines copied a set of
/// every value at every line.
struct Blocks {
    ranges: Vec<Range<usize>>,
    succ: Vec<Vec<usize>>,
}

impl Blocks {
    /// A block starts at line 0, at every jump target and after every line
    /// that does not just fall through to the next.
    fn of(line_succ: &[Vec<usize>]) -> Blocks {
        let n = line_succ.len();
        let mut starts = vec![false; n + 1];
        starts[0] = true;
        for (i, s) in line_succ.iter().enumerate() {
            if s.as_slice() != [i + 1] {
                starts[i + 1] = true;
                for &t in s {
                    starts[t] = true;
                }
            }
        }
        let mut block_of = vec![0; n];
        let mut ranges: Vec<Range<usize>> = Vec::new();
        for i in 0..n {
            if starts[i] {
                ranges.push(i..i);
            }
            let last = ranges.len() - 1;
            ranges[last].end = i + 1;
            block_of[i] = last;
        }
        let succ = ranges.iter().map(|r| line_succ[r.end - 1].iter().map(|&t| block_of[t]).collect()).collect();
        Blocks { ranges, succ }
    }

    /// Sorted nodes live at the end of each block: backward dataflow to a
    /// fixpoint, live_in = upward-exposed uses ∪ (live_out − defs).
    fn live_out(&self, nodes: usize, uses: &[Vec<usize>], defs: &[Vec<usize>]) -> Vec<Vec<usize>> {
        let mut scratch = LiveSet::new(nodes);
        let (exposed, killed): (Vec<Vec<usize>>, Vec<Vec<usize>>) =
            self.ranges.iter().map(|r| exposed_and_killed(r.clone(), uses, defs, &mut scratch)).unzip();
        let blocks = self.ranges.len();
        let mut live_in: Vec<Vec<usize>> = exposed.clone();
        let mut live_out: Vec<Vec<usize>> = vec![Vec::new(); blocks];
        let mut changed = true;
        while changed {
            changed = false;
            for b in (0..blocks).rev() {
                let mut out: Vec<usize> = self.succ[b].iter().flat_map(|&s| live_in[s].iter().copied()).collect();
                out.sort_unstable();
                out.dedup();
                let mut inn: Vec<usize> = out.iter().copied().filter(|n| killed[b].binary_search(n).is_err()).collect();
                inn.extend(&exposed[b]);
                inn.sort_unstable();
                inn.dedup();
                if inn != live_in[b] {
                    live_in[b] = inn;
                    changed = true;
                }
                live_out[b] = out;
            }
        }
        live_out
    }
}

/// A block's upward-exposed uses (read before any write in the block) and
/// the nodes it defines, both sorted.
fn exposed_and_killed(lines: Range<usize>, uses: &[Vec<usize>], defs: &[Vec<usize>], exposed: &mut LiveSet) -> (Vec<usize>, Vec<usize>) {
    exposed.clear();
    let mut killed: Vec<usize> = Vec::new();
    for i in lines.rev() {
        for &d in &defs[i] {
            exposed.remove(d);
        }
        killed.extend(&defs[i]);
        for &u in &uses[i] {
            exposed.insert(u);
        }
    }
    let mut exposed = exposed.members.clone();
    exposed.sort_unstable();
    killed.sort_unstable();
    killed.dedup();
    (exposed, killed)
}

/// Replace `v{victim}` by short-lived temporaries loaded from / stored to its slot.
fn spill(func: &mut IrFunc, victim: u32, off: i16, spill_temps: &mut HashSet<u32>) {
    let old = std::mem::take(&mut func.lines);
    let target = Reg::V(victim);
    for mut line in old {
        let used = line.inst.uses().contains(&target);
        let defined = line.inst.defs().contains(&target);
        if !used && !defined {
            func.lines.push(line);
            continue;
        }
        let t = func.new_vreg();
        if let Reg::V(n) = t {
            spill_temps.insert(n);
        }
        let span = line.span;
        if used {
            func.lines.push(Line { inst: Inst::Load { size: Size::DW, dst: t, base: FP, off }, span });
        }
        line.inst.map_regs(|r| if r == target { t } else { r });
        func.lines.push(line);
        if defined {
            func.lines.push(Line { inst: Inst::Store { size: Size::DW, base: FP, off, src: Src::Reg(t) }, span });
        }
    }
}

fn rewrite(func: &mut IrFunc, colors: &[Option<u8>]) {
    for line in &mut func.lines {
        line.inst.map_regs(|r| match node(r) {
            Some(n) if n >= COLORS => Reg::P(colors[n].unwrap_or(0)),
            _ => r,
        });
    }
    func.lines.retain(|l| !matches!(l.inst, Inst::Alu { op: AluOp::Mov, dst, src: Src::Reg(s) } if s == dst));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{R0, R1};
    use flowtrace_lang::span::Span;

    fn push(f: &mut IrFunc, inst: Inst) {
        f.push(inst, Span::default());
    }

    fn regs_of(f: &IrFunc) -> Vec<Reg> {
        f.lines.iter().flat_map(|l| l.inst.uses().into_iter().chain(l.inst.defs())).collect()
    }

    #[test]
    fn values_live_across_a_call_get_callee_saved_registers() {
        let mut f = IrFunc::default();
        let a = f.new_vreg();
        push(&mut f, Inst::Alu { op: AluOp::Mov, dst: a, src: Src::Imm(7) });
        push(&mut f, Inst::Call { helper: 5, args: 0 });
        push(&mut f, Inst::Alu { op: AluOp::Add, dst: a, src: Src::Reg(R0) });
        push(&mut f, Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Reg(a) });
        push(&mut f, Inst::Exit);
        let out = allocate(&f).unwrap();
        let Inst::Alu { dst, .. } = out.func.lines[0].inst else { panic!() };
        assert!(matches!(dst, Reg::P(6..=9)), "got {dst}");
        assert_eq!(out.spills, 0);
    }

    #[test]
    fn many_live_values_force_spills_and_stay_correct() {
        // Twelve values live at once, summed at the end: two must spill.
        let mut f = IrFunc { stack_size: 16, ..IrFunc::default() };
        let vs: Vec<Reg> = (0..12).map(|_| f.new_vreg()).collect();
        for (i, v) in vs.iter().enumerate() {
            push(&mut f, Inst::Alu { op: AluOp::Mov, dst: *v, src: Src::Imm(i as i32 + 1) });
        }
        let acc = f.new_vreg();
        push(&mut f, Inst::Alu { op: AluOp::Mov, dst: acc, src: Src::Imm(0) });
        for v in &vs {
            push(&mut f, Inst::Alu { op: AluOp::Add, dst: acc, src: Src::Reg(*v) });
        }
        push(&mut f, Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Reg(acc) });
        push(&mut f, Inst::Exit);
        let out = allocate(&f).unwrap();
        assert!(out.spills >= 2, "spills: {}", out.spills);
        assert_eq!(out.stack_size, 16 + 8 * out.spills);
        assert!(regs_of(&out.func).iter().all(|r| matches!(r, Reg::P(_))));
        assert_eq!(crate::ir::interp::run(&out.func), 78);
    }

    #[test]
    fn loop_carried_values_stay_live_around_the_back_edge() {
        // i = 0; s = 0; loop: s += i; t = 100 (a fresh value inside the loop
        // must not take s's or i's register); i += 1; if i < 5 goto loop.
        let mut f = IrFunc::default();
        let (i, s, t) = (f.new_vreg(), f.new_vreg(), f.new_vreg());
        let top = f.new_label();
        push(&mut f, Inst::Alu { op: AluOp::Mov, dst: i, src: Src::Imm(0) });
        push(&mut f, Inst::Alu { op: AluOp::Mov, dst: s, src: Src::Imm(0) });
        push(&mut f, Inst::Label(top));
        push(&mut f, Inst::Alu { op: AluOp::Add, dst: s, src: Src::Reg(i) });
        push(&mut f, Inst::Alu { op: AluOp::Mov, dst: t, src: Src::Imm(100) });
        push(&mut f, Inst::Alu { op: AluOp::Mov, dst: R1, src: Src::Reg(t) });
        push(&mut f, Inst::Alu { op: AluOp::Add, dst: i, src: Src::Imm(1) });
        push(&mut f, Inst::Jump { cond: crate::ir::Cond::Lt, lhs: i, rhs: Src::Imm(5), target: top });
        push(&mut f, Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Reg(s) });
        push(&mut f, Inst::Exit);
        let out = allocate(&f).unwrap();
        assert_eq!(crate::ir::interp::run(&out.func), 10);
    }
}
