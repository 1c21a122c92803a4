//! One cluster snapshot from the snapshots of one tracer per host (`tracer merge`).
//!
//! Production Raft clusters run one node per machine and one tracer per machine, each saving
//! its own session with its `--host-label`. Merging keeps every record as it was measured
//! (counts are summed, never rescaled), tags each process with its host (labels become
//! `host.comm_pid`, titles `host/pid`), and puts every host's times on one axis: the cluster
//! run starts with the earliest host's `started_at`, and each host's role spans and exit times
//! move by its start's distance from that. Those starts are read from each host's wall clock:
//! the hosts' clock offsets are not estimated here, so they must be synchronised (NTP keeps
//! them within milliseconds, far below the half-second poll windows of the roles); the merged
//! session says so in its notes.
//!
//! What would make the merge silently wrong is refused: sessions of different snapshot schema,
//! layer profiles or sampling frequencies, without or with duplicate host labels, with a pid
//! on two hosts (every record is keyed by pid), or whose time ranges do not overlap. Softer
//! mismatches (tracer versions, layer attribution, two leaders at once) become warnings, kept
//! in the merged session's notes.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;

use super::{CpuProfile, DiskReport, SelfCost, Snapshot};

/// How long two nodes may both look like the leader before it is a warning: role spans end
/// at poll-window boundaries (0.5 s, `session::role_watch::WINDOW`) that differ between
/// hosts, so a handover seen by two tracers overlaps by up to one window; one more second
/// covers the start times, read at whole milliseconds on clocks that may differ by NTP's
/// error.
pub const LEADER_OVERLAP_TOLERANCE_S: f64 = 1.5;

/// The merged snapshot and what the user must know about it (also in its notes).
pub struct Merged {
    pub snapshot: Snapshot,
    pub warnings: Vec<String>,
}

