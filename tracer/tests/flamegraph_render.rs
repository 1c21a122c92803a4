//! The CPU profile's user-space stage on canned data: folded stacks, `perf report --children`
//! numbers, hotspots, function shares, and the SVGs inferno draws from them (parsed back as
//! XML). No BPF, no root, no `flamegraph.pl` needed.

use std::collections::BTreeMap;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::Reader;

use tracer::analyse::cpu::{self, FoldOptions};
use tracer::model::{CpuProfile, StackRecord};
use tracer::output::flamegraph;
use tracer::profile::Pattern;

fn stack(thread: &str, frames: &[&str], count: u64) -> StackRecord {
    StackRecord {
        pid: 1234,
        layer: None,
        thread: thread.to_string(),
        frames: frames.iter().map(|f| f.to_string()).collect(),
        count,
        user_truncated: false,
        walk_broke_in: None,
    }
}

/// A leader node's profile, 100 samples with stacks out of 104 taken:
/// - applier 40: 30 in `Raft::applier()` itself, 10 applying through a recursive helper;
/// - hb-send threads 25: heartbeats ending in the kernel's `sendto`;
/// - raft 20: persisting (`Persister::saveRaftState` → `fsync`);
/// - raft 15: a truncated stack: the frame-pointer walk broke in the executable's
///   `Raft::persist()`, so its callers are missing.
fn leader_profile() -> CpuProfile {
    let thread_entry = ["clone3_[k]", "start_thread"];
    let with_entry = |tail: &[&'static str]| -> Vec<&'static str> {
        thread_entry.iter().chain(tail).copied().collect()
    };
    let mut truncated = stack(
        "raft",
        &["Raft::persist()", "std::ostream::write(char const*, long)"],
        15,
    );
    truncated.user_truncated = true;
    CpuProfile {
        freq_hz: 99,
        samples: 104,
        stacks: vec![
            stack(
                "applier",
                &with_entry(&["Raft::applier() [clone .isra.0]"]),
                30,
            ),
            stack(
                "applier",
                &with_entry(&[
                    "Raft::applier() [clone .isra.0]",
                    "KvServer::apply(Op const&)",
                    "KvServer::apply(Op const&)",
                    "std::map<std::string, std::string>::operator[](std::string const&)",
                ]),
                10,
            ),
            stack(
                "hb-send-101",
                &with_entry(&["Raft::doHeartBeat()", "send", "__sys_sendto_[k]"]),
                15,
            ),
            stack(
                "hb-send-102",
                &with_entry(&["Raft::doHeartBeat()", "send", "__sys_sendto_[k]"]),
                10,
            ),
            stack(
                "raft",
                &with_entry(&[
                    "Persister::saveRaftState[abi:cxx11](std::string const&)",
                    "fsync",
                    "do_fsync_[k]",
                ]),
                20,
            ),
            truncated,
        ],
    }
}

#[test]
fn folded_lines_are_exact_for_the_leader_profile() {
    let profile = leader_profile();
    let opts = FoldOptions {
        node_label: Some("node0 leader".into()),
        group_thread_digits: true,
    };
    assert_eq!(
        cpu::folded(&profile.stacks, &opts),
        vec![
            "node0 leader;applier;clone3_[k];start_thread;Raft::applier() [clone .isra.0] 30",
            "node0 leader;applier;clone3_[k];start_thread;Raft::applier() [clone .isra.0];\
             KvServer::apply(Op const&);KvServer::apply(Op const&);\
             std::map<std::string, std::string>::operator[](std::string const&) 10",
            "node0 leader;hb-send-*;clone3_[k];start_thread;Raft::doHeartBeat();send;\
             __sys_sendto_[k] 25",
            "node0 leader;raft;Raft::persist();std::ostream::write(char const*, long) 15",
            "node0 leader;raft;clone3_[k];start_thread;\
             Persister::saveRaftState[abi:cxx11](std::string const&);fsync;do_fsync_[k] 20",
        ]
    );
}

#[test]
fn folded_lines_parse_back_to_the_same_counts() {
    let profile = leader_profile();
    let lines = cpu::folded(&profile.stacks, &FoldOptions::default());
    let mut parsed: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for line in &lines {
        let (frames, count) = cpu::parse_folded_line(line).expect(line);
        let frames = frames.iter().map(|f| f.to_string()).collect();
        assert!(
            parsed.insert(frames, count).is_none(),
            "duplicate stack {line}"
        );
    }
    let mut expected: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for s in &profile.stacks {
        let mut frames = vec![s.thread.clone()];
        frames.extend(s.frames.iter().cloned());
        *expected.entry(frames).or_default() += s.count;
    }
    assert_eq!(parsed, expected);
    // The same text as a .folded file reads back the same way.
    let text = flamegraph::folded_text(&lines);
    let reread: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(reread, lines);
}

#[test]
fn perf_report_percentages_are_exact() {
    let profile = leader_profile();
    let costs = cpu::symbol_costs(&profile.stacks);
    assert_eq!(costs.samples, 100);
    let report = cpu::perf_report(&costs, profile.freq_hz);
    let rows: Vec<&str> = report.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        rows,
        vec![
            "    85.00%     0.00%        85         0  clone3_[k]",
            "    85.00%     0.00%        85         0  start_thread",
            "    40.00%    30.00%        40        30  Raft::applier() [clone .isra.0]",
            "    25.00%    25.00%        25        25  __sys_sendto_[k]",
            "    25.00%     0.00%        25         0  Raft::doHeartBeat()",
            "    25.00%     0.00%        25         0  send",
            "    20.00%    20.00%        20        20  do_fsync_[k]",
            "    20.00%     0.00%        20         0  \
             Persister::saveRaftState[abi:cxx11](std::string const&)",
            "    20.00%     0.00%        20         0  fsync",
            "    15.00%    15.00%        15        15  std::ostream::write(char const*, long)",
            "    15.00%     0.00%        15         0  Raft::persist()",
            "    10.00%    10.00%        10        10  \
             std::map<std::string, std::string>::operator[](std::string const&)",
            // Twice in its stack, counted once.
            "    10.00%     0.00%        10         0  KvServer::apply(Op const&)",
        ]
    );
    assert!(report.starts_with("# Samples: 100 of event 'cpu-clock'"));
    assert!(report.contains("# Children      Self"));
}

