//! The functions the findings look for, as profile [`Pattern`]s (the same matcher the layer
//! profile uses), and what a stack's frames say about it: Raft code, a mutex or a
//! condition-variable wait.

use crate::model::KERNEL_SUFFIX;
use crate::profile::pattern::{any_matches, parse_all, Pattern};

// Function names of the figures, as profile patterns ([`Pattern`]): a qualified name matches
// in any scope and whatever its signature's decorations; `::name` is a C function in the global
// scope (`::send` is the hooked send, never `Socket::send`).
pub const SEND_RECV: &[&str] = &[
    "::send",
    "::recv",
    "::sendto",
    "::recvfrom",
    "::sendmsg",
    "::recvmsg",
    "::__libc_send",
    "::__libc_recv",
    "::__send",
    "::__recv",
];
pub const GET_CONNECTION: &[&str] = &["ConnectionPool::getConnection"];
pub const SERIALIZE: &[&str] = &[
    "google::protobuf::MessageLite::SerializeToString",
    "google::protobuf::MessageLite::SerializeAsString",
    "google::protobuf::MessageLite::SerializePartialToString",
    "google::protobuf::MessageLite::SerializeToArray",
];
pub const HEARTBEAT: &[&str] = &[
    "Raft::leaderHearBeatTicker",
    "Raft::leaderHeartBeatTicker",
    "Raft::doHeartBeat",
];
pub const APPLIER: &[&str] = &["Raft::applier", "Raft::applierTicker"];
/// Frames of a mutex acquisition (glibc's slow path and its callers).
pub const LOCK_FRAMES: &[&str] = &[
    "::__lll_lock_wait",
    "::__lll_lock_wait_private",
    "::pthread_mutex_lock",
    "::___pthread_mutex_lock",
    "::__pthread_mutex_lock",
    "::__pthread_mutex_lock_full",
    "::pthread_mutex_timedlock",
    "::__pthread_mutex_cond_lock",
    "std::mutex::lock",
    "std::unique_lock<std::mutex>::lock",
    "::__gthread_mutex_lock",
];
/// Frames of a condition-variable (or semaphore) wait: waiting for work, not for a lock.
pub const CONDVAR_FRAMES: &[&str] = &[
    "::pthread_cond_wait",
    "::___pthread_cond_wait",
    "::__pthread_cond_wait",
    "::pthread_cond_timedwait",
    "::___pthread_cond_timedwait",
    "::pthread_cond_clockwait",
    "::___pthread_cond_clockwait",
    "::__pthread_cond_wait_common",
    "std::condition_variable::wait",
    "std::condition_variable::wait_until",
    "std::condition_variable::wait_for",
    "std::condition_variable::__wait_until_impl",
    "std::condition_variable_any::wait",
    "::sem_wait",
    "::sem_timedwait",
    "::sem_clockwait",
];
/// The function lists above as patterns, parsed once.
pub struct Functions {
    pub send_recv: Vec<Pattern>,
    pub get_connection: Vec<Pattern>,
    pub serialize: Vec<Pattern>,
    pub heartbeat: Vec<Pattern>,
    pub applier: Vec<Pattern>,
    pub lock: Vec<Pattern>,
    pub condvar: Vec<Pattern>,
    /// The heartbeat function whose probed calls give the heartbeat rate without role data.
    pub do_heartbeat: Pattern,
}

/// [`Functions`], parsed on first use.
pub fn functions() -> &'static Functions {
    static FUNCTIONS: std::sync::LazyLock<Functions> = std::sync::LazyLock::new(|| Functions {
        send_recv: parse_all(SEND_RECV),
        get_connection: parse_all(GET_CONNECTION),
        serialize: parse_all(SERIALIZE),
        heartbeat: parse_all(HEARTBEAT),
        applier: parse_all(APPLIER),
        lock: parse_all(LOCK_FRAMES),
        condvar: parse_all(CONDVAR_FRAMES),
        do_heartbeat: parse_all(&["Raft::doHeartBeat"]).remove(0),
    });
    &FUNCTIONS
}

/// A frame of Raft code: `Raft::...`, in any namespace.
pub fn is_raft_frame(frame: &str) -> bool {
    !frame.ends_with(KERNEL_SUFFIX)
        && (frame.starts_with("Raft::") || frame.contains("::Raft::") || frame.contains(" Raft::"))
}

/// What kind of futex wait a stack is, by its innermost recognised frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutexWait {
    Mutex,
    CondVar,
    Unknown,
}

/// Classifies a futex wait by its innermost frame that is a mutex lock or a condition wait.
pub fn classify_futex(frames: &[String]) -> FutexWait {
    for f in frames.iter().rev() {
        if any_matches(&functions().lock, f) {
            return FutexWait::Mutex;
        }
        if any_matches(&functions().condvar, f) {
            return FutexWait::CondVar;
        }
    }
    FutexWait::Unknown
}
