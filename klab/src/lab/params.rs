//! Lab parameters: named inputs of a lab's tests (a port, a name, a count) that `grade` draws
//! afresh for every submission, so that a module hard-coding the values students see in
//! `check` does not get the points.
//!
//! A lab declares them in `lab.toml`, each with the value `check` and `bless` use and a
//! generator for `grade`:
//!
//! ```toml
//! [params.WHO]
//! kind = "word"
//! default = "students"
//! letters = 8          # grade: 8 random lowercase letters
//! ```
//!
//! The test script gets each value as an environment variable of the same name (`$WHO`), and
//! snapshots and rubric blocks hold the placeholder `[WHO]` where the value goes
//! ([`Values::expand`] fills it in before comparing; see [`values`]).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

mod rng;
pub mod values;

pub use rng::{random_seed, submission_seed, Rng};
pub use values::Values;

/// The lab's parameters by name (`[params.NAME]` tables), drawn in name order.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Params(BTreeMap<String, Param>);

/// One parameter: its `default` (what `check` uses and students see) and how `grade` draws
/// another value. Every value is a word of [`is_safe_value`] characters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Param {
    /// A whole number (0 or more), drawn in `min..=max`.
    Int { default: u32, min: u32, max: u32 },
    /// A TCP or UDP port, drawn in `min..=max` (by default 61000..=65535: above Linux's
    /// ephemeral range, 32768..=60999, so a drawn port is never a client socket's).
    Port {
        default: u16,
        #[serde(default = "default_port_min")]
        min: u16,
        #[serde(default = "default_port_max")]
        max: u16,
    },
    /// A word: one of `choices`, or `prefix` + `letters` random lowercase letters + `suffix`.
    Word {
        default: String,
        #[serde(default)]
        choices: Vec<String>,
        #[serde(default)]
        letters: Option<usize>,
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        suffix: String,
    },
    /// An IPv4 address in 127.0.0.0/8 other than 127.0.0.1: all of them belong to the
    /// loopback interface, so a test can connect to any.
    Loopback { default: String },
}

fn default_port_min() -> u16 {
    61000
}

fn default_port_max() -> u16 {
    65535
}

/// The values of one grading run, and the seed they were drawn with (recorded in results, so
/// `grade --seed SEED` draws them again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draw {
    /// The run's seed, as given to `--seed` (each submission's draw also depends on its name).
    pub seed: u64,
    pub values: Values,
}

/// Longest value: module parameters, file names and shell words all take this easily.
const MAX_VALUE_LEN: usize = 64;

/// Whether `value` can be a parameter's value: ASCII letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit (never an option), at most 64 characters. Such a value
/// needs no quoting in a shell, a file name or an `insmod` argument (klab quotes it anyway).
pub fn is_safe_value(value: &str) -> bool {
    let mut chars = value.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && value.len() <= MAX_VALUE_LEN
}

/// Names a test script or the guest shell already uses for something else.
const RESERVED: &[&str] = &[
    "CDPATH", "ENV", "HISTFILE", "HOME", "HOSTNAME", "IFS", "LANG", "LINENO", "LOGNAME", "MAIL",
    "OLDPWD", "OPTARG", "OPTIND", "PATH", "PPID", "PS1", "PS2", "PS4", "PWD", "SHELL", "TERM",
    "TMPDIR", "USER",
];
const RESERVED_PREFIXES: &[&str] = &["KLAB_", "LC_", "LD_"];

/// Whether `name` can name a parameter: an uppercase shell variable name that is not reserved.
fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 32;
    if !well_formed {
        bail!("`{name}` must be an uppercase variable name (A-Z, 0-9, _; at most 32), e.g. `PORT`");
    }
    if RESERVED.contains(&name) || RESERVED_PREFIXES.iter().any(|p| name.starts_with(p)) {
        bail!("`{name}` is used by the guest shell or by klab; pick another name");
    }
    Ok(())
}

impl Param {
    /// The value `check` and `bless` use.
    pub fn default_value(&self) -> String {
        match self {
            Param::Int { default, .. } => default.to_string(),
            Param::Port { default, .. } => default.to_string(),
            Param::Word { default, .. } | Param::Loopback { default } => default.clone(),
        }
    }

