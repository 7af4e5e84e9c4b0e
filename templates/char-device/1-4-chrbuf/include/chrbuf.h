/* SPDX-License-Identifier: GPL-2.0 */
/*
 * char-device labs (C and Rust), tasks 1-4: what the chrbuf module and the
 * test program (user/test.c) must agree on. chrbuf.c (C track) includes it;
 * chrbuf.rs (Rust track) declares the same name, size and ioctl numbers, and
 * the test program uses the numbers below: a Rust module whose numbers differ
 * answers ENOTTY.
 */
#ifndef CHRBUF_H
#define CHRBUF_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Name of the misc device; devtmpfs creates the node as /dev/chrbuf. */
#define CHRBUF_NAME "chrbuf"
#define CHRBUF_DEVICE "/dev/" CHRBUF_NAME

/* Size of the device's buffer, in bytes. */
#define CHRBUF_SIZE 64

/* Empty the buffer: its length becomes 0. No argument. */
#define CHRBUF_IOCTL_CLEAR _IO('k', 0x20)

/* Store the number of bytes in the buffer in the __u32 the argument points to. */
#define CHRBUF_IOCTL_LENGTH _IOR('k', 0x21, __u32)

#endif /* CHRBUF_H */
