#!/bin/sh
# syscall-hook / 1-2-unlink-hook, run in the guest from /lab/syscall-hook/1-2-unlink-hook.
#
# Files are created in a scratch directory and removed with rm while the module is loaded:
# every removal must be logged (task 1), the file named $PROTECT included, which nothing
# protects yet; with protect=$PROTECT its removal must fail with EPERM while the others
# succeed (task 2). After rmmod nothing is intercepted any more. Nothing else in the guest
# removes files meanwhile, so every logged name is ours. klab sets PROTECT: `keep.me` in
# check, a drawn name when grading.
: "${PROTECT:?klab sets PROTECT from lab.toml [params]}"

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
touch one.txt "$PROTECT" two.txt
if insmod "$here/unlink_hook.ko"; then echo "insmod unlink_hook.ko: ok"; else echo "insmod unlink_hook.ko: failed"; fi
rm_each one.txt "$PROTECT" two.txt
left
if rmmod unlink_hook; then echo "rmmod unlink_hook: ok"; else echo "rmmod unlink_hook: failed"; fi

echo "-- 2. protect=$PROTECT"
touch a.txt "$PROTECT" b.txt
if insmod "$here/unlink_hook.ko" protect="$PROTECT"; then
	echo "insmod unlink_hook.ko protect=$PROTECT: ok"
else
	echo "insmod unlink_hook.ko protect=$PROTECT: failed"
fi
rm_each a.txt "$PROTECT" b.txt
left
if rmmod unlink_hook; then echo "rmmod unlink_hook: ok"; else echo "rmmod unlink_hook: failed"; fi

echo "-- 3. after rmmod"
rm_each "$PROTECT"
left
cd "$here" && rm -rf "$scratch"
exit 0
