// SPDX-License-Identifier: GPL-2.0
/*
 * networking lab (Rust), task 2: set the destination address filter of the
 * filter module.
 *
 * Usage: test IPV4_ADDRESS   (0.0.0.0 clears the filter)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "../filter.h"

int main(int argc, char **argv)
{
	struct in_addr addr;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s IPV4_ADDRESS\n", argv[0]);
		return 2;
	}

	if (inet_aton(argv[1], &addr) == 0) {
		fprintf(stderr, "%s: not an IPv4 address: %s\n", argv[0], argv[1]);
		return 2;
	}

	fd = open(MY_DEVICE, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot open %s: %s\n", argv[0], MY_DEVICE,
			strerror(errno));
		return 1;
	}

	/* The module expects the address in network byte order, as s_addr is. */
	if (ioctl(fd, MY_IOCTL_FILTER_ADDRESS, &addr.s_addr) < 0) {
		fprintf(stderr, "%s: ioctl MY_IOCTL_FILTER_ADDRESS on %s: %s\n",
			argv[0], MY_DEVICE, strerror(errno));
		close(fd);
		return 1;
	}

	close(fd);
	return 0;
}
