# kernel-modules-c/2-fail: insmod must fail with the error the module's init returned, and
# the module must not stay loaded.
insmod fail.ko
echo "insmod fail.ko exit status: $?"
if grep -q '^fail ' /proc/modules; then
    echo "fail is loaded (its init should have refused)"
    rmmod fail
else
    echo "fail is not loaded"
fi
