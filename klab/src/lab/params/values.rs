//! The values of one run, and the two ways they meet text.
//!
//! Comparing: a reviewed snapshot (or a rubric block) holds `[NAME]` where a parameter's value
//! goes; [`Values::expand`] fills the run's values in, and the record is compared as it is.
//! The record is never rewritten, so a coincidence in a student's output (a drawn `4` that is
//! also an exit status) can neither pass nor fail anything.
//!
//! Recording: `bless` (and a pending `.snap.new`) turns the values back into placeholders with
//! [`Values::placeholders`], replacing each whole-word occurrence. That is only sound when the
//! defaults appear nowhere else in the record, which `labs/tests/lint.rs` checks for every
//! snapshot (a default that collides must be changed for a more distinctive one).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Parameter name → value, in name order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Values(BTreeMap<String, String>);

/// Characters that continue a word: a value must not start or end inside one.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `text` in single quotes, for `sh` (values are safe words; quoting is belt and braces).
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

impl Values {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Values {
        Values(pairs.into_iter().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `NAME='value' ...` followed by a space (or nothing without values): the environment
    /// prefix of the test script's command line in the guest.
    pub fn env_prefix(&self) -> String {
        self.0
            .iter()
            .map(|(name, value)| format!("{name}={} ", sh_quote(value)))
            .collect()
    }

    /// `NAME=value, ...`, for people.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `text` with every `[NAME]` of a parameter replaced by its value.
    pub fn expand(&self, text: &str) -> String {
        // Values hold no `[`: a filled-in value can never form another placeholder.
        self.0.iter().fold(text.to_owned(), |text, (name, value)| {
            text.replace(&format!("[{name}]"), value)
        })
    }

    /// `text` with every whole-word occurrence of a value replaced by `[NAME]`, in one pass
    /// (the longest value first where several start at the same place), so a placeholder
    /// already written is never matched again.
    pub fn placeholders(&self, text: &str) -> String {
        let mut by_length: Vec<(&String, &String)> = self.0.iter().collect();
        by_length.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut prev: Option<char> = None;
        while let Some(c) = rest.chars().next() {
            let starts_word = prev.is_none_or(|p| !is_word_char(p));
            let found = by_length.iter().find(|(_, value)| {
                !value.is_empty()
                    && rest.starts_with(value.as_str())
                    && rest[value.len()..]
                        .chars()
                        .next()
                        .is_none_or(|next| !is_word_char(next))
            });
            match found {
                Some((name, value)) if starts_word => {
                    out.push('[');
                    out.push_str(name);
                    out.push(']');
                    prev = value.chars().last();
                    rest = &rest[value.len()..];
                }
                _ => {
                    out.push(c);
                    prev = Some(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> Values {
        Values::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn expand_fills_in_only_declared_placeholders() {
        let v = values(&[("WHO", "ada"), ("PORT", "61234")]);
        assert_eq!(
            v.expand("hello: Hello, [WHO]!\nlistening on [PORT]\n[exit status 0] [OTHER]"),
            "hello: Hello, ada!\nlistening on 61234\n[exit status 0] [OTHER]"
        );
    }

    #[test]
    fn placeholders_replace_whole_words_only() {
        let v = values(&[("WHO", "students"), ("PORT", "60000"), ("N", "4")]);
        assert_eq!(
            v.placeholders("insmod hello.ko who=students: ok\n127.0.0.1:60000: yes\nstudentsX 160000 4 of 4, 44"),
            "insmod hello.ko who=[WHO]: ok\n127.0.0.1:[PORT]: yes\nstudentsX 160000 [N] of [N], 44"
        );
    }

    #[test]
    fn the_longest_value_wins_and_placeholders_are_not_matched_again() {
        let v = values(&[("A", "keep"), ("B", "keep.me"), ("C", "B")]);
        assert_eq!(v.placeholders("rm keep.me keep B"), "rm [B] [A] [C]");
    }

    #[test]
    fn placeholders_undo_expand_when_values_are_distinctive() {
        let v = values(&[("WHO", "qhxkzmwa"), ("PORT", "61234")]);
        let snap = "who=[WHO]: ok\n127.0.0.1:[PORT]: yes\n[exit status 0]\n";
        assert_eq!(v.placeholders(&v.expand(snap)), snap);
    }

    #[test]
    fn the_env_prefix_quotes_every_value() {
        let v = values(&[("WHO", "ada"), ("PORT", "61234")]);
        assert_eq!(v.env_prefix(), "PORT='61234' WHO='ada' ");
        assert_eq!(values(&[("X", "it's")]).env_prefix(), r"X='it'\''s' ");
        assert_eq!(Values::default().env_prefix(), "");
        assert_eq!(v.describe(), "PORT=61234, WHO=ada");
    }
}