#[test]
fn hotspots_list_self_then_total_in_order() {
    let costs = cpu::symbol_costs(&leader_profile().stacks);
    let names = |rows: Vec<&cpu::SymbolCost>| -> Vec<String> {
        rows.iter().map(|r| r.symbol.clone()).collect()
    };
    assert_eq!(
        names(cpu::top_by_self(&costs, 3)),
        [
            "Raft::applier() [clone .isra.0]",
            "__sys_sendto_[k]",
            "do_fsync_[k]"
        ]
    );
    assert_eq!(
        names(cpu::top_by_total(&costs, 3)),
        [
            "clone3_[k]",
            "start_thread",
            "Raft::applier() [clone .isra.0]"
        ]
    );
    let text = cpu::hotspots(&costs, cpu::DEFAULT_HOTSPOTS);
    let self_table = text.split("\n\n").next().unwrap();
    assert_eq!(self_table.lines().count(), 2 + 5, "{text}");
}

#[test]
fn function_shares_follow_the_layer_names() {
    let stacks = leader_profile().stacks;
    let function = |name: &str| Pattern::parse(name).unwrap();
    let applier = function("Raft::applier");
    let applier = cpu::share(&stacks, |f| applier.matches(f));
    assert_eq!((applier.self_samples, applier.total_samples), (30, 40));
    assert_eq!((applier.self_pct, applier.total_pct), (30.0, 40.0));
    let persist = function("Persister::saveRaftState");
    let persist = cpu::share(&stacks, |f| persist.matches(f));
    assert_eq!((persist.self_pct, persist.total_pct), (0.0, 20.0));
    // The hooked user-space `send`, not the kernel's `__sys_sendto`.
    let send = function("send");
    let send = cpu::share(&stacks, |f| send.matches(f));
    assert_eq!((send.self_samples, send.total_samples), (0, 25));
}

