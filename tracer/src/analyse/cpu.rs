//! The on-CPU profile as perf and FlameGraph users read it: folded stacks (the input of
//! `flamegraph.pl`, inferno and speedscope), a `perf report --children` style table, top-N
//! hotspots, the share of one function, and how complete the stacks are (truncated chains,
//! `[unknown]` frames).
//!
//! Every function here is pure and works on any selection of [`StackRecord`]s (one node, one
//! thread, the whole run), so callers choose what a figure covers by what they pass in:
//! `cpu::folded(&profile.stacks, ..)` or `cpu::folded(profile.stacks.iter().filter(..), ..)`.
//!
//! Percentages are shares of the samples *that have a stack* in the selection, which is what
//! `perf report` prints too. Samples whose stack the kernel could not record are not in any
//! [`StackRecord`]; [`lost_stack_samples`] counts them so a report can say so.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::model::{CpuProfile, StackRecord, KERNEL_SUFFIX};

/// The frame name used when a frame could not be symbolised (same spelling as perf).
pub const UNKNOWN_FRAME: &str = "[unknown]";

/// How many functions the hotspot tables list by default (the original script's "top 30").
pub const DEFAULT_HOTSPOTS: usize = 30;

// ---------------------------------------------------------------------------------------------
// Folded stacks
// ---------------------------------------------------------------------------------------------

/// Options of [`folded`]. The default gives the per-node flamegraph perf users know: the root
/// frame is the thread name, as `stackcollapse-perf.pl` puts the comm there.
#[derive(Clone, Debug, Default)]
pub struct FoldOptions {
    /// A frame put above the thread name, e.g. `node0 (pid 1234, leader)`, so the stacks of
    /// several nodes can share one flamegraph and still be told apart.
    pub node_label: Option<String>,
    /// Replace every run of digits in thread names with `*` (`hb-send-123` → `hb-send-*`).
    /// Short-lived threads get a fresh numbered name each time; without grouping each one is a
    /// separate sliver too narrow to read.
    pub group_thread_digits: bool,
}

/// FlameGraph folded lines `root;...;leaf count`, one per distinct stack, sorted by stack.
///
/// Stacks that fold to the same line (same frames, same thread name after grouping) are
/// summed, so the output is already what `stackcollapse-*.pl | sort` would give. Frames are made
/// safe for the format with [`sanitize_frame`]; stacks with a zero count are left out because
/// the format has no use for them.
pub fn folded<'a>(
    stacks: impl IntoIterator<Item = &'a StackRecord>,
    opts: &FoldOptions,
) -> Vec<String> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for stack in stacks.into_iter().filter(|s| s.count > 0) {
        *counts.entry(folded_stack(stack, opts)).or_default() += stack.count;
    }
    counts
        .into_iter()
        .map(|(stack, count)| format!("{stack} {count}"))
        .collect()
}

/// The `root;...;leaf` part of one folded line.
fn folded_stack(stack: &StackRecord, opts: &FoldOptions) -> String {
    let thread = if opts.group_thread_digits {
        group_digits(&stack.thread)
    } else {
        stack.thread.clone()
    };
    let mut parts: Vec<String> = Vec::with_capacity(stack.frames.len() + 2);
    if let Some(label) = &opts.node_label {
        parts.push(sanitize_frame(label));
    }
    parts.push(sanitize_frame(&thread));
    parts.extend(stack.frames.iter().map(|f| sanitize_frame(f)));
    parts.join(";")
}

