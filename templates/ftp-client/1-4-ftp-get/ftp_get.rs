// SPDX-License-Identifier: GPL-2.0

//! FTP-client lab, tasks 1 to 4: a kernel FTP client that downloads a file into the guest's
//! file system, with kernel sockets.
//!
//! Root triggers a download by writing `REMOTE-PATH LOCAL-PATH` to `/dev/ftp_get` (the
//! article this lab follows added a system call instead; README.md says why we do not). The
//! module then logs in (task 1), retrieves the file over an active-mode data connection in
//! binary mode (task 2), or a passive-mode one with `passive=1` (task 3), and refuses local
//! paths that are not plain files of the file system (task 4).
//!
//! Build and check it with `cargo xtask check ftp-client/1-4-ftp-get`.

use core::net::{Ipv4Addr, SocketAddrV4};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::c_str;
use kernel::fs::KernelFile;
use kernel::miscdevice::{MiscDevice, MiscDeviceRegistration};
use kernel::net::{TcpListener, TcpStream};
use kernel::prelude::*;
use kernel::str::{BStr, CString};
use kernel::uaccess::UserSliceReader;

module! {
    type: FtpGet,
    name: "ftp_get",
    author: "klab",
    description: "A kernel FTP client: downloads a file on a write to /dev/ftp_get",
    license: "GPL",
}

kernel::module_param!(SERVER: &CStr = "127.0.0.1", name: "server", desc: "FTP server IPv4 address");
kernel::module_param!(PORT: i32 = 21, name: "port", desc: "FTP server control port");
kernel::module_param!(USER: &CStr = "klab", name: "user", desc: "FTP user name");
kernel::module_param!(PASSWORD: &CStr = "klab", name: "password", desc: "FTP password");
kernel::module_param!(PASSIVE: i32 = 0, name: "passive", desc: "1: passive mode (PASV), 0: active (PORT)");

/// How long the server may keep us waiting, per reply, connection or read.
const TIMEOUT_MS: u32 = 5000;

/// The longest reply line we accept.
const MAX_LINE: usize = 1024;

/// One reply of the server: the code and the text of its (last) line.
struct Reply {
    code: u32,
    line: KVec<u8>,
}

/// The control connection: commands out, replies in.
struct Control {
    stream: TcpStream,
    /// Received bytes not yet consumed as reply lines.
    pending: KVec<u8>,
}

impl Control {
    fn connect(addr: SocketAddrV4) -> Result<Self> {
        let stream = TcpStream::connect(addr).inspect_err(|e| {
            pr_err!("cannot connect to {}: {:?}\n", addr, e);
        })?;
        stream.set_timeout(Some(TIMEOUT_MS));
        Ok(Control {
            stream,
            pending: KVec::new(),
        })
    }

    /// Sends one command line; `\r\n` is appended.
    fn send(&mut self, args: core::fmt::Arguments<'_>) -> Result {
        let line = CString::try_from_fmt(kernel::fmt!("{}\r\n", args))?;
        self.stream.write_all(line.as_bytes())
    }

    /// Reads one line (without its line ending).
    fn read_line(&mut self) -> Result<KVec<u8>> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let text = &self.pending[..end];
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                let mut line = KVec::with_capacity(text.len(), GFP_KERNEL)?;
                line.extend_from_slice(text, GFP_KERNEL)?;
                let mut rest = KVec::new();
                rest.extend_from_slice(&self.pending[end + 1..], GFP_KERNEL)?;
                self.pending = rest;
                return Ok(line);
            }
            if self.pending.len() > MAX_LINE {
                return Err(EPROTO);
            }
            let mut buf = [0u8; 256];
            let n = self.stream.read(&mut buf)?;
            if n == 0 {
                pr_err!("the server closed the control connection\n");
                return Err(ECONNRESET);
            }
            self.pending.extend_from_slice(&buf[..n], GFP_KERNEL)?;
        }
    }

    /// Reads one reply, also a multi-line one (`123-first line` ... `123 last line`).
    fn reply(&mut self) -> Result<Reply> {
        let first = self.read_line()?;
        let code = reply_code(&first)?;
        let mut line = first;
        if line.get(3) == Some(&b'-') {
            loop {
                line = self.read_line()?;
                if reply_code(&line) == Ok(code) && line.get(3) == Some(&b' ') {
                    break;
                }
            }
        }
        Ok(Reply { code, line })
    }

    /// Reads a reply and checks its code: another code is logged and becomes an error.
    fn expect(&mut self, code: u32) -> Result<Reply> {
        let reply = self.reply()?;
        if reply.code != code {
            pr_err!(
                "expected a {} reply, the server said: {}\n",
                code,
                BStr::from_bytes(&reply.line)
            );
            return Err(match reply.code {
                530 => EACCES,
                550 => ENOENT,
                _ => EPROTO,
            });
        }
        Ok(reply)
    }

    /// Sends a command and checks the code of its reply.
    fn command(&mut self, args: core::fmt::Arguments<'_>, code: u32) -> Result<Reply> {
        self.send(args)?;
        self.expect(code)
    }
}

