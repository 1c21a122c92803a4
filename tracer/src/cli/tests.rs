//! Parse tests, one per flag family: what clap accepts and rejects, and what the conversion
//! into [`RunOptions`] decides. Nothing here needs root or a target process.

use super::*;
use crate::session::RunOptions;
use crate::target::TargetSpec;
use clap::CommandFactory;
use std::time::Duration;

fn parse(argv: &[&str]) -> Result<Command, clap::Error> {
    Cli::try_parse_from(std::iter::once("tracer").chain(argv.iter().copied())).map(|c| c.command)
}

fn run_args(argv: &[&str]) -> RunArgs {
    match parse(&[&["run"], argv].concat()) {
        Ok(Command::Run(a)) => a,
        other => panic!("{argv:?}: {other:?}"),
    }
}

fn run_err(argv: &[&str]) -> clap::error::ErrorKind {
    parse(&[&["run"], argv].concat()).unwrap_err().kind()
}

/// The options of a run that plans no probes (`--no-uprobes`), so planning reads no binary.
fn options(argv: &[&str]) -> RunOptions {
    run_args(&[&["--no-uprobes"], argv].concat())
        .into_options(vec!["tracer".into()])
        .unwrap()
}

#[test]
fn the_flag_definitions_are_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn targets_are_pids_or_a_name_or_a_command() {
    assert_eq!(run_args(&["-p", "1", "--pid", "2"]).target.pids, [1, 2]);
    assert_eq!(
        run_args(&["--comm", "raftkv-node"]).target.comm.as_deref(),
        Some("raftkv-node")
    );
    use clap::error::ErrorKind;
    assert_eq!(
        run_err(&["--pid", "1", "--comm", "x"]),
        ErrorKind::ArgumentConflict
    );
    assert_eq!(run_err(&["--pid", "one"]), ErrorKind::ValueValidation);
    let a = run_args(&["--", "sleep", "1", "--pid"]);
    assert_eq!(
        a.command,
        ["sleep", "1", "--pid"],
        "after `--` everything is the command"
    );
    let spec = |argv: &[&str]| {
        let a = run_args(argv);
        a.target.spec_with_command(a.command).map(|s| s.unwrap())
    };
    assert!(matches!(spec(&["-p", "7"]).unwrap(), TargetSpec::Pids(p) if p == [7]));
    assert!(matches!(spec(&["-c", "n"]).unwrap(), TargetSpec::Comm(n) if n == "n"));
    assert!(matches!(spec(&["--", "true"]).unwrap(), TargetSpec::Command(c) if c == ["true"]));
    let both = spec(&["-p", "7", "--", "true"]).unwrap_err().to_string();
    assert!(both.contains("not both"), "{both}");
    // Nothing named: discovery.
    let a = run_args(&["-d", "1s"]);
    assert!(a.target.spec_with_command(a.command).unwrap().is_none());
}

#[test]
fn durations_take_units_and_refuse_nonsense() {
    let a = run_args(&["-p", "1", "-d", "500ms", "--interval", "2m"]);
    assert_eq!(a.duration, Some(Duration::from_millis(500)));
    assert_eq!(a.interval, Duration::from_secs(120));
    assert_eq!(run_args(&["-p", "1"]).duration, None);
    assert_eq!(run_args(&["-p", "1"]).interval, Duration::from_secs(10));
    use clap::error::ErrorKind;
    for bad in ["10x", "0s", "abc", "1.5.2s"] {
        assert_eq!(
            run_err(&["-p", "1", "-d", bad]),
            ErrorKind::ValueValidation,
            "{bad}"
        );
    }
    assert_eq!(
        run_err(&["-p", "1", "--interval", "0"]),
        ErrorKind::ValueValidation
    );
}

#[test]
fn sampling_frequency_is_within_perfs_range() {
    assert_eq!(run_args(&["-p", "1"]).freq, 99);
    assert_eq!(run_args(&["-p", "1", "-F", "999"]).freq, 999);
    assert_eq!(run_args(&["-p", "1", "--freq", "100000"]).freq, 100_000);
    use clap::error::ErrorKind;
    for bad in ["0", "100001", "fast"] {
        assert_eq!(
            run_err(&["-p", "1", "-F", bad]),
            ErrorKind::ValueValidation,
            "{bad}"
        );
    }
    assert!(parse(&["run", "-p", "1", "-F", "-5"]).is_err());
}

