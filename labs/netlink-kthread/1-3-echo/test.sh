#!/bin/sh
# netlink-kthread / 1-3-echo, run in the guest from /lab/netlink-kthread/1-3-echo.
#
# Loading echo.ko must start a kernel thread, klab_echo, serving UDP echo on 127.0.0.1:60002
# (task 1). Two datagrams sent with nc must come back. ./echo_stats asks the module's generic
# netlink family for its counters (task 3). rmmod must return promptly (task 2: the thread
# blocked in a receive has to be woken up), and leave no thread, socket or family behind.

ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null

# The lab's netcat (UDP, prints replies with -w). Called by path: busybox sh has its own nc.
NC=/bin/nc

# wait_gone comes from klab's guest test library.
. /usr/local/lib/klab/testlib.sh

# a UDP socket bound to 127.0.0.1:60002 (0100007F:EA62)
is_bound() {
	grep -q ' 0100007F:EA62 ' /proc/net/udp
}

thread_running() {
	ps | grep -q '\[klab_echo\]'
}

yes_no() {
	if "$@"; then echo yes; else echo no; fi
}

if insmod echo.ko; then echo "insmod echo.ko: ok"; else echo "insmod echo.ko: failed"; fi
echo "kernel thread klab_echo running: $(yes_no thread_running)"
echo "UDP socket on 127.0.0.1:60002: $(yes_no is_bound)"

for msg in hello "from user space"; do
	reply=$(printf '%s\n' "$msg" | "$NC" -u -w 1 127.0.0.1 60002 2>&1)
	echo "sent \"$msg\", echoed: \"$reply\""
done

echo "--- ./echo_stats"
./echo_stats
echo "[echo_stats exit status $?]"

rmmod echo >rmmod.out 2>&1 &
rmmod_pid=$!
if wait_gone "$rmmod_pid" 50; then
	wait "$rmmod_pid"
	echo "rmmod echo: returned, exit status $?"
else
	# A thread that is never woken up keeps rmmod waiting in kthread_stop forever.
	echo "rmmod echo: still waiting after 5 s (the thread was not stopped)"
fi
cat rmmod.out
rm -f rmmod.out

echo "--- after rmmod"
echo "kernel thread klab_echo running: $(yes_no thread_running)"
echo "UDP socket on 127.0.0.1:60002: $(yes_no is_bound)"
./echo_stats 2>&1
echo "[echo_stats exit status $?]"
echo "echo after rmmod: $(printf 'anyone?\n' | "$NC" -u -w 1 127.0.0.1 60002 2>&1)"
exit 0
