//! Runs the real `ftpd` binary on 127.0.0.1 and drives whole sessions.

use std::fs;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// LF endings, one CRLF ending, and no final newline.
const TEXT: &[u8] = b"first line\nsecond line\r\nno newline at end";
/// `TEXT` as TYPE A sends it: every LF preceded by a CR.
const TEXT_A: &[u8] = b"first line\r\nsecond line\r\r\nno newline at end";
const WAIT: Duration = Duration::from_secs(10);

/// A running server with its own temporary root; killed and cleaned up on
/// drop, so also when a test fails.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    /// `dir/root` is served; `dir/secret.txt` lies outside it.
    fn start(name: &str) -> Server {
        let dir = std::env::temp_dir().join(format!("klab-ftpd-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let root = dir.join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("hello.txt"), TEXT).unwrap();
        fs::write(root.join("bytes.bin"), all_bytes()).unwrap();
        fs::write(root.join("sub/inner.txt"), b"inner\n").unwrap();
        fs::write(dir.join("secret.txt"), b"outside the root\n").unwrap();
        symlink("../secret.txt", root.join("escape")).unwrap();

        for _ in 0..10 {
            // A port that was free a moment ago; someone may take it first.
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(env!("CARGO_BIN_EXE_ftpd"))
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--root")
                .arg(&root)
                .arg("--log")
                .arg(dir.join("ftpd.log"))
                .stderr(Stdio::piped())
                .spawn()
                .expect("starting ftpd");
            let mut stderr = BufReader::new(child.stderr.take().unwrap());
            let mut first = String::new();
            let _ = stderr.read_line(&mut first);
            let want = format!(
                "ftpd: listening on 127.0.0.1:{port} root {}\n",
                root.display()
            );
            if first == want {
                // Keep the pipe drained in case anything else arrives.
                thread::spawn(move || io::copy(&mut stderr, &mut io::sink()));
                return Server { child, port, dir };
            }
            let _ = child.kill();
            let _ = child.wait();
            if !first.contains("cannot listen on") {
                let _ = fs::remove_dir_all(&dir);
                panic!("unexpected: {first:?}");
            }
        }
        let _ = fs::remove_dir_all(&dir);
        panic!("ftpd did not start: no free port");
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("ftpd.log")).unwrap()
    }
}

fn all_bytes() -> Vec<u8> {
    (0..=255u8).collect()
}

/// A control connection.
struct Client {
    input: BufReader<TcpStream>,
    output: TcpStream,
}

impl Client {
    fn connect(server: &Server) -> Client {
        let ctl = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        ctl.set_read_timeout(Some(WAIT)).unwrap();
        let mut client = Client {
            input: BufReader::new(ctl.try_clone().unwrap()),
            output: ctl,
        };
        assert_eq!(client.reply(), "220 klab ftpd ready");
        client
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.output.write_all(bytes).unwrap();
    }

    /// One reply line, checked for and stripped of its CRLF.
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.input.read_line(&mut line).unwrap();
        assert!(
            line.ends_with("\r\n"),
            "reply not CRLF-terminated: {line:?}"
        );
        line.truncate(line.len() - 2);
        line
    }

    /// One reply; the lines of a multi-line reply joined by '\n'.
    fn reply(&mut self) -> String {
        let mut reply = self.line();
        if reply.as_bytes().get(3) == Some(&b'-') {
            let last = format!("{} ", &reply[..3]);
            loop {
                let line = self.line();
                reply.push('\n');
                reply.push_str(&line);
                if line.starts_with(&last) {
                    break;
                }
            }
        }
        reply
    }

    fn cmd(&mut self, line: &str) -> String {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    fn login(&mut self) {
        assert_eq!(self.cmd("USER klab"), "331 Password required for klab");
        assert_eq!(self.cmd("PASS klab"), "230 User klab logged in");
    }

    fn at_eof(&mut self) -> bool {
        let mut rest = Vec::new();
        self.input.read_to_end(&mut rest).is_ok() && rest.is_empty()
    }

    /// PASV, connect, RETR: the 150 reply, the data, the final reply.
    fn retr_passive(&mut self, path: &str) -> (String, Vec<u8>, String) {
        let reply = self.cmd("PASV");
        let fields = reply
            .strip_prefix("227 Entering Passive Mode (")
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| panic!("PASV: {reply}"));
        let addr = parse_host_port(fields);
        assert_eq!(addr.ip().to_string(), "127.0.0.1");
        let mut data = TcpStream::connect(addr).unwrap();
        data.set_read_timeout(Some(WAIT)).unwrap();
        let opening = self.cmd(&format!("RETR {path}"));
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes).unwrap();
        (opening, bytes, self.reply())
    }

    /// PORT to a listener of ours, RETR: the 150 reply, the data, the
    /// final reply.
    fn retr_active(&mut self, path: &str) -> (String, Vec<u8>, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let [p1, p2] = port.to_be_bytes();
        assert_eq!(
            self.cmd(&format!("PORT 127,0,0,1,{p1},{p2}")),
            "200 PORT command successful"
        );
        let opening = self.cmd(&format!("RETR {path}"));
        let mut data = accept(&listener);
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes).unwrap();
        (opening, bytes, self.reply())
    }
}

