//! Command-line parsing for `ftpd`.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: ftpd [--listen ADDR:PORT] [--root DIR] [--user NAME] [--password PASS] [--log FILE]
Serves the files under DIR over FTP (RETR, SIZE; PORT and PASV) to one user.
defaults: --listen 127.0.0.1:21 --root /srv/ftp --user klab --password klab;
the log (one line per command, reply and transfer) goes to stderr unless --log
names a file to append to.";

#[derive(Debug, PartialEq, Eq)]
pub struct Opts {
    pub listen: SocketAddrV4,
    pub root: PathBuf,
    pub user: String,
    pub password: String,
    /// `None`: stderr.
    pub log: Option<PathBuf>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Cmd {
    Run(Opts),
    Help,
}

/// Parses the arguments (without argv\[0\]). `Err` is a one-line message
/// naming the offending argument. Options take `--opt VALUE` or `--opt=VALUE`.
pub fn parse<I>(args: I) -> Result<Cmd, String>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut opts = Opts {
        listen: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 21),
        root: PathBuf::from("/srv/ftp"),
        user: "klab".into(),
        password: "klab".into(),
        log: None,
    };
    let mut it = args.into_iter().map(|a| {
        a.into()
            .into_string()
            .map_err(|a| format!("argument {a:?} is not valid UTF-8"))
    });
    while let Some(arg) = it.next() {
        let arg = arg?;
        if arg == "--help" || arg == "-h" {
            return Ok(Cmd::Help);
        }
        let (name, value) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        if !matches!(
            name,
            "--listen" | "--root" | "--user" | "--password" | "--log"
        ) {
            return Err(format!("unknown argument '{arg}' (see --help)"));
        }
        let value = match value {
            Some(v) => v,
            None => it
                .next()
                .ok_or_else(|| format!("{name} needs a value (see --help)"))??,
        };
        if value.is_empty() && name != "--password" {
            return Err(format!("{name} must not be empty"));
        }
        match name {
            "--listen" => {
                opts.listen = value
                    .parse()
                    .map_err(|_| format!("--listen: bad address '{value}' (want IPv4:PORT)"))?
            }
            "--root" => opts.root = value.into(),
            "--user" => opts.user = value,
            "--password" => opts.password = value,
            _ => opts.log = Some(value.into()),
        }
    }
    Ok(Cmd::Run(opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Opts {
        match parse(args) {
            Ok(Cmd::Run(o)) => o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let o = run(&[]);
        assert_eq!(o.listen.to_string(), "127.0.0.1:21");
        assert_eq!(o.root, PathBuf::from("/srv/ftp"));
        assert_eq!((o.user.as_str(), o.password.as_str()), ("klab", "klab"));
        assert_eq!(o.log, None);
    }

    #[test]
    fn all_options() {
        let o = run(&[
            "--listen",
            "0.0.0.0:2121",
            "--root=/tmp/x",
            "--user",
            "bob",
            "--password=",
            "--log",
            "/tmp/ftpd.log",
        ]);
        assert_eq!(
            o,
            Opts {
                listen: "0.0.0.0:2121".parse().unwrap(),
                root: "/tmp/x".into(),
                user: "bob".into(),
                password: String::new(),
                log: Some("/tmp/ftpd.log".into()),
            }
        );
        // The last occurrence wins.
        assert_eq!(run(&["--user", "a", "--user", "b"]).user, "b");
    }

    #[test]
    fn help() {
        assert_eq!(parse(["--help"]), Ok(Cmd::Help));
        assert_eq!(parse(["--root", "/x", "-h"]), Ok(Cmd::Help));
    }

    #[test]
    fn errors() {
        let err = |args: &[&str]| parse(args).expect_err(&format!("{args:?}"));
        assert_eq!(err(&["--port"]), "unknown argument '--port' (see --help)");
        assert_eq!(err(&["x"]), "unknown argument 'x' (see --help)");
        assert_eq!(err(&["--root"]), "--root needs a value (see --help)");
        assert_eq!(err(&["--user="]), "--user must not be empty");
        assert_eq!(
            err(&["--listen", "localhost:21"]),
            "--listen: bad address 'localhost:21' (want IPv4:PORT)"
        );
        assert!(err(&["--listen", "1.2.3.4"]).starts_with("--listen: "));
        assert!(err(&["--listen", "1.2.3.4:70000"]).starts_with("--listen: "));
    }
}
