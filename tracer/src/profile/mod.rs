//! Layer profiles: which functions and syscalls make up each layer of the traced system, and
//! the function patterns that name them.
//!
//! In: a TOML profile (the embedded `default.toml` or `--profile FILE`). Out: a [`Profile`]
//! whose functions are [`Pattern`]s (the one matcher of demangled C++ names, also used by
//! layer attribution and the findings), and the [`probe_plan::ProbePlan`] type (layers with the
//! ids the kernel side sees, functions with their file offsets, role functions, the probe
//! budget), which `symbols::plan` fills. Never: reads binaries, attaches anything or reads a
//! running process, and never depends on `symbols/` (which consumes the profile).
//!
//! Forks of the traced project rename methods, so layers are data (a TOML file), never code.
//! The profile for the KVstorageBaseRaft-cpp family is embedded ([`default_toml`], documented
//! for users in the file itself); `--profile FILE` replaces it ([`load`]). Errors name the file,
//! line and column and say what is wrong, for syntax as well as for bad patterns or syscalls.

pub mod pattern;
pub mod probe_plan;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;
use toml::Spanned;

pub use pattern::Pattern;

/// The embedded default profile, as users see it with `tracer profile --print-default`.
pub fn default_toml() -> &'static str {
    include_str!("default.toml")
}

/// Where [`Profile::source`] says a profile came from when it is the embedded one.
pub const DEFAULT_SOURCE: &str = "<built-in KVstorageBaseRaft profile>";

/// The embedded default profile, parsed.
pub fn default_profile() -> Profile {
    parse(default_toml(), DEFAULT_SOURCE).expect("the embedded default profile is valid")
}

/// The profile at `path` (`--profile FILE`), or the built-in one without it.
pub fn load_or_default(path: Option<&Path>) -> Result<Profile> {
    match path {
        Some(path) => load(path),
        None => Ok(default_profile()),
    }
}

/// Reads and validates the profile at `path`.
pub fn load(path: &Path) -> Result<Profile> {
    // A FIFO or a device would block the read or never end it.
    let meta =
        std::fs::metadata(path).with_context(|| format!("reading profile {}", path.display()))?;
    if !meta.is_file() {
        bail!("profile {} is not a regular file", path.display());
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading profile {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// A parsed, validated profile.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// The file it was read from, or [`DEFAULT_SOURCE`].
    pub source: String,
    /// In file order: reports list layers in this order, and a function matched by two
    /// layers belongs to the first.
    pub layers: Vec<Layer>,
    pub roles: Roles,
}

/// One layer of the traced system.
#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    /// Id used in reports and snapshots.
    pub name: String,
    pub title: String,
    /// Output folder inside a session (`01_network_layer`, ...).
    pub folder: String,
    /// Probed with uprobes: call counts, latencies, and attribution of what runs inside.
    pub functions: Vec<Pattern>,
    /// Probed at entry only (no uretprobe): functions that never return (ticker loops) or
    /// that switch stacks (coroutines/fibers). A uretprobe on a function whose frame lives
    /// across a stack switch makes the kernel lose the return address and kill the process
    /// with SIGILL when it finally returns; entry-only probes are safe. Counts, no latency.
    pub entry_only: Vec<Pattern>,
    /// Never probed; attributed by stack membership.
    pub stack_only: Vec<Pattern>,
    pub syscalls: Vec<SyscallRule>,
}

/// How the leader is told from followers (used by role detection).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Roles {
    /// A node whose threads call any of these is the leader.
    pub leader_if_calls: Vec<Pattern>,
}

/// A syscall counted for a layer, optionally only on one kind of fd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyscallRule {
    /// As the kernel's syscall tables name it (`pwrite64`, `accept4`).
    pub name: String,
    pub on: FdFilter,
}

/// Which fds a [`SyscallRule`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FdFilter {
    Any,
    Socket,
    File,
}

