//! Reading KTAP, the kernel's test-result format (KUnit prints it on the console): enough
//! to count a boot's test suites and cases and name the ones that failed.

/// One result line: `ok 3 name`, `not ok 4 name # SKIP reason`, at some nesting depth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KtapResult {
    /// 0 for suites, 1 and more for the cases inside them.
    pub depth: usize,
    pub ok: bool,
    pub skipped: bool,
    pub name: String,
}

/// Parses result lines out of console lines (kernel timestamps allowed).
pub fn results<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<KtapResult> {
    let mut out = Vec::new();
    for line in lines {
        let text = match line.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            Some((stamp, rest)) if stamp.trim().chars().all(|c| c.is_ascii_digit() || c == '.') => {
                rest
            }
            _ => line,
        };
        let body = text.trim_start_matches(' ');
        let depth = (text.len() - body.len()) / 4;
        let (ok, rest) = if let Some(rest) = body.strip_prefix("not ok ") {
            (false, rest)
        } else if let Some(rest) = body.strip_prefix("ok ") {
            (true, rest)
        } else {
            continue;
        };
        let Some((number, name)) = rest.split_once(' ') else {
            continue;
        };
        if number.parse::<u32>().is_err() {
            continue;
        }
        let (name, directive) = match name.split_once(" # ") {
            Some((n, d)) => (n, Some(d)),
            None => (name, None),
        };
        let skipped =
            directive.is_some_and(|d| d.trim_start().to_ascii_uppercase().starts_with("SKIP"));
        out.push(KtapResult {
            depth,
            ok,
            skipped,
            name: name.trim().to_owned(),
        });
    }
    out
}

/// Counts: `(suites, cases passed, cases failed, cases skipped)` and the failed names.
pub fn summary(results: &[KtapResult]) -> (usize, usize, usize, usize, Vec<String>) {
    let suites = results.iter().filter(|r| r.depth == 0).count();
    let cases: Vec<&KtapResult> = results.iter().filter(|r| r.depth > 0).collect();
    let skipped = cases.iter().filter(|r| r.skipped).count();
    let failed: Vec<String> = cases
        .iter()
        .filter(|r| !r.ok && !r.skipped)
        .map(|r| r.name.clone())
        .collect();
    let passed = cases.iter().filter(|r| r.ok && !r.skipped).count();
    (suites, passed, failed.len(), skipped, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOT: &str = "\
[    0.51] KTAP version 1
[    0.51] 1..1
[    0.52]     KTAP version 1
[    0.52]     # Subtest: rust_doctests_kernel
[    0.52]     1..3
[    0.53]     ok 1 rust_doctest_kernel_alloc_kbox_rs_0
[    0.53]     not ok 2 rust_doctest_kernel_net_filter_rs_0
[    0.54]     ok 3 rust_doctest_kernel_sync_rs_1 # SKIP no SMP
[    0.55] # rust_doctests_kernel: pass:1 fail:1 skip:1 total:3
[    0.55] not ok 1 rust_doctests_kernel
hello: ok 5 not a ktap line
";

    #[test]
    fn counts_suites_cases_and_names_failures() {
        let r = results(BOOT.lines());
        assert_eq!(r.len(), 4);
        assert_eq!(
            r[3],
            KtapResult {
                depth: 0,
                ok: false,
                skipped: false,
                name: "rust_doctests_kernel".into()
            }
        );
        let (suites, passed, failed, skipped, names) = summary(&r);
        assert_eq!((suites, passed, failed, skipped), (1, 1, 1, 1));
        assert_eq!(names, ["rust_doctest_kernel_net_filter_rs_0"]);
    }

    #[test]
    fn a_boot_without_ktap_has_nothing() {
        assert!(results(["[ 1.0] Run /init as init process", "ok"]).is_empty());
    }
}