fn parse_host_port(fields: &str) -> SocketAddrV4 {
    let n: Vec<u8> = fields.split(',').map(|f| f.parse().unwrap()).collect();
    assert_eq!(n.len(), 6, "{fields}");
    let port = u16::from_be_bytes([n[4], n[5]]);
    SocketAddrV4::new([n[0], n[1], n[2], n[3]].into(), port)
}

/// Accepts with a timeout, so a server that never connects fails the test.
fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(WAIT)).unwrap();
                return conn;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("the server did not connect: {e}"),
        }
    }
}

#[test]
fn login_required() {
    let server = Server::start("login");
    let mut c = Client::connect(&server);
    assert_eq!(c.cmd("SYST"), "215 UNIX Type: L8");
    assert_eq!(c.cmd("PWD"), "530 Please login with USER and PASS");
    assert_eq!(
        c.cmd("RETR hello.txt"),
        "530 Please login with USER and PASS"
    );
    assert_eq!(
        c.cmd("SIZE hello.txt"),
        "530 Please login with USER and PASS"
    );
    assert_eq!(c.cmd("PASV"), "530 Please login with USER and PASS");
    assert_eq!(c.cmd("LIST"), "530 Please login with USER and PASS");
    assert_eq!(c.cmd("PASS klab"), "503 Login with USER first");
    assert_eq!(c.cmd("USER klab"), "331 Password required for klab");
    assert_eq!(c.cmd("PASS wrong"), "530 Login incorrect");
    assert_eq!(c.cmd("CWD /"), "530 Please login with USER and PASS");
    assert_eq!(c.cmd("USER root"), "331 Password required for root");
    assert_eq!(c.cmd("PASS klab"), "530 Login incorrect");
    assert_eq!(c.cmd("PASS klab"), "503 Login with USER first");
    c.login();
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory");
    assert_eq!(c.cmd("PASS klab"), "503 Already logged in");
    // Each connection has its own session.
    let mut other = Client::connect(&server);
    assert_eq!(other.cmd("PWD"), "530 Please login with USER and PASS");
    assert_eq!(c.cmd("QUIT"), "221 Goodbye");
    assert!(c.at_eof());
    assert_eq!(other.cmd("quit"), "221 Goodbye");

    // The whole log is deterministic; passwords are hidden.
    let want = "\
> 220 klab ftpd ready
< SYST
> 215 UNIX Type: L8
< PWD
> 530 Please login with USER and PASS
< RETR hello.txt
> 530 Please login with USER and PASS
< SIZE hello.txt
> 530 Please login with USER and PASS
< PASV
> 530 Please login with USER and PASS
< LIST
> 530 Please login with USER and PASS
< PASS ****
> 503 Login with USER first
< USER klab
> 331 Password required for klab
< PASS ****
> 530 Login incorrect
< CWD /
> 530 Please login with USER and PASS
< USER root
> 331 Password required for root
< PASS ****
> 530 Login incorrect
< PASS ****
> 503 Login with USER first
< USER klab
> 331 Password required for klab
< PASS ****
> 230 User klab logged in
< PWD
> 257 \"/\" is the current directory
< PASS ****
> 503 Already logged in
> 220 klab ftpd ready
< PWD
> 530 Please login with USER and PASS
< QUIT
> 221 Goodbye
< quit
> 221 Goodbye
";
    assert_eq!(server.log(), want);
}

