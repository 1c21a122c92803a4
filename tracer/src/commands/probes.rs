//! `tracer probes`: the dry run of layer probing (resolve every pattern, attach nothing).
//!
//! The dry run is how a user adapts a profile to a fork: it shows what each pattern matched,
//! what matched nothing (with the nearest names in the binary), and what would be costly to
//! probe. Unmatched patterns are warnings; only an unreadable binary is an error.

use anyhow::{bail, Result};
use clap::Args;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::cli::TargetArgs;
use crate::profile::{self, FdFilter, Layer, Profile};
use crate::symbols::objects::{self, ObjectKind, TargetObjects};
use crate::symbols::resolve::{self, Resolution};
use crate::target;

/// `tracer probes (--pid P | --comm NAME | --binary PATH) [--profile FILE] [--json]`
#[derive(Args, Debug, Clone, Default)]
#[command(group(clap::ArgGroup::new("probes_target").required(true).args(["pids", "comm", "binary"])))]
pub struct ProbesArgs {
    /// The processes whose executables and libraries to resolve in, and the profile.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Resolve in this executable file and the libraries the loader would load for it (no
    /// root needed).
    #[arg(short = 'b', long, value_name = "PATH", conflicts_with_all = ["pids", "comm"])]
    pub binary: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `tracer probes`: prints the report; errors only when no binary could be read.
pub fn probes_command(args: &ProbesArgs) -> Result<()> {
    let report = probes_report(args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_text(&report));
    }
    Ok(())
}

/// The dry run's result: per target binary, the resolution of the profile.
#[derive(Debug, Clone, Serialize)]
pub struct ProbesReport {
    pub profile: Profile,
    pub targets: Vec<TargetResolution>,
}

/// One distinct executable and the processes running it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetResolution {
    pub pids: Vec<u32>,
    pub resolution: Resolution,
}

/// Resolves the profile in every target of `args`: each executable and the shared libraries
/// it runs (mapped by the processes, or found through `DT_NEEDED` for `--binary`).
pub fn probes_report(args: &ProbesArgs) -> Result<ProbesReport> {
    let profile = profile::load_or_default(args.target.profile.as_deref())?;
    let mut targets: Vec<TargetObjects> = Vec::new();
    if let Some(b) = &args.binary {
        targets.push(objects::target_of_executable(b)?);
    }
    let pids = match args.target.processes() {
        Some(spec) => target::resolve_existing(&spec)?,
        None => Vec::new(),
    };
    // A pid whose executable cannot be read is an error here (the user named it).
    for &pid in &pids {
        resolve::binary_of_pid(pid)?;
    }
    // One entry per executable file: nodes running a replaced executable share it.
    targets.extend(objects::targets_of_pids(&pids));
    if targets.is_empty() {
        bail!("give --pid PID, --comm NAME or --binary PATH");
    }
    let targets = targets
        .into_iter()
        .map(|t| {
            let mut resolution = resolve::resolve_objects(&profile, &t.executable, &t.objects)?;
            resolution.warnings.extend(t.missing.iter().cloned());
            Ok(TargetResolution {
                pids: t.pids,
                resolution,
            })
        })
        .collect::<Result<_>>()?;
    Ok(ProbesReport { profile, targets })
}

/// The terminal rendering of a report.
pub fn render_text(report: &ProbesReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "profile: {}", report.profile.source);
    for t in &report.targets {
        render_target(&mut out, &report.profile, t);
    }
    out
}

fn render_target(out: &mut String, profile: &Profile, t: &TargetResolution) {
    let res = &t.resolution;
    let _ = write!(out, "\nbinary: {}", res.binary.display());
    if !t.pids.is_empty() {
        let pids: Vec<String> = t.pids.iter().map(u32::to_string).collect();
        let _ = write!(out, "  (pids {})", pids.join(", "));
    }
    if res.stripped {
        out.push_str("  [stripped: .dynsym only]");
    }
    out.push('\n');
    render_objects(out, res);
    for layer in &profile.layers {
        render_layer(out, layer, res);
    }
    if !res.warnings.is_empty() {
        out.push_str("\nwarnings:\n");
        for w in &res.warnings {
            let _ = writeln!(out, "  ! {w}");
        }
    }
    let _ = writeln!(out, "\n{}", summary_line(profile, res));
}

/// `objects searched: raftkv-node (executable: 0 functions), libraftcore.so (library: 19
/// functions)`, then the system libraries no pattern named (never read).
fn render_objects(out: &mut String, res: &Resolution) {
    let searched: Vec<String> = res
        .objects
        .iter()
        .filter(|o| o.searched || o.error.is_some())
        .map(|o| {
            let kind = match o.kind {
                ObjectKind::Executable => "executable",
                ObjectKind::Library => "library",
                ObjectKind::SystemLibrary => "system library",
            };
            let state = match &o.error {
                Some(e) => format!("unreadable: {e}"),
                None => format!(
                    "{} function{}{}",
                    o.functions,
                    if o.functions == 1 { "" } else { "s" },
                    if o.stripped { ", stripped" } else { "" }
                ),
            };
            format!("{} ({kind}: {state})", objects::object_label(&o.path))
        })
        .collect();
    let _ = writeln!(out, "objects searched: {}", searched.join(", "));
    let system: Vec<String> = res
        .objects
        .iter()
        .filter(|o| !o.searched && o.error.is_none())
        .map(|o| objects::object_label(&o.path))
        .collect();
    const SHOWN: usize = 6;
    if !system.is_empty() {
        let more = system.len().saturating_sub(SHOWN);
        let _ = writeln!(
            out,
            "system libraries, searched only by patterns that name them (`libc:fsync`): {}{}",
            system[..system.len().min(SHOWN)].join(", "),
            if more > 0 {
                format!(" and {more} more (--json lists them)")
            } else {
                String::new()
            }
        );
    }
}

