//! `tracer`: thin entry point; everything lives in the library so tests can call it.
fn main() {
    std::process::exit(tracer::cli::main());
}
