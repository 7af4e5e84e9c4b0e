use super::*;

fn skel(kind: SourceKind, text: &str) -> String {
    skeletonize(kind, text, 1).unwrap()
}

#[test]
fn c_block_marker_removes_its_lines_and_keeps_the_marker() {
    let template = "\
static int __init hello_init(void)
{
\t/* TODO 1/2: print a greeting */
\tpr_info(\"hello\\n\");
\tpr_info(\"world\\n\");
\treturn 0;
}
";
    insta::assert_snapshot!(skel(SourceKind::CLike, template), @r#"
    static int __init hello_init(void)
    {
    	/* TODO 1: print a greeting */
    	return 0;
    }
    "#);
}

#[test]
fn multi_line_comment_is_kept_and_lines_after_it_are_removed() {
    let template = "\
\t/* TODO 2/1: register the hook
\t * on NF_INET_LOCAL_OUT
\t */
\terr = nf_register_net_hook(&init_net, &ops);
\treturn err;
";
    insta::assert_snapshot!(skel(SourceKind::CLike, template), @r"
    	/* TODO 2: register the hook
    	 * on NF_INET_LOCAL_OUT
    	 */
    	return err;
    ");
}

#[test]
fn rust_line_comment_markers_and_default_count() {
    let template = "\
fn init() -> Result<Self> {
    // TODO 1: say hello
    pr_info!(\"hello\\n\");
    // TODO 2/2: read the parameter
    let who = param();
    pr_info!(\"hello {who}\\n\");
    Ok(Self)
}
";
    insta::assert_snapshot!(skel(SourceKind::CLike, template), @r"
    fn init() -> Result<Self> {
        // TODO 1: say hello
        // TODO 2: read the parameter
        Ok(Self)
    }
    ");
}

#[test]
fn todo_option_keeps_earlier_solutions() {
    let template = "// TODO 1/1: first\na();\n// TODO 2/1: second\nb();\n";
    insta::assert_snapshot!(skeletonize(SourceKind::CLike, template, 2).unwrap(), @r"
    // TODO 1: first
    a();
    // TODO 2: second
    ");
}

#[test]
fn kbuild_markers_use_hash_comments() {
    let template = "# TODO 1/1: build the module\nobj-m := hello.o\nccflags-y := -Wall\n";
    insta::assert_snapshot!(skel(SourceKind::Make, template), @r"
    # TODO 1: build the module
    ccflags-y := -Wall
    ");
}

#[test]
fn plain_todo_comments_are_not_markers() {
    let text =
        "/* TODO: nothing to do here is a marker with number 1 */\nx();\n/* TODO later */\ny();\n";
    assert_eq!(
        skel(SourceKind::CLike, text),
        "/* TODO: nothing to do here is a marker with number 1 */\n/* TODO later */\ny();\n"
    );
}

#[test]
fn nested_marker_inside_a_removed_region_is_kept() {
    let text = "{\n/* TODO 1/3: outer */\na();\n/* TODO 2: inner */\nb();\nc();\n}\n";
    assert_eq!(
        skel(SourceKind::CLike, text),
        "{\n/* TODO 1: outer */\n/* TODO 2: inner */\nc();\n}\n"
    );
}

#[test]
fn verbatim_files_are_untouched() {
    let text = "# TODO 1/5: not a marker in a README\n";
    assert_eq!(skel(SourceKind::Verbatim, text), text);
}

#[test]
fn source_kind_is_chosen_by_name() {
    assert_eq!(SourceKind::of_file_name("filter.c"), SourceKind::CLike);
    assert_eq!(SourceKind::of_file_name("hello.rs"), SourceKind::CLike);
    assert_eq!(SourceKind::of_file_name("Kbuild"), SourceKind::Make);
    assert_eq!(SourceKind::of_file_name("test.sh"), SourceKind::Verbatim);
}

fn error(text: &str) -> MarkerError {
    skeletonize(SourceKind::CLike, text, 1).unwrap_err()
}

#[test]
fn count_past_end_of_file_is_an_error_naming_the_line() {
    let e = error("a();\n/* TODO 1/3: too many */\nb();\n");
    assert_eq!(e.line, 2);
    assert_eq!(
        e.to_string(),
        "line 2: TODO 1 removes 3 lines but only 1 follow before the end of the file"
    );
}

#[test]
fn count_past_end_of_block_is_an_error() {
    let e = error("int f(void)\n{\n\t/* TODO 1/3: oops */\n\ta();\n\treturn 0;\n}\nint g;\n");
    assert_eq!(e.line, 3);
    assert!(
        e.message
            .contains("past the end of the enclosing block at line 6"),
        "{e}"
    );
}

#[test]
fn balanced_blocks_inside_a_region_are_fine() {
    let text = "{\n/* TODO 1/3: if */\nif (x) {\n\ty('}');\n}\n}\n";
    assert_eq!(skel(SourceKind::CLike, text), "{\n/* TODO 1: if */\n}\n");
}

#[test]
fn malformed_numbers_are_errors() {
    assert!(error("/* TODO 1/x: bad */\na();\n")
        .message
        .contains("malformed TODO marker"));
    assert!(error("/* TODO 1/0: zero */\na();\n")
        .message
        .contains("bad line count `0`"));
    assert!(error("/* TODO 1/: none */\na();\n")
        .message
        .contains("missing line count"));
    assert!(error("// TODO 1 2: two numbers\na();\n")
        .message
        .contains("bad TODO number `1 2`"));
}

#[test]
fn unclosed_marker_comment_is_an_error() {
    let e = error("/* TODO 1: never closed\na();\n");
    assert_eq!(
        e.to_string(),
        "line 1: the TODO comment is never closed with `*/`"
    );
}

#[test]
fn rust_lifetimes_do_not_confuse_the_brace_counter() {
    let text = "fn f<'a>(x: &'a str) {\n    // TODO 1/1: body\n    let _ = x.len();\n}\n";
    assert_eq!(
        skel(SourceKind::CLike, text),
        "fn f<'a>(x: &'a str) {\n    // TODO 1: body\n}\n"
    );
}
