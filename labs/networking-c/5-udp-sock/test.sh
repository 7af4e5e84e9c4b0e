#!/bin/sh
# networking-c / 5-udp-sock, run in the guest from /lab/<lab>/5-udp-sock (also the Rust lab's, through scripts_from).
#
# A UDP listener (nc -l -u) waits on port $UDP_PORT; loading udp_sock.ko
# port=$UDP_PORT must send it one datagram, "kernelsocket\n". The script prints
# what nc received. klab sets UDP_PORT from lab.toml [params]: 60001 in check,
# a drawn port when grading.
: "${UDP_PORT:?klab sets UDP_PORT}"

ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null

# The lab's netcat. Called by path: busybox sh would run its own nc applet.
NC=/bin/nc

# a UDP socket bound to port $UDP_PORT (in hex), any local address, IPv4 or IPv6
port_hex=$(printf '%04X' "$UDP_PORT")
is_udp_bound() {
	cat /proc/net/udp /proc/net/udp6 2>/dev/null | grep -q ":$port_hex 0*:0000 07"
}

# wait_gone comes from klab's guest test library.
. /usr/local/lib/klab/testlib.sh

rm -f received.out
"$NC" -l -u -p "$UDP_PORT" -w 3 >received.out 2>&1 &
listener=$!

n=0
while ! is_udp_bound && [ "$n" -lt 50 ]; do
	sleep 0.1
	n=$((n + 1))
done
if is_udp_bound; then
	echo "UDP listener on port $UDP_PORT: yes"
else
	echo "UDP listener on port $UDP_PORT: no"
fi

if insmod udp_sock.ko port="$UDP_PORT"; then
	echo "insmod udp_sock.ko: ok"
	if rmmod udp_sock; then
		echo "rmmod udp_sock: ok"
	else
		echo "rmmod udp_sock: failed"
	fi
else
	echo "insmod udp_sock.ko: failed"
fi

# Give the listener up to 2 s to write the datagram out, then stop it.
n=0
while [ ! -s received.out ] && [ "$n" -lt 20 ]; do
	sleep 0.1
	n=$((n + 1))
done
sleep 0.2
wait_gone "$listener" 1 || kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null

echo "bytes received on port $UDP_PORT: $(wc -c <received.out)"
echo "received (between the markers):"
echo "-----"
cat received.out
echo "-----"
rm -f received.out
exit 0
