// SPDX-License-Identifier: GPL-2.0

//! Netlink-kthread lab, tasks 1 to 3: a kernel thread running a UDP echo server on
//! 127.0.0.1, port `port` (a module parameter, default 60002) (task 1), stopped cleanly on
//! rmmod (task 2), with its counters reported to user space over a generic netlink family,
//! `klab_echo` (task 3; `user/echo_stats.c` asks).
//!
//! Build and check it with `cargo xtask check netlink-kthread/1-3-echo`.

use core::net::{Ipv4Addr, SocketAddrV4};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::c_str;
use kernel::net::UdpSocket;
use kernel::prelude::*;
use kernel::sync::Arc;
// TODO 1/1: kernel threads
use kernel::kthread::Thread;
// TODO 3/1: generic netlink
use kernel::net::genetlink::{Family, Registration, Reply};

module! {
    type: Echo,
    name: "echo",
    author: "klab",
    description: "UDP echo server in a kernel thread, with generic netlink statistics",
    license: "GPL",
}

/// The port served when `insmod` sets none: `insmod echo.ko port=N` serves port N.
const ECHO_PORT: u16 = 60002;

kernel::module_param!(PORT: i32 = ECHO_PORT as i32, name: "port", desc: "UDP port to serve on 127.0.0.1 (default 60002)");

/// The `port` parameter as a port number (`EINVAL` when it is not one).
fn echo_port() -> Result<u16> {
    u16::try_from(PORT.get())
        .ok()
        .filter(|port| *port != 0)
        .ok_or(EINVAL)
}

// The `klab_echo` generic netlink interface, shared with user/echo_stats.c.
const KLAB_ECHO_CMD_GET_STATS: u8 = 1;
const KLAB_ECHO_ATTR_DATAGRAMS: u16 = 1;
const KLAB_ECHO_ATTR_BYTES: u16 = 2;
const KLAB_ECHO_ATTR_PORT: u16 = 3;

/// What the server counts; shared by the thread (which counts) and netlink (which reports).
struct Stats {
    datagrams: AtomicU64,
    bytes: AtomicU64,
}

/// The echo loop, run by the kernel thread: receive a datagram, send it back to its sender.
///
/// Returns when the socket is shut down (task 2) or fails.
fn serve(sock: &UdpSocket, stats: &Stats) -> Result {
    let mut buf = KVec::from_elem(0u8, 2048, GFP_KERNEL)?;
    loop {
        // TODO 1/8: receive a datagram (recv_from blocks); echo it back to its sender with send_to; count it
        let (len, peer) = match sock.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if e == ESHUTDOWN => return Ok(()),
            Err(e) => return Err(e),
        };
        sock.send_to(&buf[..len], peer)?;
        stats.datagrams.fetch_add(1, Ordering::Relaxed);
        stats.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }
}

/// The generic netlink side: answers KLAB_ECHO_CMD_GET_STATS with the counters.
struct StatsFamily {
    stats: Arc<Stats>,
    /// The port served, reported as KLAB_ECHO_ATTR_PORT.
    port: u16,
}

// TODO 3/19: implement Family for StatsFamily: name "klab_echo", command KLAB_ECHO_CMD_GET_STATS, reply with the three attributes
impl Family for StatsFamily {
    const NAME: &'static CStr = c_str!("klab_echo");
    const COMMANDS: &'static [u8] = &[KLAB_ECHO_CMD_GET_STATS];

    fn command(&self, cmd: u8, reply: &mut Reply) -> Result {
        if cmd != KLAB_ECHO_CMD_GET_STATS {
            return Err(EOPNOTSUPP);
        }
        reply.put_u64(
            KLAB_ECHO_ATTR_DATAGRAMS,
            self.stats.datagrams.load(Ordering::Relaxed),
        )?;
        reply.put_u64(
            KLAB_ECHO_ATTR_BYTES,
            self.stats.bytes.load(Ordering::Relaxed),
        )?;
        reply.put_u32(KLAB_ECHO_ATTR_PORT, u32::from(self.port))
    }
}

/// The module. Fields are dropped in declaration order when it is removed.
struct Echo {
    sock: Arc<UdpSocket>,
    stats: Arc<Stats>,
    // TODO 1/1: keep the thread
    thread: Option<Thread>,
    // TODO 3/1: keep the family registration
    _family: Pin<KBox<Registration<StatsFamily>>>,
}

impl kernel::Module for Echo {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let stats = Arc::new(
            Stats {
                datagrams: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
            },
            GFP_KERNEL,
        )?;
        let port = echo_port()?;
        let sock = Arc::new(
            UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))?,
            GFP_KERNEL,
        )?;

        // TODO 3/10: register the generic netlink family (KBox::pin_init of Registration::register), before the thread starts, so that a failure here has no thread to stop
        let family = KBox::pin_init(
            Registration::register(
                module,
                StatsFamily {
                    stats: stats.clone(),
                    port,
                },
            ),
            GFP_KERNEL,
        )?;

        // TODO 1/7: start a kernel thread named "klab_echo" that runs serve() with its own references to the socket and the counters, and logs its start and end
        let (thread_sock, thread_stats) = (sock.clone(), stats.clone());
        let thread = Thread::spawn(c_str!("klab_echo"), move |_me| {
            pr_info!("echo thread started on 127.0.0.1:{}\n", port);
            let result = serve(&thread_sock, &thread_stats);
            pr_info!("echo thread exiting\n");
            result
        })?;

        Ok(Echo {
            sock,
            stats,
            // TODO 1/1: keep the thread
            thread: Some(thread),
            // TODO 3/1: keep the registration
            _family: family,
        })
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        // TODO 2/6: stop the thread cleanly: shut the socket down first (its blocked recv_from then returns ESHUTDOWN; kthread_stop alone would interrupt it with an error), then stop it (Thread::stop waits)
        let _ = self.sock.shutdown();
        if let Some(thread) = self.thread.take() {
            if let Err(e) = thread.stop() {
                pr_err!("echo thread failed: {:?}\n", e);
            }
        }
        pr_info!(
            "echo stopped: {} datagrams, {} bytes echoed\n",
            self.stats.datagrams.load(Ordering::Relaxed),
            self.stats.bytes.load(Ordering::Relaxed)
        );
    }
}