/// Replaces every run of ASCII digits with `*`, so names that differ only by numbers
/// (`worker-1`, `worker-22`) become one (`worker-*`).
pub fn group_digits(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_digits = false;
    for c in name.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('*');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// Makes a frame (or thread name) safe for one field of a folded line: `;` separates frames,
/// so it becomes `:`; line breaks and tabs would split or confuse the line, so they become
/// spaces; surrounding whitespace is trimmed and an empty name becomes `[unknown]`. Inner
/// spaces are kept (readers take the count after the *last* space), except before a trailing
/// number: `worker 3` as the last frame would make the line read as a two-count differential
/// line, so it becomes `worker_3`.
pub fn sanitize_frame(frame: &str) -> String {
    let cleaned: String = frame
        .chars()
        .map(|c| match c {
            ';' => ':',
            '\n' | '\r' | '\t' => ' ',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        return UNKNOWN_FRAME.to_string();
    }
    match trimmed.rsplit_once(' ') {
        Some((head, number)) if number.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{head}_{number}")
        }
        _ => trimmed.to_string(),
    }
}

/// Splits a folded line into its frames (root first) and count; `None` when the line has no
/// count after its last space. The inverse of one line of [`folded`].
pub fn parse_folded_line(line: &str) -> Option<(Vec<&str>, u64)> {
    let (stack, count) = line.trim_end().rsplit_once(' ')?;
    let count = count.parse().ok()?;
    Some((stack.split(';').collect(), count))
}

// ---------------------------------------------------------------------------------------------
// perf report --children and hotspots
// ---------------------------------------------------------------------------------------------

/// The cost of one symbol over a selection of stacks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SymbolCost {
    /// The frame as recorded (kernel frames keep their `_[k]` suffix).
    pub symbol: String,
    /// Samples in which the symbol was the leaf: it was running itself (perf's "Self").
    pub self_samples: u64,
    /// Samples whose stack contains the symbol, once per stack even when it recurses:
    /// it or something it called was running (perf's "Children").
    pub total_samples: u64,
    pub self_pct: f64,
    pub total_pct: f64,
}

/// Per-symbol costs of a selection of stacks, sorted by total (children) samples, then self
/// samples, then name, so equal profiles always print the same table.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SymbolCosts {
    /// Samples in the selection: the denominator of every percentage.
    pub samples: u64,
    pub symbols: Vec<SymbolCost>,
}

/// Computes [`SymbolCosts`]: the numbers behind `perf report --children`.
pub fn symbol_costs<'a>(stacks: impl IntoIterator<Item = &'a StackRecord>) -> SymbolCosts {
    let mut samples = 0u64;
    // symbol -> (self, total)
    let mut by_symbol: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for stack in stacks {
        samples += stack.count;
        if let Some(leaf) = stack.frames.last() {
            by_symbol.entry(leaf).or_default().0 += stack.count;
        }
        let distinct: BTreeSet<&str> = stack.frames.iter().map(String::as_str).collect();
        for symbol in distinct {
            by_symbol.entry(symbol).or_default().1 += stack.count;
        }
    }
    let mut symbols: Vec<SymbolCost> = by_symbol
        .into_iter()
        .map(|(symbol, (self_samples, total_samples))| SymbolCost {
            symbol: symbol.to_string(),
            self_samples,
            total_samples,
            self_pct: percent(self_samples, samples),
            total_pct: percent(total_samples, samples),
        })
        .collect();
    symbols.sort_by(|a, b| {
        b.total_samples
            .cmp(&a.total_samples)
            .then(b.self_samples.cmp(&a.self_samples))
            .then(a.symbol.cmp(&b.symbol))
    });
    SymbolCosts { samples, symbols }
}

/// `100 * part / whole`, 0 for an empty whole.
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// A `perf report --children --stdio` style text: one line per symbol with Children % and
/// Self % (and the sample counts perf leaves out), sorted by children. `freq_hz` goes into the
/// header (0 when unknown). Unlike perf there are no call chains under each entry: the
/// flamegraph shows those.
pub fn perf_report(costs: &SymbolCosts, freq_hz: u64) -> String {
    let mut out = String::new();
    let _ = write!(out, "# Samples: {} of event 'cpu-clock'", costs.samples);
    if freq_hz > 0 {
        let _ = write!(out, " (on-CPU stacks sampled at {freq_hz} Hz)");
    }
    out.push('\n');
    out.push_str(
        "# Children: samples whose stack contains the symbol (once per stack); \
         Self: samples where it was the running function\n",
    );
    out.push_str("#\n");
    out.push_str("# Children      Self   Samples      Self  Symbol\n");
    out.push_str("# ........  ........  ........  ........  ......\n");
    out.push_str("#\n");
    for s in &costs.symbols {
        let _ = writeln!(
            out,
            "{:>9.2}% {:>8.2}%  {:>8}  {:>8}  {}",
            s.total_pct, s.self_pct, s.total_samples, s.self_samples, s.symbol
        );
    }
    out
}

