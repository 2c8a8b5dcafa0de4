//! The examples in `examples/` (which scripts/test.sh builds with `cargo
//! build --examples`) run and do what they say: they are the library's
//! documentation.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{TIMEOUT, text};

/// An example's binary, built next to ours by `cargo build --examples`.
fn example(name: &str) -> Command {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_socklab"));
    let dir = bin.parent().expect("the binary has a directory");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: scripts/test.sh builds the examples (`cargo build --examples`)",
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

#[test]
fn a_thousand_keep_alive_requests_go_over_one_connection() {
    let out = common::run(&mut example("app_keepalive"), TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let rest = stdout
        .strip_prefix("1000 answers on one connection in ")
        .and_then(|r| r.strip_suffix("ms\n"))
        .unwrap_or_else(|| panic!("unexpected output {stdout:?}"));
    assert!(rest.parse::<u64>().is_ok(), "{stdout:?}");
}

#[test]
fn a_chat_room_embedded_in_a_program_relays_and_shuts_down() {
    let out = common::run(&mut example("chat_embedded"), TIMEOUT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "2 members in the room\n\
         alice received from alice: hi bob\n\
         bob received from alice: hi bob\n\
         alice received from bob: hello alice\n\
         bob received from bob: hello alice\n\
         alice received: * server shutting down\n\
         bob received: * server shutting down\n\
         room shut down\n"
    );
}
