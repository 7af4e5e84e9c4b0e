// SPDX-License-Identifier: GPL-2.0
/*
 * networking-c lab, task 5: a kernel UDP socket that sends one datagram,
 * MY_TEST_MESSAGE, to 127.0.0.1, port `port` (a module parameter, default
 * 60001), when the module is loaded.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/net.h>
#include <linux/in.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <linux/uio.h>
#include <net/sock.h>
#include <net/net_namespace.h>

MODULE_DESCRIPTION("Kernel UDP socket: send one datagram");
MODULE_AUTHOR("klab");
MODULE_LICENSE("GPL");

#define MY_UDP_REMOTE_PORT	60001
#define MY_TEST_MESSAGE		"kernelsocket\n"

/* The port to send to: MY_UDP_REMOTE_PORT unless insmod says otherwise (port=N). */
static int port = MY_UDP_REMOTE_PORT;
module_param(port, int, 0444);
MODULE_PARM_DESC(port, "UDP port on 127.0.0.1 to send the message to (default 60001)");

static struct socket *sock;	/* UDP socket */

static void release_socket(void)
{
	if (sock) {
		/* TODO 1/1: release the socket */
		sock_release(sock);
		sock = NULL;
	}
}

/* Send MY_TEST_MESSAGE (without the final '\0') to 127.0.0.1, port `port`. */
static int send_test_message(void)
{
	/* TODO 2/5: destination address: 127.0.0.1 (INADDR_LOOPBACK), port `port` */
	struct sockaddr_in raddr = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr = { htonl(INADDR_LOOPBACK) },
	};
	/* TODO 2/11: msghdr (destination in msg_name, no control data, no flags),
	 * kvec with the text
	 */
	struct msghdr msg = {
		.msg_name = &raddr,
		.msg_namelen = sizeof(raddr),
		.msg_control = NULL,
		.msg_controllen = 0,
		.msg_flags = 0,
	};
	struct kvec iov = {
		.iov_base = (void *)MY_TEST_MESSAGE,
		.iov_len = strlen(MY_TEST_MESSAGE),
	};
	/* TODO 2/1: a variable for the result of kernel_sendmsg() */
	int err;

	/* TODO 2/5: send the message with kernel_sendmsg(): one kvec of iov.iov_len bytes */
	err = kernel_sendmsg(sock, &msg, &iov, 1, iov.iov_len);
	if (err < 0) {
		pr_err("udp_sock: cannot send the message: %d\n", err);
		return err;
	}

	return 0;
}

static int __init my_udp_sock_init(void)
{
	int err = 0;

	if (port <= 0 || port > 65535) {
		pr_err("udp_sock: port=%d is not a port\n", port);
		return -EINVAL;
	}

	/* TODO 1/5: create a kernel UDP socket (sock) in init_net */
	err = sock_create_kern(&init_net, PF_INET, SOCK_DGRAM, IPPROTO_UDP, &sock);
	if (err < 0) {
		pr_err("udp_sock: cannot create the socket: %d\n", err);
		return err;
	}

	err = send_test_message();
	if (err < 0)
		release_socket();

	return err;
}

static void __exit my_udp_sock_exit(void)
{
	release_socket();
}

module_init(my_udp_sock_init);
module_exit(my_udp_sock_exit);
