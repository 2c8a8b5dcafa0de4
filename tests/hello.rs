//! hello with the texts' own client (bare names, one recv per answer) and nc.

mod common;

use std::process::Command;

use common::{Server, TIMEOUT, require, run, run_socklab, run_with_input, text};

/// The texts' client, as written there: bare names, waiting for each answer.
const TEXTS_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(('127.0.0.1', int(sys.argv[1])))
print(s.recv(1024).decode('utf-8'))
for data in [b'Michael', b'Tracy', b'Sarah']:
    s.send(data)
    print(s.recv(1024).decode('utf-8'))
s.send(b'exit')
s.close()
"#;

const EXPECTED: &str = "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n";

#[test]
fn answers_the_texts_python_client() {
    require("python3");
    let server = Server::start(&["hello", "server", "127.0.0.1", "0"]);
    let out = run(
        Command::new("python3").args(["-c", TEXTS_CLIENT, &server.port()]),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, EXPECTED);
}

#[test]
fn answers_nc_sending_lines() {
    require("nc");
    let server = Server::start(&["hello", "server", "127.0.0.1", "0"]);
    // One write with all lines: the server must split them itself.
    let out = run_with_input(
        Command::new("nc").args(["127.0.0.1", &server.port()]),
        b"Michael\nTracy\r\nSarah\nexit\n",
        TIMEOUT,
    );
    assert!(out.status.success());
    assert_eq!(
        text(&out).0,
        "Welcome!Hello, Michael!\nHello, Tracy!\nHello, Sarah!\n"
    );
}

#[test]
fn our_client_with_names() {
    let server = Server::start(&["hello", "server", "127.0.0.1", "0"]);
    let out = run_socklab(
        &[
            "hello",
            "client",
            "127.0.0.1",
            &server.port(),
            "Ada",
            "Grace",
        ],
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "Welcome!\nHello, Ada!\nHello, Grace!\n");
    let defaults = run_socklab(&["hello", "client", "127.0.0.1", &server.port()], TIMEOUT);
    assert_eq!(text(&defaults).0, EXPECTED);
}
