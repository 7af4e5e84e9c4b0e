// SPDX-License-Identifier: GPL-2.0
/*
 * kernel-modules-c lab, task 4: walk the process list.
 *
 * On load, the module logs the process that loads it (`current`: the insmod
 * process) and then one line for every process in the system:
 *   plist: current: pid <pid> comm <comm>
 *   plist: pid <pid> comm <comm>
 * The list of processes is protected by RCU: read it between rcu_read_lock()
 * and rcu_read_unlock(), and do not sleep in between.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/rcupdate.h>

MODULE_DESCRIPTION("List the processes of the system");
MODULE_AUTHOR("klab");
MODULE_LICENSE("GPL");

static int __init plist_init(void)
{
	struct task_struct *p __maybe_unused;

	/* TODO 1/1: log the current process: "plist: current: pid <pid> comm <comm>" */
	pr_info("plist: current: pid %d comm %s\n", current->pid, current->comm);

	rcu_read_lock();
	/* TODO 2/2: for every process (for_each_process), log "plist: pid <pid> comm <comm>" */
	for_each_process(p)
		pr_info("plist: pid %d comm %s\n", p->pid, p->comm);
	rcu_read_unlock();
	return 0;
}

static void __exit plist_exit(void)
{
	pr_info("plist: unloaded\n");
}

module_init(plist_init);
module_exit(plist_exit);
