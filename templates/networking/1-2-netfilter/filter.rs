// SPDX-License-Identifier: GPL-2.0

//! Networking lab, tasks 1 and 2: a netfilter hook that logs the packets starting an outgoing
//! TCP connection (SYN set, ACK clear), optionally only those sent to one destination address.
//! The address is set from user space with the `MY_IOCTL_FILTER_ADDRESS` ioctl on `/dev/filter`
//! (see `user/test.c`).
//!
//! Build and check it with `cargo xtask check networking/1-2-netfilter`.

use core::net::Ipv4Addr;
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::ioctl::_IOW;
use kernel::miscdevice::{IoctlArg, MiscDevice};
use kernel::net::filter::{Filter, Verdict};
use kernel::net::skbuff::SkBuff;
use kernel::prelude::*;
// TODO 1/1: the hook registration and the hook points
use kernel::net::filter::{self, Hook};
// TODO 2/2: the misc device registration and its name
use kernel::c_str;
use kernel::miscdevice::MiscDeviceRegistration;

module! {
    type: FilterModule,
    name: "filter",
    author: "klab",
    description: "Log outgoing TCP connection requests, filtered by destination",
    license: "GPL",
}

/// Set the destination address to filter on. The argument points to an IPv4 address in network
/// byte order (a `__u32`, the `s_addr` of a `struct in_addr`); 0.0.0.0 clears the filter.
/// Same number as `MY_IOCTL_FILTER_ADDRESS` in `filter.h`, which `user/test.c` uses.
const MY_IOCTL_FILTER_ADDRESS: u32 = _IOW::<u32>(b'k' as u32, 1);

/// Destination address to log, as the ioctl passes it (the bytes of the address in network
/// order, read as a `u32`); 0 means "log all". Shared by the hook and the device: an atomic,
/// because the hook runs on any CPU while an ioctl may change it.
static IOCTL_SET_ADDR: AtomicU32 = AtomicU32::new(0);

/// Returns `true` if a connection request sent to `daddr` must be logged.
fn test_daddr(daddr: Ipv4Addr) -> bool {
    // TODO 2/4: when a filter address is set (non-zero), log only packets sent to it
    let filter_addr = IOCTL_SET_ADDR.load(Ordering::Relaxed);
    if filter_addr != 0 && Ipv4Addr::from(filter_addr.to_ne_bytes()) != daddr {
        return false;
    }

    true
}

/// The netfilter hook: called for every IPv4 packet at the hook point it is registered at.
struct SynLogger;

impl Filter for SynLogger {
    fn filter(&self, skb: &SkBuff) -> Verdict {
        // TODO 1/6: get copies of the IP and TCP headers; keep only SYN packets without ACK
        let (Some(ip), Some(tcp)) = (skb.ipv4_header(), skb.tcp_header()) else {
            return Verdict::Accept;
        };
        if !tcp.syn() || tcp.ack() {
            return Verdict::Accept;
        }

        // TODO 2/3: skip the packet if its destination does not pass test_daddr()
        if !test_daddr(ip.destination()) {
            return Verdict::Accept;
        }

        // TODO 1/6: print "TCP connection initiated from <source address>:<source port>"
        pr_info!(
            "TCP connection initiated from {}:{}\n",
            ip.source(),
            tcp.source_port()
        );

        // Only watch the traffic: let every packet through.
        Verdict::Accept
    }
}

/// The handler of `/dev/filter`.
struct FilterDevice;

impl MiscDevice for FilterDevice {
    fn ioctl(&self, cmd: u32, arg: IoctlArg) -> Result<isize> {
        match cmd {
            MY_IOCTL_FILTER_ADDRESS => {
                // TODO 2/2: copy the u32 that arg points to and store it in IOCTL_SET_ADDR
                let addr = arg.read::<u32>()?;
                IOCTL_SET_ADDR.store(addr, Ordering::Relaxed);
            }
            _ => return Err(ENOTTY),
        }

        Ok(0)
    }
}

/// The module. Its fields are dropped when it is removed (`rmmod filter`), which undoes the
/// registrations.
struct FilterModule {
    // TODO 1/1: keep the hook registration: dropping it unregisters the hook
    _hook: Pin<KBox<filter::Registration<SynLogger>>>,
    // TODO 2/1: keep the misc device registration: dropping it removes /dev/filter
    _dev: Pin<KBox<MiscDeviceRegistration<FilterDevice>>>,
}

impl kernel::Module for FilterModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // No filter until user space sets one: log every connection request.
        IOCTL_SET_ADDR.store(0, Ordering::Relaxed);

        // TODO 1/5: register SynLogger for IPv4 packets generated on this host, ahead of the other hooks
        let hook = KBox::pin_init(
            filter::Registration::new(Hook::LocalOut, filter::priority::FIRST, SynLogger),
            GFP_KERNEL,
        )
        .inspect_err(|e| pr_err!("cannot register the netfilter hook: {:?}\n", e))?;

        // TODO 2/5: register the misc device "filter" (/dev/filter), handled by FilterDevice
        let dev = KBox::pin_init(
            MiscDeviceRegistration::register(c_str!("filter"), module, FilterDevice),
            GFP_KERNEL,
        )
        .inspect_err(|e| pr_err!("cannot register /dev/filter: {:?}\n", e))?;

        Ok(FilterModule {
            // TODO 1/1: the hook stays registered as long as the module holds it
            _hook: hook,
            // TODO 2/1: so does the device
            _dev: dev,
        })
    }
}
