//! Command-line parsing for `nc`.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

pub const USAGE: &str = "usage: nc [-z] [-u [-s ADDR] [-p PORT]] [-w SECS] HOST PORT\n       \
                         nc -l [-u] [-s ADDR] [-w SECS] [-p] PORT";

/// What to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    /// TCP connect; with `scan` (-z) only check that the connect succeeds.
    Connect { addr: SocketAddrV4, scan: bool },
    /// Send stdin as UDP datagrams to `addr`, from local address `local`.
    UdpSend {
        addr: SocketAddrV4,
        local: SocketAddrV4,
    },
    /// Accept one TCP connection on `addr` and print what it sends.
    Listen { addr: SocketAddrV4 },
    /// Print every UDP datagram received on `addr`.
    UdpListen { addr: SocketAddrV4 },
}

#[derive(Debug, PartialEq, Eq)]
pub struct Opts {
    pub mode: Mode,
    /// `-w`: bounds connect, accept and idle time.
    pub timeout: Option<Duration>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Cmd {
    Run(Opts),
    Help,
}

/// Parses the arguments (without argv\[0\]). `Err` is a usage error message.
pub fn parse<I>(args: I) -> Result<Cmd, String>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let (mut listen, mut udp, mut scan) = (false, false, false);
    let (mut port, mut src, mut timeout) = (None, None, None);
    let mut pos = Vec::new();
    let mut only_pos = false;
    let mut it = args.into_iter().map(|a| {
        a.into()
            .into_string()
            .map_err(|a| format!("invalid argument {a:?}"))
    });
    while let Some(arg) = it.next() {
        let arg = arg?;
        if only_pos || arg == "-" || !arg.starts_with('-') {
            pos.push(arg);
            continue;
        }
        if arg == "--" {
            only_pos = true;
            continue;
        }
        for (i, c) in arg.char_indices().skip(1) {
            match c {
                'l' => listen = true,
                'u' => udp = true,
                'z' => scan = true,
                'h' => return Ok(Cmd::Help),
                'p' | 's' | 'w' => {
                    let rest = &arg[i + 1..];
                    let val = if rest.is_empty() {
                        it.next()
                            .ok_or_else(|| format!("option requires an argument -- '{c}'"))??
                    } else {
                        rest.to_string()
                    };
                    match c {
                        'p' => port = Some(parse_port(&val)?),
                        's' => src = Some(parse_host(&val)?),
                        _ => timeout = Some(parse_secs(&val)?),
                    }
                    break;
                }
                _ => return Err(format!("invalid option -- '{c}'")),
            }
        }
    }

    let mode = if listen {
        if scan {
            return Err("-z cannot be used with -l".into());
        }
        let (ip, port) = match (pos.as_slice(), port) {
            ([], Some(p)) => (src, p),
            ([p], None) => (src, parse_port(p)?),
            ([h, p], None) if src.is_none() => (Some(parse_host(h)?), parse_port(p)?),
            _ => return Err("listen mode needs exactly one port (-p PORT or PORT)".into()),
        };
        let addr = SocketAddrV4::new(ip.unwrap_or(Ipv4Addr::UNSPECIFIED), port);
        if udp {
            Mode::UdpListen { addr }
        } else {
            Mode::Listen { addr }
        }
    } else {
        let [host, p] = pos.as_slice() else {
            return Err("expected HOST PORT".into());
        };
        let addr = SocketAddrV4::new(parse_host(host)?, parse_port(p)?);
        if udp {
            if scan {
                return Err("-z cannot be used with -u".into());
            }
            let local = SocketAddrV4::new(src.unwrap_or(Ipv4Addr::UNSPECIFIED), port.unwrap_or(0));
            Mode::UdpSend { addr, local }
        } else {
            if src.is_some() || port.is_some() {
                return Err("-s and -p need -l or -u".into());
            }
            Mode::Connect { addr, scan }
        }
    };
    Ok(Cmd::Run(Opts { mode, timeout }))
}

