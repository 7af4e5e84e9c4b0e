# networking-c/5-udp-sock stress: load (it sends one datagram) and unload udp_sock.ko $1 times.
n=${1:-100}
i=0
while [ "$i" -lt "$n" ]; do
	insmod udp_sock.ko || { echo "insmod udp_sock.ko failed at cycle $i"; exit 1; }
	rmmod udp_sock || { echo "rmmod udp_sock failed at cycle $i"; exit 1; }
	i=$((i + 1))
done
echo "$n cycles"
