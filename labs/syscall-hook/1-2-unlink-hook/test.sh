#!/bin/sh
# syscall-hook / 1-2-unlink-hook, run in the guest from /lab/syscall-hook/1-2-unlink-hook.
#
# Files are created in a scratch directory and removed with rm while the module is loaded:
# every removal must be logged (task 1), and with protect=keep.me the removal of keep.me must
# fail with EPERM while the others succeed (task 2). After rmmod nothing is intercepted any
# more. Nothing else in the guest removes files meanwhile, so every logged name is ours.

here=$(pwd)
scratch=/tmp/unlink-hook
rm -rf "$scratch"
mkdir -p "$scratch"
cd "$scratch" || exit 1

# rm_each FILE...: remove each file, print what happened (busybox rm's message on failure)
rm_each() {
	for f in "$@"; do
		if msg=$(rm "$f" 2>&1); then
			echo "rm $f: removed"
		else
			echo "rm $f: failed: $msg"
		fi
	done
}

left() {
	echo "files left: $(ls | tr '\n' ' ')"
}

echo "-- 1. no protected name"
touch one.txt two.txt
if insmod "$here/unlink_hook.ko"; then echo "insmod unlink_hook.ko: ok"; else echo "insmod unlink_hook.ko: failed"; fi
rm_each one.txt two.txt
left
if rmmod unlink_hook; then echo "rmmod unlink_hook: ok"; else echo "rmmod unlink_hook: failed"; fi

echo "-- 2. protect=keep.me"
touch a.txt keep.me b.txt
if insmod "$here/unlink_hook.ko" protect=keep.me; then
	echo "insmod unlink_hook.ko protect=keep.me: ok"
else
	echo "insmod unlink_hook.ko protect=keep.me: failed"
fi
rm_each a.txt keep.me b.txt
left
if rmmod unlink_hook; then echo "rmmod unlink_hook: ok"; else echo "rmmod unlink_hook: failed"; fi

echo "-- 3. after rmmod"
rm_each keep.me
left
cd "$here" && rm -rf "$scratch"
exit 0
