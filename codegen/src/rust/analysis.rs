//! Facts about the IR's structs computed once before generation: which can derive
//! `Eq`/`Hash` (no doubles, hash sets or maps anywhere inside), and which structs each one
//! holds inline (directly or through inline fields), so recursive fields get a `Box`.

use std::collections::{HashMap, HashSet};

use crate::ir::*;

/// Facts about the IR's structs computed once: which can derive `Eq`/`Hash`, and which
/// structs each one holds inline (directly or through inline fields), for boxing.
pub(crate) struct Analysis {
    pub(crate) hashable: HashSet<DefId>,
    pub(crate) inline_reach: HashMap<DefId, HashSet<DefId>>,
}

/// The structs a type refers to: `inline` only those held by value (not in a container).
fn struct_refs(ir: &Ir, ty: &Ty, inline: bool, out: &mut Vec<DefId>) {
    match ir.resolve_typedefs(ty) {
        Ty::Struct(id) => out.push(*id),
        Ty::List(t) | Ty::Set(t) if !inline => struct_refs(ir, t, inline, out),
        Ty::Map(k, v) if !inline => {
            struct_refs(ir, k, inline, out);
            struct_refs(ir, v, inline, out);
        }
        _ => {}
    }
}

/// Whether a type has a double, set or map anywhere outside referenced structs.
fn locally_unhashable(ir: &Ir, ty: &Ty) -> bool {
    match ir.resolve_typedefs(ty) {
        Ty::Double | Ty::Set(_) | Ty::Map(..) => true,
        Ty::List(t) => locally_unhashable(ir, t),
        _ => false,
    }
}

impl Analysis {
    pub(crate) fn new(ir: &Ir) -> Self {
        let structs: Vec<(DefId, &StructDef)> = ir
            .defs
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match &d.kind {
                DefKind::Struct(s) => Some((DefId(i), s)),
                _ => None,
            })
            .collect();
        let edges = |inline: bool| -> HashMap<DefId, Vec<DefId>> {
            structs
                .iter()
                .map(|(id, s)| {
                    let mut out = Vec::new();
                    for f in &s.fields {
                        struct_refs(ir, &f.ty, inline, &mut out);
                    }
                    (*id, out)
                })
                .collect()
        };
        let reach = |graph: &HashMap<DefId, Vec<DefId>>, from: DefId| -> HashSet<DefId> {
            let mut seen = HashSet::new();
            let mut stack: Vec<DefId> = graph.get(&from).cloned().unwrap_or_default();
            while let Some(next) = stack.pop() {
                if seen.insert(next) {
                    stack.extend(graph.get(&next).into_iter().flatten().copied());
                }
            }
            seen
        };
        let all_edges = edges(false);
        let inline_edges = edges(true);
        let bad: HashSet<DefId> = structs
            .iter()
            .filter(|(_, s)| s.fields.iter().any(|f| locally_unhashable(ir, &f.ty)))
            .map(|(id, _)| *id)
            .collect();
        let hashable = structs
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !bad.contains(id) && reach(&all_edges, *id).is_disjoint(&bad))
            .collect();
        let inline_reach = structs
            .iter()
            .map(|(id, _)| (*id, reach(&inline_edges, *id)))
            .collect();
        Analysis {
            hashable,
            inline_reach,
        }
    }
}