/// The `n` symbols with the most self samples (symbols never at a leaf are left out).
pub fn top_by_self(costs: &SymbolCosts, n: usize) -> Vec<&SymbolCost> {
    let mut rows: Vec<&SymbolCost> = costs
        .symbols
        .iter()
        .filter(|s| s.self_samples > 0)
        .collect();
    rows.sort_by(|a, b| {
        b.self_samples
            .cmp(&a.self_samples)
            .then(b.total_samples.cmp(&a.total_samples))
            .then(a.symbol.cmp(&b.symbol))
    });
    rows.truncate(n);
    rows
}

/// The `n` symbols with the most total (children) samples.
pub fn top_by_total(costs: &SymbolCosts, n: usize) -> Vec<&SymbolCost> {
    // `symbols` is already in this order.
    costs.symbols.iter().take(n).collect()
}

/// Two tables: the top `n` by self (where CPU time is spent) and by total (which call paths
/// cost the most), the "hotspots" file of the original script.
pub fn hotspots(costs: &SymbolCosts, n: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Top {n} functions by self samples: the function itself was running ({} samples)",
        costs.samples
    );
    hotspot_table(&mut out, &top_by_self(costs, n));
    out.push('\n');
    let _ = writeln!(
        out,
        "# Top {n} functions by total samples: the function or its callees were running"
    );
    hotspot_table(&mut out, &top_by_total(costs, n));
    out
}

fn hotspot_table(out: &mut String, rows: &[&SymbolCost]) {
    out.push_str("  rank      Self   Samples     Total   Samples  Symbol\n");
    for (i, s) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>6} {:>8.2}%  {:>8} {:>8.2}%  {:>8}  {}",
            i + 1,
            s.self_pct,
            s.self_samples,
            s.total_pct,
            s.total_samples,
            s.symbol
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Share of one function
// ---------------------------------------------------------------------------------------------

/// The cost of the frames a predicate selects, e.g. every spelling of `Raft::applier`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FunctionShare {
    /// Samples in which a selected frame was the leaf.
    pub self_samples: u64,
    /// Samples whose stack contains a selected frame (once per stack).
    pub total_samples: u64,
    /// Samples in the selection: the denominator of the percentages.
    pub samples: u64,
    pub self_pct: f64,
    pub total_pct: f64,
}

/// How much of the selection's CPU time a function (as `is_function` recognises its frames,
/// usually a [`crate::profile::Pattern`]) accounts for: the numbers behind findings like
/// "applier share < 5%".
pub fn share<'a>(
    stacks: impl IntoIterator<Item = &'a StackRecord>,
    is_function: impl Fn(&str) -> bool,
) -> FunctionShare {
    let mut s = FunctionShare::default();
    for stack in stacks {
        s.samples += stack.count;
        if stack.frames.last().is_some_and(|leaf| is_function(leaf)) {
            s.self_samples += stack.count;
        }
        if stack.frames.iter().any(|f| is_function(f)) {
            s.total_samples += stack.count;
        }
    }
    s.self_pct = percent(s.self_samples, s.samples);
    s.total_pct = percent(s.total_samples, s.samples);
    s
}

// ---------------------------------------------------------------------------------------------
// Stack quality: truncation and unknown frames
// ---------------------------------------------------------------------------------------------

