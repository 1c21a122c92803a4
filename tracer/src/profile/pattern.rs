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
//! - `libstdc++:std::basic_ostream<*>::write`: an object qualifier. Resolution searches a
//!   qualified pattern only in the objects it names ([`ObjectName`]: a library by name, with
//!   or without version, globs allowed, or a file by absolute path), system libraries
//!   included; an unqualified pattern is searched in the executable and every library that is
//!   not a system library. Matching a name (a stack frame) ignores the qualifier.
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
    /// Written with an object qualifier (`libc:fsync`): resolved only in the objects it names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectName>,
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
        let mut case_insensitive = false;
        let mut object = None;
        let mut body = text.trim();
        // Prefixes end in a lone `:` (never part of a `::`): `ci:`, and an object qualifier.
        while let Some((prefix, rest)) = lone_colon_prefix(body) {
            if prefix == "ci" && !case_insensitive {
                case_insensitive = true;
            } else if object.is_none() && ObjectName::looks_like_object(prefix) {
                object = Some(ObjectName::parse(prefix)?);
            } else {
                break;
            }
            body = rest.trim();
        }
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
            object,
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

/// The text before the first lone `:` of `s` (a colon that is not half of a `::`), and the
/// text after it: `libc:fsync` → (`libc`, `fsync`); `Raft::applier` → None.
fn lone_colon_prefix(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b':' {
            if b.get(i + 1) == Some(&b':') {
                i += 2;
                continue;
            }
            return Some((&s[..i], &s[i + 1..]));
        }
        // Only a plain prefix can qualify: stop at the first character of a C++ name's
        // punctuation (a template argument list, a parameter list, a space).
        if matches!(b[i], b'<' | b'(' | b' ' | b'{' | b'[') {
            return None;
        }
        i += 1;
    }
    None
}

/// The object an object-qualified pattern names (`libc:fsync`, `libgrpc++*:grpc::*`,
/// `/opt/kv/lib/libraft.so:Raft::applier`).
///
/// - `/…`: the file at that absolute path.
/// - a name: a file whose name is that name, or whose name up to `.so` is (`libc` is
///   `libc.so.6`, never `libcrypto.so.3`; `libgrpc++` is `libgrpc++.so.1.51`); `*` and `?` are
///   globs within the name (`libgrpc*` is `libgrpc.so.29` and `libgrpc++.so.1.51`). The
///   executable can be named the same way (`raftkv-node:main`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ObjectName(String);

impl ObjectName {
    /// Whether a prefix reads as an object: a path, a library name (`lib…`), or a name with a
    /// `.so` in it. Anything else before a lone colon is part of the function pattern.
    fn looks_like_object(prefix: &str) -> bool {
        !prefix.is_empty()
            && (prefix.starts_with('/') || prefix.starts_with("lib") || prefix.contains(".so"))
    }

    fn parse(prefix: &str) -> Result<ObjectName, String> {
        if prefix.contains(char::is_whitespace) {
            return Err(format!("object qualifier `{prefix}` contains a space"));
        }
        if prefix.starts_with('/') && has_wildcard(prefix) {
            return Err(format!(
                "object qualifier `{prefix}`: a path names one file (globs only in a name)"
            ));
        }
        Ok(ObjectName(prefix.to_string()))
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the object file at `path` is the one named.
    pub fn matches(&self, path: &std::path::Path) -> bool {
        if self.0.starts_with('/') {
            return path == std::path::Path::new(&self.0);
        }
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            return false;
        };
        let stem = file.find(".so").map_or(file, |i| &file[..i]);
        [file, stem]
            .iter()
            .any(|n| wildcard_match(self.0.as_bytes(), n.as_bytes()))
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
pub(crate) fn wildcard_match(p: &[u8], s: &[u8]) -> bool {
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

    #[test]
    fn object_qualifiers_name_libraries_and_leave_names_alone() {
        let pat = p("libstdc++:std::basic_ostream<*>::write");
        assert_eq!(
            pat.object.as_ref().map(ObjectName::as_str),
            Some("libstdc++")
        );
        assert!(pat.matches(
            "std::basic_ostream<char, std::char_traits<char> >::write(char const*, long)"
        ));
        let obj = pat.object.unwrap();
        assert!(obj.matches(std::path::Path::new(
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
        )));
        assert!(!obj.matches(std::path::Path::new("/usr/lib/libstdc++fs.so.6")));
        let libc = p("libc:fsync").object.unwrap();
        assert!(libc.matches(std::path::Path::new("/lib/x86_64-linux-gnu/libc.so.6")));
        assert!(!libc.matches(std::path::Path::new("/lib/x86_64-linux-gnu/libcrypto.so.3")));
        let grpc = p("libgrpc*:grpc::Server::*").object.unwrap();
        assert!(grpc.matches(std::path::Path::new("/usr/lib/libgrpc++.so.1.51")));
        assert!(grpc.matches(std::path::Path::new("/usr/lib/libgrpc.so.29")));
        assert!(!grpc.matches(std::path::Path::new("/usr/lib/libgpr.so.29")));
        let path = p("/opt/kv/libraft.so:Raft::applier").object.unwrap();
        assert!(path.matches(std::path::Path::new("/opt/kv/libraft.so")));
        assert!(!path.matches(std::path::Path::new("/opt/other/libraft.so")));
        // With `ci:` in either order; the alternatives hold only the function part.
        for text in ["libraft:ci:raft::applier", "ci:libraft:raft::applier"] {
            let pat = p(text);
            assert!(pat.case_insensitive && pat.object.is_some(), "{text}");
            assert_eq!(pat.alternatives, ["raft::applier"]);
            assert!(pat.matches("Raft::applier()"));
        }
        // Names with colons that are no qualifier.
        for text in [
            "Raft::applier",
            "::send",
            "libx::Foo::bar",
            "Persister::readRaftState[abi:cxx11]",
            "tcp_sendmsg_[k]",
        ] {
            assert!(p(text).object.is_none(), "{text}");
        }
        assert!(p("libx::Foo::bar").matches("libx::Foo::bar()"));
        assert!(Pattern::parse("/opt/*/libx.so:f").is_err());
        assert!(Pattern::parse("libc:").is_err());
    }
}
