// SPDX-License-Identifier: GPL-2.0

//! char-device lab, tasks 1-4: `chrbuf`, a misc character device that holds a buffer of
//! `CHRBUF_SIZE` bytes. User space writes and reads it like a small file (with offsets),
//! empties it with an ioctl, and only one process may have it open at a time.
//!
//! The device name, the buffer size and the ioctl numbers are those of `include/chrbuf.h`,
//! which the test program (`user/test.c`) uses.
//!
//! Build and check it with `cargo xtask check char-device/1-4-chrbuf`.

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::miscdevice::{IoctlArg, MiscDevice};
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::uaccess::{UserSliceReader, UserSliceWriter};
// TODO 1/3: the misc device registration, its name and the in-place initialisers
use kernel::c_str;
use kernel::miscdevice::MiscDeviceRegistration;
use kernel::{new_mutex, try_pin_init};
// TODO 3/1: the ioctl number helpers
use kernel::ioctl::{_IO, _IOR};

module! {
    type: ChrBufModule,
    name: "chrbuf",
    author: "klab",
    description: "A misc character device holding a buffer",
    license: "GPL",
}

/// Size of the buffer, in bytes: `CHRBUF_SIZE` in `include/chrbuf.h`.
const CHRBUF_SIZE: usize = 64;

// TODO 3/5: the numbers of include/chrbuf.h: CHRBUF_IOCTL_CLEAR is _IO('k', 0x20), CHRBUF_IOCTL_LENGTH is _IOR('k', 0x21, __u32)
/// Empties the buffer. No argument.
const CHRBUF_IOCTL_CLEAR: u32 = _IO(b'k' as u32, 0x20);
/// Stores the number of bytes in the buffer in the `u32` the argument points to.
const CHRBUF_IOCTL_LENGTH: u32 = _IOR::<u32>(b'k' as u32, 0x21);

/// The data of the device.
struct Buffer {
    data: [u8; CHRBUF_SIZE],
    /// How many bytes of `data` are valid (what a read sees), 0 to `CHRBUF_SIZE`.
    len: usize,
}

/// The handler of `/dev/chrbuf`: one buffer, shared by every open file.
#[pin_data]
struct ChrBuf {
    /// Reads, writes and ioctls may run concurrently: the buffer is behind a lock.
    #[pin]
    buffer: Mutex<Buffer>,
    /// `true` while a file of the device is open.
    busy: AtomicBool,
}

impl MiscDevice for ChrBuf {
    fn open(&self) -> Result {
        // TODO 4/3: only one open file at a time: if the device is busy return EBUSY, else mark it busy (atomically)
        if self.busy.swap(true, Ordering::Acquire) {
            return Err(EBUSY);
        }

        Ok(())
    }

    fn release(&self) {
        // TODO 4/1: the device is free again
        self.busy.store(false, Ordering::Release);
    }

    fn read(&self, mut out: UserSliceWriter, offset: u64) -> Result<usize> {
        let buffer = self.buffer.lock();
        // TODO 2/6: before the end of the data, copy at most out.len() bytes from offset on (out.write_slice) and return how many
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        if start < buffer.len {
            let count = out.len().min(buffer.len - start);
            out.write_slice(&buffer.data[start..start + count])?;
            return Ok(count);
        }

        // At or past the end of the data: end of file.
        Ok(0)
    }

    fn write_at(&self, mut data: UserSliceReader, offset: u64) -> Result<usize> {
        let mut buffer = self.buffer.lock();
        // TODO 2/7: inside the buffer, copy at most data.len() bytes to offset (data.read_slice), extend len, return how many
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        if start < CHRBUF_SIZE {
            let count = data.len().min(CHRBUF_SIZE - start);
            data.read_slice(&mut buffer.data[start..start + count])?;
            buffer.len = buffer.len.max(start + count);
            return Ok(count);
        }

        // At or past the end of the buffer: it is full.
        Err(ENOSPC)
    }

    fn ioctl(&self, cmd: u32, arg: IoctlArg) -> Result<isize> {
        match cmd {
            // TODO 3/9: CHRBUF_IOCTL_CLEAR empties the buffer; CHRBUF_IOCTL_LENGTH copies its length as a u32 to arg (arg.write)
            CHRBUF_IOCTL_CLEAR => {
                let mut buffer = self.buffer.lock();
                buffer.data = [0; CHRBUF_SIZE];
                buffer.len = 0;
            }
            CHRBUF_IOCTL_LENGTH => {
                let len = self.buffer.lock().len as u32;
                arg.write(&len)?;
            }
            _ => return Err(ENOTTY),
        }

        Ok(0)
    }
}

/// The module. Its fields are dropped when it is removed (`rmmod chrbuf`).
struct ChrBufModule {
    // TODO 1/1: keep the misc device registration: dropping it removes /dev/chrbuf
    _dev: Pin<KBox<MiscDeviceRegistration<ChrBuf>>>,
}

impl kernel::Module for ChrBufModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // TODO 1/16: register the misc device "chrbuf", handled by a ChrBuf initialised in place (empty buffer, not busy)
        let dev = KBox::pin_init(
            MiscDeviceRegistration::register(
                c_str!("chrbuf"),
                module,
                try_pin_init!(ChrBuf {
                    buffer <- new_mutex!(Buffer {
                        data: [0; CHRBUF_SIZE],
                        len: 0,
                    }),
                    busy: AtomicBool::new(false),
                }),
            ),
            GFP_KERNEL,
        )
        .inspect_err(|e| pr_err!("cannot register /dev/chrbuf: {:?}\n", e))?;
        pr_info!("/dev/chrbuf registered\n");

        Ok(ChrBufModule {
            // TODO 1/1: the device stays registered as long as the module holds it
            _dev: dev,
        })
    }
}
