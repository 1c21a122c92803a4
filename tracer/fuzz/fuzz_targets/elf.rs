//! ELF files given to `tracer probes --binary` or found in /proc/PID/exe: a binary in a
//! container is its owner's, so it may be truncated or corrupt on purpose.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tracer::symbols::elf::parse_functions(data, std::path::Path::new("fuzz.elf"));
});
