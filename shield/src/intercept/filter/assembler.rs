//! A tiny assembler with symbolic labels: conditional jumps whose target is more than 255
//! instructions away are routed through a `JA`, repeatedly, until every offset fits.

use super::bpf::{op, Insn};

/// A symbolic jump target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Label(usize);

/// Where a conditional jump goes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Target {
    /// The next instruction of the program as written.
    Next,
    /// A label.
    L(Label),
}

#[derive(Clone, Copy, Debug)]
enum Item {
    /// A non-jump instruction.
    Plain(Insn),
    /// A conditional jump.
    Cond {
        code: u16,
        k: u32,
        t: Target,
        f: Target,
    },
    /// An unconditional jump.
    Ja(Label),
    /// Binds a label to the position of the next instruction.
    Bind(Label),
}

/// A tiny assembler with symbolic labels and automatic long jumps.
#[derive(Default)]
pub(super) struct Asm {
    items: Vec<Item>,
    labels: usize,
}

impl Asm {
    pub(super) fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }
    pub(super) fn bind(&mut self, l: Label) {
        self.items.push(Item::Bind(l));
    }
    pub(super) fn load(&mut self, k: u32) {
        self.items
            .push(Item::Plain(Insn::new(op::LD_W_ABS, 0, 0, k)));
    }
    pub(super) fn and(&mut self, k: u32) {
        self.items.push(Item::Plain(Insn::new(op::AND_K, 0, 0, k)));
    }
    pub(super) fn ret(&mut self, k: u32) {
        self.items.push(Item::Plain(Insn::new(op::RET_K, 0, 0, k)));
    }
    pub(super) fn ja(&mut self, l: Label) {
        self.items.push(Item::Ja(l));
    }
    pub(super) fn cond(&mut self, code: u16, k: u32, t: Target, f: Target) {
        self.items.push(Item::Cond { code, k, t, f });
    }

    /// Lays the program out. A conditional edge whose offset exceeds 255 gets a `JA`
    /// trampoline right after its jump; adding one only lengthens other edges, so the
    /// loop reaches a fixed point (each edge is converted at most once).
    pub(super) fn resolve(&self) -> Vec<Insn> {
        let n = self.items.len();
        // (true edge, false edge) use a trampoline.
        let mut tramp = vec![(false, false); n];
        let size = |i: usize, tramp: &[(bool, bool)]| match self.items[i] {
            Item::Bind(_) => 0,
            Item::Cond { .. } => 1 + usize::from(tramp[i].0) + usize::from(tramp[i].1),
            _ => 1,
        };
        loop {
            let (pos, labels) = self.layout(&tramp, size);
            let mut changed = false;
            for (i, item) in self.items.iter().enumerate() {
                if let Item::Cond { t, f, .. } = *item {
                    let end = pos[i] + size(i, &tramp);
                    let dest = |tg: Target| match tg {
                        Target::Next => end,
                        Target::L(l) => labels[l.0],
                    };
                    for (side, tg) in [(0, t), (1, f)] {
                        let uses = if side == 0 { tramp[i].0 } else { tramp[i].1 };
                        if !uses && dest(tg) - (pos[i] + 1) > 255 {
                            if side == 0 {
                                tramp[i].0 = true;
                            } else {
                                tramp[i].1 = true;
                            }
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                return self.emit(&tramp, &pos, &labels, size);
            }
        }
    }

    fn layout(
        &self,
        tramp: &[(bool, bool)],
        size: impl Fn(usize, &[(bool, bool)]) -> usize,
    ) -> (Vec<usize>, Vec<usize>) {
        let mut pos = Vec::with_capacity(self.items.len());
        let mut labels = vec![usize::MAX; self.labels];
        let mut p = 0;
        for (i, item) in self.items.iter().enumerate() {
            pos.push(p);
            if let Item::Bind(l) = item {
                labels[l.0] = p;
            }
            p += size(i, tramp);
        }
        debug_assert!(labels.iter().all(|&l| l != usize::MAX), "unbound label");
        (pos, labels)
    }

    fn emit(
        &self,
        tramp: &[(bool, bool)],
        pos: &[usize],
        labels: &[usize],
        size: impl Fn(usize, &[(bool, bool)]) -> usize,
    ) -> Vec<Insn> {
        let mut out = Vec::new();
        // Forward distance from the instruction after `from` to `to`.
        let fwd = |from: usize, to: usize| -> usize {
            assert!(to > from, "backward jump in filter assembly (bug)");
            to - from - 1
        };
        for (i, item) in self.items.iter().enumerate() {
            debug_assert_eq!(out.len(), pos[i]);
            match *item {
                Item::Bind(_) => {}
                Item::Plain(insn) => out.push(insn),
                Item::Ja(l) => out.push(Insn::new(op::JA, 0, 0, fwd(pos[i], labels[l.0]) as u32)),
                Item::Cond { code, k, t, f } => {
                    let end = pos[i] + size(i, tramp);
                    let dest = |tg: Target| match tg {
                        Target::Next => end,
                        Target::L(l) => labels[l.0],
                    };
                    let (tt, tf) = tramp[i];
                    let t_slot = pos[i] + 1;
                    let f_slot = pos[i] + 1 + usize::from(tt);
                    let jt = if tt { t_slot } else { dest(t) };
                    let jf = if tf { f_slot } else { dest(f) };
                    out.push(Insn::new(
                        code,
                        fwd(pos[i], jt) as u8,
                        fwd(pos[i], jf) as u8,
                        k,
                    ));
                    if tt {
                        out.push(Insn::new(op::JA, 0, 0, fwd(t_slot, dest(t)) as u32));
                    }
                    if tf {
                        out.push(Insn::new(op::JA, 0, 0, fwd(f_slot, dest(f)) as u32));
                    }
                }
            }
        }
        out
    }
}
