// SPDX-License-Identifier: GPL-2.0
/*
 * kernel-modules-c lab, task 1: a module with parameters and module information.
 *
 * `insmod params.ko who=NAME count=N` sets the parameters; the module greets
 * NAME and says how many times it was asked to. Both parameters are readable
 * (never writable) in /sys/module/params/parameters/, and `modinfo params.ko`
 * shows the module's description, author, license and parameters.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/kernel.h>

MODULE_LICENSE("GPL");
/* TODO 1/2: describe the module: MODULE_DESCRIPTION and MODULE_AUTHOR */
MODULE_DESCRIPTION("Greets whoever its parameters name");
MODULE_AUTHOR("klab");

static char *who = "world";
static int count = 1;

/* TODO 2/4: declare `who` (charp) and `count` (int) as parameters, read-only in
 * sysfs (0444), with a description each
 */
module_param(who, charp, 0444);
MODULE_PARM_DESC(who, "Whom to greet");
module_param(count, int, 0444);
MODULE_PARM_DESC(count, "How many greetings were asked for");

static int __init params_init(void)
{
	/* TODO 3/1: print "params: hello, <who> (count <count>)" with pr_info */
	pr_info("params: hello, %s (count %d)\n", who, count);
	return 0;
}

static void __exit params_exit(void)
{
	pr_info("params: goodbye, %s (count %d)\n", who, count);
}

module_init(params_init);
module_exit(params_exit);
