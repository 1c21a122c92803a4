//! C++ names as GCC, libstdc++ and the demangler spell them: the one place that knows how a
//! demangled signature is put together, shared by every stage that compares function names.
//!
//! In: mangled symbols and demangled signatures (from ELF files, from blazesym's frames, from
//! a profile's patterns). Out: demangled text, qualified names, scope components. Never: reads
//! files or matches patterns (the profile's [`crate::profile::Pattern`] does that with these
//! pieces); it depends on nothing else in tracer, so `profile/`, `symbols/`, `analyse/` and
//! `output/` can all use it without depending on each other.
//!
//! A demangled signature decorates the name a user writes (`Raft::applier`) in several ways,
//! and [`qualified_name`] removes each of them:
//!
//! - a return type, for templates: `void Raft::applier<int>(int)`;
//! - the parameter list and cv/ref qualifiers: `Raft::applier(int) const`;
//! - ABI tags: `Persister::readRaftState[abi:cxx11]()`;
//! - GCC clone suffixes: `Raft::applier() [clone .isra.0] [clone .cold]`.
//!
//! What stays is the qualified name, template arguments included: `ns::A<int>::f`. Operators
//! (`operator()`, `operator<<`, `operator new[]`, `operator bool`), lambdas
//! (`Raft::f()::{lambda()#1}::operator()`) and `(anonymous namespace)` keep their parentheses
//! and spaces, because they are part of the name.

/// Demangles like blazesym does for stack frames (cpp_demangle, default options), so the names
/// of ELF symbols and the frames of a flamegraph are the same strings; names that are not C++
/// (`send`, `main`) stay as they are.
pub fn demangle(mangled: &str) -> String {
    cpp_demangle::Symbol::new(mangled)
        .ok()
        .and_then(|s| s.demangle().ok())
        .unwrap_or_else(|| mangled.to_string())
}

/// The `.`-separated suffixes GCC appends to a clone's *mangled* name:
/// `_Z1fv.isra.0.cold` → `isra`, `0`, `cold`. (The demangler shows them as
/// ` [clone .isra.0] [clone .cold]`, which [`strip_clone_suffixes`] removes.)
pub fn mangled_clone_suffixes(mangled: &str) -> impl Iterator<Item = &str> {
    mangled.split('.').skip(1)
}

/// Removes GCC's ` [clone .isra.0]`, ` [clone .constprop.0]`, ` [clone .cold]` ... suffixes of a
/// demangled name (there can be several).
pub fn strip_clone_suffixes(mut s: &str) -> &str {
    while s.ends_with(']') {
        match s.rfind(" [clone ") {
            Some(i) => s = s[..i].trim_end(),
            None => break,
        }
    }
    s
}

