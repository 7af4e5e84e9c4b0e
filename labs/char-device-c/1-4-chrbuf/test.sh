#!/bin/sh
# char-device-c / 1-4-chrbuf, run in the guest from /lab/<lab>/1-4-chrbuf (also the Rust lab's,
# through scripts_from).
#
# Loads chrbuf.ko and checks, task by task:
#   1. /dev/chrbuf is a character device, listed in /sys/class/misc with the same numbers;
#   2. what is written is read back (cat, dd at an offset, short reads, a full buffer) and a
#      bad user pointer gives EFAULT (./test, built from user/test.c);
#   3. the ioctls of include/chrbuf.h: the length, and clearing the buffer;
#   4. a second open while the device is open gets EBUSY, and the device is free again once
#      its holder closed it or exited.
# WORD, the text written, is set by klab from lab.toml [params]: its default in check, drawn
# letters when grading, so a module that prints the expected text without storing it fails.
: "${WORD:?klab sets WORD from lab.toml [params]}"

DEV=/dev/chrbuf

# bytes FROM TO: characters FROM to TO (1-based) of $WORD
bytes() {
	printf '%s' "$WORD" | cut -c"$1-$2"
}

if ! insmod chrbuf.ko; then
	echo "insmod chrbuf.ko failed"
	exit 1
fi
echo "insmod chrbuf.ko: ok"

echo "-- 1. registration"
if [ -c "$DEV" ]; then
	echo "$DEV: character device"
else
	echo "$DEV: missing"
fi
if [ -r /sys/class/misc/chrbuf/dev ]; then
	sysfs=$(cat /sys/class/misc/chrbuf/dev)
	echo "/sys/class/misc/chrbuf: present, major ${sysfs%%:*}"
	node=$(stat -c '%t %T' "$DEV" 2>/dev/null)
	node=$(printf '%d:%d' "0x${node% *}" "0x${node#* }" 2>/dev/null)
	if [ "$node" = "$sysfs" ]; then
		echo "device numbers of $DEV and sysfs: equal"
	else
		echo "device numbers of $DEV and sysfs: differ ($node, $sysfs)"
	fi
else
	echo "/sys/class/misc/chrbuf: missing"
fi

if [ ! -c "$DEV" ]; then
	# Writing to a missing node would create a regular file, which reads back fine.
	echo "stopping: no character device to test"
	rmmod chrbuf 2>/dev/null
	exit 1
fi

echo "-- 2. read and write"
printf '%s' "$WORD" >"$DEV" 2>/dev/null
echo "printf $WORD > $DEV: exit status $?"
echo "cat $DEV: $(cat "$DEV" 2>&1)"
got=$(dd if="$DEV" bs=1 skip=3 count=4 2>/dev/null)
if [ "$got" = "$(bytes 4 7)" ]; then
	echo "dd skip=3 count=4: the 4 bytes at offset 3"
else
	echo "dd skip=3 count=4: wrong bytes ($got)"
fi
printf 'XY' | dd of="$DEV" bs=1 seek=5 conv=notrunc 2>/dev/null
echo "dd seek=5 of 2 bytes: exit status $?"
got=$(cat "$DEV" 2>&1)
if [ "$got" = "$(bytes 1 5)XY$(bytes 8 64)" ]; then
	echo "cat after dd seek=5: 2 bytes replaced at offset 5"
else
	echo "cat after dd seek=5: wrong ($got)"
fi
./test short
./test efault
./test fill
echo "bytes in $DEV after the full write: $(cat "$DEV" | wc -c)"

echo "-- 3. ioctl"
./test ioctl
printf '%s' "$WORD" >"$DEV" 2>/dev/null
echo "cat after clear and write: $(cat "$DEV" 2>&1)"

echo "-- 4. one open file at a time"
./test exclusive

if rmmod chrbuf; then
	echo "rmmod chrbuf: ok"
else
	echo "rmmod chrbuf: failed"
fi
if [ -e "$DEV" ]; then
	echo "$DEV after rmmod: still present"
else
	echo "$DEV after rmmod: gone"
fi
