use super::*;
use crate::report::tests::grade;

fn class(grades: &[SubmissionGrade]) -> String {
    class_page("net", grades, |name| format!("{name}/report.html"))
}

#[test]
fn hostile_names_and_explanations_are_text_not_markup() {
    let g = grade();
    let page = submission_page(&g, |f| f.to_owned());
    assert!(!page.contains("<tag>"), "{page}");
    assert!(page.contains("&lt;tag&gt;"));
    assert!(page.contains("alice &lt;&amp;&gt;"), "{page}");
    let page = class(&[g]);
    assert!(!page.contains("<&>"), "{page}");
}

#[test]
fn pages_are_self_contained() {
    let g = grade();
    for page in [
        class(std::slice::from_ref(&g)),
        submission_page(&g, |f| f.to_owned()),
    ] {
        assert!(page.starts_with("<!DOCTYPE html>"));
        for outside in ["http://", "https://", "<script", "<link", "@import", "src="] {
            assert!(!page.contains(outside), "{outside} in {page}");
        }
    }
}

#[test]
fn the_class_page_has_a_row_per_submission_with_its_score_and_a_cell_per_check() {
    let mut bob = grade();
    bob.name = "bob".into();
    bob.tasks[0].checks[1].points = 3.0;
    bob.tasks[0].checks[1].passed = true;
    let page = class(&[grade(), bob]);
    assert_eq!(
        page.matches("<tr class=\"submission\"").count(),
        2,
        "{page}"
    );
    assert!(
        page.contains("data-name=\"bob\" data-score=\"6\""),
        "{page}"
    );
    assert!(page.contains("data-score=\"3\""), "{page}");
    assert!(page.contains("href=\"bob/report.html\""));
    // Three checks: three cells per row, coloured by the verdict of the check's task.
    assert_eq!(page.matches("<th title=").count(), 3, "{page}");
    assert!(
        page.contains("class=\"num fail\" title=\"net/1-a: FAIL\">0/3"),
        "{page}"
    );
    assert!(
        page.contains("class=\"num pass\" title=\"net/1-a: FAIL\">3/3"),
        "{page}"
    );
}

#[test]
fn the_submission_page_shows_each_task_its_checks_its_diff_and_its_log() {
    let page = submission_page(&grade(), |f| format!("logs/{f}"));
    assert_eq!(page.matches("<section class=\"task\"").count(), 2);
    assert!(page.contains("filter honoured"));
    assert!(
        page.contains("<span class=\"verdict fail\">FAIL</span>"),
        "{page}"
    );
    assert!(page.contains("href=\"logs/vm-1.console.log\""), "{page}");
    assert!(page.contains("3 / 6"), "{page}");
    assert!(page.contains("ignored: 1-a/Makefile"));
}

#[test]
fn diff_lines_are_marked() {
    let page = explanation("-- 1. step\n-old\n+new\n same").into_string();
    assert!(
        page.contains("<span class=\"hunk\">-- 1. step</span>"),
        "{page}"
    );
    assert!(page.contains("<span class=\"del\">-old</span>"));
    assert!(page.contains("<span class=\"add\">+new</span>"));
}

#[test]
fn the_histogram_counts_each_submission_once_full_marks_in_the_last_bin() {
    let mut full = grade();
    full.tasks[0].checks[1].points = 3.0;
    let mut zero = grade();
    for t in &mut zero.tasks {
        for c in &mut t.checks {
            c.points = 0.0;
        }
    }
    let h = histogram(&[grade(), full, zero], 10);
    assert_eq!(h.iter().sum::<usize>(), 3);
    assert_eq!((h[0], h[5], h[9]), (1, 1, 1), "{h:?}");
}
