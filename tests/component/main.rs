//! In-process component tests, one binary: a stage or several driven from the library's API, with the
//! binary only where a command prints what is checked (`export template`, `parse`). No moto, no double.
//! The original's outputs (`golden`), every format's golden files (`format_golden`), the AWS samples
//! (`samples`), JSON lines (`json_formats`), random and mutated input (`robustness`, `bad_input`), the
//! fuzzers' findings (`fuzz_findings`), the index template against the parsers (`template`) and the
//! reference config against the program (`reference`).

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod format_golden;
mod fuzz_findings;
mod golden;
mod json_formats;
mod reference;
mod robustness;
mod samples;
mod template;
