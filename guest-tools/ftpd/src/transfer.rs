//! Data connections: PORT/PASV addresses, opening the connection, and
//! sending a file in ASCII or binary (image) form.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// How long to wait for the data connection to open.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a send may stall before the transfer is aborted.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// How the next data connection is made; set by PORT or PASV.
#[derive(Debug, Default)]
pub enum Data {
    #[default]
    None,
    /// PORT: we connect to the client.
    Active(SocketAddrV4),
    /// PASV: the client connects to this listener.
    Passive(TcpListener),
}

/// Parses PORT's `h1,h2,h3,h4,p1,p2`: six decimal numbers 0..=255, the
/// IPv4 address and then the port, high byte first.
pub fn parse_host_port(arg: &str) -> Option<SocketAddrV4> {
    let mut n = [0u8; 6];
    let mut fields = arg.split(',');
    for slot in &mut n {
        let field = fields.next()?;
        // u8's parser alone would also take "+1".
        if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = field.parse().ok()?;
    }
    if fields.next().is_some() {
        return None;
    }
    let ip = Ipv4Addr::new(n[0], n[1], n[2], n[3]);
    Some(SocketAddrV4::new(ip, u16::from_be_bytes([n[4], n[5]])))
}

/// The reverse of [`parse_host_port`], for PASV's reply.
pub fn format_host_port(addr: SocketAddrV4) -> String {
    let [h1, h2, h3, h4] = addr.ip().octets();
    let [p1, p2] = addr.port().to_be_bytes();
    format!("{h1},{h2},{h3},{h4},{p1},{p2}")
}

/// A PASV listener on the IP of `local` (the control connection's local address), any
/// free port, and that address.
pub fn passive(local: SocketAddr) -> io::Result<(TcpListener, SocketAddrV4)> {
    let SocketAddr::V4(local) = local else {
        return Err(ErrorKind::Unsupported.into());
    };
    let listener = TcpListener::bind((*local.ip(), 0))?;
    match listener.local_addr()? {
        SocketAddr::V4(addr) => Ok((listener, addr)),
        SocketAddr::V6(_) => Err(ErrorKind::Unsupported.into()),
    }
}

/// Opens the data connection: connects (active) or accepts (passive)
/// within [`OPEN_TIMEOUT`].
pub fn open(data: Data) -> io::Result<TcpStream> {
    let conn = match data {
        Data::None => return Err(ErrorKind::NotConnected.into()),
        Data::Active(addr) => TcpStream::connect_timeout(&addr.into(), OPEN_TIMEOUT)?,
        Data::Passive(listener) => accept(&listener, OPEN_TIMEOUT)?,
    };
    conn.set_write_timeout(Some(SEND_TIMEOUT))?;
    Ok(conn)
}

/// std has no accept timeout: polls a non-blocking listener.
fn accept(listener: &TcpListener, wait: Duration) -> io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + wait;
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false)?;
                return Ok(conn);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10))
            }
            Err(e) => return Err(e),
        }
    }
}

/// Copies `src` to `dst`, in ASCII form if `ascii`; returns the number of
/// bytes sent (after conversion).
pub fn send(src: &mut impl Read, dst: &mut impl Write, ascii: bool) -> io::Result<u64> {
    let mut buf = vec![0; 16 * 1024];
    let mut text = Vec::new();
    let mut sent = 0;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(sent),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = if ascii {
            text.clear();
            lf_to_crlf(&buf[..n], &mut text);
            &text[..]
        } else {
            &buf[..n]
        };
        dst.write_all(chunk)?;
        sent += chunk.len() as u64;
    }
}

