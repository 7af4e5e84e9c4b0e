use std::io::Write;

use super::*;
use crate::lab::manifest::LabManifest;

fn lab() -> Lab {
    let manifest: LabManifest = toml::from_str(
        "title = 't'\nlanguage = 'c'\n[[tasks]]\nname = '1-a'\nmodules = ['a']\n[[tasks]]\nname = '2-b'\nmodules = ['b']\n",
    )
    .unwrap();
    Lab {
        name: "net".into(),
        dir: "labs/net".into(),
        manifest,
    }
}

fn tar_gz(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, kind, data) in entries {
        let mut header = tar::Header::new_gnu();
        // Write the name bytes directly: `set_path` would refuse `..`, which is the point here.
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(*kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        if *kind == tar::EntryType::Symlink {
            header.set_link_name("/etc/passwd").unwrap();
        }
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_folder_with_a_wrapping_directory_is_found_and_only_named_files_are_taken() {
    let dir = tempfile::tempdir().unwrap();
    let task = dir.path().join("alice/net/1-a");
    std::fs::create_dir_all(&task).unwrap();
    std::fs::write(task.join("a.c"), "int x;").unwrap();
    std::fs::write(task.join("Makefile"), "all:\n\trm -rf /").unwrap();
    let lab = lab();
    let unpacked = open(
        &dir.path().join("alice"),
        &dir.path().join("scratch"),
        &lab,
        Limits::default(),
    )
    .unwrap();
    assert_eq!(unpacked.lab_root, dir.path().join("alice/net"));
    let wanted = vec!["a.c".to_string()];
    let taken = take(
        &unpacked.lab_root,
        &lab.manifest.tasks[0],
        &wanted,
        Limits::default(),
    );
    assert_eq!(taken.files, [("a.c".to_string(), b"int x;".to_vec())]);
    let other = take(
        &unpacked.lab_root,
        &lab.manifest.tasks[1],
        &["b.c".to_string()],
        Limits::default(),
    );
    assert_eq!(other.missing, ["2-b/b.c"]);
    let ignored = ignored(&unpacked.lab_root, &[("1-a".into(), wanted)]);
    assert_eq!(ignored, ["1-a/Makefile"]);
}

#[test]
fn a_tar_gz_unpacks() {
    let dir = tempfile::tempdir().unwrap();
    let archive = write(
        dir.path(),
        "s.tar.gz",
        &tar_gz(&[("1-a/a.c", tar::EntryType::Regular, b"int y;")]),
    );
    let unpacked = open(&archive, &dir.path().join("x"), &lab(), Limits::default()).unwrap();
    assert_eq!(
        std::fs::read(unpacked.lab_root.join("1-a/a.c")).unwrap(),
        b"int y;"
    );
}

#[test]
fn escaping_paths_and_links_reject_the_submission() {
    let dir = tempfile::tempdir().unwrap();
    let up = write(
        dir.path(),
        "up.tar.gz",
        &tar_gz(&[("../evil.c", tar::EntryType::Regular, b"x")]),
    );
    let err = open(&up, &dir.path().join("x"), &lab(), Limits::default()).unwrap_err();
    assert!(err.0.contains("`../evil.c` escapes"), "{err}");
    assert!(!dir.path().join("evil.c").exists());
    let link = write(
        dir.path(),
        "link.tgz",
        &tar_gz(&[("1-a/a.c", tar::EntryType::Symlink, b"")]),
    );
    let err = open(&link, &dir.path().join("y"), &lab(), Limits::default()).unwrap_err();
    assert!(err.0.contains("only regular files and folders"), "{err}");
}

#[test]
fn oversized_files_and_bombs_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let small = Limits {
        max_file_bytes: 10,
        max_total_bytes: 25,
        max_entries: 100,
    };
    let big = write(
        dir.path(),
        "big.tar.gz",
        &tar_gz(&[("1-a/a.c", tar::EntryType::Regular, &[b'x'; 11])]),
    );
    assert!(open(&big, &dir.path().join("x"), &lab(), small)
        .unwrap_err()
        .0
        .contains("limit per file"));
    let many = tar_gz(&[
        ("1-a/a.c", tar::EntryType::Regular, &[b'x'; 10]),
        ("1-a/b.c", tar::EntryType::Regular, &[b'x'; 10]),
        ("1-a/c.c", tar::EntryType::Regular, &[b'x'; 10]),
    ]);
    let bomb = write(dir.path(), "bomb.tar.gz", &many);
    assert!(open(&bomb, &dir.path().join("y"), &lab(), small)
        .unwrap_err()
        .0
        .contains("expands past 25 bytes"));
}

#[test]
fn zips_unpack_and_their_escapes_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str, entry: &str| {
        let path = dir.path().join(name);
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        zip.start_file(entry, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"int z;").unwrap();
        zip.finish().unwrap();
        path
    };
    let good = make("good.zip", "net/1-a/a.c");
    let unpacked = open(&good, &dir.path().join("x"), &lab(), Limits::default()).unwrap();
    assert!(unpacked.lab_root.join("1-a/a.c").is_file());
    let bad = make("bad.zip", "/abs/a.c");
    assert!(open(&bad, &dir.path().join("y"), &lab(), Limits::default())
        .unwrap_err()
        .0
        .contains("escapes"));
}