/// Merges the per-host `sessions` (at least two) into one cluster snapshot; `invocation` is
/// the command line that asked for it.
pub fn merge(sessions: Vec<Snapshot>, invocation: Vec<String>) -> Result<Merged> {
    if sessions.len() < 2 {
        bail!("merging needs the sessions of two or more hosts");
    }
    let mut warnings = Vec::new();
    check_compatible(&sessions, &mut warnings)?;
    let starts = start_times(&sessions)?;
    let t0 = *starts.iter().min().expect("two or more sessions");
    let offsets: Vec<f64> = starts
        .iter()
        .map(|s| (*s - t0).num_milliseconds() as f64 / 1000.0)
        .collect();
    check_overlap(&sessions, &offsets)?;

    let first = &sessions[0];
    let mut out = Snapshot {
        schema_version: first.schema_version,
        tracer_version: first.tracer_version.clone(),
        host: sessions
            .iter()
            .map(|s| s.host.as_str())
            .collect::<Vec<_>>()
            .join("+"),
        started_at: sessions[offsets
            .iter()
            .position(|&o| o == 0.0)
            .expect("the earliest start")]
        .started_at
        .clone(),
        duration_s: sessions
            .iter()
            .zip(&offsets)
            .map(|(s, o)| o + s.duration_s)
            .fold(0.0, f64::max),
        invocation,
        processes: Vec::new(),
        syscalls: Vec::new(),
        files: Vec::new(),
        drops: BTreeMap::new(),
        profile: None,
        layers: first.layers.clone(),
        attribution: first.attribution.clone(),
        functions: Vec::new(),
        roles: Vec::new(),
        offcpu: Vec::new(),
        disk: None,
        self_cost: None,
        // Taken/recorded/lost over the cluster; not measured when one host did not count them.
        accounting: sessions
            .iter()
            .map(|s| s.accounting.clone())
            .reduce(|a, b| {
                let (mut a, b) = (a?, b?);
                a.samples.add(&b.samples);
                a.offcpu.add(&b.offcpu);
                Some(a)
            })
            .flatten(),
        // Recorded over the cluster only when every host recorded them; else not recorded
        // (a host's missing crash record must not read as "no crash").
        threads_created: sessions
            .iter()
            .all(|s| s.threads_created.is_some())
            .then(Vec::new),
        exits: sessions.iter().all(|s| s.exits.is_some()).then(Vec::new),
        memory: sessions.iter().all(|s| s.memory.is_some()).then(Vec::new),
        notes: Vec::new(),
        // Equal on every host (checked), unless one did not record it: then unknown.
        collected: sessions
            .iter()
            .map(|s| s.collected)
            .reduce(|a, b| a.and(b))
            .flatten(),
    };
    out.notes.push(format!(
        "cluster session merged from {} hosts ({}); times are aligned by each host's start \
         (started_at) on its own clock: host clock offsets were not estimated, so they must be \
         synchronised (NTP); per-host windows are in each host's own session",
        sessions.len(),
        sessions
            .iter()
            .zip(&offsets)
            .map(|(s, o)| format!("{} from +{o:.3} s for {:.1} s", s.host, s.duration_s))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for (s, off) in sessions.into_iter().zip(offsets) {
        add_host(&mut out, s, off);
    }
    check_one_leader(&out, &mut warnings);
    out.notes
        .extend(warnings.iter().map(|w| format!("merge: {w}")));
    Ok(Merged {
        snapshot: out,
        warnings,
    })
}

/// Refuses sessions that cannot be merged into one truthful snapshot.
fn check_compatible(sessions: &[Snapshot], warnings: &mut Vec<String>) -> Result<()> {
    let first = &sessions[0];
    let mut hosts = BTreeMap::new();
    for s in sessions {
        if s.host.is_empty() {
            bail!(
                "a session started at {} has no host label (saved before --host-label): its \
                 nodes could not be told apart from other hosts'",
                s.started_at
            );
        }
        if hosts.insert(s.host.as_str(), ()).is_some() {
            bail!(
                "two sessions are labelled host {:?}: give each machine's tracer its own \
                 --host-label",
                s.host
            );
        }
        if s.schema_version != first.schema_version {
            bail!(
                "snapshot schema {} ({}) differs from {} ({}): re-run the older tracer's \
                 session through the same tracer version",
                s.schema_version,
                s.host,
                first.schema_version,
                first.host
            );
        }
        if s.tracer_version != first.tracer_version {
            warnings.push(format!(
                "tracer versions differ: {} on {}, {} on {}",
                s.tracer_version, s.host, first.tracer_version, first.host
            ));
        }
        if s.layers != first.layers {
            bail!(
                "the layer profiles of {} and {} differ (layers {:?} vs {:?}): run every \
                 host's tracer with the same --profile",
                s.host,
                first.host,
                s.layers.iter().map(|l| &l.name).collect::<Vec<_>>(),
                first.layers.iter().map(|l| &l.name).collect::<Vec<_>>()
            );
        }
        if s.attribution != first.attribution {
            warnings.push(format!(
                "layer attribution differs: {:?} on {}, {:?} on {}",
                s.attribution, s.host, first.attribution, first.host
            ));
        }
        if let (Some(a), Some(b)) = (s.collected, first.collected) {
            if a != b {
                bail!(
                    "{} and {} collected different data ({a:?} vs {b:?}): a figure measured \
                     on one host only would read as the cluster's; run every tracer with the \
                     same --no-* flags",
                    s.host,
                    first.host
                );
            }
        }
        let freq = |s: &Snapshot| s.profile.as_ref().map(|p| p.freq_hz);
        if freq(s) != freq(first) {
            bail!(
                "CPU sampling differs ({} on {}, {} on {}): CPU shares across hosts would not \
                 compare; run every tracer with the same -F (or all with --no-sample)",
                freq(s).map_or("off".into(), |f| format!("{f} Hz")),
                s.host,
                freq(first).map_or("off".into(), |f| format!("{f} Hz")),
                first.host
            );
        }
    }
    let mut owner: BTreeMap<u32, &str> = BTreeMap::new();
    for s in sessions {
        for p in &s.processes {
            if let Some(other) = owner.insert(p.pid, &s.host) {
                bail!(
                    "pid {} was traced on both {other} and {}: every record is keyed by pid, \
                     so these sessions cannot be merged",
                    p.pid,
                    s.host
                );
            }
        }
    }
    Ok(())
}

/// Each session's start as a point in time.
fn start_times(sessions: &[Snapshot]) -> Result<Vec<chrono::DateTime<chrono::FixedOffset>>> {
    sessions
        .iter()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(&s.started_at).with_context(|| {
                format!(
                    "{}: started_at {:?} is no RFC 3339 time",
                    s.host, s.started_at
                )
            })
        })
        .collect()
}

/// Refuses sessions whose runs never overlapped: they traced different moments, and one
/// cluster report of them would describe a cluster state that never existed.
fn check_overlap(sessions: &[Snapshot], offsets: &[f64]) -> Result<()> {
    let latest_start = offsets.iter().copied().fold(0.0, f64::max);
    for (s, o) in sessions.iter().zip(offsets) {
        if o + s.duration_s <= latest_start {
            let late = &sessions[offsets.iter().position(|&x| x == latest_start).unwrap()];
            bail!(
                "{}'s run ({}, {:.1} s) ended before {}'s began ({}): the sessions do not \
                 overlap in time",
                s.host,
                s.started_at,
                s.duration_s,
                late.host,
                late.started_at
            );
        }
    }
    Ok(())
}