#[test]
fn passive_retr() {
    let server = Server::start("passive");
    let mut c = Client::connect(&server);
    c.login();
    // TYPE A is the default: LF becomes CRLF (and CRLF becomes CR CR LF).
    let (opening, data, done) = c.retr_passive("hello.txt");
    let n = TEXT.len();
    assert_eq!(
        opening,
        format!("150 Opening ASCII mode data connection for hello.txt ({n} bytes)")
    );
    assert_eq!(data, TEXT_A);
    assert_eq!(done, "226 Transfer complete");
    // The PASV was used up.
    assert_eq!(c.cmd("RETR hello.txt"), "425 Use PORT or PASV first");

    assert_eq!(c.cmd("TYPE I"), "200 Type set to I");
    let (opening, data, done) = c.retr_passive("/bytes.bin");
    assert_eq!(
        opening,
        "150 Opening BINARY mode data connection for /bytes.bin (256 bytes)"
    );
    assert_eq!(data, all_bytes());
    assert_eq!(done, "226 Transfer complete");
    let (_, data, _) = c.retr_passive("hello.txt");
    assert_eq!(data, TEXT);

    assert_eq!(c.cmd("TYPE A"), "200 Type set to A");
    let (_, data, _) = c.retr_passive("bytes.bin");
    assert_eq!(data.len(), 257); // the one LF (10) gained a CR
    assert_eq!(&data[..12], b"\0\x01\x02\x03\x04\x05\x06\x07\x08\x09\r\n");
    assert_eq!(c.cmd("QUIT"), "221 Goodbye");

    let log = server.log();
    for line in [
        "< RETR hello.txt\n",
        "data: sent 43 bytes\n> 226 Transfer complete\n",
        "data: sent 256 bytes\n",
        "data: sent 257 bytes\n",
        "> 425 Use PORT or PASV first\n",
    ] {
        assert!(log.contains(line), "{line:?} not in log:\n{log}");
    }
    assert_eq!((TEXT.len(), TEXT_A.len()), (41, 43));
}

#[test]
fn active_retr() {
    let server = Server::start("active");
    let mut c = Client::connect(&server);
    c.login();
    let (opening, data, done) = c.retr_active("hello.txt");
    let n = TEXT.len();
    assert_eq!(
        opening,
        format!("150 Opening ASCII mode data connection for hello.txt ({n} bytes)")
    );
    assert_eq!(data, TEXT_A);
    assert_eq!(done, "226 Transfer complete");

    assert_eq!(c.cmd("TYPE L 8"), "200 Type set to I");
    let (opening, data, done) = c.retr_active("bytes.bin");
    assert_eq!(
        opening,
        "150 Opening BINARY mode data connection for bytes.bin (256 bytes)"
    );
    assert_eq!(data, all_bytes());
    assert_eq!(done, "226 Transfer complete");

    // Nobody listening at the PORT address.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let [p1, p2] = closed.local_addr().unwrap().port().to_be_bytes();
    drop(closed);
    assert_eq!(
        c.cmd(&format!("PORT 127,0,0,1,{p1},{p2}")),
        "200 PORT command successful"
    );
    assert_eq!(
        c.cmd("RETR bytes.bin"),
        "150 Opening BINARY mode data connection for bytes.bin (256 bytes)"
    );
    assert_eq!(c.reply(), "425 Can't open data connection");
    assert_eq!(c.cmd("RETR bytes.bin"), "425 Use PORT or PASV first");
}

