//! The machine-readable policy dump (`idl-gen --emit policy`): every service's policy and
//! every method's effective policy, as JSON, for control-plane tooling.

use crate::ir::{DefKind, Ir};

/// `{"services": {"<Service>": {"policy": {…}, "methods": {"<method>": {…}}}}}` for the
/// services of every file, keys in source order.
pub fn policy_json(ir: &Ir) -> String {
    let mut out = String::from("{\n  \"services\": {");
    let mut first_service = true;
    for def in &ir.defs {
        let DefKind::Service(s) = &def.kind else {
            continue;
        };
        if !first_service {
            out.push(',');
        }
        first_service = false;
        out.push_str(&format!(
            "\n    {}: {{\n      \"policy\": {},\n      \"methods\": {{",
            quote(&def.name),
            s.policy.to_json()
        ));
        for (i, m) in s.methods.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                "\n        {}: {}",
                quote(&m.name),
                m.policy.to_json()
            ));
        }
        if !s.methods.is_empty() {
            out.push_str("\n      ");
        }
        out.push_str("}\n    }");
    }
    if !first_service {
        out.push_str("\n  ");
    }
    out.push_str("}\n}\n");
    out
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
