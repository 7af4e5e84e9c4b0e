//! The guest's two output streams (the kernel console and the command port) as one stream of
//! events for the session.
//!
//! One reader thread per stream cuts bytes into bounded lines ([`LineReader`]) and sends
//! them on; a byte budget per stream ([`PENDING_BYTES`]) bounds what is read and not yet
//! handled. Over its budget, the console's reader drops lines and counts them (the console
//! log on disk still gets them), while the command port's reader waits: the guest's writes
//! block, and the command's own timeout decides. A console flood cannot starve the command
//! port: each stream has its own budget.

use std::fs::File;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use crate::vm::deadline::is_timeout;
use crate::vm::limits::{CONSOLE_LOG_BYTES, LINE_BYTES, LINE_TAIL_BYTES, PENDING_BYTES};
use crate::vm::line_reader::LineReader;

pub(super) enum Event {
    Console(String),
    ConsoleClosed,
    Shell(String),
    ShellClosed,
}

/// The guest's output streams.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Stream {
    /// The kernel console (ttyS0): over budget, lines are dropped and counted.
    Console,
    /// The command port (ttyS1): over budget, the reader waits (its lines carry the
    /// protocol).
    Shell,
}

impl Stream {
    fn line(self, line: String) -> Event {
        match self {
            Stream::Console => Event::Console(line),
            Stream::Shell => Event::Shell(line),
        }
    }

    fn closed(self) -> Event {
        match self {
            Stream::Console => Event::ConsoleClosed,
            Stream::Shell => Event::ShellClosed,
        }
    }
}

/// What the readers and the session share: each stream's bytes in flight, and whether the
/// session is gone (so a reader that waits or times out stops).
#[derive(Default)]
struct Shared {
    console: AtomicUsize,
    shell: AtomicUsize,
    closed: AtomicBool,
}

impl Shared {
    fn pending(&self, stream: Stream) -> &AtomicUsize {
        match stream {
            Stream::Console => &self.console,
            Stream::Shell => &self.shell,
        }
    }

    /// Whether `bytes` more fit in `stream`'s budget (an empty one takes any one line).
    fn fits(&self, stream: Stream, bytes: usize) -> bool {
        let pending = self.pending(stream).load(Ordering::SeqCst);
        pending == 0 || pending + bytes <= PENDING_BYTES
    }

    fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// The receiving end, owned by the session.
pub(super) struct Events {
    rx: Receiver<Event>,
    tx: Option<Sender<Event>>,
    shared: Arc<Shared>,
}

impl Events {
    pub fn new() -> Events {
        let (tx, rx) = mpsc::channel();
        Events {
            rx,
            tx: Some(tx),
            shared: Arc::default(),
        }
    }

    fn received(&self, event: Event) -> Event {
        match &event {
            Event::Console(l) => self.shared.console.fetch_sub(l.len(), Ordering::SeqCst),
            Event::Shell(l) => self.shared.shell.fetch_sub(l.len(), Ordering::SeqCst),
            _ => 0,
        };
        event
    }

    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        self.rx.recv_timeout(timeout).map(|e| self.received(e))
    }

    pub fn try_recv(&self) -> Result<Event, TryRecvError> {
        self.rx.try_recv().map(|e| self.received(e))
    }

    /// Starts the reader thread of one stream. `log` gets the stream's bytes as read, up to
    /// [`CONSOLE_LOG_BYTES`].
    pub fn spawn_reader<R: Read + Send + 'static>(
        &self,
        reader: R,
        stream: Stream,
        log: Option<File>,
    ) {
        let tx = self
            .tx
            .clone()
            .expect("readers start before the session runs");
        let shared = self.shared.clone();
        std::thread::spawn(move || {
            read_lines(reader, &tx, &shared, stream, log);
            let _ = tx.send(stream.closed());
        });
    }

    /// Drops the session's own sender, so that the channel disconnects once the readers end.
    pub fn readers_started(&mut self) {
        self.tx = None;
    }

    /// Tells the readers the session is gone.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.close();
    }
}