/// How many samples have a truncated user stack (see [`StackRecord::user_truncated`]: the
/// frame-pointer walk broke), in which object the chain broke, and where those stacks stop.
/// Everything above the break is missing from the flamegraph, so a function's total share is
/// an underestimate; the frames named in `ends_in` are the code to rebuild with
/// `-fno-omit-frame-pointer`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Truncation {
    pub truncated_samples: u64,
    pub samples: u64,
    pub truncated_pct: f64,
    /// Where truncated stacks end (their outermost frame), most samples first. Unsymbolised
    /// frames `[raftCoreRun+0x9e1c]` are grouped by module (`raftCoreRun`), symbolised ones by
    /// name.
    pub ends_in: Vec<(String, u64)>,
    /// The objects whose frame chain broke, most samples first.
    pub broke_in: Vec<BrokeIn>,
}

/// Where frame-pointer walks broke: one object and its samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BrokeIn {
    /// File name (`libstdc++.so.6`, `raftkv-node`); `?` for stacks recorded without it.
    pub object: String,
    /// A system library (nothing of the user's to rebuild).
    pub system: bool,
    pub samples: u64,
}

/// Computes [`Truncation`] over a selection of stacks.
pub fn truncation<'a>(stacks: impl IntoIterator<Item = &'a StackRecord>) -> Truncation {
    let mut t = Truncation::default();
    let mut ends_in: BTreeMap<String, u64> = BTreeMap::new();
    let mut broke_in: BTreeMap<String, u64> = BTreeMap::new();
    for stack in stacks {
        t.samples += stack.count;
        if !stack.user_truncated {
            continue;
        }
        t.truncated_samples += stack.count;
        let outermost = stack.frames.first().map_or(UNKNOWN_FRAME, String::as_str);
        *ends_in.entry(frame_origin(outermost)).or_default() += stack.count;
        let object = stack.walk_broke_in.as_deref().unwrap_or("?");
        *broke_in.entry(object.to_string()).or_default() += stack.count;
    }
    t.truncated_pct = percent(t.truncated_samples, t.samples);
    let most_first = |m: BTreeMap<String, u64>| {
        let mut v: Vec<(String, u64)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    t.ends_in = most_first(ends_in);
    t.broke_in = most_first(broke_in)
        .into_iter()
        .map(|(path, samples)| {
            let p = std::path::Path::new(&path);
            BrokeIn {
                object: if path == "?" {
                    path.clone()
                } else {
                    crate::symbols::objects::object_label(p)
                },
                system: crate::symbols::objects::is_system_path(p),
                samples,
            }
        })
        .collect();
    t
}

/// The module of an unsymbolised `[module+0xoffset]` frame, else the frame itself.
fn frame_origin(frame: &str) -> String {
    frame
        .strip_prefix('[')
        .and_then(|f| f.strip_suffix(']'))
        .and_then(|f| f.rsplit_once("+0x"))
        .map_or_else(|| frame.to_string(), |(module, _)| module.to_string())
}

/// Samples whose stack holds at least one frame nothing could name.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UnknownFrames {
    pub samples_with_unknown: u64,
    pub samples: u64,
    pub pct: f64,
}

/// Counts samples with an `[unknown]` frame (user, or kernel `[unknown]_[k]`): stripped
/// binaries, JIT code or unreadable memory maps. A high share makes every function share in
/// the report less reliable.
pub fn unknown_frames<'a>(stacks: impl IntoIterator<Item = &'a StackRecord>) -> UnknownFrames {
    let mut u = UnknownFrames::default();
    for stack in stacks {
        u.samples += stack.count;
        if stack.frames.iter().any(|f| is_unknown_frame(f)) {
            u.samples_with_unknown += stack.count;
        }
    }
    u.pct = percent(u.samples_with_unknown, u.samples);
    u
}

/// `[unknown]` or its kernel spelling `[unknown]_[k]`.
pub fn is_unknown_frame(frame: &str) -> bool {
    frame.strip_suffix(KERNEL_SUFFIX).unwrap_or(frame) == UNKNOWN_FRAME
}

