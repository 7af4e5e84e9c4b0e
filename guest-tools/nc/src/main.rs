//! `nc`: a small netcat subset for klab guest VMs. See `args::USAGE`.

mod args;

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use args::{Cmd, Mode, Opts};

fn main() {
    let code = match args::parse(std::env::args_os().skip(1)) {
        Err(msg) => {
            eprintln!("nc: {msg}\n{}", args::USAGE);
            2
        }
        Ok(Cmd::Help) => {
            println!("{}", args::USAGE);
            0
        }
        Ok(Cmd::Run(opts)) => match run(&opts, io::stdin(), &mut io::stdout()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("nc: {e}");
                1
            }
        },
    };
    process::exit(code);
}

#[derive(Debug)]
enum Error {
    /// `-w` expired before anything was received.
    TimedOut,
    /// What failed, and the OS error.
    Io(String, io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::TimedOut => f.write_str("timed out"),
            Error::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

trait Context<T> {
    fn ctx(self, what: impl fmt::Display) -> Result<T, Error>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, what: impl fmt::Display) -> Result<T, Error> {
        self.map_err(|e| match is_timeout(&e) {
            true => Error::TimedOut,
            false => Error::Io(what.to_string(), e),
        })
    }
}

fn run(opts: &Opts, input: impl Read + Send + 'static, out: &mut impl Write) -> Result<(), Error> {
    let wait = opts.timeout;
    match opts.mode {
        Mode::Connect { addr, scan } => {
            let sa = SocketAddr::V4(addr);
            let sock = match wait {
                Some(t) => TcpStream::connect_timeout(&sa, t),
                None => TcpStream::connect(sa),
            }
            .ctx(format_args!("connect to {addr}"))?;
            if scan {
                return Ok(());
            }
            let clock = Arc::new(Clock::new());
            let (tx, tx_clock) = (sock.try_clone().ctx("socket")?, clock.clone());
            thread::spawn(move || feed(input, tx, &tx_clock));
            pump(&sock, out, wait, &clock)
        }
        Mode::UdpSend { addr, local } => {
            let sock = UdpSocket::bind(local).ctx(format_args!("bind {local}"))?;
            sock.connect(addr).ctx(format_args!("connect to {addr}"))?;
            send_udp(input, &sock)?;
            // With -w, print the replies (an echo server's) until the socket is idle that
            // long; a silent peer is not an error for UDP.
            match wait {
                Some(_) => match pump(&sock, out, wait, &Clock::new()) {
                    Err(Error::TimedOut) => Ok(()),
                    other => other,
                },
                None => Ok(()),
            }
        }
        Mode::Listen { addr } => {
            let listener = TcpListener::bind(addr).ctx(format_args!("bind {addr}"))?;
            serve_tcp(listener, wait, out)
        }
        Mode::UdpListen { addr } => {
            let sock = UdpSocket::bind(addr).ctx(format_args!("bind {addr}"))?;
            pump(&sock, out, wait, &Clock::new())
        }
    }
}

/// Accepts one connection (within `wait`, if set) and prints what it sends.
fn serve_tcp(
    listener: TcpListener,
    wait: Option<Duration>,
    out: &mut impl Write,
) -> Result<(), Error> {
    let sock = match wait {
        None => listener.accept().ctx("accept")?.0,
        Some(t) => {
            // std has no accept timeout: poll a non-blocking listener.
            listener.set_nonblocking(true).ctx("accept")?;
            let deadline = Instant::now() + t;
            loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    Err(e) => return Err(e).ctx("accept"),
                }
            }
        }
    };
    drop(listener);
    sock.set_nonblocking(false).ctx("accept")?;
    pump(&sock, out, wait, &Clock::new())
}

/// Sends each chunk read from `input` as one datagram.
fn send_udp(mut input: impl Read, sock: &UdpSocket) -> Result<(), Error> {
    let mut buf = vec![0; 65507]; // max UDP payload over IPv4
    loop {
        match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => sock.send(&buf[..n]).ctx("send")?,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Io("read stdin".into(), e)),
        };
    }
}

/// Copies `input` to the socket, then shuts down its write side. Runs on
/// its own thread; the main thread reports socket errors, so a failed send
/// just stops the copy.
fn feed(mut input: impl Read, mut sock: TcpStream, clock: &Clock) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("nc: read stdin: {e}");
                process::exit(1);
            }
        };
        if sock.write_all(&buf[..n]).is_err() {
            return;
        }
        clock.touch();
    }
    let _ = sock.shutdown(Shutdown::Write);
}

/// Time of the last data in either direction, for the `-w` idle timeout.
struct Clock {
    start: Instant,
    last_ms: AtomicU64,
}

impl Clock {
    fn new() -> Self {
        Clock {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// A socket `pump` can read from.
trait Source {
    /// Whether a zero-length read means end of stream.
    const STREAM: bool;
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn set_timeout(&self, t: Duration) -> io::Result<()>;
}

impl Source for TcpStream {
    const STREAM: bool = true;
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut &*self).read(buf)
    }
    fn set_timeout(&self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))
    }
}

impl Source for UdpSocket {
    const STREAM: bool = false;
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }
    fn set_timeout(&self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))
    }
}

