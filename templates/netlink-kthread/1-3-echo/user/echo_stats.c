/*
 * echo_stats.c - ask the klab_echo kernel module for its statistics
 *                over generic netlink, using nothing but a raw socket.
 *
 * Build (on the host):  cc -static -O2 -Wall -o echo_stats echo_stats.c
 * Run (in the guest):   ./echo_stats
 *
 * Output, one line each, in this order:
 *     datagrams: N
 *     bytes: N
 *     port: N
 * A value the kernel did not send prints as "(missing)" and the program
 * then exits with status 1.
 *
 * ------------------------------------------------------------------------
 * The protocol
 * ------------------------------------------------------------------------
 * Generic netlink ("genl") multiplexes many kernel subsystems over a single
 * netlink protocol, NETLINK_GENERIC.  Each subsystem registers a *family*
 * with a name; the kernel hands out the numeric family id at registration
 * time, so user space must look it up by name first.  That lookup is done
 * by the built-in controller family, whose id is fixed: GENL_ID_CTRL.
 *
 * Every message on the wire looks like this (each part 4-byte aligned):
 *
 *     struct nlmsghdr     len, type (= family id), flags, seq, pid
 *     struct genlmsghdr   cmd, version, reserved
 *     struct nlattr ...   zero or more attributes: len, type, payload
 *
 * An attribute's nla_len counts its 4-byte header plus its payload but not
 * the padding after it; the next attribute starts at NLA_ALIGN(nla_len).
 *
 * Step 1 - resolve the family (controller, nlmsg_type = GENL_ID_CTRL):
 *     request: cmd CTRL_CMD_GETFAMILY,
 *              attr CTRL_ATTR_FAMILY_NAME = "klab_echo" (string incl. NUL)
 *     reply:   cmd CTRL_CMD_NEWFAMILY, attr CTRL_ATTR_FAMILY_ID (u16)
 *              or NLMSG_ERROR with -ENOENT if no such family exists.
 *
 * Step 2 - ask klab_echo (nlmsg_type = the id found above, version 1):
 *     request: cmd KLAB_ECHO_CMD_GET_STATS (1), no attributes
 *     reply:   KLAB_ECHO_ATTR_DATAGRAMS (1)  u64  datagrams echoed
 *              KLAB_ECHO_ATTR_BYTES     (2)  u64  payload bytes echoed
 *              KLAB_ECHO_ATTR_PORT      (3)  u32  UDP port being served
 *              (attribute 0 is KLAB_ECHO_ATTR_UNSPEC and never sent)
 *
 * Both requests are sent with NLM_F_REQUEST only: the kernel answers with
 * exactly one message (the data, or an NLMSG_ERROR carrying a negative
 * errno) and no separate acknowledgement.
 *
 * Exit status: 0 all values printed, 1 an error or a missing value,
 *              2 usage error or the family is not registered.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

/* ---- the klab_echo family's interface (must match the module) ---- */
#define KLAB_ECHO_FAMILY         "klab_echo"
#define KLAB_ECHO_VERSION        1

#define KLAB_ECHO_CMD_GET_STATS  1

#define KLAB_ECHO_ATTR_UNSPEC    0
#define KLAB_ECHO_ATTR_DATAGRAMS 1 /* u64 */
#define KLAB_ECHO_ATTR_BYTES     2 /* u64 */
#define KLAB_ECHO_ATTR_PORT      3 /* u32 */

#define PROG            "echo_stats"
#define RECV_TIMEOUT_S  3
#define BUF_SIZE        16384

/* A request: the two headers plus room for a few small attributes. */
struct request {
	struct nlmsghdr   nlh;
	struct genlmsghdr genl;
	char              attrs[256];
};

/* Receive buffer, aligned so netlink headers can be read in place. */
static union {
	struct nlmsghdr nlh;
	char            bytes[BUF_SIZE];
} rxbuf;

static uint32_t next_seq = 1;

/* Print "echo_stats: <step>: <msg>" and exit 1. */
static void fail(const char *step, const char *msg)
{
	fprintf(stderr, "%s: %s: %s\n", PROG, step, msg);
	exit(1);
}

/* ---------------------------------------------------------------- socket */