    /// Checks the declaration; errors name the field (`default`, `min`, …).
    fn validate(&self) -> Result<()> {
        match self {
            Param::Int { default, min, max } => {
                if min > max {
                    bail!("min ({min}) is above max ({max})");
                }
                if min == max && min == default {
                    bail!("min..=max holds only the default: grade could not draw another value");
                }
            }
            Param::Port { default, min, max } => {
                if *default == 0 {
                    bail!("default: 0 is not a port");
                }
                if *min < 1024 {
                    bail!("min ({min}): ports below 1024 are reserved");
                }
                if min > max {
                    bail!("min ({min}) is above max ({max})");
                }
                if min == max && min == default {
                    bail!("min..=max holds only the default: grade could not draw another value");
                }
            }
            Param::Word {
                default,
                choices,
                letters,
                prefix,
                suffix,
            } => {
                if !is_safe_value(default) {
                    bail!("default `{default}`: {SAFE_VALUE_RULE}");
                }
                match (choices.is_empty(), letters) {
                    (true, None) => bail!("give either `choices` (a list) or `letters` (a count)"),
                    (false, Some(_)) => bail!("give either `choices` or `letters`, not both"),
                    (false, None) => {
                        for choice in choices {
                            if !is_safe_value(choice) {
                                bail!("choices: `{choice}`: {SAFE_VALUE_RULE}");
                            }
                        }
                        if choices.iter().all(|c| c == default) {
                            bail!("choices: none differs from the default: grade could not draw another value");
                        }
                    }
                    (true, Some(n)) => {
                        if !(1..=32).contains(n) {
                            bail!("letters: {n} must be 1 to 32");
                        }
                        let example = format!("{prefix}{}{suffix}", "a".repeat(*n));
                        if !is_safe_value(&example) {
                            bail!("prefix `{prefix}`, suffix `{suffix}`: a drawn `{example}` would break the rule: {SAFE_VALUE_RULE}");
                        }
                    }
                }
            }
            Param::Loopback { default } => {
                let in_loopback = default
                    .parse::<Ipv4Addr>()
                    .is_ok_and(|a| a.octets()[0] == 127);
                if !in_loopback {
                    bail!("default `{default}` must be an IPv4 address in 127.0.0.0/8");
                }
            }
        }
        Ok(())
    }

    /// One value from the generator (it may equal the default: the caller draws again).
    fn draw(&self, rng: &mut Rng) -> String {
        match self {
            Param::Int { min, max, .. } => {
                rng.in_range(u64::from(*min), u64::from(*max)).to_string()
            }
            Param::Port { min, max, .. } => {
                rng.in_range(u64::from(*min), u64::from(*max)).to_string()
            }
            Param::Word {
                choices,
                letters,
                prefix,
                suffix,
                ..
            } => match letters {
                None => choices[rng.below(choices.len() as u64) as usize].clone(),
                Some(n) => {
                    let letters: String = (0..*n)
                        .map(|_| char::from(b'a' + rng.below(26) as u8))
                        .collect();
                    format!("{prefix}{letters}{suffix}")
                }
            },
            Param::Loopback { .. } => loop {
                let octet = |rng: &mut Rng| rng.below(256) as u8;
                let (b, c) = (octet(rng), octet(rng));
                let d = rng.in_range(1, 254) as u8;
                let addr = Ipv4Addr::new(127, b, c, d);
                if addr != Ipv4Addr::new(127, 0, 0, 1) {
                    break addr.to_string();
                }
            },
        }
    }
}

const SAFE_VALUE_RULE: &str =
    "a value is 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit";

/// How many times a value is drawn again when it equals a default or another drawn value.
const MAX_DRAWS: usize = 1000;

impl Params {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Checks every declaration. `filter_replacements` are the lab's normalisation filters'
    /// replacement texts: a placeholder there (`[PORT]`) would be filled in as a parameter.
    pub fn validate<'a>(&self, filter_replacements: impl Iterator<Item = &'a str>) -> Result<()> {
        let replacements: Vec<&str> = filter_replacements.collect();
        let mut defaults: BTreeMap<String, &str> = BTreeMap::new();
        for (name, param) in &self.0 {
            check_name(name).with_context(|| format!("params.{name}"))?;
            param.validate().with_context(|| format!("params.{name}"))?;
            let placeholder = format!("[{name}]");
            if let Some(r) = replacements.iter().find(|r| r.contains(&placeholder)) {
                bail!("params.{name}: a filter's replacement `{r}` holds `{placeholder}`, which would be filled in with the parameter's value; rename one of them");
            }
            let value = param.default_value();
            if let Some(other) = defaults.insert(value.clone(), name) {
                bail!("params.{name}.default: `{value}` is also the default of params.{other}; a snapshot could not tell them apart");
            }
        }
        Ok(())
    }

    /// The defaults: what `check` and `bless` run with.
    pub fn defaults(&self) -> Values {
        Values::from_pairs(
            self.0
                .iter()
                .map(|(name, p)| (name.clone(), p.default_value())),
        )
    }

    /// Fresh values from `seed`: each differs from every default and from the other drawn
    /// values, so a module hard-coding what students saw cannot pass by luck, and a record
    /// never holds two parameters' values that look alike.
    pub fn draw(&self, seed: u64) -> Result<Values> {
        let mut rng = Rng::new(seed);
        let mut taken: Vec<String> = self.0.values().map(Param::default_value).collect();
        let mut drawn = Vec::new();
        for (name, param) in &self.0 {
            let value = (0..MAX_DRAWS)
                .map(|_| param.draw(&mut rng))
                .find(|v| !taken.contains(v))
                .with_context(|| {
                    format!("params.{name}: no value unlike the defaults and the other drawn values in {MAX_DRAWS} draws; widen its range")
                })?;
            taken.push(value.clone());
            drawn.push((name.clone(), value));
        }
        Ok(Values::from_pairs(drawn))
    }
}

#[cfg(test)]
mod tests;
