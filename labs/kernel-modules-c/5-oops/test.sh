# kernel-modules-c/5-oops: the module must load without an oops, keep the value it is given
# (klab sets COUNT: the README's default in check, a drawn value when grading) and unload.
# (Until its TODO is done, insmod dies in the oops and klab reports a FAULT.)
: "${COUNT:?klab sets COUNT from lab.toml [params]}"
if insmod oops.ko value="$COUNT"; then
    echo "insmod oops.ko value=$COUNT: ok"
else
    echo "insmod oops.ko value=$COUNT: failed"
fi
if grep -q '^oops ' /proc/modules; then
    echo "oops is loaded"
else
    echo "oops is not loaded"
fi
rmmod oops 2>/dev/null && echo "rmmod oops: ok"
