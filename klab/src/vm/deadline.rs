//! Blocking calls with a deadline: accepting a connection, copying a stream through a unix
//! socket, joining a thread. Each fails with `ErrorKind::TimedOut` (or gives up on the
//! thread) once its deadline passes, so a QEMU that never connects, never sends or never
//! reads cannot hold the grader.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a deadline poll looks again.
const POLL: Duration = Duration::from_millis(10);

fn timed_out(what: &str) -> std::io::Error {
    std::io::Error::new(ErrorKind::TimedOut, format!("{what}: deadline passed"))
}

/// Whether `e` is a socket timeout (`SO_RCVTIMEO`/`SO_SNDTIMEO` report `WouldBlock`).
pub fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Time left before `deadline`, or a `TimedOut` error naming `what`.
pub fn left(deadline: Instant, what: &str) -> std::io::Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(timed_out(what)),
    }
}

/// Accepts one connection on `listener` before `deadline`. The connection is blocking.
pub fn accept_before(listener: &UnixListener, deadline: Instant) -> std::io::Result<UnixStream> {
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                left(deadline, "waiting for a connection")?;
                std::thread::sleep(POLL);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Which end of a copy the unix socket is (the other is a file, which does not block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketEnd {
    Source,
    Sink,
}

/// Copies `from` to `to` until the end of `from`, before `deadline`. `socket` is the stream
/// that may block (`from` or `to` itself, borrowed again): its timeout is set to the time
/// left before every read or write. Returns the bytes copied.
pub fn copy_before(
    from: &mut impl Read,
    to: &mut impl Write,
    socket: &UnixStream,
    end: SocketEnd,
    deadline: Instant,
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 64 << 10];
    let mut copied = 0u64;
    loop {
        let time = left(deadline, "copying")?;
        if end == SocketEnd::Source {
            socket.set_read_timeout(Some(time))?;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => return Err(timed_out("reading")),
            Err(e) => return Err(e),
        };
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            let time = left(deadline, "copying")?;
            if end == SocketEnd::Sink {
                socket.set_write_timeout(Some(time))?;
            }
            match to.write(chunk) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(w) => chunk = &chunk[w..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(timed_out("writing")),
                Err(e) => return Err(e),
            }
        }
        copied += n as u64;
    }
}

/// Joins `handle` if its thread ends before `deadline`; `None` leaves it running, detached.
pub fn join_before<T>(handle: JoinHandle<T>, deadline: Instant) -> Option<std::thread::Result<T>> {
    while !handle.is_finished() {
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
    Some(handle.join())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_millis(300);

    /// The call returned within a small margin of its deadline.
    fn bounded(start: Instant) {
        let took = start.elapsed();
        assert!(took >= SHORT - POLL, "returned early: {took:?}");
        assert!(took < SHORT + Duration::from_secs(2), "took {took:?}");
    }

    #[test]
    fn accept_gives_up_when_nobody_connects() {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("s.sock")).unwrap();
        let start = Instant::now();
        let err = accept_before(&listener, start + SHORT).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        bounded(start);
    }

    #[test]
    fn accept_returns_a_blocking_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let mut client = UnixStream::connect(&path).unwrap();
        let mut conn = accept_before(&listener, Instant::now() + SHORT).unwrap();
        client.write_all(b"hi").unwrap();
        drop(client);
        let mut got = String::new();
        conn.read_to_string(&mut got).unwrap();
        assert_eq!(got, "hi");
    }

    #[test]
    fn copying_from_a_peer_that_never_sends_times_out() {
        let (sock, _peer) = UnixStream::pair().unwrap();
        let mut out = Vec::new();
        let start = Instant::now();
        let err = copy_before(
            &mut &sock,
            &mut out,
            &sock,
            SocketEnd::Source,
            start + SHORT,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        bounded(start);
    }

    #[test]
    fn copying_into_a_peer_that_never_reads_times_out() {
        let (sock, _peer) = UnixStream::pair().unwrap();
        // Far more than a socket buffer holds.
        let data = vec![7u8; 64 << 20];
        let start = Instant::now();
        let err = copy_before(
            &mut &data[..],
            &mut &sock,
            &sock,
            SocketEnd::Sink,
            start + SHORT,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        bounded(start);
    }

    #[test]
    fn copying_to_the_end_counts_the_bytes() {
        let (sock, mut peer) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            peer.write_all(&[1u8; 300_000]).unwrap();
        });
        let mut out = Vec::new();
        let n = copy_before(
            &mut &sock,
            &mut out,
            &sock,
            SocketEnd::Source,
            Instant::now() + Duration::from_secs(10),
        )
        .unwrap();
        writer.join().unwrap();
        assert_eq!((n, out.len()), (300_000, 300_000));
    }

    #[test]
    fn join_gives_up_on_a_thread_that_does_not_end() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let stuck = std::thread::spawn(move || {
            let _ = rx.recv();
            5
        });
        let start = Instant::now();
        assert!(join_before(stuck, start + SHORT).is_none());
        bounded(start);
        drop(tx);
        let quick = std::thread::spawn(|| 6);
        assert_eq!(
            join_before(quick, Instant::now() + SHORT).unwrap().unwrap(),
            6
        );
    }
}
