// SPDX-License-Identifier: GPL-2.0

//! Networking lab, task 5: a kernel UDP socket that sends one datagram, `MY_TEST_MESSAGE`, to
//! 127.0.0.1, port `port` (a module parameter, default 60001), when the module is loaded.
//!
//! Build and check it with `cargo xtask check networking/5-udp-sock`.

use kernel::prelude::*;
// TODO 1/2: socket addresses and the UDP socket
use core::net::{Ipv4Addr, SocketAddrV4};
use kernel::net::UdpSocket;

module! {
    type: UdpSock,
    name: "udp_sock",
    author: "klab",
    description: "Kernel UDP socket: send one datagram",
    license: "GPL",
}

const MY_UDP_REMOTE_PORT: u16 = 60001;
const MY_TEST_MESSAGE: &[u8] = b"kernelsocket\n";

// The port to send to: MY_UDP_REMOTE_PORT unless insmod says otherwise (port=N).
kernel::module_param!(PORT: i32 = MY_UDP_REMOTE_PORT as i32, name: "port", desc: "UDP port on 127.0.0.1 to send the message to (default 60001)");

/// The `port` parameter as a port number (`EINVAL` when it is not one).
fn port() -> Result<u16> {
    u16::try_from(PORT.get())
        .ok()
        .filter(|port| *port != 0)
        .ok_or(EINVAL)
}

/// The module. Its socket is released when it is removed (`rmmod udp_sock`).
struct UdpSock {
    // TODO 1/1: keep the socket
    _sock: UdpSocket,
}

impl kernel::Module for UdpSock {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let port = port()?;
        // TODO 1/4: create a kernel UDP socket: any local address (0.0.0.0), port 0 (the kernel picks one)
        let sock =
            UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).inspect_err(|e| {
                pr_err!("cannot create the socket: {:?}\n", e);
            })?;

        // TODO 2/1: destination address: 127.0.0.1 (Ipv4Addr::LOCALHOST), port `port`
        let raddr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);

        // TODO 2/3: send MY_TEST_MESSAGE (all of it, one datagram) to raddr
        sock.send_to(MY_TEST_MESSAGE, raddr).inspect_err(|e| {
            pr_err!("cannot send the message: {:?}\n", e);
        })?;

        Ok(UdpSock {
            // TODO 1/1: the socket stays open until the module is removed
            _sock: sock,
        })
    }
}