#[test]
fn not_an_archive_and_wrong_layouts_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let text = write(dir.path(), "notes.txt", b"hello");
    assert!(
        open(&text, &dir.path().join("x"), &lab(), Limits::default())
            .unwrap_err()
            .0
            .contains("neither a folder")
    );
    let junk = write(dir.path(), "junk.tar.gz", b"not gzip at all");
    assert!(
        open(&junk, &dir.path().join("y"), &lab(), Limits::default())
            .unwrap_err()
            .0
            .contains("not a readable")
    );
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    let err = open(
        &dir.path().join("empty"),
        &dir.path().join("z"),
        &lab(),
        Limits::default(),
    )
    .unwrap_err();
    assert!(err.0.contains("no task folder of lab `net`"), "{err}");
}

#[test]
fn folders_reached_through_links_are_not_taken() {
    // A git clone keeps symbolic links: a task folder linked to the grader's reference
    // solution (`/proc/self/cwd/templates/...`) or to another student's folder must not be
    // read, nor a lab folder found through a linked wrapping folder.
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("grader/net/1-a");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("a.c"), "the reference solution").unwrap();
    let lab = lab();

    let alice = dir.path().join("alice/net");
    std::fs::create_dir_all(alice.join("2-b")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, alice.join("1-a")).unwrap();
    let unpacked = open(
        &dir.path().join("alice"),
        &dir.path().join("scratch"),
        &lab,
        Limits::default(),
    )
    .unwrap();
    let taken = take(
        &unpacked.lab_root,
        &lab.manifest.tasks[0],
        &["a.c".to_string()],
        Limits::default(),
    );
    assert!(taken.files.is_empty(), "{:?}", taken.files);
    assert_eq!(taken.refused.len(), 1, "{:?}", taken.refused);
    assert!(
        taken.refused[0].contains("symbolic link"),
        "{:?}",
        taken.refused
    );

    let bob = dir.path().join("bob");
    std::fs::create_dir_all(&bob).unwrap();
    std::os::unix::fs::symlink(dir.path().join("grader"), bob.join("wrap")).unwrap();
    let err = open(&bob, &dir.path().join("scratch2"), &lab, Limits::default()).unwrap_err();
    assert!(err.0.contains("no task folder"), "{err}");
}

#[test]
fn a_long_name_entry_cannot_make_the_grader_hold_the_stream_or_the_name() {
    // The tar crate reads a GNU long-name (or pax) entry whole into memory before it hands
    // out the entry it names: a 1 MiB .tar.gz naming a file with 1 GiB of zeros took all of a
    // 23 GiB host (the rejection, quoting the name, was copied into every result).
    let dir = tempfile::tempdir().unwrap();
    let small = Limits {
        max_file_bytes: 1024,
        max_total_bytes: 4096,
        max_entries: 10,
    };
    let archive = |name: &[u8]| {
        tar_gz(&[
            ("././@LongLink", tar::EntryType::GNULongName, name),
            ("x", tar::EntryType::Regular, b""),
        ])
    };
    let past_the_stream = write(dir.path(), "a.tar.gz", &archive(&vec![b'a'; 1 << 20]));
    let err = open(&past_the_stream, &dir.path().join("x"), &lab(), small).unwrap_err();
    assert!(err.0.len() < 1024, "a {}-byte message", err.0.len());
    assert!(err.0.contains("expands past"), "{err}");
    // Within the stream's cap but longer than any path: refused without being quoted.
    let long_name = write(dir.path(), "b.tar.gz", &archive(&vec![b'a'; 8192]));
    let err = open(&long_name, &dir.path().join("y"), &lab(), small).unwrap_err();
    assert!(err.0.contains("8192 bytes long"), "{err}");
    assert!(err.0.len() < 1024, "a {}-byte message", err.0.len());
}

#[test]
fn student_files_default_to_every_module_source_and_rust_mod_files() {
    let template = tempfile::tempdir().unwrap();
    let t = template.path();
    std::fs::create_dir_all(t.join("kernel")).unwrap();
    for (file, text) in [
        ("plain.c", ""),
        ("kernel/main.c", ""),
        ("kernel/helper.c", ""),
        ("kernel/helper.h", ""),
        ("walk.rs", "mod table;\n"),
        ("table.rs", ""),
        ("user/test.c", ""),
    ] {
        std::fs::create_dir_all(t.join(file).parent().unwrap()).unwrap();
        std::fs::write(t.join(file), text).unwrap();
    }
    let task: TaskManifest = toml::from_str(
        "name = '1-a'\nmodules = ['plain', { name = 'multi', dir = 'kernel', sources = ['main.c', 'helper.c'] }, 'walk']\nprograms = ['user/test.c']",
    )
    .unwrap();
    assert_eq!(
        student_files(&task, t),
        [
            "plain.c",
            "kernel/main.c",
            "kernel/helper.c",
            "walk.rs",
            "table.rs"
        ]
    );
    let listed: TaskManifest = toml::from_str(
        "name = '1-a'\nmodules = ['plain']\nstudent_files = ['plain.c', 'kernel/helper.h']",
    )
    .unwrap();
    assert_eq!(student_files(&listed, t), ["plain.c", "kernel/helper.h"]);
}