/// Removes every `[abi:...]` tag (`readRaftState[abi:cxx11]()` → `readRaftState()`). An
/// unterminated tag is left as it is.
pub fn strip_abi_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("[abi:") {
        out.push_str(&rest[..i]);
        match rest[i..].find(']') {
            Some(j) => rest = &rest[i + j + 1..],
            None => {
                rest = &rest[i..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The qualified name of a demangled signature: `int ns::A<int>::f(int) const [clone .cold]`
/// → `ns::A<int>::f`; `Persister::readRaftState[abi:cxx11]()` → `Persister::readRaftState`.
/// A name without a parameter list (`send`, `[libc.so.6+0x10]`) is returned as it is.
pub fn qualified_name(signature: &str) -> String {
    let s = strip_abi_tags(strip_clone_suffixes(signature.trim()));
    let scan = scan_signature(&s);
    let name_end = scan.last_parameter_list.unwrap_or(s.len());
    let name_start = scan
        .name_separators
        .iter()
        .rev()
        .find(|&&space| space < name_end)
        .map_or(0, |&space| space + 1);
    s[name_start..name_end].trim().to_string()
}

/// Splits a qualified name at the `::` that are not inside `<>`, `()`, `[]` or `{}`:
/// `std::map<a::b, c>::f()::{lambda()#1}` → `std`, `map<a::b, c>`, `f()`, `{lambda()#1}`.
pub fn split_scopes(name: &str) -> Vec<&str> {
    let bytes = name.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if depth == 0 {
            if let Some(len) = operator_token_len(name, i) {
                i += len;
                continue;
            }
        }
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

/// `f<int, std::pair<a, b> >` → `f`; `None` when the name does not end in template arguments
/// (`operator->` and `operator<=>` end in `>` too, and are not templates).
pub fn without_template_args(path: &str) -> Option<&str> {
    if !path.ends_with('>') {
        return None;
    }
    let mut depth = 0usize;
    for (i, b) in path.bytes().enumerate().rev() {
        match b {
            b'>' => depth += 1,
            b'<' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    let name = path[..i].trim_end();
                    return (!name.is_empty() && !name.ends_with("operator")).then_some(name);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether `name` has a `*` or `?` outside an `operator` token: a glob in a profile pattern.
/// `Foo::operator*` and `Foo::operator->*` are names, not globs.
pub fn has_wildcard(name: &str) -> bool {
    let mut i = 0;
    while i < name.len() {
        if let Some(len) = operator_token_len(name, i) {
            i += len;
            continue;
        }
        if matches!(name.as_bytes()[i], b'*' | b'?') {
            return true;
        }
        i += 1;
    }
    false
}

/// Byte positions found by [`scan_signature`], all at nesting depth 0.
#[derive(Debug, Default)]
struct SignatureScan {
    /// Start of the last `(` group: the parameter list.
    last_parameter_list: Option<usize>,
    /// Spaces that separate a return type from the name.
    name_separators: Vec<usize>,
}

/// Walks a signature keeping track of `<>`, `()`, `[]` and `{}` nesting, skipping the parts
/// that look like delimiters but belong to the name: `operator()`, `operator<<`,
/// `operator new[]` and `(anonymous namespace)`.
fn scan_signature(s: &str) -> SignatureScan {
    let bytes = s.as_bytes();
    let mut scan = SignatureScan::default();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        if depth == 0 {
            if let Some(len) = operator_token_len(s, i) {
                i += len;
                continue;
            }
            if s[i..].starts_with("(anonymous namespace)") {
                i += "(anonymous namespace)".len();
                continue;
            }
        }
        match bytes[i] {
            b'(' if depth == 0 => {
                scan.last_parameter_list = Some(i);
                depth += 1;
            }
            b'<' | b'(' | b'[' | b'{' => depth += 1,
            b'>' | b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b' ' if depth == 0 && separates_return_type(&s[i + 1..]) => {
                scan.name_separators.push(i)
            }
            _ => {}
        }
        i += 1;
    }
    scan
}

/// Whether a space at depth 0 followed by `rest` can end a return type. Not when what follows
/// is template arguments (`std::operator<< <char>(...)`) or a cv-qualifier: the `const` of
/// `char const* f()` belongs to the return type, and in the local name
/// `Raft::f(int) const::{lambda()#1}::operator()` it qualifies the enclosing function.
fn separates_return_type(rest: &str) -> bool {
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let keyword = |k: &str| {
        rest.strip_prefix(k)
            .is_some_and(|after| !after.bytes().next().is_some_and(is_ident))
    };
    !rest.starts_with('<') && !keyword("const") && !keyword("volatile")
}

/// Length of the `operator...` token starting at byte `i`, if one starts there.
fn operator_token_len(s: &str, i: usize) -> Option<usize> {
    const KEYWORD: &str = "operator";
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if !s[i..].starts_with(KEYWORD) || (i > 0 && is_ident(s.as_bytes()[i - 1])) {
        return None;
    }
    let rest = &s[i + KEYWORD.len()..];
    let first = *rest.as_bytes().first()?;
    let len = if rest.starts_with("()") || rest.starts_with("[]") {
        2
    } else if b"+-*/%^&|~!=<>,".contains(&first) {
        rest.bytes()
            .take_while(|b| b"+-*/%^&|~!=<>,".contains(b))
            .count()
    } else if first == b' ' {
        // `operator new[]`, `operator delete`, conversions `operator std::string`: the name
        // runs to the parameter list.
        conversion_name_len(rest)
    } else {
        return None;
    };
    Some(KEYWORD.len() + len)
}

/// Length of `rest` up to the first `(` outside template arguments.
fn conversion_name_len(rest: &str) -> usize {
    let mut angle = 0usize;
    for (j, b) in rest.bytes().enumerate() {
        match b {
            b'<' => angle += 1,
            b'>' => angle = angle.saturating_sub(1),
            b'(' if angle == 0 => return j,
            _ => {}
        }
    }
    rest.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real signatures: the fixture's node binary (nm -C on fixture/build/fp/raftkv-node) and
    /// libstdc++ / glibc frames as blazesym names them in the fixture's flamegraphs.
    #[test]
    fn qualified_names_of_real_signatures() {
        for (sig, want) in [
            // ABI tags, on the name and in the middle of a qualified name.
            (
                "Persister::readRaftState[abi:cxx11]()",
                "Persister::readRaftState",
            ),
            (
                "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >::_M_mutate(unsigned long, unsigned long, char const*, unsigned long)",
                "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >::_M_mutate",
            ),
            (
                "std::__cxx11::to_string[abi:cxx11](unsigned long)",
                "std::__cxx11::to_string",
            ),
            // GCC clones: interprocedural SRA, constant propagation, partial inlining, cold.
            (
                "Raft::applier() [clone .isra.0]",
                "Raft::applier",
            ),
            (
                "Raft::sendAppendEntries(int) [clone .constprop.0] [clone .cold]",
                "Raft::sendAppendEntries",
            ),
            (
                "Persister::readRaftState[abi:cxx11]() [clone .part.0]",
                "Persister::readRaftState",
            ),
            // Templates, with and without a return type.
            (
                "int ns::A<int>::f(int) const [clone .isra.0]",
                "ns::A<int>::f",
            ),
            (
                "void std::vector<LogEntry, std::allocator<LogEntry> >::_M_realloc_insert<LogEntry const&>(__gnu_cxx::__normal_iterator<LogEntry*, std::vector<LogEntry, std::allocator<LogEntry> > >, LogEntry const&)",
                "std::vector<LogEntry, std::allocator<LogEntry> >::_M_realloc_insert<LogEntry const&>",
            ),
            (
                "char const* std::__find_if<char const*>(char const*, char const*)",
                "std::__find_if<char const*>",
            ),
            (
                "std::basic_ostream<char, std::char_traits<char> >::write(char const*, long)",
                "std::basic_ostream<char, std::char_traits<char> >::write",
            ),
            // Operators.
            (
                "Foo::operator()(int) const",
                "Foo::operator()",
            ),
            (
                "std::basic_ostream<char, std::char_traits<char> >& std::operator<< <std::char_traits<char> >(std::basic_ostream<char, std::char_traits<char> >&, char const*)",
                "std::operator<< <std::char_traits<char> >",
            ),
            ("std::operator<< <char>(std::ostream&, char const*)", "std::operator<< <char>"),
            ("operator new(unsigned long)", "operator new"),
            ("operator delete[](void*)", "operator delete[]"),
            ("Foo::operator bool() const", "Foo::operator bool"),
            ("Foo::operator->() const", "Foo::operator->"),
            // Lambdas, also inside a const member function.
            (
                "Raft::f()::{lambda()#1}::operator()() const",
                "Raft::f()::{lambda()#1}::operator()",
            ),
            (
                "Raft::f(int) const::{lambda()#1}::operator()() const",
                "Raft::f(int) const::{lambda()#1}::operator()",
            ),
            (
                "std::_Function_handler<void (), Raft::applier()::{lambda()#1}>::_M_invoke(std::_Any_data const&)",
                "std::_Function_handler<void (), Raft::applier()::{lambda()#1}>::_M_invoke",
            ),
            // Anonymous namespaces.
            ("(anonymous namespace)::helper(int)", "(anonymous namespace)::helper"),
            (
                "kv::(anonymous namespace)::Worker::run() [clone .cold]",
                "kv::(anonymous namespace)::Worker::run",
            ),
            // C functions and frames without a signature.
            ("send", "send"),
            ("__lll_lock_wait", "__lll_lock_wait"),
            ("[libc.so.6+0x1234]", "[libc.so.6+0x1234]"),
            ("send_[k]", "send_[k]"),
        ] {
            assert_eq!(qualified_name(sig), want, "{sig}");
        }
    }

    #[test]
    fn demangling_keeps_clone_suffixes_and_abi_tags() {
        let d = demangle("_ZN9Persister13readRaftStateB5cxx11Ev.cold");
        assert!(d.contains("[abi:cxx11]") && d.contains("cold"), "{d}");
        assert_eq!(qualified_name(&d), "Persister::readRaftState");
        assert_eq!(demangle("send"), "send");
        let suffixes: Vec<&str> = mangled_clone_suffixes("_Z1fv.isra.0.cold").collect();
        assert_eq!(suffixes, ["isra", "0", "cold"]);
        assert_eq!(mangled_clone_suffixes("_Z1fv").count(), 0);
    }

    #[test]
    fn abi_tags_and_clone_suffixes_are_stripped() {
        assert_eq!(strip_abi_tags("a[abi:cxx11]::b[abi:x]()"), "a::b()");
        assert_eq!(strip_abi_tags("a[abi:cxx11"), "a[abi:cxx11");
        assert_eq!(
            strip_clone_suffixes("f() [clone .constprop.0] [clone .cold]"),
            "f()"
        );
        assert_eq!(strip_clone_suffixes("a[3]"), "a[3]");
    }

    #[test]
    fn scopes_split_outside_brackets_and_operators() {
        assert_eq!(
            split_scopes("std::map<a::b, c>::f()::{lambda()#1}"),
            ["std", "map<a::b, c>", "f()", "{lambda()#1}"]
        );
        assert_eq!(split_scopes("send"), ["send"]);
        assert_eq!(
            split_scopes("(anonymous namespace)::g"),
            ["(anonymous namespace)", "g"]
        );
    }

    #[test]
    fn template_arguments_and_wildcards() {
        assert_eq!(without_template_args("Foo::operator->"), None);
        assert_eq!(without_template_args("Foo::operator<=>"), None);
        assert_eq!(without_template_args("a::f<b<c> >"), Some("a::f"));
        assert_eq!(without_template_args("a::f"), None);
        assert!(has_wildcard("Raft::*Ticker"));
        assert!(has_wildcard("Raft::send?ppendEntries"));
        assert!(!has_wildcard("Foo::operator*"));
        assert!(!has_wildcard("Foo::operator->*"));
        assert!(has_wildcard("Foo::operator*::*"));
    }
}
