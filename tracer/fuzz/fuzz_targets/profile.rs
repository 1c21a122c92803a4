//! `--profile FILE` / `tracer profile --check FILE`: a TOML layer profile users write by hand.
//! Accepted profiles have their patterns matched against C++ names, as resolution does.
#![no_main]

use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 5] = [
    "Raft::AppendEntries1(raftRpcProctoc::AppendEntriesArgs const*, raftRpcProctoc::AppendEntriesReply*)",
    "MprpcChannel::CallMethod(google::protobuf::MethodDescriptor const*)",
    "std::basic_ostream<char, std::char_traits<char> >::write(char const*, long)",
    "send",
    "void Persister::SaveRaftState[abi:cxx11]<int>(std::string) [clone .cold]",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = tracer::profile::parse(text, "fuzz.toml") else {
        return;
    };
    for layer in &p.layers {
        for pat in layer
            .functions
            .iter()
            .chain(&layer.entry_only)
            .chain(&layer.stack_only)
        {
            for name in NAMES {
                let _ = pat.matches(name);
            }
        }
    }
});