impl Profile {
    /// The layer called `name`.
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name == name)
    }

    /// Per-function opt-out: moves every `functions` pattern written exactly as `pattern` to
    /// `stack_only` (still attributed by stack, never probed). Returns whether one was moved.
    pub fn opt_out(&mut self, pattern: &str) -> bool {
        let mut moved = false;
        for layer in &mut self.layers {
            for list in [&mut layer.functions, &mut layer.entry_only] {
                while let Some(i) = list.iter().position(|p| p.text == pattern) {
                    let p = list.remove(i);
                    layer.stack_only.push(p);
                    moved = true;
                }
            }
        }
        moved
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing: serde into spanned raw values, then validation that knows where each value was.
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default)]
    layer: Vec<Spanned<RawLayer>>,
    #[serde(default)]
    roles: Option<RawRoles>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    name: Spanned<String>,
    title: Option<String>,
    folder: Spanned<String>,
    #[serde(default)]
    functions: Vec<Spanned<String>>,
    #[serde(default)]
    entry_only: Vec<Spanned<String>>,
    #[serde(default)]
    stack_only: Vec<Spanned<String>>,
    #[serde(default)]
    syscalls: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    #[serde(default)]
    leader_if_calls: Vec<Spanned<String>>,
}

/// Parses profile text; `source` names it in errors (`FILE:LINE:COL: what is wrong`).
pub fn parse(text: &str, source: &str) -> Result<Profile> {
    let at = |span: Range<usize>, what: &str| located_error(text, source, span, what);
    let raw: RawProfile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        at(span, e.message().trim())
    })?;
    if raw.layer.is_empty() {
        bail!("{source}: the profile defines no [[layer]]");
    }
    let mut layers: Vec<Layer> = Vec::new();
    for spanned in raw.layer {
        let layer_span = spanned.span();
        let l = spanned.into_inner();
        let name = l.name.get_ref().trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
        {
            return Err(at(
                l.name.span(),
                &format!("layer name `{name}` must be letters, digits, `_` or `-`"),
            ));
        }
        if layers.iter().any(|x| x.name == name) {
            return Err(at(
                l.name.span(),
                &format!("layer `{name}` is defined twice"),
            ));
        }
        let folder = l.folder.get_ref().trim().to_string();
        if folder.is_empty() || folder.contains('/') || folder == "." || folder == ".." {
            return Err(at(
                l.folder.span(),
                &format!("folder `{folder}` must be one plain folder name"),
            ));
        }
        if let Some(other) = layers.iter().find(|x| x.folder == folder) {
            return Err(at(
                l.folder.span(),
                &format!(
                    "folder `{folder}` is already used by layer `{}`",
                    other.name
                ),
            ));
        }
        if l.functions.is_empty()
            && l.entry_only.is_empty()
            && l.stack_only.is_empty()
            && l.syscalls.is_empty()
        {
            return Err(at(
                layer_span,
                &format!("layer `{name}` has no functions, stack_only patterns nor syscalls"),
            ));
        }
        layers.push(Layer {
            title: l.title.unwrap_or_else(|| name.clone()),
            name,
            folder,
            functions: patterns(&l.functions, &at)?,
            entry_only: patterns(&l.entry_only, &at)?,
            stack_only: patterns(&l.stack_only, &at)?,
            syscalls: l
                .syscalls
                .iter()
                .map(|s| syscall_rule(s.get_ref()).map_err(|e| at(s.span(), &e)))
                .collect::<Result<_>>()?,
        });
    }
    let roles = match raw.roles {
        Some(r) => Roles {
            leader_if_calls: patterns(&r.leader_if_calls, &at)?,
        },
        None => Roles::default(),
    };
    Ok(Profile {
        source: source.to_string(),
        layers,
        roles,
    })
}

fn patterns(
    raw: &[Spanned<String>],
    at: &impl Fn(Range<usize>, &str) -> anyhow::Error,
) -> Result<Vec<Pattern>> {
    raw.iter()
        .map(|s| Pattern::parse(s.get_ref()).map_err(|e| at(s.span(), &e)))
        .collect()
}