fn render_layer(out: &mut String, layer: &Layer, res: &Resolution) {
    let _ = writeln!(
        out,
        "\n== {} ({}) -> {}",
        layer.name, layer.title, layer.folder
    );
    let listed = layer.functions.iter().map(|p| (p, "")).chain(
        layer
            .entry_only
            .iter()
            .map(|p| (p, "  (entry only: counts, no latency)")),
    );
    for (pattern, note) in listed {
        let _ = writeln!(out, "  {}{note}", pattern.text);
        let is_this = |l: &str, p: &str| l == layer.name && p == pattern.text;
        for f in res
            .functions
            .iter()
            .filter(|f| is_this(&f.layer, &f.pattern))
        {
            let _ = writeln!(out, "    + {}", f.demangled);
            let _ = writeln!(
                out,
                "        in {}  {}  addr {:#x}  offset {:#x}  size {}{}",
                objects::object_label(&f.object),
                f.mangled,
                f.address,
                f.file_offset,
                f.size,
                if f.from_dynsym_only {
                    "  (.dynsym)"
                } else {
                    ""
                }
            );
            if !f.aliases.is_empty() {
                let _ = writeln!(out, "        aliases: {}", f.aliases.join(", "));
            }
            if let Some(h) = &f.hot_warning {
                let _ = writeln!(out, "        ! hot: {h}");
            }
        }
        for s in res.skipped.iter().filter(|s| is_this(&s.layer, &s.pattern)) {
            // The demangled name is the function's above plus ` [clone .cold]`: say less.
            let _ = writeln!(out, "    - not probed at {:#x}: {}", s.address, s.reason);
        }
        for u in res.unmatched.iter().filter(|u| u.layer == layer.name) {
            let closest = if u.closest.is_empty() {
                String::new()
            } else {
                format!("; closest: {}", u.closest.join(", "))
            };
            match &u.alternative_of {
                Some(of) if *of == pattern.text => {
                    let _ = writeln!(
                        out,
                        "    . {} not in this binary (another spelling matched){closest}",
                        u.pattern
                    );
                }
                None if u.pattern == pattern.text => {
                    let _ = writeln!(out, "    ! matched nothing{closest}");
                }
                _ => {}
            }
        }
    }
    if !layer.stack_only.is_empty() {
        let names: Vec<&str> = layer.stack_only.iter().map(|p| p.text.as_str()).collect();
        let _ = writeln!(out, "  stack only (never probed): {}", names.join(", "));
    }
    if !layer.syscalls.is_empty() {
        let names: Vec<String> = layer
            .syscalls
            .iter()
            .map(|s| match s.on {
                FdFilter::Any => s.name.clone(),
                FdFilter::Socket => format!("{}@socket", s.name),
                FdFilter::File => format!("{}@file", s.name),
            })
            .collect();
        let _ = writeln!(out, "  syscalls: {}", names.join(", "));
    }
}

/// `summary: 11 functions to probe in 3 layers; 1 pattern matched nothing (X); 0 hot warnings`
pub fn summary_line(profile: &Profile, res: &Resolution) -> String {
    let layers = profile
        .layers
        .iter()
        .filter(|l| res.functions.iter().any(|f| f.layer == l.name))
        .count();
    let unmatched: Vec<&str> = res
        .unmatched_warnings()
        .map(|u| u.pattern.as_str())
        .collect();
    let hot = res
        .functions
        .iter()
        .filter(|f| f.hot_warning.is_some())
        .count();
    let mut s = format!(
        "summary: {} functions to probe in {layers} layers",
        res.functions.len()
    );
    let holding: Vec<String> = res
        .objects
        .iter()
        .filter(|o| o.functions > 0)
        .map(|o| objects::object_label(&o.path))
        .collect();
    if !holding.is_empty() && res.objects.iter().filter(|o| o.searched).count() > 1 {
        let _ = write!(s, " (in {})", holding.join(", "));
    }
    let _ = write!(s, "; {} patterns matched nothing", unmatched.len());
    if !unmatched.is_empty() {
        let _ = write!(s, " ({})", unmatched.join(", "));
    }
    let _ = write!(s, "; {hot} hot warnings");
    if !res.skipped.is_empty() {
        let _ = write!(s, "; {} .cold parts skipped", res.skipped.len());
    }
    s
}
