//! Well-formed `snapshot.json` with hostile values: random byte mutations rarely keep JSON
//! valid, so this target takes a canned session and replaces the values the input selects
//! with extreme ones (0, u64::MAX, negative, huge floats, `..` paths, wrong types, empty and
//! huge arrays) before the snapshot is parsed and rendered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

/// Every value of the tree, as JSON pointers.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(
                    c,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn extreme(kind: u8, arg: u8) -> Value {
    match kind % 24 {
        0 => json!(0),
        1 => json!(1),
        2 => json!(u64::MAX),
        3 => json!(u64::MAX - 1),
        4 => json!(-1),
        5 => json!(i64::MIN),
        6 => json!(1e308),
        7 => json!(-1e308),
        8 => json!(5e-324),
        9 => json!(0.5),
        10 => json!(""),
        11 => json!("../../../../tmp/escaped"),
        12 => json!("/etc/passwd"),
        13 => json!("a/b"),
        14 => json!("x".repeat(arg as usize * 64)),
        15 => json!("\u{0}\u{feff}é🦀;"),
        16 => json!([]),
        17 => json!({}),
        18 => Value::Null,
        19 => json!(true),
        20 => json!(vec![u64::MAX; arg as usize % 64]),
        21 => json!(vec![0u64; arg as usize * 16]),
        22 => json!(arg as u64),
        _ => json!(u32::MAX),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, ops)) = data.split_first() else {
        return;
    };
    let seeds = tracer_fuzz::SEED_SNAPSHOTS;
    let Ok(mut v) = serde_json::from_str::<Value>(seeds[seed as usize % seeds.len()]) else {
        return;
    };
    for op in ops.chunks_exact(4) {
        let mut all = Vec::new();
        pointers(&v, String::new(), &mut all);
        let at = &all[u16::from_le_bytes([op[0], op[1]]) as usize % all.len()];
        if let Some(slot) = v.pointer_mut(at) {
            *slot = extreme(op[2], op[3]);
        }
    }
    if let Ok(s) = serde_json::from_value::<tracer::model::Snapshot>(v) {
        tracer_fuzz::exercise_snapshot(&s);
    }
});