/// `fsync`, `write@file`, `read@socket` → a rule; unknown syscall names are errors (a typo
/// would otherwise silently count nothing).
fn syscall_rule(text: &str) -> std::result::Result<SyscallRule, String> {
    let (name, on) = match text.split_once('@') {
        None => (text, FdFilter::Any),
        Some((n, "socket")) => (n, FdFilter::Socket),
        Some((n, "file")) => (n, FdFilter::File),
        Some((_, other)) => {
            return Err(format!(
                "`{text}`: unknown fd kind `@{other}` (use `@socket` or `@file`)"
            ))
        }
    };
    let name = name.trim();
    if syscalls::Sysno::from_str(name).is_err() {
        return Err(format!("`{name}` is not a syscall of this architecture"));
    }
    Ok(SyscallRule {
        name: name.to_string(),
        on,
    })
}

/// `FILE:LINE:COL: what` followed by the offending line, for a byte span of `text`.
fn located_error(text: &str, source: &str, span: Range<usize>, what: &str) -> anyhow::Error {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_no = text[..start].matches('\n').count() + 1;
    let col = text[line_start..start].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or("");
    anyhow!("{source}:{line_no}:{col}: {what}\n    {line_text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_has_the_four_layers_in_order() {
        let p = default_profile();
        let names: Vec<_> = p.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["network", "log_io", "consensus", "disk"]);
        let folders: Vec<_> = p.layers.iter().map(|l| l.folder.as_str()).collect();
        assert_eq!(
            folders,
            [
                "01_network_layer",
                "02_log_io_layer",
                "03_consensus_layer",
                "04_disk_io_dedicated"
            ]
        );
        assert!(p.layer("disk").unwrap().functions.is_empty());
        assert_eq!(p.roles.leader_if_calls.len(), 2);
        let net = p.layer("network").unwrap();
        assert!(net.syscalls.contains(&SyscallRule {
            name: "write".into(),
            on: FdFilter::Socket
        }));
    }

    #[test]
    fn opt_out_moves_a_function_to_stack_only() {
        let mut p = default_profile();
        assert!(p.opt_out("Raft::doHeartBeat"));
        let c = p.layer("consensus").unwrap();
        assert!(c.functions.iter().all(|f| f.text != "Raft::doHeartBeat"));
        assert!(c.stack_only.iter().any(|f| f.text == "Raft::doHeartBeat"));
        assert!(!p.opt_out("Nope::nothing"));
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse(text, "my.toml").unwrap_err())
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let e = err("[[layer]]\nname = \"a\"\nfolder = \"f\"\nfunctions = [\"A::{b,c\"]\n");
        assert!(e.starts_with("my.toml:4:"), "{e}");
        assert!(e.contains("closing"), "{e}");

        let e = err("[[layer]]\nname = \"a\"\nfolder = \"f\"\nsyscalls = [\"fsnyc\"]\n");
        assert!(e.starts_with("my.toml:4:13:"), "{e}");
        assert!(e.contains("fsnyc"), "{e}");

        let e = err("[[layer]]\nname = \"a\"\nfolder = \"f\"\nfunction = [\"x\"]\n");
        assert!(e.starts_with("my.toml:4:"), "{e}");
        assert!(e.contains("function"), "{e}");

        let e = err("[[layer]]\nname = \"a\"\nfolder = \"f\"\nsyscalls = [\"write@pipe\"]\n");
        assert!(e.contains("@pipe"), "{e}");

        let e = err("[[layer]]\nname = \"a\"\nfolder = \"f\"\nsyscalls = [\"fsync\"]\n[[layer]]\nname = \"a\"\nfolder = \"g\"\nsyscalls = [\"fsync\"]\n");
        assert!(e.starts_with("my.toml:6:") && e.contains("twice"), "{e}");

        let e = err("[[layer]]\nname = \"a\"\nfolder = \"f\"\n");
        assert!(e.contains("no functions"), "{e}");

        assert!(err("").contains("no [[layer]]"));
        let e = err("[[layer]\nname = 1\n");
        assert!(e.starts_with("my.toml:1:"), "{e}");
    }
}