static int open_genl_socket(void)
{
	struct timeval tv = { .tv_sec = RECV_TIMEOUT_S, .tv_usec = 0 };
	int fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		fail("socket", strerror(errno));

	/* Without this a missing reply would block recv() forever. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		fail("setsockopt(SO_RCVTIMEO)", strerror(errno));

	return fd;
}

/* ------------------------------------------------------------- requests */

/* Start a generic netlink request; returns the sequence number used. */
static uint32_t req_init(struct request *req, uint16_t family,
			 uint8_t cmd, uint8_t version)
{
	memset(req, 0, sizeof(*req));
	req->nlh.nlmsg_len   = NLMSG_LENGTH(GENL_HDRLEN);
	req->nlh.nlmsg_type  = family;
	req->nlh.nlmsg_flags = NLM_F_REQUEST;
	req->nlh.nlmsg_seq   = next_seq++;
	req->nlh.nlmsg_pid   = 0;	/* the kernel fills in our port id */
	req->genl.cmd        = cmd;
	req->genl.version    = version;
	return req->nlh.nlmsg_seq;
}

/* Append a NUL-terminated string attribute to the request. */
static void req_put_string(struct request *req, uint16_t type, const char *s)
{
	size_t plen = strlen(s) + 1;		/* include the NUL */
	size_t alen = NLA_HDRLEN + plen;
	size_t off  = NLMSG_ALIGN(req->nlh.nlmsg_len);
	struct nlattr *nla;

	if (off + NLA_ALIGN(alen) > sizeof(*req))
		fail("build request", "attribute does not fit");

	nla = (struct nlattr *)((char *)req + off);
	nla->nla_len  = (uint16_t)alen;
	nla->nla_type = type;
	memcpy((char *)nla + NLA_HDRLEN, s, plen);
	req->nlh.nlmsg_len = (uint32_t)(off + NLA_ALIGN(alen));
}

static void send_request(int fd, const struct request *req)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK, .nl_pid = 0 };
	ssize_t n;

	do {
		n = sendto(fd, req, req->nlh.nlmsg_len, 0,
			   (struct sockaddr *)&kernel, sizeof(kernel));
	} while (n < 0 && errno == EINTR);

	if (n < 0)
		fail("send", strerror(errno));
	if ((size_t)n != req->nlh.nlmsg_len)
		fail("send", "short write");
}

/* --------------------------------------------------------------- replies */

/*
 * Wait for the reply to request 'seq'.  Messages with another sequence
 * number (stale replies) are skipped.  On success *out points at a
 * message of type 'type' with a complete genl header, and 0 is returned.
 * If the kernel answered with NLMSG_ERROR, the (positive) errno it
 * carried is returned instead.  Local failures end the program.
 */
static int recv_reply(int fd, uint32_t seq, uint16_t type,
		      struct nlmsghdr **out)
{
	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = { rxbuf.bytes, sizeof(rxbuf.bytes) };
		struct msghdr msg = {
			.msg_name = &from, .msg_namelen = sizeof(from),
			.msg_iov = &iov, .msg_iovlen = 1,
		};
		struct nlmsghdr *nlh;
		ssize_t n;
		int len;

		n = recvmsg(fd, &msg, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				fail("recv", "no reply within 3 s");
			fail("recv", strerror(errno));
		}
		if (msg.msg_flags & MSG_TRUNC)
			fail("recv", "reply larger than receive buffer");
		if (msg.msg_namelen != sizeof(from) || from.nl_pid != 0)
			continue;	/* not from the kernel: ignore */

		/* NLMSG_OK checks each header and length against 'len'. */
		len = (int)n;
		for (nlh = &rxbuf.nlh; NLMSG_OK(nlh, len);
		     nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_seq != seq)
				continue;	/* stale or foreign */

			if (nlh->nlmsg_type == NLMSG_NOOP)
				continue;

			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nlh);

				if (nlh->nlmsg_len <
				    NLMSG_LENGTH(sizeof(*e)))
					fail("recv", "truncated NLMSG_ERROR");
				if (e->error == 0)
					fail("recv", "got an ACK but no data");
				return -e->error;
			}

			if (nlh->nlmsg_type != type)
				fail("recv", "unexpected message type in reply");
			if (nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
				fail("recv", "reply too short for genl header");

			*out = nlh;
			return 0;
		}
	}
}

/* The genl command of a reply (its length was checked in recv_reply). */
static uint8_t genl_cmd(const struct nlmsghdr *nlh)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);

	return g->cmd;
}

/* ------------------------------------------------------------ attributes */

/*
 * Find attribute 'type' in the attributes of a genl message.  Every
 * length is checked against what is left of the message; malformed data
 * ends the walk as if the attribute were absent.
 */
