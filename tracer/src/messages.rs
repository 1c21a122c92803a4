//! What tracer tells the user on stderr, in one place (like ripgrep's `messages.rs`).
//!
//! - [`say`]: a progress line, `tracer: …` (a process joined or exited, the session is written).
//! - [`Warnings`]: the warning sink. A warning is printed once, `tracer: warning: …`, and kept
//!   in order for the report (it becomes a note of the session), so what the user saw scroll by
//!   is also in the folder they read later.
//! - The live status line (`session/status_line.rs`) claims the terminal's last line; every
//!   line printed here first erases it, so the two never mix.
//!
//! - [`error`]: the error that ended a command, with its cause chain (`cli::main`).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the status line is drawn on the terminal's last line right now.
static STATUS_DRAWN: AtomicBool = AtomicBool::new(false);

/// Prints `tracer: {msg}` on a line of its own, above the status line if one is drawn (it is
/// redrawn at its next tick).
pub fn say(msg: &str) {
    erase_status_line();
    eprintln!("tracer: {msg}");
}

/// Prints the error that ended a command: `tracer: error: …`, then each cause on its own line.
pub fn error(err: &anyhow::Error) {
    erase_status_line();
    eprintln!("tracer: error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// Records that the status line was just drawn (called by the status line only).
pub(crate) fn status_line_drawn() {
    STATUS_DRAWN.store(true, Ordering::Relaxed);
}

/// Whether the status line is still on screen (false once a line printed here erased it).
pub(crate) fn status_line_shown() -> bool {
    STATUS_DRAWN.load(Ordering::Relaxed)
}

/// Erases the status line if it is drawn.
pub(crate) fn erase_status_line() {
    if STATUS_DRAWN.swap(false, Ordering::Relaxed) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// The warnings of a run, in the order they were given: each printed once as it comes, all
/// of them kept for the report (`ProbePlan::warnings`, which the snapshot lists in its notes).
#[derive(Clone, Debug, Default)]
pub struct Warnings {
    recorded: Vec<String>,
}

impl Warnings {
    /// Prints `tracer: warning: {msg}` and records it; a warning given twice is printed and
    /// recorded once.
    pub fn warn(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        if self.recorded.contains(&msg) {
            return;
        }
        say(&format!("warning: {msg}"));
        self.recorded.push(msg);
    }

    /// The warnings so far, oldest first.
    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.recorded.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.recorded.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_is_recorded_once_in_order() {
        let mut w = Warnings::default();
        w.warn("first");
        w.warn(String::from("second"));
        w.warn("first");
        assert_eq!(w.iter().collect::<Vec<_>>(), ["first", "second"]);
        assert!(!w.is_empty());
    }

    #[test]
    fn a_line_printed_while_the_status_line_is_drawn_erases_it_first() {
        // (Other tests may print meanwhile: they can only erase it too.)
        status_line_drawn();
        say("a line above the status line");
        assert!(!status_line_shown(), "the status line knows to redraw");
    }
}