#[test]
fn paths_and_size() {
    let server = Server::start("paths");
    let mut c = Client::connect(&server);
    c.login();
    let n = TEXT.len();
    assert_eq!(c.cmd("SIZE hello.txt"), format!("213 {n}"));
    assert_eq!(c.cmd("SIZE /bytes.bin"), "213 256");
    assert_eq!(c.cmd("SIZE missing.txt"), "550 missing.txt: No such file");
    assert_eq!(c.cmd("SIZE sub"), "550 sub: Not a regular file");
    assert_eq!(c.cmd("PASV").get(..4), Some("227 "));
    assert_eq!(c.cmd("RETR missing.txt"), "550 missing.txt: No such file");
    assert_eq!(c.cmd("RETR sub"), "550 sub: Not a regular file");
    // Out of the root: `..`, and a symlink pointing outside.
    assert_eq!(
        c.cmd("SIZE ../secret.txt"),
        "550 ../secret.txt: Permission denied"
    );
    assert_eq!(
        c.cmd("RETR ../secret.txt"),
        "550 ../secret.txt: Permission denied"
    );
    assert_eq!(
        c.cmd("RETR /../secret.txt"),
        "550 /../secret.txt: Permission denied"
    );
    assert_eq!(
        c.cmd("RETR sub/../hello.txt"),
        "550 sub/../hello.txt: Permission denied"
    );
    assert_eq!(c.cmd("RETR escape"), "550 escape: Permission denied");
    assert_eq!(c.cmd("CWD .."), "550 ..: Permission denied");
    // Absolute paths are inside the root.
    assert_eq!(c.cmd("SIZE /secret.txt"), "550 /secret.txt: No such file");

    assert_eq!(c.cmd("CWD sub"), "250 Directory changed to /sub");
    assert_eq!(c.cmd("PWD"), "257 \"/sub\" is the current directory");
    assert_eq!(c.cmd("SIZE inner.txt"), "213 6");
    assert_eq!(c.cmd("SIZE hello.txt"), "550 hello.txt: No such file");
    assert_eq!(c.cmd("SIZE /hello.txt"), format!("213 {n}"));
    assert_eq!(c.cmd("CWD nowhere"), "550 nowhere: No such directory");
    assert_eq!(c.cmd("CWD /hello.txt"), "550 /hello.txt: No such directory");
    assert_eq!(c.cmd("CWD .."), "550 ..: Permission denied");
    assert_eq!(c.cmd("PWD"), "257 \"/sub\" is the current directory");
    let (_, data, _) = c.retr_passive("inner.txt");
    assert_eq!(data, b"inner\r\n");
    assert_eq!(c.cmd("CWD /"), "250 Directory changed to /");
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory");
}

#[test]
fn syntax_and_misc() {
    let server = Server::start("misc");
    let mut c = Client::connect(&server);
    assert_eq!(c.cmd("FEAT"), "211-Features:\n SIZE\n PASV\n211 End");
    assert_eq!(c.cmd("noop"), "200 NOOP ok");
    // Bare LF endings work too.
    c.send_raw(b"SySt\n");
    assert_eq!(c.reply(), "215 UNIX Type: L8");
    assert_eq!(c.cmd(""), "500 Syntax error");
    assert_eq!(c.cmd("4 score"), "500 Syntax error");
    c.login();
    assert_eq!(c.cmd("XYZZY"), "502 Command not implemented");
    assert_eq!(c.cmd("LIST"), "502 Command not implemented");
    assert_eq!(
        c.cmd("TYPE E"),
        "504 Command not implemented for that parameter"
    );
    assert_eq!(c.cmd("type i"), "200 Type set to I");
    assert_eq!(c.cmd("TYPE a"), "200 Type set to A");
    assert_eq!(c.cmd("PORT 127,0,0,1,4"), "501 Syntax error in PORT");
    assert_eq!(c.cmd("PORT 127,0,0,1,4,256"), "501 Syntax error in PORT");
    assert_eq!(c.cmd("PORT 127,0,0,1,4,1"), "200 PORT command successful");
    // PASV replaces PORT, PORT replaces PASV.
    assert_eq!(c.cmd("PASV").get(..4), Some("227 "));
    assert_eq!(c.cmd("PORT 127,0,0,1,4,1"), "200 PORT command successful");
    assert_eq!(c.cmd("RETR"), "501 Syntax error in parameters or arguments");
    // The longest accepted line, then one byte more.
    let max = format!("SIZE {}", "x".repeat(1024 - 5));
    assert_eq!(c.cmd(&max), format!("550 {}: No such file", &max[5..]));
    assert_eq!(c.cmd(&format!("{max}x")), "500 Line too long");
    assert!(c.at_eof());
    let log = server.log();
    assert!(log.contains("\n> 211-Features:\n< noop\n"), "{log}");
    assert!(
        log.contains("\n< SySt\n> 215 UNIX Type: L8\n< \n> 500 Syntax error\n"),
        "{log}"
    );
    assert!(log.ends_with("\n> 500 Line too long\n"), "{log}");
}

#[test]
fn bad_arguments() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ftpd"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ftpd: unknown argument '--bogus' (see --help)\n"
    );
    let out = run(&["--listen", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("ftpd: --listen: "));
    let out = run(&["--root", "/nonexistent/klab-ftpd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("ftpd: --root /nonexistent/klab-ftpd: ")
    );
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage: ftpd "));

    // Bind failure: the address is in use.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&["--listen", &addr, "--root", "/"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("ftpd: cannot listen on {addr}: ")),
        "{err}"
    );
}
