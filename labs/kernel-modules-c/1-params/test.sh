# kernel-modules-c/1-params: the module's information (modinfo), its parameters given at
# insmod (klab sets WHO and COUNT: the README's defaults in check, drawn values when
# grading), and their read-only files in sysfs.
: "${WHO:?klab sets WHO from lab.toml [params]}"
: "${COUNT:?klab sets COUNT from lab.toml [params]}"
# busybox modinfo reads the module index even for a file; an empty one will do.
mkdir -p "/lib/modules/$(uname -r)" && : >"/lib/modules/$(uname -r)/modules.dep"
for field in description author license; do
    echo "modinfo $field: $(modinfo -F "$field" params.ko)"
done
modinfo -F parm params.ko | sort | sed 's/^/modinfo parm: /'
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
