//! Names, both ways: from a profile's C++ patterns to the addresses uprobes attach at, and from
//! sampled instruction pointers back to demangled function names.
//!
//! In: a [`crate::profile::Profile`] and a binary path ([`resolve`]); pids and addresses
//! ([`symbolize`]). Out: the functions each pattern matched, with file offsets and cost
//! warnings ([`resolve::Resolution`]); frame names for stacks. Never: loads BPF or attaches
//! anything; it only reads ELF files, /proc/PID/maps and /proc/kallsyms.
//!
//! - [`elf`]: the function symbols of one ELF file, demangled, with file offsets.
//! - [`objects`]: the executable and shared libraries a target runs (maps, or DT_NEEDED).
//! - [`resolve`]: which functions of a binary each pattern names, with near misses.
//! - [`hot`]: cheap static signs that a matched function is too hot to probe.
//! - [`symbolize`]: addresses to names with blazesym, processes' maps cached while they live.
//! - [`plan`]: the profile resolved in every target binary, as a
//!   [`crate::profile::probe_plan::ProbePlan`] the kernel stage attaches.
//!
//! Patterns ([`crate::profile::Pattern`]) and the C++ name grammar ([`crate::cpp_names`]) come
//! from outside: this stage consumes the profile and never defines what a pattern means.

pub mod elf;
pub mod hot;
pub mod objects;
pub mod plan;
pub mod resolve;
pub mod symbolize;
