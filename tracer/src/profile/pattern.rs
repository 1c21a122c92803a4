//! Function patterns, the one matcher of C++ names: the profile's layer functions, the dry
//! run, layer attribution of stacks and every function a finding looks for are all a
//! [`Pattern`] matched against a demangled name (an ELF symbol or a stack frame), so "the
//! functions of a layer" and "the applier's share" mean the same thing everywhere.
//!
//! The rules, as `default.toml` documents them for users:
//!
//! - `Raft::applier` (literal): the qualified name ([`cpp_names::qualified_name`]: no return
//!   type, parameter list, ABI tag or clone suffix), also inside any enclosing scope
//!   (`kv::Raft::applier`), also the template `Raft::applier<int>`; never code local to it
//!   (`Raft::applier()::{lambda()#1}::operator()`) nor `OtherRaft::applier`.
//! - `::send`: a leading `::` anchors the name at the global scope, as in C++: the C function
//!   `send`, never the method `Socket::send`.
//! - `Raft::*Ticker` (glob): `*` is any run of characters within one scope component, `?` one
//!   character; the glob matches the innermost components of the qualified name.
//! - `Persister::{saveRaftState,SaveRaftState}`: alternatives (every combination of groups).
//! - `ci:raft::applier`: compared case-insensitively.
//! - Kernel frames (`tcp_sendmsg_[k]`) are matched only by patterns spelled with the `_[k]`
//!   suffix, so `send` is the user-space function, never the kernel's.

use serde::Serialize;

use crate::cpp_names::{has_wildcard, qualified_name, split_scopes, without_template_args};
use crate::model::KERNEL_SUFFIX;

/// One function pattern as a profile spells it, e.g. `Persister::{saveRaftState,SaveRaftState}`,
/// `Raft::*Ticker` or `ci:raft::applier`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pattern {
    /// Exactly as written in the profile (what reports show).
    pub text: String,
    /// Written with the `ci:` prefix: compared in lower case.
    pub case_insensitive: bool,
    /// The brace-expanded alternatives, without `ci:`, lower-cased when case-insensitive.
    pub alternatives: Vec<String>,
    /// Each alternative reduced once, so matching a frame parses only the frame.
    #[serde(skip)]
    compiled: Vec<Alternative>,
}

/// One alternative, ready to compare with qualified names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Alternative {
    /// Written with a leading `::`: only a name in the global scope matches.
    anchored: bool,
    /// Spelled with the kernel suffix `_[k]`: matches kernel frames only (and only those do).
    kernel: bool,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// The qualified name to find, and a piece of it every matching signature contains (its
    /// innermost component without template arguments): most frames are ruled out by one
    /// substring search, without reducing them to their qualified name.
    Name { qualified: String, needle: String },
    /// Scope components of a glob.
    Glob { components: Vec<String> },
}

impl Pattern {
    /// Parses `text`; the error says what is wrong (the caller adds file and line).
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let (case_insensitive, body) = match text.strip_prefix("ci:") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let body = body.trim();
        if body.is_empty() {
            return Err(format!("empty function pattern `{text}`"));
        }
        let mut alternatives = expand_braces(body)?;
        for alt in &mut alternatives {
            let unanchored = alt.strip_prefix("::").unwrap_or(alt);
            if unanchored.trim().is_empty()
                || unanchored.ends_with("::")
                || unanchored.starts_with(':')
            {
                return Err(format!(
                    "pattern `{text}` has an incomplete alternative `{alt}`"
                ));
            }
            if case_insensitive {
                *alt = alt.to_lowercase();
            }
        }
        alternatives.dedup();
        let compiled = alternatives
            .iter()
            .map(|alt| Alternative::compile(alt))
            .collect::<Result<_, String>>()
            .map_err(|e| format!("pattern `{text}`: {e}"))?;
        Ok(Pattern {
            text: text.to_string(),
            case_insensitive,
            alternatives,
            compiled,
        })
    }

    /// Whether the demangled function or frame name is matched by any alternative.
    pub fn matches(&self, demangled: &str) -> bool {
        self.matching_alternative(demangled).is_some()
    }

    /// Index into [`Pattern::alternatives`] of the first alternative that matches `demangled`.
    pub fn matching_alternative(&self, demangled: &str) -> Option<usize> {
        let lowered;
        let subject = if self.case_insensitive {
            lowered = demangled.to_lowercase();
            lowered.as_str()
        } else {
            demangled
        };
        let kernel = subject.ends_with(KERNEL_SUFFIX);
        // Reduced only once an alternative's cheap test passes.
        let mut qualified: Option<String> = None;
        self.compiled.iter().position(|alt| {
            if alt.kernel != kernel {
                return false;
            }
            if let Kind::Name { needle, .. } = &alt.kind {
                if !subject.contains(needle.as_str()) {
                    return false;
                }
            }
            alt.matches_qualified(qualified.get_or_insert_with(|| qualified_name(subject)))
        })
    }
}

