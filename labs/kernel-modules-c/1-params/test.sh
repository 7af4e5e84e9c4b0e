# kernel-modules-c/1-params: the module's information (modinfo), its parameters given at
# insmod (klab sets WHO and COUNT: the README's defaults in check, drawn values when
# grading), and their read-only files in sysfs.
: "${WHO:?klab sets WHO from lab.toml [params]}"
: "${COUNT:?klab sets COUNT from lab.toml [params]}"
# The module information, as `modinfo -F FIELD` prints it: the `FIELD=value` strings of the
# .ko's .modinfo section. (busybox's modinfo misses a field at the very start of the section
# when the byte before it is not a NUL, as in a module built with debug info.)
info() { tr '\0' '\n' <params.ko | grep -a -o "$1=.*" | sed "s/^$1=//"; }
for field in description author license; do
    echo "modinfo $field: $(info "$field" | head -n 1)"
done
info parm | sort | sed 's/^/modinfo parm: /'
if insmod params.ko who="$WHO" count="$COUNT"; then
    echo "insmod params.ko who=$WHO count=$COUNT: ok"
else
    echo "insmod params.ko who=$WHO count=$COUNT: failed"
fi
dir=/sys/module/params/parameters
for name in who count; do
    if [ -f "$dir/$name" ]; then
        echo "sysfs $name: $(cat "$dir/$name") (mode $(stat -c %a "$dir/$name"))"
    else
        echo "sysfs $name: missing"
    fi
done
rmmod params 2>/dev/null && echo "rmmod params: ok"