/// Samples taken in traced processes whose stack could not be recorded at all: they are in
/// `profile.samples` but in no [`StackRecord`], so no percentage above covers them.
pub fn lost_stack_samples(profile: &CpuProfile) -> u64 {
    let with_stack: u64 = profile.stacks.iter().map(|s| s.count).sum();
    profile.samples.saturating_sub(with_stack)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(thread: &str, frames: &[&str], count: u64) -> StackRecord {
        StackRecord {
            pid: 100,
            layer: None,
            thread: thread.to_string(),
            frames: frames.iter().map(|f| f.to_string()).collect(),
            count,
            user_truncated: false,
            walk_broke_in: None,
        }
    }

    fn truncated(frames: &[&str], count: u64) -> StackRecord {
        StackRecord {
            user_truncated: true,
            walk_broke_in: None,
            ..stack("t", frames, count)
        }
    }

    #[test]
    fn folded_aggregates_and_sorts_with_the_thread_as_root() {
        let stacks = vec![
            stack("raft", &["main", "b"], 2),
            stack("raft", &["main", "a"], 1),
            stack("raft", &["main", "b"], 3),
            stack("applier", &["start_thread", "Raft::applier()"], 4),
            stack("raft", &["main", "never"], 0),
        ];
        assert_eq!(
            folded(&stacks, &FoldOptions::default()),
            vec![
                "applier;start_thread;Raft::applier() 4",
                "raft;main;a 1",
                "raft;main;b 5",
            ]
        );
    }

    #[test]
    fn folded_prefixes_the_node_and_groups_numbered_threads() {
        let stacks = vec![
            stack("hb-send-123", &["f"], 1),
            stack("hb-send-7", &["f"], 2),
            stack("worker", &["f"], 1),
        ];
        let opts = FoldOptions {
            node_label: Some("node0 (pid 100)".into()),
            group_thread_digits: true,
        };
        assert_eq!(
            folded(&stacks, &opts),
            vec![
                "node0 (pid 100);hb-send-*;f 3",
                "node0 (pid 100);worker;f 1"
            ]
        );
    }

    #[test]
    fn frames_are_made_safe_for_the_folded_format() {
        assert_eq!(
            sanitize_frame("f(std::array<int; 3>)"),
            "f(std::array<int: 3>)"
        );
        assert_eq!(sanitize_frame(" a\nb "), "a b");
        assert_eq!(sanitize_frame(""), "[unknown]");
        assert_eq!(sanitize_frame("worker 3"), "worker_3");
        assert_eq!(
            sanitize_frame("std::vector<int, int>::at"),
            "std::vector<int, int>::at"
        );
        let s = vec![stack("t;x", &["a;b", "c"], 1)];
        assert_eq!(folded(&s, &FoldOptions::default()), vec!["t:x;a:b;c 1"]);
    }

    #[test]
    fn folded_lines_parse_back() {
        assert_eq!(
            parse_folded_line("t;foo(int, char) 42"),
            Some((vec!["t", "foo(int, char)"], 42))
        );
        assert_eq!(parse_folded_line("no count"), None);
    }

    #[test]
    fn digit_runs_collapse_to_one_star() {
        assert_eq!(group_digits("hb-send-123"), "hb-send-*");
        assert_eq!(group_digits("w1x22"), "w*x*");
        assert_eq!(group_digits("applier"), "applier");
    }

    /// 10 samples; `rec` recurses in one stack of 4.
    fn canned() -> Vec<StackRecord> {
        vec![
            stack("t", &["main", "rec", "rec", "leaf"], 4),
            stack("t", &["main", "rec"], 3),
            stack("t", &["main", "other", "write_[k]"], 2),
            stack("t", &["main"], 1),
        ]
    }

    fn cost<'a>(costs: &'a SymbolCosts, symbol: &str) -> &'a SymbolCost {
        costs.symbols.iter().find(|s| s.symbol == symbol).unwrap()
    }

    #[test]
    fn children_count_each_stack_once_and_self_counts_leaves() {
        let costs = symbol_costs(&canned());
        assert_eq!(costs.samples, 10);
        let rec = cost(&costs, "rec");
        assert_eq!((rec.total_samples, rec.self_samples), (7, 3));
        assert_eq!((rec.total_pct, rec.self_pct), (70.0, 30.0));
        let main = cost(&costs, "main");
        assert_eq!((main.total_pct, main.self_pct), (100.0, 10.0));
        let kernel = cost(&costs, "write_[k]");
        assert_eq!((kernel.total_pct, kernel.self_pct), (20.0, 20.0));
        let order: Vec<&str> = costs.symbols.iter().map(|s| s.symbol.as_str()).collect();
        assert_eq!(order, ["main", "rec", "leaf", "write_[k]", "other"]);
    }

    #[test]
    fn perf_report_prints_children_then_self() {
        let text = perf_report(&symbol_costs(&canned()), 99);
        assert!(text
            .starts_with("# Samples: 10 of event 'cpu-clock' (on-CPU stacks sampled at 99 Hz)\n"));
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines[0], "   100.00%    10.00%        10         1  main");
        assert_eq!(lines[1], "    70.00%    30.00%         7         3  rec");
        assert_eq!(
            lines[3],
            "    20.00%    20.00%         2         2  write_[k]"
        );
        assert_eq!(lines[4], "    20.00%     0.00%         2         0  other");
    }

    #[test]
    fn hotspots_rank_by_self_then_by_total() {
        let costs = symbol_costs(&canned());
        let by_self: Vec<&str> = top_by_self(&costs, 30)
            .iter()
            .map(|s| s.symbol.as_str())
            .collect();
        assert_eq!(by_self, ["leaf", "rec", "write_[k]", "main"]);
        let by_total: Vec<&str> = top_by_total(&costs, 2)
            .iter()
            .map(|s| s.symbol.as_str())
            .collect();
        assert_eq!(by_total, ["main", "rec"]);
        let text = hotspots(&costs, 2);
        assert!(
            text.contains("     1    40.00%         4    40.00%         4  leaf\n"),
            "{text}"
        );
        assert_eq!(text.matches("  rank").count(), 2);
    }

    #[test]
    fn empty_selection_gives_zero_percentages() {
        let costs = symbol_costs(std::iter::empty());
        assert_eq!(costs, SymbolCosts::default());
        let s = share(std::iter::empty(), |_| true);
        assert_eq!((s.self_pct, s.total_pct), (0.0, 0.0));
    }

    #[test]
    fn share_counts_a_function_once_per_stack() {
        let rec = crate::profile::Pattern::parse("rec").unwrap();
        let s = share(&canned(), |f| rec.matches(f));
        assert_eq!((s.self_samples, s.total_samples, s.samples), (3, 7, 10));
        assert_eq!((s.self_pct, s.total_pct), (30.0, 70.0));
    }

    #[test]
    fn truncation_reports_where_broken_chains_end() {
        let stacks = vec![
            // Unsymbolised addresses in the executable group by module.
            truncated(&["[raftCoreRun+0x9e1c]", "f"], 3),
            truncated(&["[raftCoreRun+0x1000]", "g"], 2),
            truncated(&["Raft::persist()", "write_[k]"], 4),
            stack("t", &["_start", "main"], 11),
        ];
        let t = truncation(&stacks);
        assert_eq!((t.truncated_samples, t.samples), (9, 20));
        assert_eq!(t.truncated_pct, 45.0);
        assert_eq!(
            t.ends_in,
            vec![
                ("raftCoreRun".to_string(), 5),
                ("Raft::persist()".to_string(), 4),
            ]
        );
    }

    #[test]
    fn unknown_frames_count_samples_not_frames() {
        let stacks = vec![
            stack("t", &["[unknown]", "[unknown]", "f"], 2),
            stack("t", &["main", "[unknown]_[k]"], 1),
            stack("t", &["main", "[libc.so.6+0x10]"], 7),
        ];
        let u = unknown_frames(&stacks);
        assert_eq!((u.samples_with_unknown, u.samples), (3, 10));
        assert_eq!(u.pct, 30.0);
    }

    #[test]
    fn lost_stacks_are_samples_without_a_record() {
        let profile = CpuProfile {
            freq_hz: 99,
            samples: 15,
            stacks: canned(),
        };
        assert_eq!(lost_stack_samples(&profile), 5);
    }
}
