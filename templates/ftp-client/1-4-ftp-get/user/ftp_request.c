/*
 * ftp_request: asks the ftp_get module for a download, and reports how it went.
 *
 *   ./ftp_request REMOTE-PATH LOCAL-PATH
 *
 * writes "REMOTE-PATH LOCAL-PATH\n" to /dev/ftp_get in one write(2). The module performs the
 * whole transfer inside that call, so its result is the download's: the number of bytes of
 * the request on success, or -1 with errno (EPERM: refused local path, EEXIST: the local
 * file exists, ENOENT: no such remote file, EACCES: login refused, ...).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEVICE "/dev/ftp_get"

int main(int argc, char **argv)
{
	char request[512];
	ssize_t written;
	int fd, len;

	if (argc != 3) {
		fprintf(stderr, "usage: %s REMOTE-PATH LOCAL-PATH\n", argv[0]);
		return 2;
	}
	len = snprintf(request, sizeof(request), "%s %s\n", argv[1], argv[2]);
	if (len < 0 || (size_t)len >= sizeof(request)) {
		fprintf(stderr, "%s: paths too long\n", argv[0]);
		return 2;
	}

	fd = open(DEVICE, O_WRONLY);
	if (fd < 0) {
		printf("open %s: %s\n", DEVICE, strerror(errno));
		return 1;
	}
	written = write(fd, request, (size_t)len);
	if (written < 0) {
		printf("%s -> %s: %s\n", argv[1], argv[2], strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	printf("%s -> %s: ok\n", argv[1], argv[2]);
	return 0;
}
