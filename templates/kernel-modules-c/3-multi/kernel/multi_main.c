// SPDX-License-Identifier: GPL-2.0
/*
 * kernel-modules-c lab, task 3: a module built from two source files.
 *
 * `insmod multi.ko a=X b=Y` computes the greatest common divisor of X and Y
 * with multi_gcd(), which lives in multi_ops.c, and logs it:
 *   multi: gcd(X, Y) = G
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/kernel.h>

#include "multi_ops.h"

MODULE_DESCRIPTION("A module of two source files");
MODULE_AUTHOR("klab");
MODULE_LICENSE("GPL");

static unsigned int a = 1;
module_param(a, uint, 0444);
MODULE_PARM_DESC(a, "First number");
static unsigned int b = 1;
module_param(b, uint, 0444);
MODULE_PARM_DESC(b, "Second number");

static int __init multi_init(void)
{
	unsigned int gcd = 0;

	if (!a || !b) {
		pr_err("multi: a and b must not be 0\n");
		return -EINVAL;
	}
	/* TODO 1/1: set gcd with multi_gcd() from multi_ops.c */
	gcd = multi_gcd(a, b);
	pr_info("multi: gcd(%u, %u) = %u\n", a, b, gcd);
	return 0;
}

static void __exit multi_exit(void)
{
	pr_info("multi: unloaded\n");
}

module_init(multi_init);
module_exit(multi_exit);
