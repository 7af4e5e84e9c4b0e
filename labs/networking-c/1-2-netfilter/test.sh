#!/bin/sh
# networking-c / 1-2-netfilter, run in the guest from /lab/<lab>/1-2-netfilter (also the Rust lab's, through scripts_from).
#
# Loads filter.ko, then opens four TCP connections over loopback and counts,
# after each one, how many "TCP connection initiated from" lines the module
# added to the kernel log:
#   1. no filter set           -> to 127.0.0.1: should show up (task 1)
#   2. filter 127.0.0.1        -> to 127.0.0.1: should show up (task 2)
#   3. filter $FILTER_ADDR     -> to 127.0.0.1: should NOT show up (task 2)
#   4. filter $FILTER_ADDR     -> to $FILTER_ADDR: should show up (task 2)
# FILTER_ADDR, another loopback address, is set by klab from lab.toml [params]: 127.0.0.2 in
# check, a drawn one when grading. Every wait is bounded; the module is unloaded at the end.
: "${FILTER_ADDR:?klab sets FILTER_ADDR}"

ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null

# The lab's netcat. Called by path: busybox sh would run its own nc applet.
NC=/bin/nc

SYN_LINE='TCP connection initiated from'

syn_lines() {
	dmesg | grep -c "$SYN_LINE"
}

# is_tcp_listening PORT: a socket in state LISTEN (0A) on PORT, any local
# address, IPv4 or IPv6 (a dual-stack listener shows up in tcp6 only)
is_tcp_listening() {
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		grep -q ":$(printf '%04X' "$1") 0*:0000 0A"
}

# wait_gone comes from klab's guest test library.
. /usr/local/lib/klab/testlib.sh

# probe_connection ADDR PORT: listen on 0.0.0.0:PORT, connect to ADDR:PORT,
# send one line, report what the listener received and how many SYN lines
# the filter logged meanwhile.
probe_connection() {
	before=$(syn_lines)
	rm -f listener.out
	"$NC" -l -p "$2" -w 2 >listener.out 2>&1 &
	listener=$!
	n=0
	while ! is_tcp_listening "$2" && [ "$n" -lt 30 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if is_tcp_listening "$2"; then
		echo probe | "$NC" -w 2 "$1" "$2" >/dev/null 2>&1
	else
		echo "listener on port $2 did not start"
	fi
	wait_gone "$listener" 30 || kill "$listener" 2>/dev/null
	wait "$listener" 2>/dev/null
	echo "listener received: $(cat listener.out)"
	rm -f listener.out
	after=$(syn_lines)
	echo "new \"$SYN_LINE\" lines in dmesg: $((after - before))"
}

# set_filter ADDR: the ioctl, through the user-space program of the task
set_filter() {
	if ./test "$1"; then
		echo "./test $1: filter set"
	else
		echo "./test $1: failed (exit status $?)"
	fi
}

if ! insmod filter.ko; then
	echo "insmod filter.ko failed"
	exit 1
fi
echo "insmod filter.ko: ok"
if [ -c /dev/filter ]; then
	echo "/dev/filter: character device present"
else
	echo "/dev/filter: missing"
fi

echo "-- 1. no filter set, connecting to 127.0.0.1:60121"
echo "Should show up in filter."
probe_connection 127.0.0.1 60121

echo "-- 2. filter 127.0.0.1, connecting to 127.0.0.1:60122"
set_filter 127.0.0.1
echo "Should show up in filter."
probe_connection 127.0.0.1 60122

echo "-- 3. filter $FILTER_ADDR, connecting to 127.0.0.1:60123"
set_filter "$FILTER_ADDR"
echo "Should NOT show up in filter."
probe_connection 127.0.0.1 60123

echo "-- 4. filter $FILTER_ADDR, connecting to $FILTER_ADDR:60124"
echo "Should show up in filter."
probe_connection "$FILTER_ADDR" 60124

if rmmod filter; then
	echo "rmmod filter: ok"
else
	echo "rmmod filter: failed"
fi
if [ -e /dev/filter ]; then
	echo "/dev/filter after rmmod: still present"
else
	echo "/dev/filter after rmmod: gone"
fi
