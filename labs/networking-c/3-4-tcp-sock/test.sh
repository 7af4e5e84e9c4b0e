#!/bin/sh
# networking-c / 3-4-tcp-sock, run in the guest from /lab/<lab>/3-4-tcp-sock (also the Rust lab's, through scripts_from).
#
# insmod tcp_sock.ko port=$TCP_PORT blocks in accept until a client connects,
# so it runs in the background. The script waits (bounded) for the kernel
# socket to listen on 127.0.0.1:$TCP_PORT (task 3), checks that insmod is still
# waiting, connects with nc and checks that insmod then returns (task 4; the
# module logs the address of the client), and finally that rmmod closes the
# listening socket. A module that never listens or never returns is killed,
# not waited for. klab sets TCP_PORT from lab.toml [params]: 60000 in check, a
# drawn port when grading.
: "${TCP_PORT:?klab sets TCP_PORT}"

ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null

# The lab's netcat. Called by path: busybox sh would run its own nc applet.
NC=/bin/nc

# LISTEN (0A) on 127.0.0.1:$TCP_PORT (0100007F:<port in hex> in /proc/net/tcp)
port_hex=$(printf '%04X' "$TCP_PORT")
is_listening() {
	grep -q " 0100007F:$port_hex 00000000:0000 0A" /proc/net/tcp
}

# wait_gone comes from klab's guest test library.
. /usr/local/lib/klab/testlib.sh

insmod tcp_sock.ko port="$TCP_PORT" >insmod.out 2>&1 &
insmod_pid=$!

n=0
while ! is_listening && kill -0 "$insmod_pid" 2>/dev/null && [ "$n" -lt 50 ]; do
	sleep 0.1
	n=$((n + 1))
done

client=
if is_listening; then
	echo "listener on 127.0.0.1:$TCP_PORT: yes"
	# Task 4: init waits in accept, so insmod must still be running.
	sleep 0.3
	if kill -0 "$insmod_pid" 2>/dev/null; then
		echo "insmod waits for a connection: yes"
		"$NC" -w 3 127.0.0.1 "$TCP_PORT" </dev/null >/dev/null 2>&1 &
		client=$!
		if wait_gone "$insmod_pid" 50; then
			echo "insmod returned once a client connected: yes"
		else
			echo "insmod returned once a client connected: no (still blocked, killing it)"
			kill "$insmod_pid" 2>/dev/null
		fi
	else
		echo "insmod waits for a connection: no (it returned without one)"
	fi
else
	echo "listener on 127.0.0.1:$TCP_PORT: no"
	if ! wait_gone "$insmod_pid" 10; then
		echo "insmod still running without a listener, killing it"
		kill "$insmod_pid" 2>/dev/null
	fi
fi
if wait_gone "$insmod_pid" 20; then
	wait "$insmod_pid" 2>/dev/null
	echo "insmod exit status: $?"
else
	echo "insmod did not stop after being killed"
fi
cat insmod.out
rm -f insmod.out

if grep -q '^tcp_sock ' /proc/modules; then
	if rmmod tcp_sock; then
		echo "rmmod tcp_sock: ok"
	else
		echo "rmmod tcp_sock: failed"
	fi
else
	echo "tcp_sock is not loaded"
fi

if is_listening; then
	echo "listener on 127.0.0.1:$TCP_PORT after rmmod: yes"
else
	echo "listener on 127.0.0.1:$TCP_PORT after rmmod: no"
fi

if [ -n "$client" ]; then
	wait_gone "$client" 40 || kill "$client" 2>/dev/null
	wait "$client" 2>/dev/null
fi
exit 0
