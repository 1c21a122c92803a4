//! C++ function-name patterns of a profile: parsing (`ci:`, brace alternatives, globs) and
//! matching against demangled names, the same for ELF symbols and stack frames.
//!
//! Literal names are matched by [`crate::analyse::cpu::matches_function`], so "the functions
//! of a layer" means exactly what the CPU analysis means by a function: qualified name equal
//! or inside a scope, any parameter list, ABI tags and clone suffixes ignored. Globs need the
//! qualified name itself, which [`qualified_name`] extracts.

use serde::Serialize;

use crate::analyse::cpu::matches_function;

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
            if alt.trim().is_empty() || alt.ends_with("::") || alt.starts_with("::") {
                return Err(format!(
                    "pattern `{text}` has an incomplete alternative `{alt}`"
                ));
            }
            if case_insensitive {
                *alt = alt.to_lowercase();
            }
        }
        alternatives.dedup();
        Ok(Pattern {
            text: text.to_string(),
            case_insensitive,
            alternatives,
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
        self.alternatives
            .iter()
            .position(|alt| alternative_matches(alt, subject))
    }
}

/// Whether a glob character (`*`, `?`) appears in an alternative.
pub fn is_glob(alternative: &str) -> bool {
    alternative.contains(['*', '?'])
}

fn alternative_matches(alt: &str, demangled: &str) -> bool {
    if is_glob(alt) {
        return glob_matches_qualified(alt, &qualified_name(demangled));
    }
    // Cheap pre-filter: the last name component must appear somewhere in the signature.
    let last = split_scopes(alt).last().copied().unwrap_or(alt);
    let last = last.split('(').next().unwrap_or(last);
    demangled.contains(last) && matches_function(demangled, alt)
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

/// A glob (`*` any run of characters within one scope component, `?` one character) matches
/// the qualified name or its innermost components: `Raft::*Ticker` matches
/// `ns::Raft::leaderElectionTicker`, `*Ticker` any function whose own name ends in `Ticker`.
/// A `*` never crosses a `::` that separates scopes (one inside template arguments is fine), so
/// `Raft::*` is every method of `Raft` but not code local to one (`Raft::f()::{lambda()#1}`).
fn glob_matches_qualified(glob: &str, qualified: &str) -> bool {
    let want = split_scopes(glob);
    let have = split_scopes(qualified);
    if want.len() > have.len() {
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
    let mut plain: Vec<&str> = tail.to_vec();
    match plain.last_mut() {
        Some(last) if !want.last().is_some_and(|w| w.contains('<')) => match last.find('<') {
            Some(i) if i > 0 && !last.starts_with("operator") => *last = &last[..i],
            _ => return false,
        },
        _ => return false,
    }
    components_match(&plain)
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

/// Splits a qualified name at the `::` that are not inside `<>`, `()`, `[]` or `{}`.
pub fn split_scopes(name: &str) -> Vec<&str> {
    let bytes = name.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' | b'(' | b'[' | b'{' => depth += 1,
            b'>' | b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                parts.push(&name[start..i]);
                i += 2;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&name[start..]);
    parts
}

/// The qualified name of a demangled signature, what globs and "closest name" suggestions
/// compare: `int ns::A<int>::f(int) const [clone .isra.0]` → `ns::A<int>::f`,
/// `Persister::readRaftState[abi:cxx11]()` → `Persister::readRaftState`.
///
/// This is the reduction `analyse::cpu` applies inside `matches_function` (private there); kept
/// here in a deliberately small form, only for globs and suggestions: literal patterns go through
/// `matches_function` itself so the two can never disagree on them.
pub fn qualified_name(signature: &str) -> String {
    let mut s = signature.trim();
    while s.ends_with(']') {
        match s.rfind(" [clone ") {
            Some(i) => s = s[..i].trim_end(),
            None => break,
        }
    }
    let s = strip_abi_tags(s);
    let bytes = s.as_bytes();
    let (mut depth, mut params, mut space) = (0usize, None, None);
    let mut i = 0;
    while i < bytes.len() {
        let at_word_start =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if depth == 0 && at_word_start && s[i..].starts_with("operator") {
            // `operator()`, `operator<<`, `operator new`: part of the name, up to its `(`.
            let after = i + "operator".len();
            let skip = if s[after..].starts_with("()") { 2 } else { 0 };
            let name_end = s[after + skip..]
                .find('(')
                .map_or(s.len(), |j| after + skip + j);
            i = name_end;
            continue;
        }
        if depth == 0 && s[i..].starts_with("(anonymous namespace)") {
            i += "(anonymous namespace)".len();
            continue;
        }
        match bytes[i] {
            b'(' if depth == 0 => {
                params = Some(i);
                depth += 1;
            }
            b'<' | b'(' | b'[' | b'{' => depth += 1,
            b'>' | b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b' ' if depth == 0 && params.is_none() && bytes.get(i + 1) != Some(&b'<') => {
                space = Some(i)
            }
            _ => {}
        }
        i += 1;
    }
    let end = params.unwrap_or(s.len());
    let start = space.filter(|&sp| sp < end).map_or(0, |sp| sp + 1);
    s[start..end].trim().to_string()
}

fn strip_abi_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("[abi:") {
        out.push_str(&rest[..i]);
        match rest[i..].find(']') {
            Some(j) => rest = &rest[i + j + 1..],
            None => break,
        }
    }
    out.push_str(rest);
    out
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
    fn qualified_names() {
        for (sig, want) in [
            (
                "int ns::A<int>::f(int) const [clone .isra.0]",
                "ns::A<int>::f",
            ),
            (
                "Persister::readRaftState[abi:cxx11]()",
                "Persister::readRaftState",
            ),
            ("send", "send"),
            (
                "Raft::f()::{lambda()#1}::operator()() const",
                "Raft::f()::{lambda()#1}::operator()",
            ),
            (
                "std::operator<< <char>(std::ostream&, char const*)",
                "std::operator<< <char>",
            ),
            ("(anonymous namespace)::g(int)", "(anonymous namespace)::g"),
        ] {
            assert_eq!(qualified_name(sig), want, "{sig}");
        }
    }
}
