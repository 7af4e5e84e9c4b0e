// SPDX-License-Identifier: GPL-2.0
/*
 * char-device-c lab, tasks 1-4: chrbuf, a misc character device that holds a
 * buffer of CHRBUF_SIZE bytes. User space writes and reads it like a small
 * file (with offsets), empties it with an ioctl, and only one process may
 * have it open at a time.
 *
 * Build and check it with `cargo xtask check char-device-c/1-4-chrbuf`.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/uaccess.h>

#include "include/chrbuf.h"

MODULE_DESCRIPTION("A misc character device holding a buffer");
MODULE_AUTHOR("klab");
MODULE_LICENSE("GPL");

/* The device's state: one buffer, shared by every open file. */
struct chrbuf {
	/* Protects data and len: reads, writes and ioctls may run concurrently. */
	struct mutex lock;
	char data[CHRBUF_SIZE];
	/* How many bytes of data are valid (what a read sees), 0 to CHRBUF_SIZE. */
	size_t len;
	/* 1 while a file of the device is open, else 0. */
	atomic_t busy;
};

static struct chrbuf chrbuf = {
	.lock = __MUTEX_INITIALIZER(chrbuf.lock),
	.busy = ATOMIC_INIT(0),
};

static int chrbuf_open(struct inode *inode, struct file *file)
{
	/* TODO 4/2: only one open file at a time: if the device is busy return -EBUSY,
	 * else mark it busy (atomically)
	 */
	if (atomic_cmpxchg(&chrbuf.busy, 0, 1) != 0)
		return -EBUSY;

	return 0;
}

static int chrbuf_release(struct inode *inode, struct file *file)
{
	/* TODO 4/1: the device is free again */
	atomic_set(&chrbuf.busy, 0);

	return 0;
}

static ssize_t chrbuf_read(struct file *file, char __user *user_buffer,
			   size_t size, loff_t *offset)
{
	ssize_t ret = 0;

	mutex_lock(&chrbuf.lock);
	/*
	 * TODO 2/9: if *offset is before the end of the data, copy at most size
	 * bytes from there to user_buffer (copy_to_user; -EFAULT if it fails),
	 * advance *offset and return how many bytes were copied; at or past the
	 * end return 0 (end of file)
	 */
	if (*offset < chrbuf.len) {
		size = min_t(size_t, size, chrbuf.len - *offset);
		if (copy_to_user(user_buffer, chrbuf.data + *offset, size)) {
			ret = -EFAULT;
		} else {
			*offset += size;
			ret = size;
		}
	}
	mutex_unlock(&chrbuf.lock);

	return ret;
}

static ssize_t chrbuf_write(struct file *file, const char __user *user_buffer,
			    size_t size, loff_t *offset)
{
	/* At or past the end of the buffer: it is full. */
	ssize_t ret = -ENOSPC;

	mutex_lock(&chrbuf.lock);
	/*
	 * TODO 2/10: if *offset is inside the buffer, copy at most size bytes
	 * from user_buffer to it at *offset (copy_from_user; -EFAULT if it
	 * fails), advance *offset, extend len if the data now ends later, and
	 * return how many bytes were copied
	 */
	if (*offset < CHRBUF_SIZE) {
		size = min_t(size_t, size, CHRBUF_SIZE - *offset);
		if (copy_from_user(chrbuf.data + *offset, user_buffer, size)) {
			ret = -EFAULT;
		} else {
			*offset += size;
			chrbuf.len = max_t(size_t, chrbuf.len, *offset);
			ret = size;
		}
	}
	mutex_unlock(&chrbuf.lock);

	return ret;
}

static long chrbuf_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	long ret = 0;

	switch (cmd) {
	/* TODO 3/11: CHRBUF_IOCTL_CLEAR empties the buffer; CHRBUF_IOCTL_LENGTH copies
	 * len as a __u32 to the user pointer arg (put_user; -EFAULT)
	 */
	case CHRBUF_IOCTL_CLEAR:
		mutex_lock(&chrbuf.lock);
		memset(chrbuf.data, 0, sizeof(chrbuf.data));
		chrbuf.len = 0;
		mutex_unlock(&chrbuf.lock);
		break;
	case CHRBUF_IOCTL_LENGTH:
		mutex_lock(&chrbuf.lock);
		if (put_user((__u32)chrbuf.len, (__u32 __user *)arg))
			ret = -EFAULT;
		mutex_unlock(&chrbuf.lock);
		break;
	default:
		ret = -ENOTTY;
	}

	return ret;
}

static const struct file_operations chrbuf_fops = {
	.owner = THIS_MODULE,
	.open = chrbuf_open,
	.release = chrbuf_release,
	.read = chrbuf_read,
	.write = chrbuf_write,
	.unlocked_ioctl = chrbuf_ioctl,
	/* lseek (and dd skip=/seek=) sets *offset */
	.llseek = default_llseek,
};

static struct miscdevice chrbuf_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = CHRBUF_NAME,
	.fops = &chrbuf_fops,
};

static int __init chrbuf_init(void)
{
	int err = 0;

	/* TODO 1/6: register chrbuf_misc (misc_register); on failure print
	 * "cannot register /dev/chrbuf: <error>" and return the error;
	 * then print "/dev/chrbuf registered"
	 */
	err = misc_register(&chrbuf_misc);
	if (err) {
		pr_err("cannot register /dev/%s: %d\n", CHRBUF_NAME, err);
		return err;
	}
	pr_info("/dev/%s registered\n", CHRBUF_NAME);

	return 0;
}

static void __exit chrbuf_exit(void)
{
	/* TODO 1/1: deregister the device */
	misc_deregister(&chrbuf_misc);
}

module_init(chrbuf_init);
module_exit(chrbuf_exit);
