//! A lab's `requires_config`: kernel options its modules need, checked against the lab
//! kernel's `.config` before anything is built, so a missing option reads as what to change
//! (the fragment to add it to) instead of an undefined symbol at `insmod`.

/// Whether `option` is a Kconfig symbol as `.config` writes it: `CONFIG_` and then
/// uppercase letters, digits and `_`.
pub fn is_option_name(option: &str) -> bool {
    option.strip_prefix("CONFIG_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// The options of `required` that `config` (a `.config`'s text) does not set to `y` or `m`.
pub fn missing<'a>(config: &str, required: &'a [String]) -> Vec<&'a str> {
    let set: std::collections::HashSet<&str> = config
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once('=')?;
            matches!(value.trim(), "y" | "m").then_some(name.trim())
        })
        .collect();
    required
        .iter()
        .map(String::as_str)
        .filter(|option| !set.contains(option))
        .collect()
}

/// What to tell the instructor when options are missing: each option and the fragment to
/// add it to.
pub fn explain(lab: &str, missing: &[&str], fragment: &str) -> String {
    let lines: Vec<String> = missing.iter().map(|o| format!("  {o}=y")).collect();
    format!(
        "lab `{lab}` requires {} (lab.toml `requires_config`), which the lab kernel does not set: add\n{}\nto {fragment}, then rebuild the kernel with `cargo xtask kernel build`",
        missing.join(", "),
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_names() {
        assert!(is_option_name("CONFIG_KPROBES"));
        assert!(is_option_name("CONFIG_9P_FS"));
        for bad in [
            "KPROBES",
            "CONFIG_",
            "CONFIG_kprobes",
            "CONFIG_A B",
            "CONFIG_X=y",
        ] {
            assert!(!is_option_name(bad), "{bad}");
        }
    }

    #[test]
    fn options_set_to_y_or_m_are_present_and_the_rest_missing() {
        let config = "CONFIG_MODULES=y\nCONFIG_EXT4_FS=m\n# CONFIG_KPROBES is not set\nCONFIG_LOG_BUF_SHIFT=17\nCONFIG_FOO=n\n";
        let required: Vec<String> = [
            "CONFIG_MODULES",
            "CONFIG_EXT4_FS",
            "CONFIG_KPROBES",
            "CONFIG_FOO",
            "CONFIG_MODULE",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            missing(config, &required),
            ["CONFIG_KPROBES", "CONFIG_FOO", "CONFIG_MODULE"]
        );
        let text = explain("demo", &["CONFIG_KPROBES"], "kernel/lean.config");
        assert!(
            text.contains("CONFIG_KPROBES=y")
                && text.contains("kernel/lean.config")
                && text.contains("requires_config"),
            "{text}"
        );
    }
}
