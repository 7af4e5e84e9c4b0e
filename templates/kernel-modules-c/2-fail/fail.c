// SPDX-License-Identifier: GPL-2.0
/*
 * kernel-modules-c lab, task 2: a module whose init fails.
 *
 * When a module's init function returns a negative error code, the kernel
 * does not load it and `insmod` reports the error to user space. Everything
 * init set up before failing must be undone first: nothing calls the exit
 * function of a module that never loaded.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/slab.h>

MODULE_DESCRIPTION("A module that refuses to load");
MODULE_AUTHOR("klab");
MODULE_LICENSE("GPL");

static int __init fail_init(void)
{
	char *buffer;

	buffer = kmalloc(64, GFP_KERNEL);
	if (!buffer)
		return -ENOMEM;
	pr_info("fail: buffer allocated, looking for the device\n");

	/* The device is never there. */
	/* TODO 1/3: free the buffer, log "fail: no device, giving up" with pr_err and
	 * return -ENODEV
	 */
	kfree(buffer);
	pr_err("fail: no device, giving up\n");
	return -ENODEV;

	kfree(buffer);
	return 0;
}

static void __exit fail_exit(void)
{
	pr_info("fail: unloaded (this never happens)\n");
}

module_init(fail_init);
module_exit(fail_exit);
