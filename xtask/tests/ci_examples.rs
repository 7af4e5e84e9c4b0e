//! The CI examples in docs/ci/ (quoted by README's "Grading in CI") must stay valid YAML
//! with the structure each engine expects, and must call `cargo xtask grade` the way klab
//! parses it.

mod support;

use support::repo;
use yaml_rust2::{Yaml, YamlLoader};

fn load(name: &str) -> Vec<Yaml> {
    let text = std::fs::read_to_string(repo().join("docs/ci").join(name)).unwrap();
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("docs/ci/{name} is not valid YAML: {e}"))
}

fn scripts(y: &Yaml, out: &mut Vec<String>) {
    match y {
        Yaml::String(s) => out.push(s.clone()),
        Yaml::Array(items) => items.iter().for_each(|i| scripts(i, out)),
        Yaml::Hash(map) => map.values().for_each(|v| scripts(v, out)),
        _ => {}
    }
}

fn grade_lines(y: &Yaml) -> Vec<String> {
    let mut all = Vec::new();
    scripts(y, &mut all);
    all.into_iter()
        .filter(|s| s.contains("cargo xtask grade"))
        .collect()
}

#[test]
fn github_actions_matrix_shards_and_merges() {
    let doc = &load("github-actions.yml")[0];
    let matrix = &doc["jobs"]["grade"]["strategy"]["matrix"]["shard"];
    assert_eq!(matrix.as_vec().map(Vec::len), Some(4));
    let lines = grade_lines(doc);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("--shard ${{ matrix.shard }}/4")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("--merge")), "{lines:?}");
    assert_eq!(doc["jobs"]["merge"]["needs"].as_str(), Some("grade"));
}

#[test]
fn gitlab_runs_parallel_copies() {
    let doc = &load("gitlab-ci.yml")[0];
    assert_eq!(doc["grade"]["parallel"].as_i64(), Some(4));
    assert!(grade_lines(&doc["grade"])
        .iter()
        .any(|l| l.contains("CI_NODE_INDEX")));
    assert!(grade_lines(&doc["merge"])
        .iter()
        .any(|l| l.contains("--merge")));
}

#[test]
fn kubernetes_indexed_job() {
    let doc = &load("kubernetes-job.yml")[0];
    assert_eq!(doc["kind"].as_str(), Some("Job"));
    assert_eq!(doc["spec"]["completionMode"].as_str(), Some("Indexed"));
    let completions = doc["spec"]["completions"].as_i64().unwrap();
    let container = &doc["spec"]["template"]["spec"]["containers"][0];
    let total = container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str() == Some("KLAB_SHARD_TOTAL"))
        .and_then(|e| e["value"].as_str())
        .unwrap();
    assert_eq!(
        total.parse::<i64>().unwrap(),
        completions,
        "KLAB_SHARD_TOTAL must equal completions"
    );
    assert!(grade_lines(container)
        .iter()
        .any(|l| l.contains("JOB_COMPLETION_INDEX")));
}
