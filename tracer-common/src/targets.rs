//! Which processes are traced: `TARGETS`.

use crate::assert_size;

/// Traced processes (nodes and the children they fork).
pub const MAX_TARGETS: u32 = 4096;

/// Value of `TARGETS`: why this process is traced.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetInfo {
    /// The traced process this one descends from (itself for processes user space named).
    pub root_tgid: u32,
    /// 1 when forked children should be traced too.
    pub follow_children: u32,
}
assert_size!(TargetInfo, 8);
