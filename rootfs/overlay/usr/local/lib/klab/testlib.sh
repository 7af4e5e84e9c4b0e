# klab's helpers for lab test scripts, in the guest: `. /usr/local/lib/klab/testlib.sh`.

# wait_gone PID TENTHS: wait until PID has exited, at most TENTHS/10 seconds.
# Returns 1 if it is still running then (the caller decides whether to kill it).
wait_gone() {
	n=0
	while kill -0 "$1" 2>/dev/null; do
		[ "$n" -ge "$2" ] && return 1
		sleep 0.1
		n=$((n + 1))
	done
	return 0
}
