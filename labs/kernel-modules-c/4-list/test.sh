# kernel-modules-c/4-list: the module logs the process that loads it and every process of
# the system; both are checked against what ps and the shell see. The module's lines vary
# from run to run (pids, kernel threads), so the script reads them and clears the kernel log.
insmod plist.ko &
pid=$!
wait "$pid"
echo "insmod plist.ko exit status: $?"
dmesg -c | sed -n 's/^\[[^]]*\] //; s/^plist: //p' >/tmp/plist.log
rmmod plist 2>/dev/null
current=$(sed -n 's/^current: //p' /tmp/plist.log)
case "$current" in
"pid $pid comm "*) echo "current process: the insmod process (pid matches)" ;;
"") echo "current process: not logged" ;;
*) echo "current process: wrong (logged '$current', insmod was pid $pid)" ;;
esac
older=0
missing=0
# Every process older than insmod (a smaller pid) must be in the module's list. (Only the
# pid is compared: /proc names a kworker after its current workqueue, the kernel does not.)
ps -o pid,comm | tail -n +2 >/tmp/ps.log
while read -r p _; do
    [ "$p" -lt "$pid" ] || continue
    older=$((older + 1))
    grep -q "^pid $p comm " /tmp/plist.log || missing=$((missing + 1))
done </tmp/ps.log
listed=$(grep -c '^pid ' /tmp/plist.log)
if [ "$older" -gt 0 ] && [ "$missing" -eq 0 ]; then
    echo "processes older than insmod in the module's list: all"
else
    echo "processes older than insmod in the module's list: $missing of $older missing"
fi
if grep -qxF "pid 1 comm init" /tmp/plist.log; then echo "init (pid 1) listed: yes"; else echo "init (pid 1) listed: no"; fi
if [ "$listed" -ge "$older" ] && [ "$listed" -gt 0 ]; then echo "list length: plausible"; else echo "list length: $listed lines"; fi
