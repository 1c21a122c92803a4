//! Things user space watches while the kernel side traces: disk counters and process I/O
//! (the iostat/iotop/du views), and node roles over time.

pub mod disk;
pub mod roles;
