//! Builds the eBPF object (`tracer-ebpf`, nightly, bpfel-unknown-none) into OUT_DIR so the
//! binary embeds it. Cargo re-runs this whenever `tracer-ebpf` or `tracer-common` change, so an
//! embedded object is never stale. When the toolchain is missing the build fails and names the
//! command that installs it.

fn main() {
    println!("cargo:rerun-if-changed=../tracer-common/src");
    let package = aya_build::Package {
        name: "tracer-ebpf",
        root_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../tracer-ebpf"),
        ..Default::default()
    };
    if let Err(err) = aya_build::build_ebpf([package], aya_build::Toolchain::default()) {
        panic!(
            "building the eBPF programs failed: {err:#}\n\
             The eBPF build needs the nightly toolchain with rust-src and bpf-linker built for \
             LLVM 22. Install them with `cargo xtask setup`, then build again."
        );
    }
}