#[test]
fn stack_quality_figures() {
    let profile = leader_profile();
    let t = cpu::truncation(&profile.stacks);
    assert_eq!(t.truncated_pct, 15.0);
    assert_eq!(t.ends_in, vec![("Raft::persist()".to_string(), 15)]);
    assert_eq!(cpu::unknown_frames(&profile.stacks).samples_with_unknown, 0);
    assert_eq!(cpu::lost_stack_samples(&profile), 4);
}

/// Parses `svg` as XML (every tag closed and matched, attributes well-formed) and returns the
/// text it displays, entity references resolved.
fn parse_svg(svg: &str) -> String {
    let mut reader = Reader::from_str(svg);
    let mut open: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut saw_svg_root = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                saw_svg_root |= open.is_empty() && name == "svg";
                for attr in e.attributes() {
                    attr.expect("well-formed attribute");
                }
                open.push(name);
            }
            Event::Empty(e) => {
                for attr in e.attributes() {
                    attr.expect("well-formed attribute");
                }
            }
            Event::End(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                assert_eq!(open.pop().as_deref(), Some(name.as_str()));
            }
            Event::Text(t) => text.push_str(&t.decode().unwrap()),
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().unwrap() {
                    text.push(c);
                } else {
                    let name = r.decode().unwrap();
                    text.push_str(resolve_predefined_entity(&name).expect("known entity"));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "unclosed elements {open:?}");
    assert!(saw_svg_root, "the root element is <svg>");
    text
}

#[test]
fn the_flamegraph_is_well_formed_svg_naming_the_functions() {
    let profile = leader_profile();
    let lines = cpu::folded(&profile.stacks, &FoldOptions::default());
    let svg = flamegraph::svg(
        &lines,
        "raftkv-node (pid 1234) — node 0, leader",
        Some("100 samples at 99 Hz <&>"),
    )
    .unwrap();
    let text = parse_svg(&svg);
    for name in [
        "raftkv-node (pid 1234) — node 0, leader",
        "100 samples at 99 Hz <&>",
        "Raft::applier() [clone .isra.0]",
        "std::map<std::string, std::string>::operator[](std::string const&)",
        "hb-send-101",
        // Like flamegraph.pl, the SVG shows kernel frames without their `_[k]` annotation
        // (it only picks their colour).
        "__sys_sendto (15 samples, 15.00%)",
    ] {
        assert!(text.contains(name), "{name} missing from the SVG text");
    }
    // Interactive like flamegraph.pl's: the zoom/search script is embedded.
    assert!(svg.contains("<script"));
}

#[test]
fn an_empty_profile_draws_a_readable_message() {
    let lines = cpu::folded(&[], &FoldOptions::default());
    assert!(lines.is_empty());
    let text = parse_svg(&flamegraph::svg(&lines, "node 2 <follower>", None).unwrap());
    assert!(text.contains("node 2 <follower>"));
    assert!(text.contains("No CPU samples"));
}

#[test]
fn the_differential_flamegraph_is_well_formed_and_shows_the_change() {
    let before = cpu::folded(&leader_profile().stacks, &FoldOptions::default());
    // After the optimisation: half the fsync samples, the rest unchanged.
    let mut optimised = leader_profile();
    for s in &mut optimised.stacks {
        if s.frames.last().map(String::as_str) == Some("do_fsync_[k]") {
            s.count = 10;
        }
    }
    let after = cpu::folded(&optimised.stacks, &FoldOptions::default());

    let changed = flamegraph::diff_svg(&before, &after, "batching fsync").unwrap();
    let unchanged = flamegraph::diff_svg(&before, &before, "batching fsync").unwrap();
    let text = parse_svg(&changed);
    assert!(text.contains("before: 100 samples, after: 90 samples"));
    assert_ne!(changed, unchanged);
    // Each frame's tooltip carries the change: fsync shrank, heartbeats did not.
    assert!(text.contains("do_fsync (10 samples, 11.11%; -"), "{text}");
    assert!(text.contains("Raft::doHeartBeat() (15 samples, 16.67%; 0.00%)"));
    let unchanged_text = parse_svg(&unchanged);
    assert!(unchanged_text.contains("do_fsync (20 samples, 20.00%; 0.00%)"));
}
