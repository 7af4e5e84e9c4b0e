//! The session's protocol and bounds against a fake guest: two socket pairs stand for the
//! console and the command port, and a `sleep` stands for QEMU (killed like it).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::*;
use crate::vm::limits::{CONSOLE_KEPT_BYTES, EXCERPT_LINES, EXCERPT_LINE_BYTES, LINE_BYTES};

struct Fake {
    session: VmSession,
    /// The guest's end of the console (ttyS0).
    console: UnixStream,
    _dir: tempfile::TempDir,
}

/// A session whose guest answers each command line with `answer(command, id)`.
fn fake(answer: impl Fn(&str, u64, &mut UnixStream) + Send + 'static) -> Fake {
    let dir = tempfile::tempdir().unwrap();
    let (console_host, console) = UnixStream::pair().unwrap();
    let (shell_host, shell_guest) = UnixStream::pair().unwrap();
    let child = Command::new("sleep")
        .arg("60")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let log_path = dir.path().join("console.log");
    let log = start::open_console_log(&log_path).unwrap();
    let session =
        VmSession::attach(child, console_host, shell_host, log, log_path, dir.path()).unwrap();
    std::thread::spawn(move || {
        let mut out = shell_guest.try_clone().unwrap();
        for line in BufReader::new(shell_guest).lines() {
            let Ok(line) = line else { return };
            let (id, command) = crate::vm::protocol::parse_command_line(&line).unwrap_or((0, ""));
            answer(command, id, &mut out);
        }
    });
    Fake {
        session,
        console,
        _dir: dir,
    }
}

fn done(out: &mut UnixStream, id: u64, status: i32) {
    let _ = out.write_all(crate::vm::protocol::done_line(id, status).as_bytes());
}

/// A guest with the commands the tests use.
fn guest() -> Fake {
    fake(|command, id, out| match command {
        "echo hi" => {
            let _ = out.write_all(b"hi\n");
            done(out, id, 0);
        }
        "flood" => {
            let line = "x".repeat(99) + "\n";
            for _ in 0..30_000 {
                let _ = out.write_all(line.as_bytes());
            }
            done(out, id, 3);
        }
        "long line" => {
            let _ = out.write_all(&vec![b'l'; 10 << 20]);
            done(out, id, 0);
        }
        _ => {} // "hang": no answer
    })
}

