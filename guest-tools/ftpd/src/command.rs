//! The control connection's wire format: reading command lines, splitting
//! them into verb and argument, and turning those into a [`Command`].

use std::io::{self, BufRead, Read};
use std::net::SocketAddrV4;

use crate::transfer;

/// The longest accepted command line, without its line ending.
pub const MAX_LINE: usize = 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line without its CRLF or bare LF ending.
    Text(Vec<u8>),
    /// Longer than [`MAX_LINE`]: the session ends.
    TooLong,
    /// The client closed the connection (possibly in the middle of a line).
    Eof,
}

/// Reads one line ending in CRLF or a bare LF.
pub fn read_line(r: &mut impl BufRead) -> io::Result<Line> {
    // Room for the longest line plus CRLF: a read that fills it without
    // ending in a short enough line is too long.
    let limit = MAX_LINE + 2;
    let mut buf = Vec::new();
    r.take(limit as u64).read_until(b'\n', &mut buf)?;
    if buf.last() != Some(&b'\n') {
        return Ok(if buf.len() == limit {
            Line::TooLong
        } else {
            Line::Eof
        });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(if buf.len() > MAX_LINE {
        Line::TooLong
    } else {
        Line::Text(buf)
    })
}

/// A line split at its first space: `VERB` or `VERB ARG`.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// Upper-cased: commands are case-insensitive.
    pub verb: String,
    /// Everything after the first space, as is; `None` if that is empty.
    pub arg: Option<&'a str>,
}

impl Request<'_> {
    pub fn allowed_before_login(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "USER" | "PASS" | "QUIT" | "NOOP" | "SYST" | "FEAT"
        )
    }
}

/// Splits a line; `None` (reply 500) for an empty line, one that is not
/// UTF-8 or holds control characters, or whose verb is not all letters.
pub fn split(line: &[u8]) -> Option<Request<'_>> {
    let line = std::str::from_utf8(line).ok()?;
    if line.chars().any(char::is_control) {
        return None;
    }
    let (verb, arg) = match line.split_once(' ') {
        Some((verb, arg)) => (verb, Some(arg).filter(|a| !a.is_empty())),
        None => (line, None),
    };
    if verb.is_empty() || !verb.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let verb = verb.to_ascii_uppercase();
    Some(Request { verb, arg })
}

