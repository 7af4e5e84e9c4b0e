// SPDX-License-Identifier: GPL-2.0
/*
 * char-device labs, tasks 2-4: exercises /dev/chrbuf the way test.sh cannot
 * with shell tools, and prints one line per thing checked.
 *
 * Usage: test short | efault | fill | ioctl | exclusive
 *   short      short reads: read 100 bytes at offsets 0, 5 and the end
 *   efault     read into and write from an unmapped address: EFAULT
 *   fill       write past the end of the buffer: a short write, then ENOSPC
 *   ioctl      CHRBUF_IOCTL_LENGTH and CHRBUF_IOCTL_CLEAR (include/chrbuf.h)
 *   exclusive  a second open while the device is open: EBUSY; reopening
 *              after close, and after the holder exited without closing
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../include/chrbuf.h"	/* the header the module shares */

/* The name of an errno value, for lines that must not depend on the libc's messages. */
static const char *err_name(int err)
{
	static char other[32];

	switch (err) {
	case EBUSY:
		return "EBUSY";
	case EFAULT:
		return "EFAULT";
	case EINVAL:
		return "EINVAL";
	case ENOSPC:
		return "ENOSPC";
	case ENOTTY:
		return "ENOTTY";
	case ENODEV:
		return "ENODEV";
	case ENOENT:
		return "ENOENT";
	}
	snprintf(other, sizeof(other), "errno %d", err);
	return other;
}

/* "N bytes" or the error name of a read()/write() result. */
static const char *outcome(ssize_t ret)
{
	static char text[32];

	if (ret < 0)
		return err_name(errno);
	snprintf(text, sizeof(text), "%zd bytes", ret);
	return text;
}

static int open_device(int flags)
{
	int fd = open(CHRBUF_DEVICE, flags);

	if (fd < 0)
		printf("open %s: %s\n", CHRBUF_DEVICE, err_name(errno));
	return fd;
}

/* An address user space cannot access: a page mapped, then unmapped. */
static void *unmapped_address(void)
{
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (page == MAP_FAILED)
		return (void *)8;
	munmap(page, 4096);
	return page;
}

static int short_reads(void)
{
	char buf[100];
	int fd = open_device(O_RDONLY);
	ssize_t len;

	if (fd < 0)
		return 1;
	len = read(fd, buf, sizeof(buf));
	printf("read of 100 bytes at offset 0: %s\n", outcome(len));
	printf("read of 100 bytes at the end: %s\n",
	       outcome(read(fd, buf, sizeof(buf))));
	if (lseek(fd, 5, SEEK_SET) != 5)
		printf("lseek to offset 5: %s\n", err_name(errno));
	printf("read of 100 bytes at offset 5: %s\n",
	       outcome(read(fd, buf, sizeof(buf))));
	close(fd);
	return 0;
}

static int efault(void)
{
	void *bad = unmapped_address();
	int fd = open_device(O_RDWR);
	ssize_t ret;

	if (fd < 0)
		return 1;
	/* Something to read first, so that a read has to copy. */
	ret = write(fd, "abc", 3);
	if (ret != 3)
		printf("write of 3 bytes at offset 0: %s\n", outcome(ret));
	lseek(fd, 0, SEEK_SET);
	ret = read(fd, bad, 3);
	printf("read into an unmapped address: %s\n", outcome(ret));
	lseek(fd, 0, SEEK_SET);
	ret = write(fd, bad, 3);
	printf("write from an unmapped address: %s\n", outcome(ret));
	close(fd);
	return 0;
}

static int fill(void)
{
	char buf[100];
	int fd = open_device(O_WRONLY);

	if (fd < 0)
		return 1;
	memset(buf, 'x', sizeof(buf));
	printf("write of 100 bytes at offset 0: %s\n",
	       outcome(write(fd, buf, sizeof(buf))));
	printf("write of 100 bytes at offset %d: %s\n", CHRBUF_SIZE,
	       outcome(write(fd, buf, sizeof(buf))));
	close(fd);
	return 0;
}

static void print_length(int fd, const char *when)
{
	__u32 len = 12345;

	if (ioctl(fd, CHRBUF_IOCTL_LENGTH, &len) < 0)
		printf("CHRBUF_IOCTL_LENGTH%s: %s\n", when, err_name(errno));
	else
		printf("CHRBUF_IOCTL_LENGTH%s: %u\n", when, len);
}

static int ioctls(void)
{
	char buf[100];
	int fd = open_device(O_RDONLY);

	if (fd < 0)
		return 1;
	print_length(fd, "");
	if (ioctl(fd, CHRBUF_IOCTL_CLEAR) < 0)
		printf("CHRBUF_IOCTL_CLEAR: %s\n", err_name(errno));
	else
		printf("CHRBUF_IOCTL_CLEAR: ok\n");
	printf("read after clear: %s\n", outcome(read(fd, buf, sizeof(buf))));
	print_length(fd, " after clear");
	if (ioctl(fd, _IO('k', 0x7f)) < 0)
		printf("unknown command: %s\n", err_name(errno));
	else
		printf("unknown command: accepted\n");
	if (ioctl(fd, CHRBUF_IOCTL_LENGTH, unmapped_address()) < 0)
		printf("CHRBUF_IOCTL_LENGTH to an unmapped address: %s\n",
		       err_name(errno));
	else
		printf("CHRBUF_IOCTL_LENGTH to an unmapped address: accepted\n");
	close(fd);
	return 0;
}

static void try_open(const char *what)
{
	int fd = open(CHRBUF_DEVICE, O_RDONLY);

	if (fd < 0) {
		printf("%s: %s\n", what, err_name(errno));
		return;
	}
	printf("%s: ok\n", what);
	close(fd);
}

static int exclusive(void)
{
	int first = open_device(O_RDONLY);
	pid_t child;

	if (first < 0)
		return 1;
	printf("first open: ok\n");
	try_open("second open while the first is open");
	close(first);
	try_open("open after close");

	/* A process that exits with the device open: the kernel closes it. */
	child = fork();
	if (child == 0) {
		if (open(CHRBUF_DEVICE, O_RDONLY) < 0)
			_exit(1);
		_exit(0);
	}
	if (child < 0 || waitpid(child, NULL, 0) != child)
		printf("fork: %s\n", strerror(errno));
	try_open("open after the holder exited");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "short") == 0)
		return short_reads();
	if (argc == 2 && strcmp(argv[1], "efault") == 0)
		return efault();
	if (argc == 2 && strcmp(argv[1], "fill") == 0)
		return fill();
	if (argc == 2 && strcmp(argv[1], "ioctl") == 0)
		return ioctls();
	if (argc == 2 && strcmp(argv[1], "exclusive") == 0)
		return exclusive();
	fprintf(stderr, "usage: %s short | efault | fill | ioctl | exclusive\n", argv[0]);
	return 2;
}