/// Adds one host's records to the cluster snapshot, its times moved by `offset_s`.
fn add_host(out: &mut Snapshot, s: Snapshot, offset_s: f64) {
    let host = s.host;
    out.processes.extend(s.processes.into_iter().map(|mut p| {
        p.host = host.clone();
        p.exited_at_s = p.exited_at_s.map(|t| t + offset_s);
        p
    }));
    out.syscalls.extend(s.syscalls);
    out.files.extend(s.files);
    out.functions.extend(s.functions.into_iter().map(|mut f| {
        f.detached_at_s = f.detached_at_s.map(|t| t + offset_s);
        f
    }));
    out.offcpu.extend(s.offcpu);
    out.roles.extend(s.roles.into_iter().map(|mut r| {
        for span in &mut r.spans {
            span.from_s += offset_s;
            span.to_s += offset_s;
        }
        r
    }));
    if let (Some(merged), Some(t)) = (out.threads_created.as_mut(), s.threads_created) {
        merged.extend(t);
    }
    if let (Some(merged), Some(e)) = (out.exits.as_mut(), s.exits) {
        merged.extend(e.into_iter().map(|mut e| {
            e.at_s += offset_s;
            e
        }));
    }
    if let (Some(merged), Some(m)) = (out.memory.as_mut(), s.memory) {
        merged.extend(m.into_iter().map(|mut m| {
            for sample in &mut m.samples {
                sample.0 += offset_s;
            }
            m
        }));
    }
    // Every dropped event stays counted: per reason over the cluster, and per host in a note.
    for (reason, n) in &s.drops {
        *out.drops.entry(reason.clone()).or_default() += n;
    }
    let lost: u64 = s.drops.values().sum();
    if lost > 0 {
        out.notes
            .push(format!("{host}: {lost} events lost ({:?})", s.drops));
    }
    if let Some(p) = s.profile {
        let merged = out.profile.get_or_insert_with(|| CpuProfile {
            freq_hz: p.freq_hz,
            ..CpuProfile::default()
        });
        merged.samples += p.samples;
        merged.stacks.extend(p.stacks);
    }
    // Devices are named per host (`host/sda`): each machine's disks are its own.
    if let Some(d) = s.disk {
        let merged = out.disk.get_or_insert_with(DiskReport::default);
        merged.devices.extend(d.devices.into_iter().map(|mut dev| {
            dev.name = format!("{host}/{}", dev.name);
            dev
        }));
        merged.processes.extend(d.processes);
        merged.data_dirs.extend(d.data_dirs);
    }
    // tracer's own cost over the cluster: CPU and RSS add up; BPF programs stay per host.
    if let Some(c) = s.self_cost {
        let merged = out.self_cost.get_or_insert_with(SelfCost::default);
        merged.tracer_cpu_seconds += c.tracer_cpu_seconds;
        merged.tracer_rss_bytes += c.tracer_rss_bytes;
        merged.bpf_programs.extend(
            c.bpf_programs
                .into_iter()
                .map(|(name, runs, ns)| (format!("{host}/{name}"), runs, ns)),
        );
        merged.bpf_sampled_seconds = merged.bpf_sampled_seconds.max(c.bpf_sampled_seconds);
    }
    out.notes
        .extend(s.notes.into_iter().map(|n| format!("{host}: {n}")));
}

