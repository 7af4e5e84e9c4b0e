//! The fake guest's script: a small TOML file, passed where QEMU takes the kernel
//! (`-kernel SCRIPT`), that says what the guest does for each command the harness sends.
//!
//! ```toml
//! boot = ["Linux version 6.0 (klab-fake-vm)"]   # console lines before the ready line
//!
//! [[command]]
//! matches = "/lab/fake/pass "   # the first rule whose text is in the command line applies
//! output = "hello\n"            # what the command prints on the command port
//! status = 0                    # its exit status
//! dmesg = ["hello: loaded"]     # kernel messages: on the console and in `dmesg`
//!
//! [[command]]
//! matches = "/lab/fake/hang "
//! hang = true                   # never answers again (the harness times out)
//! ```
//!
//! Further behaviours of a rule: `oops = "TITLE"` (the title and a short report on the
//! console, then the VM exits, as QEMU does with `panic=-1 -no-reboot`),
//! `flood_bytes = N` (N bytes of output lines before the sentinel), `flood_console_bytes = N`
//! (as many on the console), `close_socket = true` (the command port closes, and the VM exits
//! a moment later). A command no rule matches succeeds without output, except `dmesg`
//! (the kernel messages so far) and `dmesg -c` (which empties them).

use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    #[serde(default)]
    pub boot: Vec<String>,
    #[serde(default, rename = "command")]
    pub commands: Vec<Rule>,
}

/// What the guest does for a command that contains `matches`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub matches: String,
    #[serde(default)]
    pub output: String,
    #[serde(default)]
    pub status: i32,
    #[serde(default)]
    pub dmesg: Vec<String>,
    #[serde(default)]
    pub hang: bool,
    #[serde(default)]
    pub oops: Option<String>,
    #[serde(default)]
    pub flood_bytes: usize,
    #[serde(default)]
    pub flood_console_bytes: usize,
    #[serde(default)]
    pub close_socket: bool,
}

impl Script {
    pub fn load(path: &Path) -> Result<Script, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading the script {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("parsing the script {}: {e}", path.display()))
    }

    /// The rule for `command`: the first whose text it contains.
    pub fn rule_for(&self, command: &str) -> Option<&Rule> {
        self.commands.iter().find(|r| command.contains(&r.matches))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_applies() {
        let script: Script = toml::from_str(
            r#"
            [[command]]
            matches = "a/b "
            status = 3
            [[command]]
            matches = "a/"
            hang = true
            "#,
        )
        .unwrap();
        assert_eq!(
            script
                .rule_for("cd /lab/a/b && sh ./test.sh")
                .unwrap()
                .status,
            3
        );
        assert!(script.rule_for("cd /lab/a/c && sh ./test.sh").unwrap().hang);
        assert!(script.rule_for("dmesg").is_none());
    }

    #[test]
    fn an_unknown_field_is_an_error() {
        assert!(toml::from_str::<Script>("[[command]]\nmatches = \"x\"\nhung = true\n").is_err());
    }
}