/// Copies data from `sock` to `out` until end of stream or until nothing
/// has moved for `wait`. On timeout, succeeds only if something was received.
fn pump<S: Source>(
    sock: &S,
    out: &mut impl Write,
    wait: Option<Duration>,
    clock: &Clock,
) -> Result<(), Error> {
    let mut buf = vec![0; 64 * 1024];
    let mut got = false;
    if let Some(t) = wait {
        sock.set_timeout(t).ctx("setsockopt")?;
    }
    loop {
        match sock.recv(&mut buf) {
            Ok(0) if S::STREAM => return Ok(()),
            Ok(n) => {
                got = true;
                clock.touch();
                out.write_all(&buf[..n])
                    .and_then(|()| out.flush())
                    .ctx("write stdout")?;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                let Some(t) = wait.filter(|_| is_timeout(&e)) else {
                    return Err(Error::Io("read".into(), e));
                };
                // The other direction may have been busy meanwhile.
                let idle = clock.idle();
                if idle + Duration::from_millis(1) < t {
                    sock.set_timeout(t - idle).ctx("setsockopt")?;
                } else if got {
                    return Ok(());
                } else {
                    return Err(Error::TimedOut);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::net::SocketAddrV4;

    const LO: &str = "127.0.0.1:0";

    fn opts(mode: Mode, secs: u64) -> Opts {
        let timeout = Some(Duration::from_secs(secs));
        Opts { mode, timeout }
    }

    fn v4(addr: SocketAddr) -> SocketAddrV4 {
        match addr {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(_) => unreachable!(),
        }
    }

    #[test]
    fn udp_listen_and_send() {
        let rx = UdpSocket::bind(LO).unwrap();
        let addr = v4(rx.local_addr().unwrap());
        let server = thread::spawn(move || {
            let mut out = Vec::new();
            let r = pump(&rx, &mut out, Some(Duration::from_secs(1)), &Clock::new());
            (r, out)
        });
        let local = "127.0.0.1:0".parse().unwrap();
        let send = opts(Mode::UdpSend { addr, local }, 1);
        let input = Cursor::new(b"hello udp\n".to_vec());
        run(&send, input, &mut Vec::new()).unwrap();
        let (r, out) = server.join().unwrap();
        r.unwrap(); // timed out, but data was received: success
        assert_eq!(out, b"hello udp\n");
    }

    #[test]
    fn udp_send_with_wait_prints_the_replies() {
        let echo = UdpSocket::bind(LO).unwrap();
        let addr = v4(echo.local_addr().unwrap());
        let server = thread::spawn(move || {
            let mut buf = [0; 64];
            let (n, peer) = echo.recv_from(&mut buf).unwrap();
            echo.send_to(&buf[..n], peer).unwrap();
        });
        let local = "127.0.0.1:0".parse().unwrap();
        let mut out = Vec::new();
        let send = opts(Mode::UdpSend { addr, local }, 1);
        run(&send, Cursor::new(b"ping\n".to_vec()), &mut out).unwrap();
        server.join().unwrap();
        assert_eq!(out, b"ping\n");
    }

    #[test]
    fn udp_send_to_a_closed_port_is_refused() {
        let closed = UdpSocket::bind(LO).unwrap();
        let addr = v4(closed.local_addr().unwrap());
        drop(closed);
        let local = "127.0.0.1:0".parse().unwrap();
        let send = opts(Mode::UdpSend { addr, local }, 1);
        let r = run(&send, Cursor::new(b"ping\n".to_vec()), &mut Vec::new());
        assert!(matches!(r, Err(Error::Io(..))), "{r:?}");
    }

    #[test]
    fn udp_listen_times_out_without_data() {
        let rx = UdpSocket::bind(LO).unwrap();
        let wait = Some(Duration::from_secs(1));
        let r = pump(&rx, &mut Vec::new(), wait, &Clock::new());
        assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
    }

    #[test]
    fn tcp_listen_and_connect() {
        let listener = TcpListener::bind(LO).unwrap();
        let addr = v4(listener.local_addr().unwrap());
        let server = thread::spawn(move || {
            let mut out = Vec::new();
            let r = serve_tcp(listener, Some(Duration::from_secs(5)), &mut out);
            (r, out)
        });
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let connect = opts(Mode::Connect { addr, scan: false }, 5);
        let mut got = Vec::new();
        // Returns once the server has seen our EOF and closed.
        run(&connect, Cursor::new(data.clone()), &mut got).unwrap();
        let (r, out) = server.join().unwrap();
        r.unwrap();
        assert_eq!(out, data);
        assert!(got.is_empty());
    }

    #[test]
    fn tcp_connect_prints_reply() {
        let listener = TcpListener::bind(LO).unwrap();
        let addr = v4(listener.local_addr().unwrap());
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            s.read_to_end(&mut req).unwrap();
            s.write_all(b"you said: ").unwrap();
            s.write_all(&req).unwrap();
        });
        let connect = opts(Mode::Connect { addr, scan: false }, 5);
        let mut got = Vec::new();
        run(&connect, Cursor::new(b"hi".to_vec()), &mut got).unwrap();
        server.join().unwrap();
        assert_eq!(got, b"you said: hi");
    }

    #[test]
    fn tcp_scan() {
        let listener = TcpListener::bind(LO).unwrap();
        let addr = v4(listener.local_addr().unwrap());
        let scan = opts(Mode::Connect { addr, scan: true }, 2);
        run(&scan, io::empty(), &mut Vec::new()).unwrap();
        drop(listener);
        let r = run(&scan, io::empty(), &mut Vec::new());
        let Err(e @ Error::Io(..)) = r else {
            panic!("{r:?}")
        };
        assert!(e.to_string().starts_with(&format!("connect to {addr}: ")));
    }

    #[test]
    fn tcp_accept_times_out() {
        let listener = TcpListener::bind(LO).unwrap();
        let t0 = Instant::now();
        let r = serve_tcp(listener, Some(Duration::from_secs(1)), &mut Vec::new());
        assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
        assert!(t0.elapsed() >= Duration::from_secs(1));
        assert_eq!(Error::TimedOut.to_string(), "timed out");
    }
}
