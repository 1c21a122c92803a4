//! Empty on purpose: the programs are in the `tracer` binary target (`src/main.rs`). This lib
//! exists so that `tracer` can name this crate as a build-dependency, which makes cargo rebuild
//! `tracer` (and so re-embed the object) whenever the eBPF sources change.
#![no_std]
