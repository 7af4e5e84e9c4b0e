# networking-c/3-4-tcp-sock stress: $1 times, load tcp_sock.ko (it blocks in accept),
# connect once, let insmod return, unload. Every wait is bounded.
n=${1:-100}
i=0
while [ "$i" -lt "$n" ]; do
	insmod tcp_sock.ko &
	pid=$!
	t=0
	until grep -q ':EA60 00000000:0000 0A' /proc/net/tcp; do
		t=$((t + 1))
		[ "$t" -gt 100 ] && { echo "no listener at cycle $i"; kill "$pid"; exit 1; }
		sleep 0.05
	done
	/bin/nc -z -w 2 127.0.0.1 60000 || { echo "connect failed at cycle $i"; exit 1; }
	wait "$pid" || { echo "insmod tcp_sock.ko failed at cycle $i"; exit 1; }
	rmmod tcp_sock || { echo "rmmod tcp_sock failed at cycle $i"; exit 1; }
	i=$((i + 1))
done
echo "$n cycles"
