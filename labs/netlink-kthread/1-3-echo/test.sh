#!/bin/sh
# netlink-kthread / 1-3-echo, run in the guest from /lab/netlink-kthread/1-3-echo.
#
# Loading echo.ko port=$ECHO_PORT must start a kernel thread, klab_echo, serving UDP echo on
# 127.0.0.1:$ECHO_PORT (task 1). $DATAGRAMS datagrams of $BYTES bytes in all, sent with nc,
# must come back unchanged. ./echo_stats asks the module's generic netlink family for its
# counters (task 3). rmmod must return promptly (task 2: the thread blocked in a receive has
# to be woken up), and leave no thread, socket or family behind. klab sets the three
# variables from lab.toml [params]: the defaults in check, drawn values when grading.
: "${ECHO_PORT:?klab sets ECHO_PORT}" "${DATAGRAMS:?klab sets DATAGRAMS}" "${BYTES:?klab sets BYTES}"

ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null

# The lab's netcat (UDP, prints replies with -w). Called by path: busybox sh has its own nc.
NC=/bin/nc

# wait_gone comes from klab's guest test library.
. /usr/local/lib/klab/testlib.sh

# a UDP socket bound to 127.0.0.1:$ECHO_PORT (0100007F:<port in hex> in /proc/net/udp)
port_hex=$(printf '%04X' "$ECHO_PORT")
is_bound() {
	grep -q " 0100007F:$port_hex " /proc/net/udp
}

thread_running() {
	ps | grep -q '\[klab_echo\]'
}

yes_no() {
	if "$@"; then echo yes; else echo no; fi
}

if insmod echo.ko port="$ECHO_PORT"; then
	echo "insmod echo.ko port=$ECHO_PORT: ok"
else
	echo "insmod echo.ko port=$ECHO_PORT: failed"
fi
echo "kernel thread klab_echo running: $(yes_no thread_running)"
echo "UDP socket on 127.0.0.1:$ECHO_PORT: $(yes_no is_bound)"

# The datagrams: "datagram 1", "datagram 2", ... (10 bytes each: DATAGRAMS is at most 9),
# then one of x's that brings the total to BYTES.
i=1
sent=0
echoed=0
while [ "$i" -le "$DATAGRAMS" ]; do
	if [ "$i" -lt "$DATAGRAMS" ]; then
		msg="datagram $i"
	else
		msg=$(head -c $((BYTES - sent)) /dev/zero | tr '\0' x)
	fi
	reply=$(printf '%s' "$msg" | "$NC" -u -w 1 127.0.0.1 "$ECHO_PORT" 2>&1)
	if [ "$reply" = "$msg" ]; then
		echoed=$((echoed + 1))
	else
		echo "datagram $i (${#msg} bytes) came back as: \"$reply\""
	fi
	sent=$((sent + ${#msg}))
	i=$((i + 1))
done
echo "datagrams sent: $DATAGRAMS ($sent bytes), echoed back unchanged: $echoed"

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
echo "UDP socket on 127.0.0.1:$ECHO_PORT: $(yes_no is_bound)"
./echo_stats 2>&1
echo "[echo_stats exit status $?]"
echo "echo after rmmod: $(printf 'anyone?\n' | "$NC" -u -w 1 127.0.0.1 "$ECHO_PORT" 2>&1)"
exit 0
