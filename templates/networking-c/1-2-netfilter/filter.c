// SPDX-License-Identifier: GPL-2.0
/*
 * networking-c lab, tasks 1-2: a netfilter hook that logs the packets
 * starting an outgoing TCP connection (SYN set, ACK clear), optionally
 * only those sent to one destination address. The address is set from
 * user space with the MY_IOCTL_FILTER_ADDRESS ioctl on /dev/filter.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/skbuff.h>
#include <net/net_namespace.h>

#include "filter.h"

MODULE_DESCRIPTION("Log outgoing TCP connection requests, filtered by destination");
MODULE_AUTHOR("klab");
MODULE_LICENSE("GPL");

/* Destination address to log, in network byte order; 0 means "log all". */
static __be32 ioctl_set_addr;

/* Return non-zero if a connection request sent to @daddr must be logged. */
static int test_daddr(__be32 daddr)
{
	int ret = 1;

	/* TODO 2/4: when a filter address is set (non-zero), log only packets sent to it */
	__be32 filter_addr = READ_ONCE(ioctl_set_addr);

	if (filter_addr && filter_addr != daddr)
		ret = 0;

	return ret;
}

static unsigned int my_nf_hookfn(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	/* TODO 1/9: get the IP and TCP headers; keep only SYN packets without ACK */
	struct iphdr *iph = ip_hdr(skb);
	struct tcphdr *tcph;

	if (iph->protocol != IPPROTO_TCP)
		return NF_ACCEPT;
	tcph = tcp_hdr(skb);
	if (!tcph->syn || tcph->ack)
		return NF_ACCEPT;

	/* TODO 2/2: skip the packet if its destination does not pass test_daddr() */
	if (!test_daddr(iph->daddr))
		return NF_ACCEPT;

	/* TODO 1/2: print "TCP connection initiated from %pI4:%u\n": saddr, ntohs(source port) */
	pr_info("TCP connection initiated from %pI4:%u\n",
		&iph->saddr, ntohs(tcph->source));

	/* Only watch the traffic: let every packet through. */
	return NF_ACCEPT;
}

static struct nf_hook_ops my_nfho = {
	.hook = my_nf_hookfn,
	/* TODO 1/3: IPv4 packets generated on this host, ahead of the other hooks */
	.pf = NFPROTO_IPV4,
	.hooknum = NF_INET_LOCAL_OUT,
	.priority = NF_IP_PRI_FIRST,
};

static long my_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case MY_IOCTL_FILTER_ADDRESS: {
		/* TODO 2/5: copy the address arg points to and store it in ioctl_set_addr */
		__be32 addr;

		if (copy_from_user(&addr, (const void __user *)arg, sizeof(addr)))
			return -EFAULT;
		WRITE_ONCE(ioctl_set_addr, addr);
		break;
	}
	default:
		return -ENOTTY;
	}

	return 0;
}

static const struct file_operations my_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = my_ioctl,
};

static struct miscdevice my_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = MY_DEVICE_NAME,
	.fops = &my_fops,
};

static int __init my_hook_init(void)
{
	int err = 0;

	/* No filter until user space sets one: log every connection request. */
	WRITE_ONCE(ioctl_set_addr, 0);

	/* TODO 1/5: register the netfilter hook in the initial network namespace */
	err = nf_register_net_hook(&init_net, &my_nfho);
	if (err) {
		pr_err("filter: cannot register the netfilter hook: %d\n", err);
		return err;
	}

	/* TODO 2/6: register the misc device (/dev/filter); on error, unregister the hook */
	err = misc_register(&my_miscdev);
	if (err) {
		pr_err("filter: cannot register " MY_DEVICE ": %d\n", err);
		nf_unregister_net_hook(&init_net, &my_nfho);
		return err;
	}

	return err;
}

static void __exit my_hook_exit(void)
{
	/* TODO 2/1: deregister the misc device */
	misc_deregister(&my_miscdev);

	/* TODO 1/1: unregister the netfilter hook */
	nf_unregister_net_hook(&init_net, &my_nfho);
}

module_init(my_hook_init);
module_exit(my_hook_exit);
