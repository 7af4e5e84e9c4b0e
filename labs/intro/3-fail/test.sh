# intro/3-fail: insmod must fail, with the error code the module returned.
insmod fail.ko
echo "insmod fail.ko exit status: $?"
if grep -q '^fail ' /proc/modules; then
    echo "fail is loaded (it should have refused)"
    rmmod fail
else
    echo "fail is not loaded"
fi
