/* SPDX-License-Identifier: GPL-2.0 */
/*
 * networking lab (Rust), tasks 1-2: definitions for the user-space program
 * that configures the filter module (user/test.c). filter.rs declares the
 * same device name and ioctl number on the kernel side: keep them in sync.
 */
#ifndef FILTER_H
#define FILTER_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Name of the misc device; devtmpfs creates the node as /dev/filter. */
#define MY_DEVICE_NAME "filter"
#define MY_DEVICE "/dev/" MY_DEVICE_NAME

/*
 * Set the destination address to filter on. The argument is a pointer to
 * an IPv4 address in network byte order (the s_addr field of a struct
 * in_addr). The address 0.0.0.0 clears the filter: every SYN is logged.
 */
#define MY_IOCTL_FILTER_ADDRESS _IOW('k', 1, __u32)

#endif /* FILTER_H */
