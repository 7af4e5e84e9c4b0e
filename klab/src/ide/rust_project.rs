//! `rust-project.json` for rust-analyzer: the lab kernel's generator
//! (`make M=<stage> rust-analyzer`, `scripts/generate_rust_analyzer.py`) read in the IDE stage,
//! then made right for today's rust-analyzer and moved to the student's file.
//!
//! Linux 6.12's generator lists the sysroot crates (`core`, `alloc`, `std`, `proc_macro`) as
//! ordinary crates and gives no `sysroot_src`. rust-analyzer looks up the inherent methods of
//! primitive types (`u32::to_ne_bytes`, `str::as_bytes`) in sysroot crates only, so it reports
//! false errors on correct code. Here:
//! - the sysroot crates go, and so does the kernel's `compiler_builtins` shim (its own
//!   dependants do not need it to be analysed); `sysroot_src` names the toolchain's
//!   `lib/rustlib/src/rust/library`, the sources the kernel's `core` is built from, so
//!   rust-analyzer adds the real sysroot crates itself;
//! - the module's crate gets what kbuild gives a module's rustc: `--cfg MODULE` (the lab's
//!   `module_param!` refuses built-in code without it) and `-Zcrate-attr=no_std` (as
//!   `crate_attrs`, so that rust-analyzer does not offer `std`, which a module cannot use);
//!   its root module is the student's file;
//! - only the module's crate and what it depends on stay (the kernel's host programs under
//!   `scripts/` are no business of the student's), the kernel's crates as libraries, not
//!   workspace members: rust-analyzer reports on the student's code only.
//!
//! Everything else is the kernel's: each crate's `cfg` (the kernel configuration), `env`,
//! `edition`, include folders and the `macros` proc-macro library.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// Crates the toolchain's sysroot provides once `sysroot_src` is set.
const SYSROOT_CRATES: &[&str] = &["core", "alloc", "std", "proc_macro"];

/// The kernel's `compiler_builtins` stand-in (`rust/compiler_builtins.rs`).
const BUILTINS_SHIM: &str = "compiler_builtins";

/// The cfg kbuild passes to the rustc of a loadable module (`KBUILD_RUSTFLAGS_MODULE`).
const MODULE_CFG: &str = "MODULE";

/// The task's `rust-project.json` from the generator's output over `stage`.
pub fn for_task(generated: &str, stage: &Path, task_dir: &Path) -> Result<String> {
    let project: Value =
        serde_json::from_str(generated).context("parsing the generator's rust-project.json")?;
    let crates = project["crates"]
        .as_array()
        .context("the generator's rust-project.json has no `crates`")?;
    let root_of = |krate: &Value| PathBuf::from(krate["root_module"].as_str().unwrap_or(""));
    let name_of = |krate: &Value| krate["display_name"].as_str().unwrap_or("").to_owned();
    let sysroot_src = sysroot_src(&project, crates)?;

    let dropped = |krate: &Value| {
        let name = name_of(krate);
        name == BUILTINS_SHIM
            || (SYSROOT_CRATES.contains(&name.as_str()) && root_of(krate).starts_with(&sysroot_src))
    };
    let students: Vec<usize> = (0..crates.len())
        .filter(|&i| root_of(&crates[i]).starts_with(stage))
        .collect();
    if students.is_empty() {
        bail!(
            "the generator listed no crate for a module of {}",
            stage.display()
        );
    }
    // The module's crates and what they depend on, transitively.
    let mut kept = vec![false; crates.len()];
    let mut todo = students.clone();
    while let Some(i) = todo.pop() {
        if kept[i] || dropped(&crates[i]) {
            continue;
        }
        kept[i] = true;
        for dep in crates[i]["deps"].as_array().into_iter().flatten() {
            let index = dep["crate"]
                .as_u64()
                .context("a dependency without `crate`")? as usize;
            if index >= crates.len() {
                bail!("a dependency on crate {index}, of {} listed", crates.len());
            }
            todo.push(index);
        }
    }
    let new_index: BTreeMap<usize, usize> = (0..crates.len())
        .filter(|&i| kept[i])
        .enumerate()
        .map(|(new, old)| (old, new))
        .collect();

    let mut out = Vec::new();
    for &old in new_index.keys() {
        let mut krate = crates[old].clone();
        let deps: Vec<Value> = krate["deps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|dep| {
                let index = new_index.get(&(dep["crate"].as_u64()? as usize))?;
                Some(json!({ "crate": index, "name": dep["name"] }))
            })
            .collect();
        krate["deps"] = Value::Array(deps);
        if students.contains(&old) {
            let rel = root_of(&crates[old]).strip_prefix(stage)?.to_path_buf();
            krate["root_module"] = json!(task_dir.join(rel));
            krate["is_workspace_member"] = json!(true);
            krate["crate_attrs"] = json!(["no_std"]);
            let cfg = krate["cfg"]
                .as_array_mut()
                .context("a crate without `cfg`")?;
            if !cfg.iter().any(|c| c == MODULE_CFG) {
                cfg.push(json!(MODULE_CFG));
            }
        } else {
            krate["is_workspace_member"] = json!(false);
        }
        out.push(krate);
    }
    let mut fixed = json!({ "sysroot_src": sysroot_src, "crates": out });
    if let Some(sysroot) = project.get("sysroot") {
        fixed["sysroot"] = sysroot.clone();
    }
    Ok(serde_json::to_string_pretty(&fixed)? + "\n")
}