/// Runs a command the guest never answers: a timeout, well within 3 s.
fn times_out(session: &mut VmSession, limit: Duration) {
    let start = Instant::now();
    let err = session.run("hang", limit).unwrap_err();
    assert!(matches!(err, SessionError::Timeout { .. }), "{err}");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn a_command_gets_its_output_and_status() {
    let mut fake = guest();
    let out = fake
        .session
        .run("echo hi", Duration::from_secs(10))
        .unwrap();
    assert_eq!((out.output.as_str(), out.status), ("hi\n", 0));
    assert_eq!(
        fake.session.shell.write_timeout().unwrap(),
        Some(SHELL_WRITE_TIMEOUT),
        "writes to the guest are bounded"
    );
}

#[test]
fn a_flood_of_output_is_capped_and_the_protocol_goes_on() {
    let mut fake = guest();
    let out = fake.session.run("flood", Duration::from_secs(60)).unwrap();
    assert_eq!(out.status, 3, "the sentinel after the flood is still seen");
    assert!(
        out.output.len() < COMMAND_OUTPUT_BYTES + 100,
        "{}",
        out.output.len()
    );
    let cut = 30_000 * 100 - COMMAND_OUTPUT_BYTES;
    assert!(
        out.output.ends_with(&format!("[… {cut} bytes cut]\n")),
        "{}",
        &out.output[out.output.len() - 80..]
    );
    let next = fake
        .session
        .run("echo hi", Duration::from_secs(10))
        .unwrap();
    assert_eq!(next.output, "hi\n", "the next command reads its own output");
}

#[test]
fn a_ten_megabyte_line_without_newline_is_cut_and_its_sentinel_seen() {
    let mut fake = guest();
    let out = fake
        .session
        .run("long line", Duration::from_secs(60))
        .unwrap();
    assert_eq!(out.status, 0);
    assert!(out.output.len() < LINE_BYTES + 400, "{}", out.output.len());
    assert!(out.output.contains("bytes cut]"));
}

#[test]
fn a_guest_that_never_answers_times_out_within_the_limit() {
    let mut fake = guest();
    times_out(&mut fake.session, Duration::from_millis(500));
    assert!(!fake.session.is_alive(), "a timed-out VM is killed");
}

#[test]
fn a_guest_that_never_reads_its_command_port_times_out() {
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (stuck, is_stuck) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Mutex::new(released);
    // The guest takes its first line, says so, then stops reading.
    let mut fake = fake(move |_, _, _| {
        let _ = stuck.send(());
        let _ = released.lock().unwrap().recv();
    });
    let filler = "#".repeat(999) + "\n";
    fake.session.shell.write_all(filler.as_bytes()).unwrap();
    is_stuck
        .recv_timeout(Duration::from_secs(30))
        .expect("the guest took its first line");
    // Fill the socket's buffers so that the next write blocks.
    fake.session.shell.set_nonblocking(true).unwrap();
    while fake.session.shell.write(filler.as_bytes()).is_ok() {}
    fake.session.shell.set_nonblocking(false).unwrap();
    fake.session
        .shell
        .set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    // The command's own limit is far away: the write's is what ends it.
    times_out(&mut fake.session, Duration::from_secs(60));
    drop(release);
}

#[test]
fn a_crafted_report_and_a_console_flood_stay_bounded() {
    let mut fake = guest();
    let huge = "h".repeat(100 << 10);
    writeln!(
        fake.console,
        "[1.0] BUG: kernel NULL pointer dereference {huge}"
    )
    .unwrap();
    for _ in 0..100 {
        writeln!(fake.console, " f+0xffffffffffffffff/0x1 [mod] {huge}").unwrap();
    }
    // QEMU goes: every line before the end is handled, in order.
    drop(fake.console);
    let err = fake
        .session
        .run("hang", Duration::from_secs(60))
        .unwrap_err();
    let SessionError::Died {
        fault: Some(fault), ..
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!(fault.kind, FaultKind::Oops);
    assert_eq!(fault.excerpt.len(), EXCERPT_LINES);
    assert!(fault
        .excerpt
        .iter()
        .all(|l| l.len() < EXCERPT_LINE_BYTES + 40 && l.contains("bytes cut]")));
    let kept = fake.session.take_console();
    let bytes: usize = kept.iter().map(String::len).sum();
    assert!(bytes <= CONSOLE_KEPT_BYTES + 100, "{bytes}");
    assert!(
        kept.last().unwrap().contains("more lines not kept"),
        "{:?}",
        kept.last()
    );
}

#[test]
fn a_panic_on_the_console_ends_the_command_with_the_report() {
    let mut fake = guest();
    writeln!(
        fake.console,
        "[2.0] Kernel panic - not syncing: Fatal exception"
    )
    .unwrap();
    let err = fake
        .session
        .run("hang", Duration::from_secs(30))
        .unwrap_err();
    match err {
        SessionError::Died { fault: Some(f), .. } => assert_eq!(f.kind, FaultKind::Panic),
        other => panic!("{other}"),
    }
}

#[test]
fn a_console_that_never_stops_printing_still_times_out() {
    let fake = guest();
    let mut session = fake.session;
    let mut console = fake.console;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooding = stop.clone();
    let flood = std::thread::spawn(move || {
        let line = "[3.0] spam ".repeat(8) + "\n";
        while !flooding.load(std::sync::atomic::Ordering::SeqCst) {
            if console.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
    });
    times_out(&mut session, Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    flood.join().unwrap();
}

#[test]
fn notes_and_console_lines_share_the_log_without_overwriting() {
    let mut fake = guest();
    writeln!(fake.console, "before the note").unwrap();
    // The line has reached the log once the session has seen it.
    let seen = |fake: &mut Fake, text: &str| {
        let start = Instant::now();
        while !std::fs::read_to_string(fake.session.console_log())
            .unwrap()
            .contains(text)
        {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{text} never logged"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    seen(&mut fake, "before the note");
    fake.session.note("task a/b");
    writeln!(fake.console, "after the note").unwrap();
    seen(&mut fake, "after the note");
    let log = std::fs::read_to_string(fake.session.console_log()).unwrap();
    assert!(log.contains("===== klab: task a/b ====="), "{log}");
    assert!(
        log.find("klab: task a/b").unwrap() < log.find("after the note").unwrap(),
        "{log}"
    );
}
