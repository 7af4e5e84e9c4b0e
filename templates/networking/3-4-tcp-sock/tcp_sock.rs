// SPDX-License-Identifier: GPL-2.0

//! Networking lab, tasks 3 and 4: a kernel TCP socket that listens on 127.0.0.1, port `port`
//! (a module parameter, default 60000) (task 3) and accepts one connection while the module
//! loads (task 4). `insmod` does not return before a client has connected.
//!
//! Build and check it with `cargo xtask check networking/3-4-tcp-sock`.

use kernel::prelude::*;
// TODO 1/2: socket addresses and the listening socket
use core::net::{Ipv4Addr, SocketAddrV4};
use kernel::net::TcpListener;
// TODO 2/1: the socket of an accepted connection
use kernel::net::TcpStream;

module! {
    type: TcpSock,
    name: "tcp_sock",
    author: "klab",
    description: "Kernel TCP socket: listen and accept one connection",
    license: "GPL",
}

const MY_TCP_PORT: u16 = 60000;
const LISTEN_BACKLOG: u32 = 5;

// The port to listen on: MY_TCP_PORT unless insmod says otherwise (port=N).
kernel::module_param!(PORT: i32 = MY_TCP_PORT as i32, name: "port", desc: "TCP port to listen on, on 127.0.0.1 (default 60000)");

/// The `port` parameter as a port number (`EINVAL` when it is not one).
fn port() -> Result<u16> {
    u16::try_from(PORT.get())
        .ok()
        .filter(|port| *port != 0)
        .ok_or(EINVAL)
}

/// The module. Its sockets are released when it is removed (`rmmod tcp_sock`): dropping a
/// socket closes it.
struct TcpSock {
    // TODO 1/1: keep the listening socket
    _listener: TcpListener,
    // TODO 2/1: keep the socket of the accepted connection
    _stream: TcpStream,
}

impl kernel::Module for TcpSock {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let port = port()?;
        // TODO 1/1: address to listen on: 127.0.0.1 (Ipv4Addr::LOCALHOST), port `port`
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);

        // TODO 1/3: create a TCP socket bound to addr, listening with a backlog of LISTEN_BACKLOG
        let listener = TcpListener::bind(addr, LISTEN_BACKLOG).inspect_err(|e| {
            pr_err!("cannot listen on {}: {:?}\n", addr, e);
        })?;

        // TODO 2/3: accept a connection; this blocks until a client connects
        let stream = listener
            .accept()
            .inspect_err(|e| pr_err!("accept failed: {:?}\n", e))?;

        // TODO 2/4: get the address of the peer and print "Connection established to <address>:<port>"
        let peer = stream
            .peer_addr()
            .inspect_err(|e| pr_err!("cannot get the peer address: {:?}\n", e))?;
        pr_info!("Connection established to {}\n", peer);

        Ok(TcpSock {
            // TODO 1/1: the listening socket stays open until the module is removed
            _listener: listener,
            // TODO 2/1: so does the connection
            _stream: stream,
        })
    }
}