/// The three-digit code at the start of a reply line.
fn reply_code(line: &[u8]) -> Result<u32> {
    match line {
        [a @ b'1'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
            Ok(u32::from(a - b'0') * 100 + u32::from(b - b'0') * 10 + u32::from(c - b'0'))
        }
        _ => {
            pr_err!("not an FTP reply: {}\n", BStr::from_bytes(line));
            Err(EPROTO)
        }
    }
}

/// The address in a PASV reply: `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)`.
fn parse_pasv(line: &[u8]) -> Result<SocketAddrV4> {
    let open = line.iter().position(|&b| b == b'(').ok_or(EPROTO)?;
    let close = line.iter().rposition(|&b| b == b')').ok_or(EPROTO)?;
    let inner = line.get(open + 1..close).ok_or(EPROTO)?;
    let mut n = [0u8; 6];
    let mut fields = inner.split(|&b| b == b',');
    for slot in n.iter_mut() {
        let field = core::str::from_utf8(fields.next().ok_or(EPROTO)?).map_err(|_| EPROTO)?;
        *slot = field.trim().parse::<u8>().map_err(|_| EPROTO)?;
    }
    if fields.next().is_some() {
        return Err(EPROTO);
    }
    let ip = Ipv4Addr::new(n[0], n[1], n[2], n[3]);
    Ok(SocketAddrV4::new(
        ip,
        u16::from(n[4]) << 8 | u16::from(n[5]),
    ))
}

/// The control address from the module parameters.
fn server_addr() -> Result<SocketAddrV4> {
    let ip = SERVER.get().to_str()?.parse::<Ipv4Addr>().map_err(|_| {
        pr_err!("server={} is not an IPv4 address\n", SERVER.get());
        EINVAL
    })?;
    let port = u16::try_from(PORT.get()).map_err(|_| EINVAL)?;
    Ok(SocketAddrV4::new(ip, port))
}

/// Logs in with the `user` and `password` parameters.
fn login(ctl: &mut Control) -> Result {
    // TODO 1/3: read the server's greeting (220), send USER (331 expected) and PASS (230 expected)
    ctl.expect(220)?;
    ctl.command(kernel::fmt!("USER {}", USER.get()), 331)?;
    ctl.command(kernel::fmt!("PASS {}", PASSWORD.get()), 230)?;
    Ok(())
}

/// A data connection being set up: active mode waits for the server to connect to us.
enum Data {
    Active(TcpListener),
    Passive(TcpStream),
}

impl Data {
    /// The connected data stream, once RETR was accepted.
    fn stream(self) -> Result<TcpStream> {
        match self {
            Data::Active(listener) => listener.accept(),
            Data::Passive(stream) => Ok(stream),
        }
    }
}

/// Active mode: listen on the control connection's local address and tell the server (PORT).
#[allow(unused_assignments)] // `data` stays `None` in the skeleton
fn active(ctl: &mut Control) -> Result<Data> {
    let mut data: Option<TcpListener> = None;
    // TODO 2/18: listen on the control connection's local IP, port 0; send PORT h1,h2,h3,h4,p1,p2 (200 expected)
    let ip = *ctl.stream.local_addr()?.ip();
    let listener = TcpListener::bind(SocketAddrV4::new(ip, 0), 1)?;
    listener.set_timeout(Some(TIMEOUT_MS));
    let [h1, h2, h3, h4] = ip.octets();
    let port = listener.local_addr()?.port();
    ctl.command(
        kernel::fmt!(
            "PORT {},{},{},{},{},{}",
            h1,
            h2,
            h3,
            h4,
            port >> 8,
            port & 0xff
        ),
        200,
    )?;
    data = Some(listener);
    data.map(Data::Active).ok_or(EOPNOTSUPP)
}

/// Passive mode: ask the server where to connect (PASV) and connect there.
#[allow(unused_assignments)] // `data` stays `None` in the skeleton
fn passive(ctl: &mut Control) -> Result<Data> {
    let mut data: Option<TcpStream> = None;
    // TODO 3/4: send PASV (227 expected), parse its address with parse_pasv and connect to it
    let reply = ctl.command(kernel::fmt!("PASV"), 227)?;
    let stream = TcpStream::connect(parse_pasv(&reply.line)?)?;
    stream.set_timeout(Some(TIMEOUT_MS));
    data = Some(stream);
    data.map(Data::Passive).ok_or(EOPNOTSUPP)
}

