// SPDX-License-Identifier: GPL-2.0

//! kernel-modules lab (Rust), task 4: list the processes of the system.
//!
//! On load, the module logs the process that loads it (the insmod process) and then one line
//! for every process in the system:
//!   plist: current: pid <pid> comm <comm>
//!   plist: pid <pid> comm <comm>
//! Check it with `cargo xtask check kernel-modules/4-list`.
//!
//! The lab kernel's `kernel` crate has no safe way to walk the processes, so this file gives
//! you two small functions, `comm` and `for_each_process`, each around a little `unsafe`
//! with the argument that makes it sound (klab warns about `unsafe` in a Rust task; here it is
//! expected, and given). Read them, then write the TODOs with them: no `unsafe` of your own.

use core::ptr::NonNull;
use kernel::prelude::*;
use kernel::{bindings, str::BStr, task::Task, types::ARef};

module! {
    type: Plist,
    name: "plist",
    author: "klab",
    description: "List the processes of the system",
    license: "GPL",
}

/// A process name as the kernel keeps it (`comm`): at most 15 bytes, NUL-padded.
struct Comm([u8; bindings::TASK_COMM_LEN as usize]);

impl core::fmt::Display for Comm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(self.0.len());
        core::fmt::Display::fmt(BStr::from_bytes(&self.0[..len]), f)
    }
}

/// The name of `task`, copied as `get_task_comm()` copies it.
#[allow(dead_code)] // your TODOs call it
fn comm(task: &Task) -> Comm {
    let mut name = Comm([0; bindings::TASK_COMM_LEN as usize]);
    let task = core::ptr::from_ref(task)
        .cast::<bindings::task_struct>()
        .cast_mut();
    // SAFETY: `Task` is a transparent wrapper of `struct task_struct`, and `task` comes from
    // a `&Task`, so it is a valid task for this call. `__get_task_comm` copies at most the
    // buffer's length, NUL-padded, under the task's own lock (the name can change while we
    // read it: `prctl(PR_SET_NAME)`), and does not keep the pointers.
    unsafe { bindings::__get_task_comm(name.0.as_mut_ptr(), name.0.len(), task) };
    name
}

/// The process id of `task`, as the caller's pid namespace sees it (C's `task_pid_nr`).
///
/// (`Task::pid()` of the lab kernel's crate reads the field through the Rust bindings' copy
/// of `struct task_struct`, which does not match the kernel's here: it returns 0.)
#[allow(dead_code)] // your TODOs call it
fn pid(task: &Task) -> i32 {
    let task = core::ptr::from_ref(task)
        .cast::<bindings::task_struct>()
        .cast_mut();
    // SAFETY: `task` comes from a `&Task`, a valid task (`Task` is its transparent wrapper).
    // `__task_pid_nr_ns` reads the task's `struct pid` under the RCU read lock it takes
    // itself; a NULL namespace means the caller's.
    unsafe {
        bindings::__task_pid_nr_ns(task, bindings::pid_type_PIDTYPE_PID, core::ptr::null_mut())
    }
}

/// Process ids are below this (the kernel's default `pid_max`, which the guest keeps).
const PID_MAX: i32 = 32768;

/// Calls `f` with every process (thread group leader) of the system, as C's
/// `for_each_process` walks them, in pid order.
///
/// C walks the task list under `rcu_read_lock()`, but that is an inline C function the lab
/// kernel's Rust bindings do not offer, and the other lock of the list (`tasklist_lock`) is
/// not exported to modules. So this asks the kernel for each process id in turn with the two
/// lookups that take the RCU read lock themselves and return a counted reference.
#[allow(dead_code)] // your TODO calls it
fn for_each_process(mut f: impl FnMut(&Task)) {
    for nr in 1..PID_MAX {
        // SAFETY: `find_get_pid` may be called with any number from process context; it
        // returns NULL or a `struct pid` with a reference we own (dropped below).
        let pid = unsafe { bindings::find_get_pid(nr) };
        if pid.is_null() {
            continue;
        }
        // SAFETY: `pid` is a valid, referenced `struct pid`. With `PIDTYPE_TGID`, the task
        // is the process whose thread group id `pid` is (NULL for a thread that is not its
        // group's leader, or a process that is exiting), returned with a reference we own.
        let task = unsafe { bindings::get_pid_task(pid, bindings::pid_type_PIDTYPE_TGID) };
        // SAFETY: We own the reference `find_get_pid` took, and do not use `pid` again.
        unsafe { bindings::put_pid(pid) };
        if let Some(task) = NonNull::new(task.cast::<Task>()) {
            // SAFETY: `task` is a valid task (`Task` is its transparent wrapper) with a
            // reference we own; `ARef` drops it (`put_task_struct`) after `f`.
            let task = unsafe { ARef::from_raw(task) };
            f(&task);
        }
    }
}

struct Plist;

impl kernel::Module for Plist {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // TODO 1/2: log the current process (kernel::current!()) with pid() and comm(): "current: pid <pid> comm <comm>"
        let me = kernel::current!();
        pr_info!("current: pid {} comm {}\n", pid(me), comm(me));

        // TODO 2/1: for every process (for_each_process), log "pid <pid> comm <comm>" with pid() and comm()
        for_each_process(|task| pr_info!("pid {} comm {}\n", pid(task), comm(task)));
        Ok(Plist)
    }
}

impl Drop for Plist {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
