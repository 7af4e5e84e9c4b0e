//! `cargo xtask doc`: the lab kernel's rustdoc, built once per kernel beside it; it documents
//! the lab's own abstractions, and every item a Rust lab's README names has a page there. No
//! VM; the first run builds the documentation (about a minute).

mod support;

use std::path::{Path, PathBuf};

use klab::lab::doc_items::{items, resolve};
use support::{repo, xtask};

/// Runs `cargo xtask doc`; the documentation folder it printed.
fn docs() -> (PathBuf, String) {
    let run = xtask(&["doc"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let index = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("the kernel crate: "))
        .unwrap_or_else(|| panic!("no index printed:\n{}", run.all()));
    let index = Path::new(index);
    assert!(index.is_file(), "{}", index.display());
    let root = index.parent().unwrap().parent().unwrap().to_path_buf();
    (root, run.stdout)
}

#[test]
fn the_documentation_has_the_lab_kernel_s_own_abstractions() {
    let (root, _) = docs();
    for (item, page) in [
        (
            "kernel::net::filter::Registration",
            "kernel/net/filter/struct.Registration.html",
        ),
        ("kernel::miscdevice", "kernel/miscdevice/index.html"),
        ("kernel::kprobes", "kernel/kprobes/index.html"),
        ("kernel::module_param!", "kernel/macro.module_param.html"),
    ] {
        let found = resolve(&root, item).unwrap_or_else(|| panic!("{item}: no page"));
        assert_eq!(found.file, Path::new(page), "{item}");
        assert!(root.join(page).is_file(), "{page}");
    }
    // A resolver that found anything would pass the test above.
    assert_eq!(resolve(&root, "kernel::net::filter::Regstration"), None);
    assert_eq!(resolve(&root, "kernel::net::UdpSocket::recv_form"), None);
}

#[test]
fn every_item_a_rust_lab_s_readme_names_has_a_page() {
    let (root, printed) = docs();
    let labs = klab::lab::manifest::discover(&repo().join("labs")).unwrap();
    let rust: Vec<_> = labs
        .iter()
        .filter(|l| l.manifest.language == "rust")
        .collect();
    assert!(rust.len() >= 5, "{rust:?}");
    for lab in rust {
        let readme = lab.dir.join("README.md");
        let listed = items(&std::fs::read_to_string(&readme).unwrap()).unwrap();
        assert!(!listed.is_empty(), "{}", readme.display());
        for item in listed {
            let page = resolve(&root, &item.path).unwrap_or_else(|| {
                panic!(
                    "{}:{}: `{}` has no page",
                    readme.display(),
                    item.line,
                    item.path
                )
            });
            assert!(root.join(&page.file).is_file());
            if let Some(anchor) = &page.anchor {
                let html = std::fs::read_to_string(root.join(&page.file)).unwrap();
                assert!(
                    html.contains(&format!("id=\"{anchor}\"")),
                    "{}",
                    page.shown()
                );
            }
            // `doc` prints it, with its page.
            let line = format!("{}  ", item.path);
            assert!(
                printed
                    .lines()
                    .any(|l| l.trim_start().starts_with(&line) && l.ends_with(&page.shown())),
                "{} not printed with {}:\n{printed}",
                item.path,
                page.shown()
            );
        }
    }
}
