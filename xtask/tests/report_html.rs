//! `grade`'s report.html and each submission's page, opened in a real browser (headless
//! Chromium, Debian's `chromium`, installed by `cargo xtask test`): the pages load with no
//! console message, render to PNG, and the DOM the browser built holds one row per
//! submission with the score results.json gives it.

mod support;

use std::path::Path;
use std::process::Command;

use support::{copy_template_task, replace_in, results, xtask};

/// What Chromium made of `page`: the serialized DOM, and its log (console messages).
fn chromium(page: &Path, profile: &Path, screenshot: &Path) -> (String, String) {
    let url = format!("file://{}", page.display());
    let run = |extra: &[String]| {
        let out = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .output()
            .expect("running chromium (Debian package `chromium`)");
        assert!(out.status.success(), "chromium on {url}: {out:?}");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (dom, log) = run(&["--dump-dom".into()]);
    let (_, shot_log) = run(&[
        format!("--screenshot={}", screenshot.display()),
        "--window-size=1280,1000".into(),
    ]);
    let png = std::fs::read(screenshot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 2000,
        "a rendered PNG"
    );
    (dom, format!("{log}{shot_log}"))
}

/// The page's console messages (errors, failed loads) in Chromium's log.
fn console_messages(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// `(name, score)` of each submission row of the class page's DOM.
fn rows(dom: &str) -> Vec<(String, String)> {
    dom.split("<tr class=\"submission\"")
        .skip(1)
        .map(|row| {
            let attr = |name: &str| {
                let start = row.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                row[start..][..row[start..].find('"').unwrap()].to_owned()
            };
            (attr("data-name"), attr("data-score"))
        })
        .collect()
}

#[test]
fn the_grade_report_opens_in_a_browser_with_a_row_and_the_right_score_per_submission() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    copy_template_task(&subs.join("full"), "intro", "1-2-hello");
    copy_template_task(&subs.join("full"), "intro", "3-fail");
    // Half: the second task's module loads instead of failing.
    copy_template_task(&subs.join("half"), "intro", "1-2-hello");
    let fail = copy_template_task(&subs.join("half"), "intro", "3-fail");
    replace_in(
        &fail.join("fail.rs"),
        "return Err(ENODEV);",
        "return Ok(Fail);",
    );
    // A hostile name: markup in a folder name must stay text.
    copy_template_task(&subs.join("x<b>y"), "intro", "1-2-hello");

    let out = dir.path().join("out");
    let mut args = vec!["grade", "--lab", "intro", "--jobs", "2", "--out"];
    args.push(out.to_str().unwrap());
    let names = ["full", "half", "x<b>y"];
    let paths: Vec<String> = names
        .iter()
        .map(|n| subs.join(n).to_string_lossy().into_owned())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let run = xtask(&args);
    assert!(run.code == 0 || run.code == 1, "{}", run.all());

    let profile = dir.path().join("chromium");
    let (dom, log) = chromium(
        &out.join("report.html"),
        &profile,
        &dir.path().join("class.png"),
    );
    assert_eq!(console_messages(&log), Vec::<&str>::new(), "{log}");
    let rows = rows(&dom);
    assert_eq!(rows.len(), 3, "one row per submission:\n{dom}");
    for (name, score) in &rows {
        let expected = results(&out, name)["score"].as_f64().unwrap();
        assert_eq!(
            score.parse::<f64>().unwrap(),
            expected,
            "{name}'s score in report.html is the one in its results.json"
        );
    }
    let score = |name: &str| -> f64 {
        let row = rows.iter().find(|(n, _)| n == name).expect(name);
        row.1.parse().unwrap()
    };
    assert!(
        score("full") > score("half") && score("half") > 0.0,
        "full marks, partial credit: {rows:?}"
    );
    assert!(!dom.contains("<b>y"), "a name is text, never markup");

    // A submission's page, from the link in the class page.
    let half = out.join("half").join("report.html");
    assert!(dom.contains("href=\"half/report.html\""), "{dom}");
    let (page, log) = chromium(&half, &profile, &dir.path().join("half.png"));
    assert_eq!(console_messages(&log), Vec::<&str>::new(), "{log}");
    assert_eq!(page.matches("<section class=\"task\"").count(), 2, "{page}");
    assert!(
        page.contains("<span class=\"verdict fail\">FAIL</span>"),
        "{page}"
    );
    // The console log it links to is there.
    let log_link = page
        .split("href=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .find(|h| h.ends_with(".console.log"))
        .expect("a console log link");
    assert!(out.join("half").join(log_link).is_file(), "{log_link}");
}

#[test]
fn check_html_writes_the_students_page_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let skels = dir.path().join("skels");
    copy_template_task(&skels, "intro", "1-2-hello");
    let fail = copy_template_task(&skels, "intro", "3-fail");
    replace_in(
        &fail.join("fail.rs"),
        "return Err(ENODEV);",
        "return Ok(Fail);",
    );
    let run = support::check_skels(&[], &skels, &["intro", "--html"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let page = run
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("your page: "))
        .unwrap_or_else(|| panic!("the page's path is printed:\n{}", run.all()));
    let page = support::repo().join(page);
    let (dom, log) = chromium(
        &page,
        &dir.path().join("chromium"),
        &dir.path().join("p.png"),
    );
    assert_eq!(console_messages(&log), Vec::<&str>::new(), "{log}");
    assert_eq!(dom.matches("<section class=\"task\"").count(), 2, "{dom}");
    assert!(
        dom.contains("<span class=\"verdict pass\">PASS</span>"),
        "{dom}"
    );
    assert!(
        dom.contains("<span class=\"verdict fail\">FAIL</span>"),
        "{dom}"
    );
    assert!(
        dom.contains("init fails with ENODEV"),
        "the failed check is named:\n{dom}"
    );
}
