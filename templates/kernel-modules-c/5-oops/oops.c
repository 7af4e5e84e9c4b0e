// SPDX-License-Identifier: GPL-2.0
/*
 * kernel-modules-c lab, task 5: a module that oopses.
 *
 * `insmod oops.ko value=N` keeps N in a counter the module allocates, and
 * logs it on load and on unload:
 *   oops: counter set to N
 *   oops: counter was N
 * As given, init writes through a pointer nothing ever set: the kernel
 * oopses ("BUG: kernel NULL pointer dereference"), kills insmod and the
 * module stays half-loaded. `cargo xtask check` shows the report and the
 * line of this file it happened at; fix the TODO.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/kernel.h>
#include <linux/slab.h>

MODULE_DESCRIPTION("A module that oopses until it is fixed");
MODULE_AUTHOR("klab");
MODULE_LICENSE("GPL");

static int value = 1;
module_param(value, int, 0444);
MODULE_PARM_DESC(value, "The counter's first value");

struct counter {
	int value;
};

static struct counter *counter;

static int __init counter_init(void)
{
	/* TODO 1/3: allocate the counter (kzalloc) before writing to it;
	 * return -ENOMEM if that fails
	 */
	counter = kzalloc(sizeof(*counter), GFP_KERNEL);
	if (!counter)
		return -ENOMEM;
	counter->value = value; /* the oops, until the TODO is done */
	pr_info("oops: counter set to %d\n", counter->value);
	return 0;
}

static void __exit counter_exit(void)
{
	pr_info("oops: counter was %d\n", counter->value);
	kfree(counter);
}

module_init(counter_init);
module_exit(counter_exit);