static const struct nlattr *find_attr(const struct nlmsghdr *nlh,
				      uint16_t type)
{
	const char *p = (const char *)NLMSG_DATA(nlh) + GENL_HDRLEN;
	size_t left = nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

	while (left >= NLA_HDRLEN) {
		const struct nlattr *nla = (const struct nlattr *)p;
		size_t alen = nla->nla_len;
		size_t step = NLA_ALIGN(alen);

		if (alen < NLA_HDRLEN || alen > left) {
			fprintf(stderr, "%s: malformed attribute in reply\n",
				PROG);
			return NULL;
		}
		if ((nla->nla_type & NLA_TYPE_MASK) == type)
			return nla;
		if (step >= left)	/* last attribute (padding optional) */
			break;
		p += step;
		left -= step;
	}
	return NULL;
}

/*
 * Copy an attribute's payload if it has exactly 'size' bytes.  memcpy is
 * used because a u64 payload is only guaranteed 4-byte alignment.
 */
static int attr_get(const struct nlattr *nla, void *dst, size_t size)
{
	if (!nla)
		return -1;
	if (nla->nla_len != NLA_HDRLEN + size) {
		fprintf(stderr, "%s: attribute %u has length %u, expected %zu\n",
			PROG, (unsigned)(nla->nla_type & NLA_TYPE_MASK),
			(unsigned)(nla->nla_len - NLA_HDRLEN), size);
		return -1;
	}
	memcpy(dst, (const char *)nla + NLA_HDRLEN, size);
	return 0;
}

/* --------------------------------------------------------------- steps */

/* Step 1: ask the controller for the family id of KLAB_ECHO_FAMILY. */
static uint16_t resolve_family(int fd)
{
	struct request req;
	struct nlmsghdr *reply;
	uint16_t id;
	uint32_t seq;
	int err;

	seq = req_init(&req, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	req_put_string(&req, CTRL_ATTR_FAMILY_NAME, KLAB_ECHO_FAMILY);
	send_request(fd, &req);

	err = recv_reply(fd, seq, GENL_ID_CTRL, &reply);
	if (err == ENOENT) {
		fprintf(stderr, "%s: generic netlink family \"%s\" not found "
			"(is the echo module loaded?)\n", PROG, KLAB_ECHO_FAMILY);
		exit(2);
	}
	if (err)
		fail("CTRL_CMD_GETFAMILY failed", strerror(err));
	if (genl_cmd(reply) != CTRL_CMD_NEWFAMILY)
		fail("CTRL_CMD_GETFAMILY", "unexpected command in reply");
	if (attr_get(find_attr(reply, CTRL_ATTR_FAMILY_ID), &id, sizeof(id)))
		fail("CTRL_CMD_GETFAMILY", "reply has no valid family id");
	return id;
}

/* Print one value, or "(missing)"; returns 1 if it was missing. */
static int print_u64(const char *label, const struct nlattr *nla)
{
	uint64_t v;

	if (attr_get(nla, &v, sizeof(v))) {
		printf("%s: (missing)\n", label);
		return 1;
	}
	printf("%s: %llu\n", label, (unsigned long long)v);
	return 0;
}

static int print_u32(const char *label, const struct nlattr *nla)
{
	uint32_t v;

	if (attr_get(nla, &v, sizeof(v))) {
		printf("%s: (missing)\n", label);
		return 1;
	}
	printf("%s: %lu\n", label, (unsigned long)v);
	return 0;
}

/* Step 2: GET_STATS; prints the values, returns the exit status. */
static int get_stats(int fd, uint16_t family)
{
	struct request req;
	struct nlmsghdr *reply;
	uint32_t seq;
	int err, missing = 0;

	seq = req_init(&req, family, KLAB_ECHO_CMD_GET_STATS,
		       KLAB_ECHO_VERSION);
	send_request(fd, &req);

	err = recv_reply(fd, seq, family, &reply);
	if (err)
		fail("GET_STATS failed", strerror(err));

	missing += print_u64("datagrams",
			     find_attr(reply, KLAB_ECHO_ATTR_DATAGRAMS));
	missing += print_u64("bytes", find_attr(reply, KLAB_ECHO_ATTR_BYTES));
	missing += print_u32("port", find_attr(reply, KLAB_ECHO_ATTR_PORT));
	return missing ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint16_t family;
	int fd, status;

	if (argc != 1) {
		fprintf(stderr, "usage: %s   (takes no arguments; prints the "
			"%s statistics)\n", argv[0] ? argv[0] : PROG,
			KLAB_ECHO_FAMILY);
		return 2;
	}

	fd = open_genl_socket();
	family = resolve_family(fd);
	status = get_stats(fd, family);
	close(fd);

	if (fflush(stdout) != 0)
		fail("write", strerror(errno));
	return status;
}