/// Warns when two nodes were leader at the same time for longer than the poll windows and
/// start times explain: Raft allows one leader per term, so either a partition left a stale
/// leader or the hosts' clocks are apart.
fn check_one_leader(s: &Snapshot, warnings: &mut Vec<String>) {
    let leading: Vec<(u32, f64, f64)> = s
        .roles
        .iter()
        .flat_map(|r| {
            r.spans
                .iter()
                .filter(|sp| sp.role == "leader")
                .map(move |sp| (r.pid, sp.from_s, sp.to_s))
        })
        .collect();
    let host_of = |pid: u32| {
        s.processes
            .iter()
            .find(|p| p.pid == pid)
            .map_or("?", |p| p.host.as_str())
    };
    for (i, a) in leading.iter().enumerate() {
        for b in &leading[i + 1..] {
            let overlap = a.2.min(b.2) - a.1.max(b.1);
            if a.0 != b.0 && overlap > LEADER_OVERLAP_TOLERANCE_S {
                warnings.push(format!(
                    "{}/pid {} and {}/pid {} were both leader for {overlap:.1} s from {:.1} s: \
                     a stale leader, or host clocks apart",
                    host_of(a.0),
                    a.0,
                    host_of(b.0),
                    b.0,
                    a.1.max(b.1)
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NodeRoles, ProcessInfo, RoleSpan, Stats, SyscallRecord};

    /// A host's session: one node `pid` that made `n` writes, leader or follower all along.
    fn host(name: &str, started_at: &str, duration_s: f64, pid: u32, leader: bool) -> Snapshot {
        Snapshot {
            schema_version: crate::model::SNAPSHOT_SCHEMA_VERSION,
            tracer_version: "0.1.0".into(),
            host: name.into(),
            started_at: started_at.into(),
            duration_s,
            invocation: vec![],
            processes: vec![ProcessInfo {
                pid,
                comm: "raftkv-node".into(),
                cmdline: vec![],
                root_pid: pid,
                exited_at_s: None,
                host: String::new(),
            }],
            syscalls: vec![SyscallRecord {
                pid,
                nr: 1,
                name: "write".into(),
                fd_kind: crate::model::FdKind::File,
                layer: None,
                stats: Stats {
                    count: u64::from(pid),
                    ..Stats::default()
                },
            }],
            files: vec![],
            drops: BTreeMap::from([("ringbuf_full".to_string(), 1)]),
            profile: None,
            layers: vec![],
            attribution: "uprobes".into(),
            functions: vec![],
            roles: vec![NodeRoles {
                pid,
                spans: vec![RoleSpan {
                    role: if leader { "leader" } else { "follower" }.into(),
                    from_s: 0.0,
                    to_s: duration_s,
                }],
                heartbeat_per_s: None,
                inferred: None,
            }],
            offcpu: vec![],
            disk: None,
            self_cost: None,
            accounting: None,
            threads_created: None,
            exits: None,
            memory: None,
            notes: vec![],
            collected: None,
        }
    }

    const T0: &str = "2026-12-07T10:00:00.000+00:00";
    const T0_PLUS_2_5: &str = "2026-12-07T11:00:02.500+01:00";

    #[test]
    fn nodes_keep_their_records_and_get_their_host_and_one_time_axis() {
        let m = merge(
            vec![
                host("b", T0_PLUS_2_5, 10.0, 20, false),
                host("a", T0, 10.0, 10, true),
            ],
            vec![],
        )
        .unwrap();
        let s = &m.snapshot;
        assert_eq!(s.host, "b+a");
        assert_eq!(s.started_at, T0, "the earliest start, whatever its zone");
        assert_eq!(s.duration_s, 12.5, "from a's start to b's end");
        let labels: Vec<String> = s.processes.iter().map(|p| p.label()).collect();
        assert_eq!(labels, ["b.raftkv-node_20", "a.raftkv-node_10"]);
        let counts: Vec<(u32, u64)> = s.syscalls.iter().map(|r| (r.pid, r.stats.count)).collect();
        assert_eq!(counts, [(20, 20), (10, 10)], "counts as measured");
        let b = s.roles.iter().find(|r| r.pid == 20).unwrap();
        assert_eq!((b.spans[0].from_s, b.spans[0].to_s), (2.5, 12.5));
        assert_eq!(s.drops["ringbuf_full"], 2, "drops of every host counted");
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn what_would_merge_wrongly_is_refused() {
        let err = |sessions: Vec<Snapshot>| merge(sessions, vec![]).err().unwrap().to_string();
        let e = err(vec![
            host("a", T0, 10.0, 7, true),
            host("b", T0, 10.0, 7, false),
        ]);
        assert!(e.contains("pid 7 was traced on both a and b"), "{e}");
        let e = err(vec![
            host("a", T0, 10.0, 1, true),
            host("a", T0, 10.0, 2, false),
        ]);
        assert!(e.contains("two sessions are labelled host \"a\""), "{e}");
        let e = err(vec![
            host("a", T0, 2.0, 1, true),
            host("b", T0_PLUS_2_5, 5.0, 2, false),
        ]);
        assert!(e.contains("do not overlap in time"), "{e}");
        let e = err(vec![
            host("", T0, 2.0, 1, true),
            host("b", T0, 5.0, 2, false),
        ]);
        assert!(e.contains("no host label"), "{e}");
        let mut other_profile = host("b", T0, 5.0, 2, false);
        other_profile.layers.push(crate::model::LayerInfo {
            id: 1,
            name: "network".into(),
            title: "Network".into(),
            folder: "01_network_layer".into(),
            functions: vec![],
            syscalls: vec![],
        });
        let e = err(vec![host("a", T0, 5.0, 1, true), other_profile]);
        assert!(e.contains("layer profiles of b and a differ"), "{e}");
        assert!(err(vec![host("a", T0, 5.0, 1, true)]).contains("two or more"));
    }

    #[test]
    fn two_leaders_at_once_is_a_warning_in_the_notes() {
        let m = merge(
            vec![host("a", T0, 10.0, 1, true), host("b", T0, 10.0, 2, true)],
            vec![],
        )
        .unwrap();
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        assert!(m.warnings[0].contains("a/pid 1 and b/pid 2 were both leader for 10.0 s"));
        assert!(m.snapshot.notes.iter().any(|n| n.contains("both leader")));
    }
}