/// Whether any of `patterns` matches the demangled name.
pub fn any_matches(patterns: &[Pattern], demangled: &str) -> bool {
    patterns.iter().any(|p| p.matches(demangled))
}

/// Parses patterns written in code (the findings' function lists); panics on a malformed one,
/// which is a bug in that code, never user input.
pub fn parse_all(texts: &[&str]) -> Vec<Pattern> {
    texts
        .iter()
        .map(|t| Pattern::parse(t).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

impl Alternative {
    fn compile(alt: &str) -> Result<Alternative, String> {
        let (anchored, name) = match alt.strip_prefix("::") {
            Some(rest) => (true, rest),
            None => (false, alt),
        };
        let kernel = name.ends_with(KERNEL_SUFFIX);
        let kind = if has_wildcard(name) {
            Kind::Glob {
                components: split_scopes(name).into_iter().map(String::from).collect(),
            }
        } else {
            let qualified = qualified_name(name);
            if qualified.is_empty() {
                return Err(format!("`{alt}` names no function"));
            }
            let innermost = split_scopes(&qualified).last().copied().unwrap_or_default();
            let needle = without_template_args(innermost)
                .unwrap_or(innermost)
                .to_string();
            Kind::Name { qualified, needle }
        };
        Ok(Alternative {
            anchored,
            kernel,
            kind,
        })
    }

    /// Whether the qualified name of a signature is this alternative.
    fn matches_qualified(&self, qualified: &str) -> bool {
        match &self.kind {
            Kind::Name {
                qualified: want, ..
            } => {
                self.same_or_inner(qualified, want)
                    // `Raft::applier` also names the template `void Raft::applier<int>(int)`.
                    || (without_template_args(want).is_none()
                        && without_template_args(qualified)
                            .is_some_and(|plain| self.same_or_inner(plain, want)))
            }
            Kind::Glob { components } => self.glob_matches(components, qualified),
        }
    }

    /// `path` is `wanted`, or (unless anchored) `wanted` inside some scope: `ns::Raft::applier`
    /// for `Raft::applier`.
    fn same_or_inner(&self, path: &str, wanted: &str) -> bool {
        path == wanted
            || !self.anchored
                && path
                    .strip_suffix(wanted)
                    .is_some_and(|scope| scope.ends_with("::"))
    }

    /// The glob's components match the innermost components of `qualified` (all of them when
    /// anchored). A `*` never crosses a `::` that separates scopes (one inside template
    /// arguments is fine), so `Raft::*` is every method of `Raft` but not code local to one
    /// (`Raft::f()::{lambda()#1}`).
    fn glob_matches(&self, want: &[String], qualified: &str) -> bool {
        let have = split_scopes(qualified);
        if want.len() > have.len() || self.anchored && want.len() != have.len() {
            return false;
        }
        let tail = &have[have.len() - want.len()..];
        let components_match = |tail: &[&str]| {
            want.iter()
                .zip(tail)
                .all(|(w, h)| wildcard_match(w.as_bytes(), h.as_bytes()))
        };
        if components_match(tail) {
            return true;
        }
        // `Raft::*` also names the template `Raft::f<int>`, as a literal `Raft::f` does.
        if want.last().is_some_and(|w| w.contains('<')) {
            return false;
        }
        let Some(plain_last) = tail.last().and_then(|last| without_template_args(last)) else {
            return false;
        };
        let mut plain: Vec<&str> = tail.to_vec();
        plain.pop();
        plain.push(plain_last);
        components_match(&plain)
    }
}

/// Expands `{a,b}` groups (several groups give every combination). A `{...}` without a comma is
/// literal text, so demangled names such as `{lambda()#1}` can be written as they are.
fn expand_braces(s: &str) -> Result<Vec<String>, String> {
    let mut out = vec![String::new()];
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|i| open + i)
            .ok_or_else(|| format!("pattern `{s}`: `{{` without a closing `}}`"))?;
        let inner = &rest[open + 1..close];
        if inner.contains('{') {
            return Err(format!("pattern `{s}`: nested braces are not supported"));
        }
        let prefix = &rest[..open];
        let choices: Vec<&str> = if inner.contains(',') {
            inner.split(',').map(str::trim).collect()
        } else {
            vec![&rest[open..=close]]
        };
        out = out
            .iter()
            .flat_map(|head| choices.iter().map(move |c| format!("{head}{prefix}{c}")))
            .collect();
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("pattern `{s}`: `}}` without an opening `{{`"));
    }
    for o in &mut out {
        o.push_str(rest);
    }
    Ok(out)
}

