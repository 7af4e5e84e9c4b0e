# networking-c/1-2-netfilter stress: load and unload filter.ko $1 times; every 10th cycle,
# set the filter and send a SYN through the hook. Exits non-zero on the first failure.
n=${1:-100}
i=0
while [ "$i" -lt "$n" ]; do
	insmod filter.ko || { echo "insmod filter.ko failed at cycle $i"; exit 1; }
	if [ $((i % 10)) -eq 0 ]; then
		./test 127.0.0.1 >/dev/null || { echo "ioctl failed at cycle $i"; exit 1; }
		/bin/nc -z -w 1 127.0.0.1 60300 2>/dev/null
	fi
	rmmod filter || { echo "rmmod filter failed at cycle $i"; exit 1; }
	i=$((i + 1))
done
echo "$n cycles"
