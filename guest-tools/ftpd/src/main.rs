//! `ftpd`: a small FTP server (an RFC 959 subset: login, PORT/PASV, RETR,
//! SIZE) for klab guest VMs. See `args::USAGE`.

mod args;
mod command;
mod log;
mod paths;
mod session;
mod transfer;

use std::net::TcpListener;
use std::process;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use args::Cmd;
use log::Log;
use session::Server;

fn main() {
    let opts = match args::parse(std::env::args_os().skip(1)) {
        Ok(Cmd::Run(opts)) => opts,
        Ok(Cmd::Help) => {
            println!("{}", args::USAGE);
            return;
        }
        Err(msg) => fail(2, &msg),
    };
    let root = match std::fs::canonicalize(&opts.root) {
        Ok(root) if root.is_dir() => root,
        Ok(_) => fail(
            2,
            &format!("--root {}: not a directory", opts.root.display()),
        ),
        Err(e) => fail(2, &format!("--root {}: {e}", opts.root.display())),
    };
    let log = match &opts.log {
        None => Log::stderr(),
        Some(path) => {
            Log::file(path).unwrap_or_else(|e| fail(2, &format!("--log {}: {e}", path.display())))
        }
    };
    let listener = TcpListener::bind(opts.listen)
        .unwrap_or_else(|e| fail(1, &format!("cannot listen on {}: {e}", opts.listen)));
    let addr = listener.local_addr().unwrap_or(opts.listen.into());
    eprintln!("ftpd: listening on {addr} root {}", opts.root.display());

    let server = Arc::new(Server {
        root,
        user: opts.user,
        password: opts.password,
        log,
    });
    for conn in listener.incoming() {
        match conn {
            Ok(ctl) => {
                let shared = Arc::clone(&server);
                // Builder, not thread::spawn: running out of threads must
                // drop this client, not abort the server.
                let spawned = thread::Builder::new().spawn(move || session::run(ctl, &shared));
                if let Err(e) = spawned {
                    server.log.line(&format!("thread: {e}"));
                }
            }
            Err(e) => {
                // E.g. out of file descriptors: wait for some to close.
                server.log.line(&format!("accept: {e}"));
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn fail(code: i32, msg: &str) -> ! {
    eprintln!("ftpd: {msg}");
    process::exit(code);
}