/// Appends `src` to `out` in FTP's ASCII form: every LF (the local end of
/// line) becomes CRLF. CRs are not looked at, so text that already has
/// CRLF endings arrives as CR CR LF, as with other servers that convert
/// only the local newline. Stateless, so chunks can be converted apart.
pub fn lf_to_crlf(src: &[u8], out: &mut Vec<u8>) {
    for &b in src {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn host_port() {
        let addr = |s: &str| Some(s.parse::<SocketAddrV4>().unwrap());
        assert_eq!(parse_host_port("127,0,0,1,4,1"), addr("127.0.0.1:1025"));
        assert_eq!(parse_host_port("10,0,2,15,0,21"), addr("10.0.2.15:21"));
        assert_eq!(
            parse_host_port("255,255,255,255,255,255"),
            addr("255.255.255.255:65535")
        );
        assert_eq!(parse_host_port("0,0,0,0,0,0"), addr("0.0.0.0:0"));
        assert_eq!(parse_host_port("010,0,0,001,0,7"), addr("10.0.0.1:7"));
        for bad in [
            "",
            "1,2,3,4,5",
            "1,2,3,4,5,6,7",
            "1,2,3,4,5,256",
            "256,0,0,1,0,21",
            "1,2,3,4,5,",
            "1,2,3,,5,6",
            "1,2,3,4,5,+6",
            "1,2,3,4,5,-6",
            "1, 2,3,4,5,6",
            "1,2,3,4,5,6 ",
            "1.2.3.4,5,6",
            "a,b,c,d,e,f",
        ] {
            assert_eq!(parse_host_port(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn host_port_round_trip() {
        for s in [
            "127.0.0.1:1025",
            "10.0.2.15:21",
            "0.0.0.0:0",
            "192.168.255.1:65535",
        ] {
            let addr: SocketAddrV4 = s.parse().unwrap();
            let text = format_host_port(addr);
            assert_eq!(parse_host_port(&text), Some(addr), "{text}");
        }
        assert_eq!(
            format_host_port("10.0.2.15:1025".parse().unwrap()),
            "10,0,2,15,4,1"
        );
        assert_eq!(
            format_host_port("1.2.3.4:256".parse().unwrap()),
            "1,2,3,4,1,0"
        );
    }

    fn crlf(src: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        lf_to_crlf(src, &mut out);
        out
    }

    #[test]
    fn ascii_conversion() {
        assert_eq!(crlf(b""), b"");
        assert_eq!(crlf(b"no newline"), b"no newline");
        assert_eq!(crlf(b"a\nb\n"), b"a\r\nb\r\n");
        assert_eq!(crlf(b"\n\n"), b"\r\n\r\n");
        // Already CRLF: the LF is still converted (documented behaviour).
        assert_eq!(crlf(b"dos\r\n"), b"dos\r\r\n");
        // A lone CR is left alone.
        assert_eq!(crlf(b"a\rb"), b"a\rb");
    }

    #[test]
    fn send_modes() {
        // Larger than send's buffer, with LFs at chunk boundaries.
        let data: Vec<u8> = (0..40_000u32).map(|i| (i % 256) as u8).collect();
        let lfs = data.iter().filter(|&&b| b == b'\n').count();

        let mut out = Vec::new();
        let n = send(&mut Cursor::new(&data), &mut out, false).unwrap();
        assert_eq!((n, &out), (data.len() as u64, &data));

        let mut out = Vec::new();
        let n = send(&mut Cursor::new(&data), &mut out, true).unwrap();
        assert_eq!(n as usize, data.len() + lfs);
        assert_eq!(out, crlf(&data));
        assert_eq!(out.len(), data.len() + lfs);
    }

    #[test]
    fn open_without_port_or_pasv() {
        let e = open(Data::None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotConnected);
    }

    #[test]
    fn passive_accept_times_out() {
        let (listener, addr) = passive("127.0.0.1:21".parse().unwrap()).unwrap();
        assert_eq!(addr.ip(), &Ipv4Addr::LOCALHOST);
        assert_ne!(addr.port(), 0);
        let t0 = Instant::now();
        let e = accept(&listener, Duration::from_millis(200)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        assert!(t0.elapsed() >= Duration::from_millis(200));
    }
}
