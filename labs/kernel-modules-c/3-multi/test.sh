# kernel-modules-c/3-multi: multi.ko is linked from two sources; the gcd it computes with
# the other file's function and logs is compared with one this script computes (klab sets
# GCD_A and GCD_B: the README's defaults in check, drawn values when grading). The answer is
# read from the kernel log, not sysfs: the Rust track's parameters have no sysfs files. The
# script clears the log after reading it, so the record does not depend on the values.
: "${GCD_A:?klab sets GCD_A from lab.toml [params]}"
: "${GCD_B:?klab sets GCD_B from lab.toml [params]}"
x=$GCD_A
y=$GCD_B
while [ "$y" -ne 0 ]; do
    r=$((x % y))
    x=$y
    y=$r
done
if insmod multi.ko a="$GCD_A" b="$GCD_B"; then
    echo "insmod multi.ko a=$GCD_A b=$GCD_B: ok"
else
    echo "insmod multi.ko a=$GCD_A b=$GCD_B: failed"
fi
got=$(dmesg -c | sed -n "s/.*multi: gcd($GCD_A, $GCD_B) = \\([0-9]*\\)\$/\\1/p" | tail -n 1)
if [ "$got" = "$x" ]; then
    echo "gcd from the module: correct"
else
    echo "gcd from the module: wrong (read '$got')"
fi
rmmod multi 2>/dev/null && echo "rmmod multi: ok"