/// Downloads `remote` into a new file `local`; returns the number of bytes written.
fn download(remote: &str, local: &CStr) -> Result<u64> {
    let mut ctl = Control::connect(server_addr()?)?;
    login(&mut ctl)?;
    // TODO 2/1: switch to binary mode: TYPE I (200 expected); ASCII mode would rewrite line endings
    ctl.command(kernel::fmt!("TYPE I"), 200)?;
    let data = if PASSIVE.get() != 0 {
        passive(&mut ctl)?
    } else {
        active(&mut ctl)?
    };
    ctl.command(kernel::fmt!("RETR {}", remote), 150)?;
    let stream = data.stream()?;
    stream.set_timeout(Some(TIMEOUT_MS));
    let mut file = KernelFile::create_new(local, 0o644)?;
    let mut buf = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
    // TODO 2/7: copy the data connection into the file until the server closes it (read returns 0)
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])?;
    }
    drop(stream);
    ctl.expect(226)?;
    // Be polite; the download succeeded whatever QUIT gets.
    let _ = ctl.command(kernel::fmt!("QUIT"), 221);
    Ok(file.len())
}

/// Whether kernel code may create `path`: an absolute path, no `.` or `..` component, and not
/// under the pseudo file systems /dev, /proc and /sys.
fn local_path_allowed(path: &[u8]) -> bool {
    let mut allowed = true;
    // TODO 4/7: set `allowed` to false for relative paths, paths with a `.` or `..` component, and paths under /dev, /proc and /sys
    let mut components = path.split(|&b| b == b'/').filter(|c| !c.is_empty());
    let first = components.clone().next();
    let relative = path.first() != Some(&b'/');
    let dotted = components.any(|c| c == b"." || c == b"..");
    if relative || dotted || matches!(first, Some(b"dev" | b"proc" | b"sys")) {
        allowed = false;
    }
    allowed
}

/// `/dev/ftp_get`: each write is one download request, `REMOTE LOCAL`.
struct FtpDevice {
    busy: AtomicBool,
}

impl FtpDevice {
    fn handle(&self, request: &[u8]) -> Result {
        let text = core::str::from_utf8(request).map_err(|_| EINVAL)?;
        let mut words = text.split_whitespace();
        let (Some(remote), Some(local), None) = (words.next(), words.next(), words.next()) else {
            pr_err!("expected \"REMOTE-PATH LOCAL-PATH\"\n");
            return Err(EINVAL);
        };
        if !local_path_allowed(local.as_bytes()) {
            pr_err!("refusing to write {}: not a plain file path\n", local);
            return Err(EPERM);
        }
        let local_c = CString::try_from_fmt(kernel::fmt!("{}", local))?;
        match download(remote, &local_c) {
            Ok(len) => {
                pr_info!(
                    "retrieved {} -> {}: return = {} (length of file copied)\n",
                    remote,
                    local,
                    len
                );
                Ok(())
            }
            Err(e) => {
                pr_err!("download of {} failed: {:?}\n", remote, e);
                Err(e)
            }
        }
    }
}

impl MiscDevice for FtpDevice {
    fn write(&self, data: UserSliceReader) -> Result<usize> {
        let len = data.len();
        if len > 512 {
            return Err(EINVAL);
        }
        let mut request = KVec::new();
        data.read_all(&mut request, GFP_KERNEL)?;
        // One download at a time.
        if self.busy.swap(true, Ordering::Acquire) {
            return Err(EBUSY);
        }
        let result = self.handle(&request);
        self.busy.store(false, Ordering::Release);
        result.map(|()| len)
    }
}

/// The module: the device exists while it is loaded.
struct FtpGet {
    _device: Pin<KBox<MiscDeviceRegistration<FtpDevice>>>,
}

impl kernel::Module for FtpGet {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let addr = server_addr()?;
        let device = KBox::pin_init(
            MiscDeviceRegistration::register(
                c_str!("ftp_get"),
                module,
                FtpDevice {
                    busy: AtomicBool::new(false),
                },
            ),
            GFP_KERNEL,
        )?;
        let mode = if PASSIVE.get() != 0 {
            "passive"
        } else {
            "active"
        };
        pr_info!("/dev/ftp_get ready: server {}, {} mode\n", addr, mode);
        Ok(FtpGet { _device: device })
    }
}
