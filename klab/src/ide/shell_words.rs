//! A command line as kbuild writes it in a `.cmd` file (a `sh -c` string) into its words, the
//! way the shell would split it: blanks separate words; single quotes keep everything;
//! double quotes keep everything but `\` before `"`, `\`, `$` or a backquote; a backslash
//! outside quotes keeps the next character. No expansion: kbuild's commands need none.

use anyhow::{bail, Result};

pub fn split(line: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    // Whether a word is under way: `''` is an empty word, a run of blanks is none.
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => bail!("unterminated ' in: {line}"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => bail!("unterminated \" in: {line}"),
                        },
                        Some(c) => word.push(c),
                        None => bail!("unterminated \" in: {line}"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => bail!("a command line ends in a backslash: {line}"),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn kbuild_s_quoting_comes_apart_as_the_shell_would_split_it() {
        let words =
            split("clang  -DKBUILD_BASENAME='\"filter\"' -D\"A=b c\" -DX=\\\"y\\\" '' -c   f.c")
                .unwrap();
        assert_eq!(
            words,
            [
                "clang",
                "-DKBUILD_BASENAME=\"filter\"",
                "-DA=b c",
                "-DX=\"y\"",
                "",
                "-c",
                "f.c"
            ]
        );
    }

    #[test]
    fn double_quotes_keep_other_backslashes() {
        assert_eq!(split(r#""a\nb" "c\"d""#).unwrap(), [r"a\nb", "c\"d"]);
    }

    #[test]
    fn unterminated_quotes_are_errors() {
        for bad in ["a 'b", "a \"b", "a \\"] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }
}