#[test]
fn the_conversion_decides_every_default() {
    let o = options(&["--", "/bin/true", "x"]);
    assert!(matches!(&o.target.spec, TargetSpec::Command(c) if *c == ["/bin/true", "x"]));
    assert!(o.target.follow_children && o.target.follows_children());
    assert_eq!(o.kernel.sample_freq, Some(99));
    assert!(o.kernel.syscalls && o.kernel.offcpu);
    assert!(!o.kernel.plan.uprobes, "--no-uprobes");
    assert_eq!(o.kernel.plan.budget, Some(500));
    assert!(o.kernel.skipped_programs().is_empty());
    assert_eq!(o.session.duration, None);
    assert_eq!(o.session.interval, Duration::from_secs(10));
    assert_eq!(o.session.metrics, None);
    assert!(o.output.out_dir.starts_with("tracer_results"));
    assert_eq!(o.output.keep_windows, 60);
    assert_eq!(o.output.invocation, ["tracer"]);
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        o.output.host,
        hostname.trim(),
        "--host-label defaults to the hostname"
    );

    let o = options(&[
        "--no-follow",
        "--no-sample",
        "-F",
        "999",
        "--no-syscalls",
        "--no-offcpu",
        "--probe-budget",
        "0",
        "--keep-windows",
        "0",
        "--metrics",
        "127.0.0.1:0",
        "-o",
        "out",
        "--",
        "/bin/true",
    ]);
    // A command is followed into its children even with --no-follow (strace -f).
    assert!(!o.target.follow_children && o.target.follows_children());
    assert_eq!(o.kernel.sample_freq, None, "--no-sample wins over -F");
    assert_eq!(o.kernel.plan.budget, None, "0: never unprobe");
    let skipped = o.kernel.skipped_programs();
    assert!(skipped.contains(&"sys_enter") && skipped.contains(&"sched_switch"));
    assert_eq!(o.output.keep_windows, 1, "at least the last window is kept");
    assert_eq!(o.output.out_dir, std::path::Path::new("out"));
    assert_eq!(o.session.metrics.as_deref(), Some("127.0.0.1:0"));
}

#[test]
fn the_plan_keeps_the_profiles_layers_and_the_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "[[layer]]\nname = \"a\"\nfolder = \"01_a\"\nfunctions = [\"A::b\"]\n",
    )
    .unwrap();
    let o = options(&[
        "--profile",
        profile.to_str().unwrap(),
        "--no-probe",
        "Nope::nothing",
        "--",
        "/bin/true",
    ]);
    let names: Vec<&str> = o
        .kernel
        .plan
        .layers
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(names, ["a"]);
    // An opt-out that matches nothing is a warning for the report, not an error.
    let warnings: Vec<&String> = o.kernel.plan.warnings.iter().collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("Nope::nothing"), "{warnings:?}");
    // A profile that does not parse is an error naming the file.
    std::fs::write(&profile, "[[layer]]\n").unwrap();
    let e = run_args(&[
        "--no-uprobes",
        "--profile",
        profile.to_str().unwrap(),
        "--",
        "true",
    ])
    .into_options(Vec::new())
    .unwrap_err();
    assert!(format!("{e:#}").contains("p.toml"), "{e:#}");
}

#[test]
fn probes_needs_exactly_one_kind_of_target() {
    let probes = |argv: &[&str]| match parse(&[&["probes"], argv].concat()) {
        Ok(Command::Probes(a)) => Ok(a),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e),
    };
    let a = probes(&["--binary", "/bin/true", "--json"]).unwrap();
    assert_eq!(a.binary.as_deref(), Some(std::path::Path::new("/bin/true")));
    assert!(a.json);
    assert_eq!(probes(&["-p", "1", "-p", "2"]).unwrap().target.pids, [1, 2]);
    let a = probes(&["--comm", "raftkv-node", "--profile", "p.toml"]).unwrap();
    assert_eq!(
        a.target.profile.as_deref(),
        Some(std::path::Path::new("p.toml"))
    );
    assert!(probes(&[]).is_err());
    assert!(probes(&["--profile", "p.toml"]).is_err());
    assert!(probes(&["--pid", "1", "--binary", "x"]).is_err());
    assert!(probes(&["--comm", "x", "--binary", "x"]).is_err());
    assert!(probes(&["--comm", "x", "--pid", "1"]).is_err());
}

#[test]
fn report_and_diff_take_session_folders() {
    let report = parse(&["report", "s"]);
    assert!(matches!(report, Ok(Command::Report { dir }) if dir.to_str() == Some("s")));
    assert!(parse(&["report"]).is_err());
    match parse(&["diff", "a", "b", "-o", "d.svg"]).unwrap() {
        Command::Diff {
            before,
            after,
            output,
        } => {
            assert_eq!((before.to_str(), after.to_str()), (Some("a"), Some("b")));
            assert_eq!(output.as_deref(), Some(std::path::Path::new("d.svg")));
        }
        other => panic!("{other:?}"),
    }
    assert!(parse(&["diff", "a"]).is_err());
    assert!(parse(&["profile"]).is_err(), "profile needs an action");
}

#[test]
fn host_labels_are_names_that_merge_and_prometheus_can_carry() {
    assert_eq!(
        options(&["-p", "1", "--host-label", "db-3.eu_1"])
            .output
            .host,
        "db-3.eu_1"
    );
    for bad in ["", "a:b", "a b", "a\"b", &"x".repeat(65)] {
        let e = parse(&["run", "-p", "1", "--host-label", bad]).unwrap_err();
        assert!(e.to_string().contains("host label"), "{bad:?}: {e}");
    }
}
