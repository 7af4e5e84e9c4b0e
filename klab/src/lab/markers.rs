//! Turning instructor templates into student skeletons.
//!
//! Marker syntax is the one of linux-kernel-labs' `generate_skels.py`, so their templates drop
//! in unchanged:
//!
//! - in C and Rust sources, a comment `/* TODO n/k: text */` or `// TODO n/k: text` marks the
//!   `k` lines after it (after the comment's closing `*/` when the comment spans several lines)
//!   as the solution. `k` defaults to 1, `n` (the TODO's number) to 1. A colon after the number
//!   is required: `/* TODO fix this */` is an ordinary comment.
//! - in `Kbuild` and `Makefile`, the marker is `# TODO n/k: text` at the start of a line.
//! - the marker line stays in the skeleton, without its `/k`.
//! - with `--todo N`, TODOs numbered below N keep their solution (only the marker is rewritten).
//! - a marker inside a removed region is kept (and counts as one of the region's lines).
//!
//! Unlike the original script, markers whose count runs past the end of the file or past the
//! end of the enclosing `{ }` block, and markers with malformed numbers, are errors naming the
//! file and line: a template bug must not silently produce a broken skeleton.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// What kind of comment syntax a file uses for TODO markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// `.c`, `.h`, `.rs`: `/* TODO */` and `// TODO` markers, braces delimit blocks.
    CLike,
    /// `Kbuild`, `Makefile`: `# TODO` markers at the start of a line.
    Make,
    /// Anything else: copied as it is.
    Verbatim,
}

impl SourceKind {
    pub fn of_file_name(name: &str) -> SourceKind {
        if name == "Kbuild" || name == "Makefile" {
            SourceKind::Make
        } else if [".c", ".h", ".rs"].iter().any(|ext| name.ends_with(ext)) {
            SourceKind::CLike
        } else {
            SourceKind::Verbatim
        }
    }
}

/// A template error, with the 1-based line of the offending marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for MarkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for MarkerError {}

static C_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<head>.*?(?P<open>/\*|//)\s*TODO)(?P<num>[ 0-9]*)(?:/(?P<count>[0-9]*))?(?P<tail>:.*)$").unwrap()
});
static MAKE_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<head>#\s*TODO)(?P<num>[ 0-9]*)(?:/(?P<count>[0-9]*))?(?P<tail>:.*)$").unwrap()
});
/// Something that looks like it wants to be a marker: `TODO` then a digit or a slash.
static C_LOOSE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(/\*|//)\s*TODO\s*[0-9/]").unwrap());
static MAKE_LOOSE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^#\s*TODO\s*[0-9/]").unwrap());

/// A parsed marker line.
#[derive(Debug, PartialEq, Eq)]
struct Marker {
    todo: u32,
    count: usize,
    /// The marker line as it appears in the skeleton (without `/k`).
    rewritten: String,
    /// A `/*` comment that is not closed on the marker line.
    comment_continues: bool,
}

fn parse_marker(
    kind: SourceKind,
    line: &str,
    lineno: usize,
) -> Result<Option<Marker>, MarkerError> {
    let (strict, loose) = match kind {
        SourceKind::CLike => (&*C_MARKER, &*C_LOOSE),
        SourceKind::Make => (&*MAKE_MARKER, &*MAKE_LOOSE),
        SourceKind::Verbatim => return Ok(None),
    };
    let err = |message: String| MarkerError {
        line: lineno,
        message,
    };
    let Some(caps) = strict.captures(line) else {
        if loose.is_match(line) {
            return Err(err(format!(
                "malformed TODO marker `{}`: expected `TODO n: text` or `TODO n/k: text`",
                line.trim()
            )));
        }
        return Ok(None);
    };
    let num = caps["num"].trim();
    let todo = if num.is_empty() {
        1
    } else {
        num.parse::<u32>()
            .map_err(|_| err(format!("bad TODO number `{num}` in `{}`", line.trim())))?
    };
    let count = match caps.name("count").map(|m| m.as_str()) {
        None => 1,
        Some("") => {
            return Err(err(format!(
                "missing line count after `/` in `{}`",
                line.trim()
            )))
        }
        Some(k) => match k.parse::<usize>() {
            Ok(0) | Err(_) => {
                return Err(err(format!(
                    "bad line count `{k}` in `{}`: it must be 1 or more",
                    line.trim()
                )))
            }
            Ok(k) => k,
        },
    };
    let tail = &caps["tail"];
    let comment_continues =
        caps.name("open").is_some_and(|m| m.as_str() == "/*") && !tail.contains("*/");
    Ok(Some(Marker {
        todo,
        count,
        rewritten: format!("{}{}{}", &caps["head"], &caps["num"], tail),
        comment_continues,
    }))
}

/// Net brace depth change of a line, ignoring braces inside string and char literals and
/// `//` comments. Good enough for template sources; returns the minimum depth reached too.
fn brace_delta(line: &str) -> (i64, i64) {
    let (mut depth, mut min) = (0i64, 0i64);
    let mut chars = line.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"') => quote = Some('"'),
            // A Rust lifetime (`'a`) has no closing quote; only treat `'x'` and `'\x'` as literals.
            (None, '\'') => {
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with('\\') || rest.chars().nth(1) == Some('\'') {
                    quote = Some('\'');
                }
            }
            (None, '/') if chars.peek() == Some(&'/') => break,
            (None, '{') => depth += 1,
            (None, '}') => {
                depth -= 1;
                min = min.min(depth);
            }
            _ => {}
        }
    }
    (depth, min)
}

/// Produces the skeleton of one file. `keep_below`: TODOs numbered below it keep their
/// solution (`--todo N`); 1 removes every solution.
pub fn skeletonize(kind: SourceKind, text: &str, keep_below: u32) -> Result<String, MarkerError> {
    if kind == SourceKind::Verbatim {
        return Ok(text.to_owned());
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let lineno = i + 1;
        i += 1;
        let Some(marker) = parse_marker(kind, line.trim_end_matches(['\n', '\r']), lineno)? else {
            out.push_str(line);
            continue;
        };
        out.push_str(&marker.rewritten);
        out.push('\n');
        if marker.comment_continues {
            loop {
                let Some(next) = lines.get(i) else {
                    return Err(MarkerError {
                        line: lineno,
                        message: "the TODO comment is never closed with `*/`".into(),
                    });
                };
                out.push_str(next);
                i += 1;
                if next.contains("*/") {
                    break;
                }
            }
        }
        let remove = marker.todo >= keep_below;
        if !remove {
            continue;
        }
        let available = lines.len() - i;
        if marker.count > available {
            return Err(MarkerError {
                line: lineno,
                message: format!(
                    "TODO {} removes {} lines but only {} follow before the end of the file",
                    marker.todo, marker.count, available
                ),
            });
        }
        let mut depth = 0i64;
        for (offset, removed) in lines[i..i + marker.count].iter().enumerate() {
            let trimmed = removed.trim_end_matches(['\n', '\r']);
            if let Some(nested) = parse_marker(kind, trimmed, i + offset + 1)? {
                out.push_str(&nested.rewritten);
                out.push('\n');
            }
            if kind == SourceKind::CLike {
                let (delta, min) = brace_delta(trimmed);
                if depth + min < 0 {
                    return Err(MarkerError {
                        line: lineno,
                        message: format!(
                            "TODO {} removes {} lines, running past the end of the enclosing block at line {}",
                            marker.todo,
                            marker.count,
                            i + offset + 1
                        ),
                    });
                }
                depth += delta;
            }
        }
        i += marker.count;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
