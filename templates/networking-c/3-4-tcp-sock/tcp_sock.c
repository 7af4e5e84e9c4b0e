// SPDX-License-Identifier: GPL-2.0
/*
 * networking-c lab, tasks 3-4: a kernel TCP socket that listens on
 * 127.0.0.1, port `port` (a module parameter, default 60000) (task 3) and
 * accepts one connection while the module loads (task 4). insmod does not
 * return before a client has connected.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/net.h>
#include <linux/in.h>
#include <linux/socket.h>
#include <net/sock.h>
#include <net/net_namespace.h>

MODULE_DESCRIPTION("Kernel TCP socket: listen and accept one connection");
MODULE_AUTHOR("klab");
MODULE_LICENSE("GPL");

#define MY_TCP_PORT		60000
#define LISTEN_BACKLOG		5

/* The port to listen on: MY_TCP_PORT unless insmod says otherwise (port=N). */
static int port = MY_TCP_PORT;
module_param(port, int, 0444);
MODULE_PARM_DESC(port, "TCP port to listen on, on 127.0.0.1 (default 60000)");

/* Print an IPv4 socket address. */
static void print_sock_address(const struct sockaddr_in *addr)
{
	pr_info("Connection established to %pI4:%d\n",
		&addr->sin_addr.s_addr, ntohs(addr->sin_port));
}

static struct socket *sock;	/* listening socket */
static struct socket *new_sock;	/* socket of the accepted connection */

/* Release whatever socket exists; used on load errors and on unload. */
static void release_sockets(void)
{
	if (new_sock) {
		/* TODO 2/1: release the socket of the accepted connection */
		sock_release(new_sock);
		new_sock = NULL;
	}

	if (sock) {
		/* TODO 1/1: release the listening socket */
		sock_release(sock);
		sock = NULL;
	}
}

/* Wait for one connection on sock, keep it in new_sock, print the peer. */
static int accept_connection(void)
{
	/* TODO 2/3: declare err, the peer address raddr and the accept arguments
	 * (no flags, kern)
	 */
	int err;
	struct sockaddr_in raddr;
	struct proto_accept_arg arg = { .flags = 0, .kern = true };

	/* TODO 2/6: create new_sock with sock_create_lite(); it shares the operations of sock */
	err = sock_create_lite(PF_INET, SOCK_STREAM, IPPROTO_TCP, &new_sock);
	if (err < 0) {
		pr_err("tcp_sock: cannot create the connection socket: %d\n", err);
		return err;
	}
	new_sock->ops = sock->ops;

	/* TODO 2/5: accept a connection (sock->ops->accept); this blocks until a client connects */
	err = sock->ops->accept(sock, new_sock, &arg);
	if (err < 0) {
		pr_err("tcp_sock: accept failed: %d\n", err);
		return err;
	}

	/* TODO 2/6: get the address of the peer (getname on new_sock, last argument 1)
	 * and print it
	 */
	err = sock->ops->getname(new_sock, (struct sockaddr *)&raddr, 1);
	if (err < 0) {
		pr_err("tcp_sock: cannot get the peer address: %d\n", err);
		return err;
	}
	print_sock_address(&raddr);

	return 0;
}

static int __init my_tcp_sock_init(void)
{
	int err = 0;
	/* TODO 1/5: address to listen on: 127.0.0.1 (INADDR_LOOPBACK), port `port` */
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr = { htonl(INADDR_LOOPBACK) },
	};

	if (port <= 0 || port > 65535) {
		pr_err("tcp_sock: port=%d is not a port\n", port);
		return -EINVAL;
	}

	/* TODO 1/6: create a kernel TCP socket (sock) in init_net; allow quick rebinding */
	err = sock_create_kern(&init_net, PF_INET, SOCK_STREAM, IPPROTO_TCP, &sock);
	if (err < 0) {
		pr_err("tcp_sock: cannot create the listening socket: %d\n", err);
		return err;
	}
	sock_set_reuseaddr(sock->sk);

	/* TODO 1/6: bind sock to addr (sock->ops->bind) */
	err = sock->ops->bind(sock, (struct sockaddr *)&addr, sizeof(addr));
	if (err < 0) {
		pr_err("tcp_sock: cannot bind to 127.0.0.1:%d: %d\n", port, err);
		release_sockets();
		return err;
	}

	/* TODO 1/6: start listening with a backlog of LISTEN_BACKLOG (sock->ops->listen) */
	err = sock->ops->listen(sock, LISTEN_BACKLOG);
	if (err < 0) {
		pr_err("tcp_sock: listen failed: %d\n", err);
		release_sockets();
		return err;
	}

	err = accept_connection();
	if (err < 0)
		release_sockets();

	return err;
}

static void __exit my_tcp_sock_exit(void)
{
	release_sockets();
}

module_init(my_tcp_sock_init);
module_exit(my_tcp_sock_exit);