/// How a received line appears in the log: as sent, control characters
/// escaped, and the password of a PASS command hidden.
pub fn log_form(line: &[u8]) -> String {
    let verb = line.split(|&b| b == b' ').next().unwrap_or_default();
    if verb.eq_ignore_ascii_case(b"PASS") {
        return "PASS ****".into();
    }
    let mut out = String::new();
    for c in String::from_utf8_lossy(line).chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The representation type set by TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `A`: text, the local LF sent as CRLF. The default.
    Ascii,
    /// `I` (or `L 8`): bytes unchanged.
    Image,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    User(&'a str),
    /// The password, empty if none was given.
    Pass(&'a str),
    Syst,
    Noop,
    Feat,
    Quit,
    Pwd,
    Cwd(&'a str),
    Type(Type),
    Size(&'a str),
    Port(SocketAddrV4),
    Pasv,
    Retr(&'a str),
}

/// Why a well-formed line is not a command we carry out.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    Unknown,
    /// An argument is missing, or given to a command that takes none.
    BadArgs,
    BadPort,
    BadType,
}

impl Error {
    pub fn reply(&self) -> (u16, &'static str) {
        match self {
            Error::Unknown => (502, "Command not implemented"),
            Error::BadArgs => (501, "Syntax error in parameters or arguments"),
            Error::BadPort => (501, "Syntax error in PORT"),
            Error::BadType => (504, "Command not implemented for that parameter"),
        }
    }
}

pub fn parse<'a>(req: &Request<'a>) -> Result<Command<'a>, Error> {
    let arg = req.arg;
    let needed = || arg.ok_or(Error::BadArgs);
    let bare = |cmd| match arg {
        None => Ok(cmd),
        Some(_) => Err(Error::BadArgs),
    };
    match req.verb.as_str() {
        "USER" => Ok(Command::User(needed()?)),
        "PASS" => Ok(Command::Pass(arg.unwrap_or(""))),
        "SYST" => bare(Command::Syst),
        "NOOP" => bare(Command::Noop),
        "FEAT" => bare(Command::Feat),
        "QUIT" => bare(Command::Quit),
        "PWD" => bare(Command::Pwd),
        "CWD" => Ok(Command::Cwd(needed()?)),
        "TYPE" => parse_type(needed()?).map(Command::Type),
        "SIZE" => Ok(Command::Size(needed()?)),
        "PORT" => match transfer::parse_host_port(needed()?) {
            Some(addr) => Ok(Command::Port(addr)),
            None => Err(Error::BadPort),
        },
        "PASV" => bare(Command::Pasv),
        "RETR" => Ok(Command::Retr(needed()?)),
        _ => Err(Error::Unknown),
    }
}

fn parse_type(arg: &str) -> Result<Type, Error> {
    match arg.to_ascii_uppercase().as_str() {
        "A" | "A N" => Ok(Type::Ascii),
        "I" | "L 8" => Ok(Type::Image),
        _ => Err(Error::BadType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn lines(input: &[u8]) -> Vec<Line> {
        let mut r = Cursor::new(input);
        let mut out = Vec::new();
        loop {
            let line = read_line(&mut r).unwrap();
            let end = line != Line::Eof && line != Line::TooLong;
            out.push(line);
            if !end {
                return out;
            }
        }
    }

    fn text(s: &str) -> Line {
        Line::Text(s.as_bytes().to_vec())
    }

    #[test]
    fn line_endings() {
        assert_eq!(
            lines(b"USER a\r\nPASS b\nNOOP\r\r\n\nQUIT"),
            [
                text("USER a"),
                text("PASS b"),
                text("NOOP\r"), // only one CR belongs to the ending
                text(""),
                Line::Eof, // "QUIT" never ended
            ]
        );
    }

    #[test]
    fn line_length_limit() {
        let max = "x".repeat(MAX_LINE);
        let crlf = format!("{max}\r\n{max}\nNOOP\n");
        assert_eq!(
            lines(crlf.as_bytes()),
            [text(&max), text(&max), text("NOOP"), Line::Eof]
        );
        for long in [format!("{max}y\r\n"), format!("{max}y\n"), "z".repeat(5000)] {
            assert_eq!(lines(long.as_bytes()), [Line::TooLong], "{}", long.len());
        }
    }

    fn req(line: &str) -> Option<(String, Option<&str>)> {
        split(line.as_bytes()).map(|r| (r.verb, r.arg))
    }

    #[test]
    fn splitting() {
        assert_eq!(req("retr a b.txt"), Some(("RETR".into(), Some("a b.txt"))));
        assert_eq!(req("Pwd"), Some(("PWD".into(), None)));
        assert_eq!(req("CWD "), Some(("CWD".into(), None)));
        assert_eq!(req("CWD  x"), Some(("CWD".into(), Some(" x"))));
        assert_eq!(req("XYZZY 1"), Some(("XYZZY".into(), Some("1"))));
        for bad in [
            "",
            " ",
            " USER a",
            "US3R a",
            "USER\ta",
            "RETR a\rb",
            "USER a\0",
        ] {
            assert_eq!(req(bad), None, "{bad:?}");
        }
        assert_eq!(split(b"USER \xff"), None);
        assert!(split(b"feat").unwrap().allowed_before_login());
        assert!(!split(b"RETR x").unwrap().allowed_before_login());
    }

    fn cmd(line: &str) -> Result<Command<'_>, Error> {
        parse(&split(line.as_bytes()).expect(line))
    }

    #[test]
    fn commands() {
        assert_eq!(cmd("user klab"), Ok(Command::User("klab")));
        assert_eq!(cmd("PASS secret"), Ok(Command::Pass("secret")));
        assert_eq!(cmd("PASS"), Ok(Command::Pass("")));
        assert_eq!(cmd("SYST"), Ok(Command::Syst));
        assert_eq!(cmd("noop"), Ok(Command::Noop));
        assert_eq!(cmd("FEAT"), Ok(Command::Feat));
        assert_eq!(cmd("QUIT"), Ok(Command::Quit));
        assert_eq!(cmd("PWD"), Ok(Command::Pwd));
        assert_eq!(cmd("CWD /a/b"), Ok(Command::Cwd("/a/b")));
        assert_eq!(cmd("SIZE f"), Ok(Command::Size("f")));
        assert_eq!(cmd("PASV"), Ok(Command::Pasv));
        assert_eq!(cmd("RETR dir/f.txt"), Ok(Command::Retr("dir/f.txt")));
        assert_eq!(
            cmd("PORT 10,0,2,15,4,1"),
            Ok(Command::Port("10.0.2.15:1025".parse().unwrap()))
        );
        assert_eq!(cmd("LIST"), Err(Error::Unknown));
        assert_eq!(cmd("USER"), Err(Error::BadArgs));
        assert_eq!(cmd("RETR"), Err(Error::BadArgs));
        assert_eq!(cmd("PASV now"), Err(Error::BadArgs));
        assert_eq!(cmd("PORT 1,2,3,4,5"), Err(Error::BadPort));
        assert_eq!(Error::BadPort.reply(), (501, "Syntax error in PORT"));
    }

    #[test]
    fn types() {
        for (arg, want) in [
            ("A", Ok(Type::Ascii)),
            ("a", Ok(Type::Ascii)),
            ("A N", Ok(Type::Ascii)),
            ("I", Ok(Type::Image)),
            ("i", Ok(Type::Image)),
            ("L 8", Ok(Type::Image)),
            ("E", Err(Error::BadType)),
            ("A T", Err(Error::BadType)),
            ("L 7", Err(Error::BadType)),
            ("AI", Err(Error::BadType)),
        ] {
            assert_eq!(cmd(&format!("TYPE {arg}")), want.map(Command::Type));
        }
        assert_eq!(cmd("TYPE"), Err(Error::BadArgs));
    }

    #[test]
    fn log_forms() {
        assert_eq!(log_form(b"PASS hunter2"), "PASS ****");
        assert_eq!(log_form(b"pass hunter2\0"), "PASS ****");
        assert_eq!(log_form(b"PASS"), "PASS ****");
        assert_eq!(log_form(b"PASSWORD x"), "PASSWORD x");
        assert_eq!(log_form(b"retr a b"), "retr a b");
        assert_eq!(log_form(b"X\0\x1b\t\xff"), "X\\u{0}\\u{1b}\\t\u{fffd}");
    }
}
