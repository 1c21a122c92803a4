//! The live status line on a terminal: events/s, samples, lost events, nodes and the current
//! leader, redrawn in place once a second. On a pipe or file nothing is drawn (logs and
//! scripts read tracer's stderr line by line), and lines tracer prints meanwhile go through
//! [`crate::messages`], which erases the line first, so they never mix with a half-drawn status.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::kernel::{attach::Attached, maps};
use crate::messages;

const REDRAW: Duration = Duration::from_secs(1);

/// What the line shows, gathered by the run loop.
pub struct Status {
    pub nodes: usize,
    /// pid of the node that acts as leader now, if the profile has role functions.
    pub leader: Option<u32>,
    pub windows: usize,
}

pub struct StatusLine {
    enabled: bool,
    drawn: bool,
    last: Instant,
    last_events: u64,
}

impl StatusLine {
    /// A status line on stderr if it is a terminal; a silent one otherwise.
    pub fn new() -> Self {
        Self::with(std::io::stderr().is_terminal())
    }

    pub fn with(enabled: bool) -> Self {
        StatusLine {
            enabled,
            drawn: false,
            last: Instant::now(),
            last_events: 0,
        }
    }

    /// Redraws the line if a second has passed, or at once if a message erased it.
    pub fn tick(&mut self, attached: &Attached, status: &Status) {
        let erased = self.drawn && !messages::status_line_shown();
        if !self.enabled || (!erased && self.last.elapsed() < REDRAW) {
            return;
        }
        let dt = self.last.elapsed().as_secs_f64();
        let stats = attached.program_stats();
        // Every run of a program is one event seen in the kernel (a syscall exit, a sample,
        // a probed call, a context switch...): the kernel counts them for free.
        let events: u64 = stats.iter().map(|s| s.1).sum();
        let samples: u64 = stats
            .iter()
            .filter(|s| s.0 == "cpu_sample")
            .map(|s| s.1)
            .sum();
        let rate = events.saturating_sub(self.last_events) as f64 / dt;
        self.last_events = events;
        self.last = Instant::now();
        let line = render(rate, samples, lost(attached), status);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        self.drawn = true;
        messages::status_line_drawn();
    }

    /// Removes the status line for good, before the final summary.
    pub fn clear(&mut self) {
        if self.drawn {
            messages::erase_status_line();
            self.drawn = false;
        }
    }
}

impl Default for StatusLine {
    fn default() -> Self {
        Self::new()
    }
}

/// Events lost in the kernel so far (all reasons, stack-bucket collisions included).
fn lost(attached: &Attached) -> u64 {
    maps::drops(attached)
        .map(|d| d.iter().map(|(_, n)| n).sum())
        .unwrap_or(0)
}

fn render(events_per_s: f64, samples: u64, lost: u64, s: &Status) -> String {
    format!(
        "tracer: {:.0} events/s | {samples} samples | {lost} lost | {} node{} | leader {} | {} window{}",
        events_per_s,
        s.nodes,
        if s.nodes == 1 { "" } else { "s" },
        s.leader
            .map(|p| format!("pid {p}"))
            .unwrap_or_else(|| "-".into()),
        s.windows,
        if s.windows == 1 { "" } else { "s" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_every_figure() {
        let line = render(
            12_345.4,
            990,
            3,
            &Status {
                nodes: 3,
                leader: Some(4242),
                windows: 2,
            },
        );
        assert_eq!(
            line,
            "tracer: 12345 events/s | 990 samples | 3 lost | 3 nodes | leader pid 4242 | 2 windows"
        );
        let line = render(
            0.0,
            0,
            0,
            &Status {
                nodes: 1,
                leader: None,
                windows: 1,
            },
        );
        assert!(line.contains("1 node |") && line.contains("leader -"));
    }

    #[test]
    fn nothing_is_drawn_off_a_terminal() {
        let mut s = StatusLine::with(false);
        s.clear();
        assert!(!s.drawn);
    }
}
