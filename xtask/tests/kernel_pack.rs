//! `cargo xtask kernel export` and `import`: the cached lab kernel packed, unpacked into an
//! empty cache, and used there to build a Rust module and a C module, with no kernel build.
//! (No VM: booting the imported bzImage is the same as booting the cached one.)

mod support;

use support::xtask_env;

#[test]
fn an_exported_kernel_imports_into_an_empty_cache_and_builds_modules() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("klab-kernel.tar.gz");
    let export = xtask_env(&["kernel", "export", pack.to_str().unwrap()], &[]);
    assert_eq!(export.code, 0, "{}", export.all());
    assert!(pack.is_file());

    let cache = dir.path().join("cache");
    let cache_env = [("KLAB_CACHE_DIR", cache.to_str().unwrap())];
    let import = xtask_env(&["kernel", "import", pack.to_str().unwrap()], &cache_env);
    assert_eq!(import.code, 0, "{}", import.all());
    let again = xtask_env(&["kernel", "import", pack.to_str().unwrap()], &cache_env);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.all().contains("already cached"), "{}", again.all());

    let info = xtask_env(&["kernel", "info"], &cache_env);
    assert!(info.stdout.contains("built"), "{}", info.all());
    let build = xtask_env(
        &[
            "build",
            "--solution",
            "intro/1-2-hello",
            "networking-c/5-udp-sock",
        ],
        &cache_env,
    );
    assert_eq!(
        build.code,
        0,
        "modules build against the imported tree\n{}",
        build.all()
    );
}

#[test]
fn a_pack_that_is_not_one_is_refused_without_touching_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.tar.gz");
    std::fs::write(&bogus, b"not a kernel pack").unwrap();
    let cache = dir.path().join("cache");
    let run = xtask_env(
        &["kernel", "import", bogus.to_str().unwrap()],
        &[("KLAB_CACHE_DIR", cache.to_str().unwrap())],
    );
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        !cache.join("kernel").exists()
            || std::fs::read_dir(cache.join("kernel"))
                .unwrap()
                .next()
                .is_none(),
        "nothing is written to the cache"
    );
}
