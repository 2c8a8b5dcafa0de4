//! The examples in `examples/` (which `cargo test` builds) run and do what
//! they say: they are the library's documentation.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{TIMEOUT, text};

/// An example's binary, built next to ours by `cargo test`.
fn example(name: &str) -> Command {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_socklab"));
    let dir = bin.parent().expect("the binary has a directory");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples",
        path.display()
    );
    let mut cmd = Command::new(path);
    cmd.env_remove("RUST_LOG");
    cmd
}

#[test]
fn a_new_line_protocol_on_net_serve_answers_and_shuts_down() {
    let out = common::run(&mut example("line_protocol"), TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout, "olleh\nbalkcos\nserver stopped\n");
}
