use std::path::Path;

use super::*;

const STAGE: &str = "/stage/lab/task";
const SHOWN: &str = "skels/lab/task";

fn at(file: &str, line: u32, tool: &'static str, message: &str) -> Finding {
    Finding {
        file: format!("{SHOWN}/{file}"),
        line: Some(line),
        tool,
        message: message.into(),
    }
}

#[test]
fn checkpatch_terse_lines_become_findings_at_the_students_path() {
    let out = "/stage/lab/task/p.c:23: CHECK:LONG_LINE_COMMENT: line length of 121 exceeds 100 columns\n\
               /stage/lab/task/p.c:32: WARNING:LEADING_SPACE: please, no spaces at the start of a line\n\
               total: 0 errors, 1 warnings\n\
               /elsewhere/x.h:3: ERROR:X: not the student's\n";
    assert_eq!(
        parse_checkpatch(out, Path::new(STAGE), Path::new(SHOWN)),
        vec![
            at(
                "p.c",
                23,
                "checkpatch",
                "CHECK:LONG_LINE_COMMENT: line length of 121 exceeds 100 columns"
            ),
            at(
                "p.c",
                32,
                "checkpatch",
                "WARNING:LEADING_SPACE: please, no spaces at the start of a line"
            ),
        ]
    );
}

#[test]
fn rustfmt_diff_headers_in_both_forms() {
    let out = "Diff in /stage/lab/task/h.rs:22:\n \n-  // x\n+        // x\nDiff in /stage/lab/task/m.rs at line 4:\n";
    let f = parse_rustfmt(out, Path::new(STAGE), Path::new(SHOWN));
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[0].file.as_str(), f[0].line),
        ("skels/lab/task/h.rs", Some(22))
    );
    assert_eq!(
        (f[1].file.as_str(), f[1].line),
        ("skels/lab/task/m.rs", Some(4))
    );
}

#[test]
fn rustc_clippy_and_cc_warnings_in_the_students_files_only() {
    let out = "  CLIPPY [M] /stage/lab/task/hello.o\n\
warning: unused import: `kernel::str::CStr`\n\
  --> /stage/lab/task/hello.rs:18:5\n\
   |\n\
   = note: `#[warn(unused_imports)]` on by default\n\
\n\
warning: this `if` has identical blocks\n\
  --> /stage/lab/task/hello.rs:30:9\n\
   = help: for further information visit https://rust-lang.github.io/rust-clippy/master/index.html#if_same_then_else\n\
   = note: `#[warn(clippy::if_same_then_else)]` on by default\n\
warning: something in the kernel\n\
  --> rust/kernel/lib.rs:1:1\n\
warning: 2 warnings emitted\n\
/stage/lab/task/p.c:7:5: warning: unused variable 'x' [-Wunused-variable]\n";
    assert_eq!(
        parse_compiler_warnings(out, Path::new(STAGE), Path::new(SHOWN)),
        vec![
            at(
                "hello.rs",
                18,
                "rustc",
                "unused import: `kernel::str::CStr`"
            ),
            at("hello.rs", 30, "clippy", "this `if` has identical blocks"),
            at("p.c", 7, "cc", "unused variable 'x' [-Wunused-variable]"),
        ]
    );
}

#[test]
fn a_finding_reads_as_file_line_tool_message() {
    assert_eq!(
        at("p.c", 7, "checkpatch", "WARNING:X: y").to_string(),
        "skels/lab/task/p.c:7: checkpatch: WARNING:X: y"
    );
}
