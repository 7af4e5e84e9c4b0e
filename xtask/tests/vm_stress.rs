//! Many load/unload cycles in one VM leave no kernel report, no held socket and no module
//! behind — and a module that leaks its socket is caught.

mod support;

use support::{copy_template_task, replace_in, xtask};

#[test]
fn every_solution_survives_100_load_unload_cycles() {
    let run = xtask(&["stress", "--solution", "--cycles", "100"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let passes = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("PASS "))
        .count();
    assert!(
        passes >= 3,
        "every task with a stress.sh reports PASS:\n{}",
        run.all()
    );
    assert!(!run.stdout.contains("FAIL "), "{}", run.all());
}

#[test]
fn a_module_that_never_releases_its_socket_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let task = copy_template_task(dir.path(), "networking-c", "5-udp-sock");
    replace_in(
        &task.join("udp_sock.c"),
        "static void __exit my_udp_sock_exit(void)\n{\n\trelease_socket();\n}",
        "static void __exit my_udp_sock_exit(void)\n{\n}",
    );

    // Read as an editor or CI would: the JSON event stream, every stdout line an event.
    let run = xtask(&[
        "--message-format",
        "json",
        "--skels-dir",
        dir.path().to_str().unwrap(),
        "stress",
        "networking-c/5-udp-sock",
        "--cycles",
        "5",
    ]);
    assert_eq!(run.code, 1, "{}", run.all());
    let events = klab::events::json::read(&run.stdout).unwrap_or_else(|e| {
        panic!("stdout is JSON lines: {e}\n{}", run.all());
    });
    let verdicts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            klab::events::Event::Verdict(v) => Some(v),
            _ => None,
        })
        .collect();
    assert_eq!(verdicts.len(), 1, "{}", run.all());
    assert_eq!(verdicts[0].task, "networking-c/5-udp-sock");
    assert_eq!(verdicts[0].status, "FAIL", "{}", run.all());
    assert!(
        verdicts[0]
            .explanation
            .contains("sockets leaked: tcp 0 -> 0, udp 0 -> 5"),
        "{}",
        run.all()
    );
}
