//! One control connection: login state, current directory, transfer type
//! and the pending data connection, driven one command at a time.

use std::fmt::Display;
use std::fs::{self, File};
use std::io::{self, BufReader, ErrorKind, Write};
use std::mem;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use crate::command::{self, Command, Line, Type};
use crate::log::Log;
use crate::paths::{self, Found};
use crate::transfer::{self, Data};

/// How long a client may stay silent before the server hangs up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What all sessions share.
pub struct Server {
    /// Canonical.
    pub root: PathBuf,
    pub user: String,
    pub password: String,
    pub log: Log,
}

/// Serves one client until it quits, hangs up, times out or breaks the
/// rules badly enough. Errors on the control connection just end it.
pub fn run(ctl: TcpStream, server: &Server) {
    let Ok(input) = ctl.try_clone() else { return };
    let mut session = Session {
        server,
        ctl,
        input: BufReader::new(input),
        user: None,
        logged_in: false,
        cwd: "/".into(),
        ty: Type::Ascii,
        data: Data::None,
    };
    let _ = session.serve();
}

struct Session<'a> {
    server: &'a Server,
    ctl: TcpStream,
    input: BufReader<TcpStream>,
    /// The name given by USER, waiting for PASS.
    user: Option<String>,
    logged_in: bool,
    /// Virtual: "/" is the root.
    cwd: String,
    ty: Type,
    data: Data,
}