/// Classic `*`/`?` matching with backtracking on the last `*`.
fn wildcard_match(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::parse(s).unwrap()
    }

    #[test]
    fn braces_expand_and_lambda_braces_stay_literal() {
        assert_eq!(
            p("Persister::{saveRaftState,SaveRaftState}").alternatives,
            ["Persister::saveRaftState", "Persister::SaveRaftState"]
        );
        assert_eq!(
            p("{A,B}::{f,g}").alternatives,
            ["A::f", "A::g", "B::f", "B::g"]
        );
        assert_eq!(
            p("Raft::f()::{lambda()#1}::operator()").alternatives,
            ["Raft::f()::{lambda()#1}::operator()"]
        );
        assert!(Pattern::parse("Raft::{a,b").is_err());
        assert!(Pattern::parse("Raft::a}").is_err());
        assert!(Pattern::parse("Raft::{a,}").is_err());
        assert!(Pattern::parse("ci:").is_err());
        assert!(Pattern::parse("").is_err());
        assert!(Pattern::parse("::").is_err());
        assert!(Pattern::parse(":::send").is_err());
    }

    #[test]
    fn literal_matching_ignores_params_abi_tags_clones_and_namespaces() {
        let pat = p("Persister::readRaftState");
        for frame in [
            "Persister::readRaftState[abi:cxx11]()",
            "Persister::readRaftState() [clone .isra.0]",
            "Persister::readRaftState(int) [clone .constprop.0] [clone .cold]",
            "ns::Persister::readRaftState()",
        ] {
            assert!(pat.matches(frame), "{frame}");
        }
        assert!(!pat.matches("OtherPersister::readRaftState()"));
        assert!(!pat.matches("Persister::readRaftStateX()"));
        // A pattern may carry the tag too; frames match with or without it.
        let tagged = p("Persister::readRaftState[abi:cxx11]");
        assert!(tagged.matches("Persister::readRaftState[abi:cxx11]()"));
        assert!(tagged.matches("Persister::readRaftState()"));
    }

    /// The CPU analysis's `matches_function` rules, now the pattern's.
    #[test]
    fn matches_decorated_spellings_of_a_qualified_name() {
        let applier = p("Raft::applier");
        for frame in [
            "Raft::applier()",
            "Raft::applier() [clone .isra.0]",
            "Raft::applier() [clone .constprop.0] [clone .cold]",
            "ns::Raft::applier(int)",
            "void Raft::applier<int>(int) const",
            "Raft::applier[abi:cxx11](std::vector<int, std::allocator<int> > const&)",
        ] {
            assert!(applier.matches(frame), "{frame}");
        }
        assert!(p("applier").matches("Raft::applier()"));
        assert!(p("Raft::applier()").matches("Raft::applier()"));
        for frame in [
            "Raft::applierX()",
            "OtherRaft::applier()",
            "Raft::applier()::{lambda()#1}::operator()() const",
            "std::_Function_handler<void (), Raft::applier()::{lambda()#1}>::_M_invoke(std::_Any_data const&)",
            "applier_[k]",
            "[unknown]",
        ] {
            assert!(!applier.matches(frame), "{frame}");
        }
    }

    #[test]
    fn operators_match_by_their_full_token() {
        assert!(p("operator new").matches("operator new(unsigned long)"));
        assert!(p("Foo::operator<=>").matches("Foo::operator<=>(Foo const&) const"));
        assert!(p("std::operator<<").matches("std::operator<< <std::char_traits<char> >(int)"));
        // `*` in an operator is no glob: `operator*` is not `operator->*` or `operator*=`.
        let deref = p("Foo::operator*");
        assert!(deref.matches("Foo::operator*() const"));
        assert!(!deref.matches("Foo::operator*=(int)"));
        assert!(!deref.matches("Foo::operator->*(int)"));
    }

    /// Where the findings' `is_fn` and the CPU analysis's `matches_function` disagreed: an
    /// unqualified name matches in any scope (`applier` is `Raft::applier`, as the profile
    /// documents for qualified names), and the findings' C functions are written `::send`,
    /// C++'s own spelling of "in the global scope".
    #[test]
    fn a_leading_scope_operator_anchors_at_the_global_scope() {
        let send = p("::send");
        assert!(send.matches("send"));
        assert!(send.matches("send [clone .cold]"));
        assert!(!send.matches("Socket::send(int)"));
        assert!(!send.matches("__sys_sendto_[k]"));
        assert!(p("send").matches("Socket::send(int)"));
        assert!(p("::Raft::applier").matches("Raft::applier()"));
        assert!(!p("::Raft::applier").matches("kv::Raft::applier()"));
        assert!(p("::Raft::*").matches("Raft::applier()"));
        assert!(!p("::Raft::*").matches("kv::Raft::applier()"));
        assert!(p("::{send,recv}").matches("recv"));
    }

    #[test]
    fn kernel_frames_match_only_kernel_patterns() {
        assert!(!p("send").matches("send_[k]"));
        assert!(!p("*send*").matches("__sys_sendto_[k]"));
        assert!(!p("send").matches("__sys_sendto_[k]"));
        assert!(p("send_[k]").matches("send_[k]"));
        assert!(p("*send*_[k]").matches("__sys_sendto_[k]"));
        assert!(!p("send_[k]").matches("send"));
    }

    #[test]
    fn globs_stay_within_one_scope_component() {
        let pat = p("Raft::*Ticker");
        assert!(pat.matches("Raft::leaderElectionTicker()"));
        assert!(pat.matches("kv::Raft::applierTicker() [clone .part.0]"));
        assert!(!pat.matches("Raft::applier()"));
        assert!(!pat.matches("Raft::a()::{lambda()#1}::Ticker()"));
        assert!(p("Raft::*").matches("Raft::doHeartBeat()"));
        assert!(!p("Raft::*").matches("Raft::doHeartBeat()::{lambda()#1}::operator()() const"));
        assert!(p("Raft::send?ppendEntries").matches("Raft::sendAppendEntries(int)"));
        assert!(p("std::basic_ostream<*>::write").matches(
            "std::basic_ostream<char, std::char_traits<char> >::write(char const*, long)"
        ));
        assert!(p("Foo::*").matches("void Foo::bar<int>(int)"));
    }

    #[test]
    fn case_insensitive_prefix() {
        let pat = p("ci:persister::SAVERAFTSTATE");
        assert!(pat.case_insensitive);
        assert!(pat.matches("Persister::saveRaftState(std::string const&)"));
        assert!(pat.matches("Persister::SaveRaftState(std::string const&)"));
        assert!(!p("persister::saveraftstate").matches("Persister::saveRaftState()"));
        assert!(p("ci:raft::*ticker").matches("Raft::leaderHearBeatTicker()"));
    }
}