fn parse_host(s: &str) -> Result<Ipv4Addr, String> {
    if s == "localhost" {
        return Ok(Ipv4Addr::LOCALHOST);
    }
    s.parse().map_err(|_| format!("bad address '{s}'"))
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!("bad port '{s}'")),
    }
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.parse() {
        Ok(n) if n != 0 => Ok(Duration::from_secs(n)),
        _ => Err(format!("bad timeout '{s}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &str) -> Opts {
        match parse(args.split_whitespace()) {
            Ok(Cmd::Run(o)) => o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn err(args: &str) -> String {
        parse(args.split_whitespace()).expect_err(args)
    }

    fn sa(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    #[test]
    fn connect() {
        let o = run("10.0.2.2 8080");
        assert_eq!(
            o.mode,
            Mode::Connect {
                addr: sa("10.0.2.2:8080"),
                scan: false
            }
        );
        assert_eq!(o.timeout, None);
        assert_eq!(
            run("-z -w 3 localhost 22"),
            Opts {
                mode: Mode::Connect {
                    addr: sa("127.0.0.1:22"),
                    scan: true
                },
                timeout: Some(Duration::from_secs(3)),
            }
        );
        // Options after positionals, glued values.
        assert_eq!(run("localhost 22 -zw3"), run("-z -w 3 localhost 22"));
        assert_eq!(run("-w5 1.2.3.4 1").timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn udp_send() {
        assert_eq!(
            run("-u 192.168.1.1 53").mode,
            Mode::UdpSend {
                addr: sa("192.168.1.1:53"),
                local: sa("0.0.0.0:0")
            }
        );
        assert_eq!(
            run("-u -s 10.0.0.1 -p 4000 192.168.1.1 53").mode,
            Mode::UdpSend {
                addr: sa("192.168.1.1:53"),
                local: sa("10.0.0.1:4000")
            }
        );
    }

    #[test]
    fn listen_forms() {
        let tcp = Mode::Listen {
            addr: sa("0.0.0.0:60001"),
        };
        let udp = Mode::UdpListen {
            addr: sa("0.0.0.0:60001"),
        };
        assert_eq!(run("-l -p 60001").mode, tcp);
        assert_eq!(run("-lp 60001").mode, tcp);
        assert_eq!(run("-lp60001").mode, tcp);
        assert_eq!(run("-l 60001").mode, tcp);
        assert_eq!(run("-lup 60001").mode, udp);
        assert_eq!(run("-l -u -p 60001").mode, udp);
        assert_eq!(run("-ul 60001").mode, udp);
        assert_eq!(run("-p 60001 -u -l").mode, udp);
        assert_eq!(
            run("-l -s 10.0.0.2 -p 7 -w 2"),
            Opts {
                mode: Mode::Listen {
                    addr: sa("10.0.0.2:7")
                },
                timeout: Some(Duration::from_secs(2)),
            }
        );
        assert_eq!(
            run("-l localhost 7").mode,
            Mode::Listen {
                addr: sa("127.0.0.1:7")
            }
        );
        assert_eq!(run("-l -- 7").mode, run("-l 7").mode);
    }

    #[test]
    fn help() {
        assert_eq!(parse(["-h"]), Ok(Cmd::Help));
        assert_eq!(parse(["-lh"]), Ok(Cmd::Help));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(err(""), "expected HOST PORT");
        assert_eq!(err("localhost"), "expected HOST PORT");
        assert_eq!(err("a b c"), "expected HOST PORT");
        assert_eq!(err("example.org 80"), "bad address 'example.org'");
        assert_eq!(err("1.2.3.4 http"), "bad port 'http'");
        assert_eq!(err("1.2.3.4 0"), "bad port '0'");
        assert_eq!(err("1.2.3.4 65536"), "bad port '65536'");
        assert_eq!(err("-x 1.2.3.4 1"), "invalid option -- 'x'");
        assert_eq!(err("-l -p"), "option requires an argument -- 'p'");
        assert_eq!(err("-w 0 1.2.3.4 1"), "bad timeout '0'");
        assert_eq!(err("-w -1 1.2.3.4 1"), "bad timeout '-1'");
        assert!(err("-l").starts_with("listen mode"));
        assert!(err("-l -p 1 2").starts_with("listen mode"));
        assert!(err("-l -s 1.1.1.1 1.1.1.1 2").starts_with("listen mode"));
        assert_eq!(err("-lz 1"), "-z cannot be used with -l");
        assert_eq!(err("-uz 1.2.3.4 1"), "-z cannot be used with -u");
        assert_eq!(err("-p 5 1.2.3.4 1"), "-s and -p need -l or -u");
    }
}