impl Session<'_> {
    fn serve(&mut self) -> io::Result<()> {
        self.ctl.set_read_timeout(Some(IDLE_TIMEOUT))?;
        self.reply(220, "klab ftpd ready")?;
        loop {
            let line = match command::read_line(&mut self.input) {
                Ok(Line::Text(line)) => line,
                Ok(Line::TooLong) => return self.reply(500, "Line too long"),
                Ok(Line::Eof) => return Ok(()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return self.reply(421, "Timeout")
                }
                Err(e) => return Err(e),
            };
            if !self.handle(&line)? {
                return Ok(());
            }
        }
    }

    fn log(&self, text: &str) {
        self.server.log.line(text);
    }

    fn reply(&mut self, code: u16, text: impl Display) -> io::Result<()> {
        let line = format!("{code} {text}");
        // Logged first, so the log is complete once the client has the reply.
        self.log(&format!("> {line}"));
        self.ctl.write_all(format!("{line}\r\n").as_bytes())
    }

    /// Carries out one command line; `false` ends the session.
    fn handle(&mut self, line: &[u8]) -> io::Result<bool> {
        self.log(&format!("< {}", command::log_form(line)));
        let Some(req) = command::split(line) else {
            self.reply(500, "Syntax error")?;
            return Ok(true);
        };
        if !self.logged_in && !req.allowed_before_login() {
            self.reply(530, "Please login with USER and PASS")?;
            return Ok(true);
        }
        let cmd = match command::parse(&req) {
            Ok(cmd) => cmd,
            Err(e) => {
                let (code, text) = e.reply();
                self.reply(code, text)?;
                return Ok(true);
            }
        };
        match cmd {
            Command::User(name) => {
                self.logged_in = false;
                self.user = Some(name.to_owned());
                self.reply(331, format_args!("Password required for {name}"))?;
            }
            Command::Pass(password) => self.pass(password)?,
            Command::Syst => self.reply(215, "UNIX Type: L8")?,
            Command::Noop => self.reply(200, "NOOP ok")?,
            Command::Feat => {
                let lines = ["211-Features:", " SIZE", " PASV", "211 End"];
                self.log(&format!("> {}", lines[0]));
                self.ctl
                    .write_all(format!("{}\r\n", lines.join("\r\n")).as_bytes())?;
            }
            Command::Quit => {
                self.reply(221, "Goodbye")?;
                return Ok(false);
            }
            Command::Pwd => {
                let quoted = self.cwd.replace('"', "\"\"");
                self.reply(257, format_args!("\"{quoted}\" is the current directory"))?;
            }
            Command::Cwd(arg) => self.cwd(arg)?,
            Command::Type(ty) => {
                self.ty = ty;
                let name = match ty {
                    Type::Ascii => "A",
                    Type::Image => "I",
                };
                self.reply(200, format_args!("Type set to {name}"))?;
            }
            Command::Size(arg) => match self.regular_file(arg) {
                Ok((_, size)) => self.reply(213, size)?,
                Err(text) => self.reply(550, text)?,
            },
            Command::Port(addr) => {
                self.data = Data::Active(addr);
                self.reply(200, "PORT command successful")?;
            }
            Command::Pasv => self.pasv()?,
            Command::Retr(arg) => self.retr(arg)?,
        }
        Ok(true)
    }

    fn pass(&mut self, password: &str) -> io::Result<()> {
        let Some(name) = self.user.take() else {
            return match self.logged_in {
                true => self.reply(503, "Already logged in"),
                false => self.reply(503, "Login with USER first"),
            };
        };
        if name != self.server.user || password != self.server.password {
            return self.reply(530, "Login incorrect");
        }
        self.logged_in = true;
        self.cwd = "/".into();
        self.ty = Type::Ascii;
        self.data = Data::None;
        self.reply(230, format_args!("User {name} logged in"))
    }

    fn find(&self, arg: &str) -> Result<Found, paths::Error> {
        paths::resolve(&self.server.root, &self.cwd, arg)
    }

    fn cwd(&mut self, arg: &str) -> io::Result<()> {
        match self.find(arg) {
            Ok(found) if found.real.is_dir() => {
                self.reply(250, format_args!("Directory changed to {}", found.virt))?;
                self.cwd = found.virt;
                Ok(())
            }
            Err(paths::Error::Denied) => self.reply(550, format_args!("{arg}: Permission denied")),
            _ => self.reply(550, format_args!("{arg}: No such directory")),
        }
    }

    /// The real path and size of the regular file `arg`, or the text of a
    /// 550 reply.
    fn regular_file(&self, arg: &str) -> Result<(PathBuf, u64), String> {
        let why = match self.find(arg) {
            Ok(found) => match fs::metadata(&found.real) {
                Ok(meta) if meta.is_file() => return Ok((found.real, meta.len())),
                Ok(_) => "Not a regular file",
                Err(_) => "No such file",
            },
            Err(paths::Error::Denied) => "Permission denied",
            Err(paths::Error::Missing) => "No such file",
        };
        Err(format!("{arg}: {why}"))
    }

    fn pasv(&mut self) -> io::Result<()> {
        // Close the previous listener (if any) whatever happens.
        self.data = Data::None;
        match self.ctl.local_addr().and_then(transfer::passive) {
            Ok((listener, addr)) => {
                self.data = Data::Passive(listener);
                let addr = transfer::format_host_port(addr);
                self.reply(227, format_args!("Entering Passive Mode ({addr})"))
            }
            Err(_) => self.reply(425, "Can't open passive connection"),
        }
    }

    /// Every RETR uses up the PORT/PASV setting, whatever the outcome.
    fn retr(&mut self, arg: &str) -> io::Result<()> {
        let data = mem::take(&mut self.data);
        let (path, size) = match self.regular_file(arg) {
            Ok(file) => file,
            Err(text) => return self.reply(550, text),
        };
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(_) => return self.reply(550, format_args!("{arg}: Permission denied")),
        };
        if let Data::None = data {
            return self.reply(425, "Use PORT or PASV first");
        }
        let mode = match self.ty {
            Type::Ascii => "ASCII",
            Type::Image => "BINARY",
        };
        self.reply(
            150,
            format_args!("Opening {mode} mode data connection for {arg} ({size} bytes)"),
        )?;
        let Ok(mut conn) = transfer::open(data) else {
            return self.reply(425, "Can't open data connection");
        };
        let sent = transfer::send(&mut file, &mut conn, self.ty == Type::Ascii);
        drop(conn); // the client sees the end of the file
        match sent {
            Ok(n) => {
                self.log(&format!("data: sent {n} bytes"));
                self.reply(226, "Transfer complete")
            }
            Err(e) => {
                self.log(&format!("data: {e}"));
                self.reply(426, "Connection closed; transfer aborted")
            }
        }
    }
}
