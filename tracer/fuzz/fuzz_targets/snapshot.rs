//! `snapshot.json` and window files as bytes: `tracer report` / `tracer diff` read them, and a
//! session folder may be hand-edited, truncated or hostile. Seeded with the canned sessions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = tracer::output::session_folder::parse_snapshot(data) {
        tracer_fuzz::exercise_snapshot(&s);
    }
});
