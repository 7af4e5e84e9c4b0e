//! Safe names: what lab, task, module and program names may be made of before they reach a
//! guest command (`cd /lab/{lab}/{task} && sh ./test.sh`, `rmmod {module}`) or a host path,
//! and folder names for graded submissions that are safe and distinct whatever the
//! submissions are called.

use std::collections::HashSet;

/// The rule [`is_safe_name`] checks, for error messages.
pub const SAFE_NAME_RULE: &str =
    "letters, digits, `_`, `.` and `-`, starting with a letter or a digit, without `..`";

/// Whether `name` matches `[A-Za-z0-9][A-Za-z0-9_.-]*` and has no `..`: nothing a shell
/// expands or splits, never an option (`-x`), never a path that climbs or hides.
pub fn is_safe_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !name.contains("..")
}

/// Whether `path` is relative and every `/`-separated part of it is a safe name.
pub fn is_safe_relative_path(path: &str) -> bool {
    path.split('/').all(is_safe_name)
}

/// How long a submission's folder name may get before its `-N` suffix (file systems allow
/// 255 bytes; results files and task names are appended below it).
const MAX_FOLDER_NAME: usize = 100;

/// What a submission's folder is called when nothing of its name is usable.
const FALLBACK: &str = "submission";

/// A safe folder name (see [`is_safe_name`]) for a submission called `raw` (its file name,
/// archive extension removed). Other characters become `_`; a name that does not start with a
/// letter or digit gets a `submission-` prefix; `..` loses its second dot.
pub fn folder_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(MAX_FOLDER_NAME)
        .collect();
    while name.contains("..") {
        name = name.replace("..", "._");
    }
    if name.is_empty() {
        return FALLBACK.into();
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name = format!("{FALLBACK}-{name}");
        name.truncate(MAX_FOLDER_NAME);
    }
    name
}

/// Distinct folder names for submissions called `raws`, in order. Each submission keeps its
/// [`folder_name`] when it is the first to have it; a later one with the same name gets the
/// first `-2`, `-3`, … suffix that no submission has or was given. Names that differ only in
/// case count as the same (a case-insensitive file system would merge their folders).
pub fn distinct_folder_names(raws: &[String]) -> Vec<String> {
    let plain: Vec<String> = raws.iter().map(|r| folder_name(r)).collect();
    let key = |name: &str| name.to_ascii_lowercase();
    let mut taken: HashSet<String> = plain.iter().map(|n| key(n)).collect();
    let mut first_seen = HashSet::new();
    plain
        .into_iter()
        .map(|name| {
            if first_seen.insert(key(&name)) {
                return name;
            }
            let unique = (2..)
                .map(|n| format!("{name}-{n}"))
                .find(|candidate| !taken.contains(&key(candidate)))
                .expect("the suffixes never run out");
            taken.insert(key(&unique));
            unique
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names() {
        for ok in ["intro", "1-2-hello", "udp_sock", "a.b", "X9"] {
            assert!(is_safe_name(ok), "{ok}");
        }
        for bad in [
            "", ".", "..", "a..b", "-rf", "_x", ".hidden", "a b", "a/b", "a;b", "$(x)", "é", "a\n",
        ] {
            assert!(!is_safe_name(bad), "{bad:?}");
        }
        assert!(is_safe_relative_path("user/test.c"));
        assert!(!is_safe_relative_path("../test.c"));
        assert!(!is_safe_relative_path("/abs.c"));
        assert!(!is_safe_relative_path("user//test.c"));
    }

    #[test]
    fn folder_names_are_safe_even_for_hostile_names() {
        assert_eq!(folder_name("alice smith"), "alice_smith");
        assert_eq!(folder_name("bob.tar"), "bob.tar");
        assert_eq!(folder_name(""), "submission");
        assert_eq!(folder_name("."), "submission-.");
        assert_eq!(folder_name(".."), "submission-._");
        assert_eq!(folder_name("-rf"), "submission--rf");
        assert_eq!(folder_name("a/../b"), "a_.__b");
        assert_eq!(folder_name(&"x".repeat(300)).len(), MAX_FOLDER_NAME);
        for raw in [".", "..", "", "-", "_", ".x", "…", "a..", &".".repeat(300)] {
            assert!(
                is_safe_name(&folder_name(raw)),
                "{raw:?} -> {}",
                folder_name(raw)
            );
        }
    }

    #[test]
    fn colliding_names_get_distinct_folders() {
        let raws = ["x", "x-3", "x"].map(String::from);
        assert_eq!(distinct_folder_names(&raws), ["x", "x-3", "x-2"]);
        // A later submission's own name is never given to an earlier duplicate.
        let raws = ["x", "x", "x-2"].map(String::from);
        assert_eq!(distinct_folder_names(&raws), ["x", "x-3", "x-2"]);
        // Sanitising and case make names collide too.
        let raws = ["a b", "a_b", "A_B"].map(String::from);
        assert_eq!(distinct_folder_names(&raws), ["a_b", "a_b-2", "A_B-3"]);
    }

    /// A small deterministic generator, so the property test needs no extra crate.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn distinct_names_for_any_input() {
        // Few distinct characters, many of them unsafe or suffix-like: collisions are the rule.
        const ALPHABET: &[&str] = &["x", "X", "-", "2", "3", ".", "/", " ", "_", "é"];
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _round in 0..500 {
            let count = 1 + rng.next() as usize % 12;
            let raws: Vec<String> = (0..count)
                .map(|_| {
                    let len = rng.next() as usize % 5;
                    (0..len)
                        .map(|_| ALPHABET[rng.next() as usize % ALPHABET.len()])
                        .collect()
                })
                .collect();
            let names = distinct_folder_names(&raws);
            assert_eq!(names.len(), raws.len());
            let keys: HashSet<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
            assert_eq!(keys.len(), names.len(), "{raws:?} -> {names:?}");
            for name in &names {
                assert!(is_safe_name(name), "{raws:?} -> {name:?}");
            }
            assert_eq!(distinct_folder_names(&raws), names, "deterministic");
        }
    }
}
