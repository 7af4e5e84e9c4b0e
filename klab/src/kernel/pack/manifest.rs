//! `klab-kernel.json`, a kernel pack's first entry: the cache key and each of its inputs as
//! a person reads them, and the comparison with this checkout and machine.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::kernel::{self, KeyInput};

/// The manifest's name; it is the pack's first entry.
pub const MANIFEST: &str = "klab-kernel.json";
pub const FORMAT: u32 = 1;

/// One key input as a person reads it: a file by its hash and size, a version line as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownInput {
    pub name: String,
    pub value: String,
}

/// `klab-kernel.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PackManifest {
    pub format: u32,
    /// The cache folder's name, `<version>-<hash>`.
    pub key: String,
    pub inputs: Vec<ShownInput>,
    pub bzimage_bytes: u64,
    pub files: u64,
    pub unpacked_bytes: u64,
}

pub fn shown(inputs: &[KeyInput]) -> Vec<ShownInput> {
    inputs
        .iter()
        .map(|input| ShownInput {
            name: input.name.clone(),
            value: if input.is_file {
                format!(
                    "fnv64 {:016x}, {} bytes",
                    kernel::fnv64(&[&input.bytes]),
                    input.bytes.len()
                )
            } else {
                String::from_utf8_lossy(&input.bytes).into_owned()
            },
        })
        .collect()
}

fn quoted(value: &str) -> String {
    if value.is_empty() {
        "nothing (not installed?)".to_owned()
    } else {
        format!("`{value}`")
    }
}

/// One line per input that differs between the pack and this machine.
pub fn differences(pack: &[ShownInput], here: &[ShownInput]) -> Vec<String> {
    let mut lines = Vec::new();
    for theirs in pack {
        match here.iter().find(|mine| mine.name == theirs.name) {
            Some(mine) if mine.value != theirs.value => lines.push(format!(
                "{}: pack has {}, this machine has {}",
                theirs.name,
                quoted(&theirs.value),
                quoted(&mine.value)
            )),
            Some(_) => {}
            None => lines.push(format!(
                "{}: the pack was built with it, this checkout has no such file",
                theirs.name
            )),
        }
    }
    for mine in here {
        if !pack.iter().any(|theirs| theirs.name == mine.name) {
            lines.push(format!(
                "{}: this checkout has it, the pack was built without it",
                mine.name
            ));
        }
    }
    lines
}

pub fn open_pack(file: &Path) -> Result<tar::Archive<flate2::read::GzDecoder<BufReader<File>>>> {
    let reader = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    Ok(tar::Archive::new(flate2::read::GzDecoder::new(
        BufReader::new(reader),
    )))
}

/// The pack's manifest: its first entry.
pub fn read_manifest(file: &Path) -> Result<PackManifest> {
    let not_a_pack = || {
        format!(
            "{} is not a klab kernel pack (one made by `cargo xtask kernel export`)",
            file.display()
        )
    };
    let mut pack = open_pack(file)?;
    let mut entry = pack
        .entries()
        .with_context(not_a_pack)?
        .next()
        .with_context(not_a_pack)?
        .with_context(not_a_pack)?;
    if entry.path().with_context(not_a_pack)? != Path::new(MANIFEST) {
        bail!("{}: its first entry is not {MANIFEST}", not_a_pack());
    }
    let mut json = Vec::new();
    (&mut entry)
        .take(1 << 20)
        .read_to_end(&mut json)
        .with_context(not_a_pack)?;
    let manifest: PackManifest = serde_json::from_slice(&json)
        .with_context(|| format!("{}: {MANIFEST} does not parse", not_a_pack()))?;
    if manifest.format != FORMAT {
        bail!(
            "{} is a format {} pack; this klab reads format {FORMAT}: build the kernel instead: cargo xtask kernel build",
            file.display(),
            manifest.format
        );
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;
    fn input(name: &str, value: &str) -> ShownInput {
        ShownInput {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }

    #[test]
    fn equal_inputs_have_no_differences() {
        let inputs = vec![
            input("source", "linux-source-6.12=6.12.117"),
            input("rustc", "rustc 1.95.0"),
        ];
        assert!(differences(&inputs, &inputs).is_empty());
    }

    #[test]
    fn each_differing_input_is_named_with_both_values() {
        let pack = vec![
            input("source", "s"),
            input("kernel/lean.config", "fnv64 00000000000000aa, 10 bytes"),
            input("rustc", "rustc 1.95.0 (abc 2025-01-01)"),
            input("bindgen", "bindgen 0.71.1"),
        ];
        let here = vec![
            input("source", "s"),
            input("kernel/lean.config", "fnv64 00000000000000bb, 12 bytes"),
            input("rustc", "rustc 1.96.0 (def 2025-03-01)"),
            input("bindgen", ""),
        ];
        assert_eq!(
            differences(&pack, &here),
            vec![
                "kernel/lean.config: pack has `fnv64 00000000000000aa, 10 bytes`, this machine has `fnv64 00000000000000bb, 12 bytes`",
                "rustc: pack has `rustc 1.95.0 (abc 2025-01-01)`, this machine has `rustc 1.96.0 (def 2025-03-01)`",
                "bindgen: pack has `bindgen 0.71.1`, this machine has nothing (not installed?)",
            ]
        );
    }

    #[test]
    fn a_patch_on_one_side_only_is_named() {
        let pack = vec![input("kernel/patches/0001-a.patch", "x")];
        let here = vec![input("kernel/patches/0002-b.patch", "y")];
        assert_eq!(
            differences(&pack, &here),
            vec![
                "kernel/patches/0001-a.patch: the pack was built with it, this checkout has no such file",
                "kernel/patches/0002-b.patch: this checkout has it, the pack was built without it",
            ]
        );
    }

    #[test]
    fn files_are_shown_by_hash_and_lines_as_they_are() {
        let inputs = [
            KeyInput {
                name: "kernel/lean.config".into(),
                bytes: b"CONFIG_A=y\n".to_vec(),
                is_file: true,
            },
            KeyInput {
                name: "clang".into(),
                bytes: b"Debian clang version 14.0.6".to_vec(),
                is_file: false,
            },
        ];
        let shown = shown(&inputs);
        assert_eq!(
            shown[0].value,
            format!("fnv64 {:016x}, 11 bytes", kernel::fnv64(&[b"CONFIG_A=y\n"]))
        );
        assert_eq!(shown[1].value, "Debian clang version 14.0.6");
    }
}