fn read_lines<R: Read>(
    reader: R,
    tx: &Sender<Event>,
    shared: &Shared,
    stream: Stream,
    mut log: Option<File>,
) {
    let mut lines = LineReader::new(reader, LINE_BYTES, LINE_TAIL_BYTES);
    let mut logged: u64 = 0;
    let mut to_log = |bytes: &[u8]| {
        let Some(file) = log.as_mut() else { return };
        if logged < CONSOLE_LOG_BYTES {
            let _ = file.write_all(bytes);
            logged += bytes.len() as u64;
            if logged >= CONSOLE_LOG_BYTES {
                let _ = file.write_all(b"\n[klab: console log truncated here]\n");
            }
        }
    };
    let send = |line: String| {
        shared
            .pending(stream)
            .fetch_add(line.len(), Ordering::SeqCst);
        tx.send(stream.line(line)).is_ok()
    };
    let note = |dropped| format!("[klab: {dropped} lines dropped: the grader fell behind]");
    let mut dropped: usize = 0;
    loop {
        // Read to the end even once the session is gone (the console log gets QEMU's last
        // words); a read timeout is where a reader notices it should stop.
        let line = match lines.next_line(&mut to_log) {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) if is_timeout(&e) && shared.closed() => return,
            Err(e) if is_timeout(&e) => continue,
            Err(_) => break,
        };
        if dropped > 0 && shared.fits(stream, line.len() + 100) {
            if !send(note(dropped)) {
                return;
            }
            dropped = 0;
        }
        if !shared.fits(stream, line.len()) {
            if stream == Stream::Console {
                dropped += 1;
                continue;
            }
            while !shared.fits(stream, line.len()) {
                if shared.closed() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        if !send(line) {
            return;
        }
    }
    if dropped > 0 {
        send(note(dropped));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(events: &Events) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            match events.recv_timeout(Duration::from_secs(10)) {
                Ok(Event::Console(l)) | Ok(Event::Shell(l)) => out.push(l),
                Ok(_) => return out,
                Err(e) => panic!("no event: {e}"),
            }
        }
    }

    #[test]
    fn lines_arrive_cut_then_the_stream_closes() {
        let mut events = Events::new();
        let mut input = b"first\n".to_vec();
        input.extend(std::iter::repeat_n(b'z', 3 * LINE_BYTES));
        input.extend_from_slice(b"\nlast");
        events.spawn_reader(std::io::Cursor::new(input), Stream::Console, None);
        events.readers_started();
        let got = lines_of(&events);
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].as_str(), got[2].as_str()), ("first", "last"));
        assert!(got[1].len() < LINE_BYTES + LINE_TAIL_BYTES + 40);
        assert!(got[1].contains("bytes cut]"));
        assert_eq!(events.shared.console.load(Ordering::SeqCst), 0);
    }

    /// A reader that says when it reached the end of its input.
    struct Signalled<R>(R, mpsc::Sender<()>);

    impl<R: Read> Read for Signalled<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(buf)?;
            if n == 0 {
                let _ = self.1.send(());
            }
            Ok(n)
        }
    }

    /// Feeds `count` lines of 1000 bytes to a reader nobody receives from yet; returns the
    /// receiving end, and a receiver told when the reader reached the end of the flood.
    fn flood(count: usize, stream: Stream) -> (Events, mpsc::Receiver<()>) {
        let mut events = Events::new();
        let (eof_tx, eof) = mpsc::channel();
        let input = ("f".repeat(1000) + "\n").repeat(count).into_bytes();
        events.spawn_reader(Signalled(std::io::Cursor::new(input), eof_tx), stream, None);
        events.readers_started();
        (events, eof)
    }

    #[test]
    fn a_console_flood_nobody_reads_is_dropped_past_the_budget_and_counted() {
        let count = 4 * PENDING_BYTES / 1000;
        let (events, eof) = flood(count, Stream::Console);
        eof.recv_timeout(Duration::from_secs(60))
            .expect("the reader reads the flood");
        assert!(events.shared.console.load(Ordering::SeqCst) <= PENDING_BYTES + 100);
        let got = lines_of(&events);
        let kept = PENDING_BYTES / 1000;
        assert_eq!(got.len(), kept + 1, "what fits, then the note");
        assert_eq!(
            got[kept],
            format!(
                "[klab: {} lines dropped: the grader fell behind]",
                count - kept
            )
        );
    }

    #[test]
    fn the_command_port_reader_waits_instead_of_dropping() {
        let count = 2 * PENDING_BYTES / 1000;
        let (events, eof) = flood(count, Stream::Shell);
        let start = std::time::Instant::now();
        while events.shared.shell.load(Ordering::SeqCst) < PENDING_BYTES - 1000 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the reader is too slow"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            eof.recv_timeout(Duration::from_millis(200)).is_err(),
            "the reader waits at the budget, short of the end of its input"
        );
        assert!(events.shared.shell.load(Ordering::SeqCst) <= PENDING_BYTES);
        assert_eq!(lines_of(&events).len(), count, "every line arrives");
    }

    #[test]
    fn the_log_gets_the_raw_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let mut events = Events::new();
        events.spawn_reader(
            std::io::Cursor::new(b"a\r\nb\n".to_vec()),
            Stream::Console,
            Some(File::create(&path).unwrap()),
        );
        events.readers_started();
        assert_eq!(lines_of(&events), ["a", "b"]);
        assert_eq!(std::fs::read(&path).unwrap(), b"a\r\nb\n");
    }
}
