//! Rebuild the eBPF object when the `bpf-linker` binary changes (it is an undeclared
//! dependency of this crate), and say how to get it when it is missing.
fn main() {
    match which::which("bpf-linker") {
        Ok(path) => println!("cargo:rerun-if-changed={}", path.display()),
        Err(_) => panic!("bpf-linker is not on PATH: run `cargo xtask setup` first"),
    }
}
