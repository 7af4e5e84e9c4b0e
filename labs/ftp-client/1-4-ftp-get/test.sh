#!/bin/sh
# ftp-client / 1-4-ftp-get, run in the guest from /lab/ftp-client/1-4-ftp-get.
#
# klab's ftpd serves /srv/ftp on 127.0.0.1:21 (user klab, password klab). ./ftp_request asks
# the module for a download by writing "REMOTE LOCAL" to /dev/ftp_get. Checked: login
# (task 1); an active-mode binary download of a text file and of a file with all 256 byte
# values, compared byte for byte (task 2); the same in passive mode (task 3); refused local
# paths (task 4); that only root can use the device; and the errors of a failed login, a
# missing remote file and an existing local file. The server's log of the conversation
# closes the record.

ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null
. /usr/local/lib/klab/testlib.sh

here=$(pwd)
srv=/srv/ftp
out=/tmp/ftp-get
rm -rf "$srv" "$out" /tmp/ftpd.log
mkdir -p "$srv/pub" "$out"

# 215 bytes of text, as in the article's transcript ("return = 215"); LF line endings, which
# an ASCII-mode (TYPE A) transfer would turn into CRLF.
cat >"$srv/pub/README" <<'TEXT'
Here is klab's test file.
Downloaded by a kernel module, over kernel sockets,
into a file that the kernel creates itself.
Line endings here are LF: an ASCII-mode transfer
would turn each one into CR LF. Use TYPE I!
TEXT
# every byte value once, 0 to 255
i=0
while [ "$i" -lt 256 ]; do
	# shellcheck disable=SC2059 # the format is the octal escape of byte $i
	printf "\\$(printf %03o "$i")"
	i=$((i + 1))
done >"$srv/pub/all-bytes.bin"

/bin/ftpd --root "$srv" --log /tmp/ftpd.log 2>/dev/null &
ftpd=$!
n=0
while ! grep -q ' 0100007F:0015 00000000:0000 0A' /proc/net/tcp && [ "$n" -lt 50 ]; do
	sleep 0.1
	n=$((n + 1))
done

# get REMOTE LOCAL: download, then compare with the served file
get() {
	./ftp_request "$1" "$2"
	if [ -f "$2" ]; then
		if cmp -s "$srv$1" "$2"; then
			echo "  $2: $(wc -c <"$2") bytes, identical to the served file"
		else
			echo "  $2: $(wc -c <"$2") bytes, DIFFERENT from the served file ($(wc -c <"$srv$1") bytes)"
		fi
	fi
}

load() {
	if insmod "$here/ftp_get.ko" "$@"; then
		echo "insmod ftp_get.ko${1:+ $*}: ok"
	else
		echo "insmod ftp_get.ko${1:+ $*}: failed"
	fi
}

unload() {
	if rmmod ftp_get; then echo "rmmod ftp_get: ok"; else echo "rmmod ftp_get: failed"; fi
}

echo "served: README $(wc -c <"$srv/pub/README") bytes, all-bytes.bin $(wc -c <"$srv/pub/all-bytes.bin") bytes"

echo "-- 1. active mode"
load
echo "device: $(stat -c '%A %U' /dev/ftp_get 2>&1)"
get /pub/README "$out/README"
get /pub/all-bytes.bin "$out/all-bytes.bin"

echo "-- 2. errors"
get /pub/missing.txt "$out/missing.txt"
get /pub/README "$out/README"
echo "as user nobody: $(su -s /bin/sh -c "./ftp_request /pub/README $out/nobody.txt" nobody 2>&1)"

echo "-- 3. refused local paths"
for path in /dev/ftp-test /proc/ftp-test /sys/ftp-test relative.txt /tmp/../dev/ftp-test /tmp/./x; do
	./ftp_request /pub/README "$path"
done
unload

echo "-- 4. passive mode"
load passive=1
get /pub/all-bytes.bin "$out/all-bytes-pasv.bin"
unload

echo "-- 5. wrong password"
load password=wrong
get /pub/README "$out/README-2"
unload

kill "$ftpd" 2>/dev/null
wait "$ftpd" 2>/dev/null
echo "--- ftpd log"
cat /tmp/ftpd.log
rm -rf "$srv" "$out" /tmp/ftpd.log
exit 0