/// The toolchain's library sources: where the generator's `core` comes from, else the
/// default place under its `sysroot`.
fn sysroot_src(project: &Value, crates: &[Value]) -> Result<PathBuf> {
    let core = crates
        .iter()
        .find(|c| c["display_name"] == "core")
        .and_then(|c| c["root_module"].as_str())
        .map(PathBuf::from);
    // `<library>/core/src/lib.rs`
    if let Some(library) = core.as_deref().and_then(|p| p.ancestors().nth(3)) {
        return Ok(library.to_path_buf());
    }
    match project["sysroot"].as_str() {
        Some(sysroot) => Ok(Path::new(sysroot).join("lib/rustlib/src/rust/library")),
        None => bail!("the generator's rust-project.json names neither `core` nor a `sysroot`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of 6.12's generator output (trimmed): sysroot crates, the kernel's, a host
    /// script, the module.
    fn generated() -> String {
        let lib = "/tc/lib/rustlib/src/rust/library";
        let krate = |name: &str, root: String, deps: &[(usize, &str)], cfg: &[&str]| {
            json!({
                "display_name": name,
                "root_module": root,
                "deps": deps.iter().map(|(i, n)| json!({"crate": i, "name": n})).collect::<Vec<_>>(),
                "cfg": cfg,
                "edition": "2021",
                "env": {"RUST_MODFILE": "This is only for rust-analyzer"},
                "is_workspace_member": true,
                "is_proc_macro": false,
            })
        };
        let crates = vec![
            krate(
                "core",
                format!("{lib}/core/src/lib.rs"),
                &[],
                &["no_fp_fmt_parse"],
            ),
            krate(
                "alloc",
                format!("{lib}/alloc/src/lib.rs"),
                &[(0, "core")],
                &[],
            ),
            krate(
                "std",
                format!("{lib}/std/src/lib.rs"),
                &[(1, "alloc"), (0, "core")],
                &[],
            ),
            krate(
                "compiler_builtins",
                "/k/rust/compiler_builtins.rs".into(),
                &[(0, "core")],
                &[],
            ),
            krate(
                "kernel",
                "/k/rust/kernel/lib.rs".into(),
                &[(0, "core"), (3, "compiler_builtins")],
                &["CONFIG_NET"],
            ),
            krate(
                "rustdoc_test_gen",
                "/k/scripts/rustdoc_test_gen.rs".into(),
                &[(2, "std")],
                &[],
            ),
            krate(
                "filter",
                "/stage/filter.rs".into(),
                &[(0, "core"), (4, "kernel")],
                &["CONFIG_NET"],
            ),
        ];
        json!({"sysroot": "/tc", "crates": crates}).to_string()
    }

    fn fixed() -> Value {
        let text = for_task(
            &generated(),
            Path::new("/stage"),
            Path::new("/me/skels/lab/t"),
        )
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_sysroot_is_rust_analyzer_s_and_the_kernel_s_crates_stay() {
        let project = fixed();
        assert_eq!(project["sysroot_src"], "/tc/lib/rustlib/src/rust/library");
        assert_eq!(project["sysroot"], "/tc");
        let names: Vec<&str> = project["crates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["display_name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["kernel", "filter"],
            "no sysroot crate, shim or host script"
        );
        let kernel = &project["crates"][0];
        assert_eq!(
            kernel["deps"],
            json!([]),
            "its dependencies were the dropped crates"
        );
        assert_eq!(kernel["cfg"], json!(["CONFIG_NET"]));
        assert_eq!(kernel["is_workspace_member"], false);
        assert_eq!(
            kernel["env"]["RUST_MODFILE"],
            "This is only for rust-analyzer"
        );
    }

    #[test]
    fn the_module_is_the_student_s_file_built_as_kbuild_builds_a_module() {
        let project = fixed();
        let module = &project["crates"][1];
        assert_eq!(module["root_module"], "/me/skels/lab/t/filter.rs");
        assert_eq!(module["deps"], json!([{"crate": 0, "name": "kernel"}]));
        assert_eq!(module["cfg"], json!(["CONFIG_NET", "MODULE"]));
        assert_eq!(module["crate_attrs"], json!(["no_std"]));
        assert_eq!(module["is_workspace_member"], true);
        assert!(!project.to_string().contains("/stage"));
    }

    #[test]
    fn a_project_without_the_module_is_an_error() {
        let err = for_task(&generated(), Path::new("/elsewhere"), Path::new("/me")).unwrap_err();
        assert!(err.to_string().contains("no crate for a module"), "{err}");
    }
}
