//! The one run report: the page's export read by the CLI, the CLI's files read by the page,
//! both without loss; files of earlier versions still read, with a note; bad files refused
//! with a message naming the file and the problem.

mod common;

use clinicbench::engine::wait;
use clinicbench::gguf::SliceSource;
use clinicbench::report::{self, RunReport};
use clinicbench::web::{self, sha256_hex, FromWorker, RunRequest, Session};
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("clinicbench-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn model() -> PathBuf {
    common::fixture("families/llama_q4_k_m.gguf")
}

/// An `eval` of the synthetic model on two demo tasks, into `out`.
/// (Generation batched, as the page does on the CPU.)
fn cli_run(out: &Path) {
    let o = common::run_cli(
        &["eval", "--model", model().to_str().unwrap(), "--tasks", "demo_exam,demo_entities", "--backend", "cpu", "--data-root", "/nonexistent", "--out", out.to_str().unwrap()],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The same tasks run in the page's worker (natively), gathered into the page's report.
fn page_run() -> RunReport {
    let bytes = std::fs::read(model()).unwrap();
    let sha = sha256_hex(&bytes);
    let mut s = Session::new();
    let card = match wait(s.load_model("llama_q4_k_m.gguf", &sha, SliceSource(bytes), None, "test")) {
        FromWorker::ModelLoaded { card, backend, chat_template_sha256, .. } => {
            web::LoadedModel { file_name: "llama_q4_k_m.gguf".into(), sha256: sha.clone(), card, backend, chat_template_sha256, adapters: vec![] }
        }
        other => panic!("{other:?}"),
    };
    let (mut results, mut samples) = (vec![], vec![]);
    for task in ["demo_exam", "demo_entities"] {
        let req: RunRequest = serde_json::from_value(serde_json::json!({"task": task})).unwrap();
        assert!(matches!(s.start(&req, None), FromWorker::Started { .. }));
        let mut out = vec![];
        while wait(s.step(&mut |m| out.push(m))) {}
        for m in out {
            match m {
                FromWorker::Sample { sample, .. } => samples.push(sample),
                FromWorker::Finished { result, provenance, .. } => results.push((result, provenance)),
                FromWorker::Error { message } => panic!("{message}"),
                _ => {}
            }
        }
    }
    web::page_report(Some(&card), &results, &samples, report::Host { os: "browser".into(), ..Default::default() }, 1_796_404_712)
}

#[test]
fn the_page_export_reads_in_the_cli_and_the_cli_run_reads_in_the_page() {
    let dir = tmp("roundtrip");
    // The page's export, read back (as the CLI reads a file) and by the page's own import.
    let page = page_run();
    assert_eq!(page.results.len(), 2);
    assert_eq!(page.provenance.tasks["demo_exam"].dataset.files[0].path, "builtin:demo/exam.jsonl");
    let export = dir.join("clinicbench-results.json");
    std::fs::write(&export, page.export_json()).unwrap();
    let read = report::read_run(&export).unwrap();
    assert!(read.notes.is_empty(), "{:?}", read.notes);
    assert_eq!(read.report, page, "the export round-trips without loss");
    let imported = report::import_files(&[("clinicbench-results.json", page.export_json().as_bytes())]).unwrap();
    assert_eq!(imported.report, page);

    // The CLI's folder, read by the CLI and picked in the page (results.json + samples.jsonl).
    let run = dir.join("cli");
    cli_run(&run);
    let cli = report::read_run(&run).unwrap().report;
    assert_eq!(cli.samples.len(), 5 + 3);
    let results = std::fs::read(run.join("results.json")).unwrap();
    let samples = std::fs::read(run.join("samples.jsonl")).unwrap();
    let picked = report::import_files(&[("results.json", &results), ("samples.jsonl", &samples)]).unwrap();
    assert_eq!(picked.report, cli, "the page reads the CLI's files without loss");
    assert_eq!(report::parse_report("x", cli.export_json().as_bytes()).unwrap().report, cli);

    // Same model, same data, same engine: the page's run and the CLI's agree document by
    // document, and `compare` pairs them.
    for task in ["demo_exam", "demo_entities"] {
        assert_eq!(page.result(task).unwrap().scores, cli.result(task).unwrap().scores, "{task}");
        assert_eq!(page.provenance.tasks[task], cli.provenance.tasks[task], "{task}");
    }
    let o = common::run_cli(&["compare", export.to_str().unwrap(), run.to_str().unwrap()], "");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let acc = lines.iter().find(|l| l["task"] == "demo_exam" && l["comparison"]["metric"] == "acc").unwrap();
    assert_eq!((acc["comparison"]["n"].as_u64(), acc["comparison"]["delta"].as_f64()), (Some(5), Some(0.0)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn results_json_keeps_the_keys_other_tools_read() {
    let dir = tmp("keys");
    cli_run(&dir);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(v["version"], report::REPORT_VERSION);
    let r = &v["results"]["demo_exam"];
    for key in ["acc", "acc_stderr", "acc_norm", "n", "skipped", "unparsed", "bad_rows", "seconds"] {
        assert!(!r[key].is_null(), "results.demo_exam.{key}: {r}");
    }
    assert_eq!(r["acc_ci95"].as_array().map(Vec::len), Some(2));
    assert_eq!(r["scores"][0]["metric"], "acc");
    assert_eq!(r["scores"][0]["value"], r["acc"]);
    let p = &v["provenance"];
    assert_eq!(p["model"]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(p["model"]["architecture"], "llama");
    assert_eq!(p["tasks"]["demo_exam"]["dataset"]["files"][0]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(p["tasks"]["demo_exam"]["seed"], 1234);
    assert!(p["host"]["os"].is_string() && p["created"].as_str().is_some_and(|c| c.ends_with('Z')));
    for line in std::fs::read_to_string(dir.join("samples.jsonl")).unwrap().lines() {
        let s: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(s["doc_id"].is_u64() && s.get("task").is_some(), "{s}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn files_of_earlier_versions_import_with_a_note() {
    // The CLI's results.json before the report was typed, and the page's export of then.
    let old_cli = br#"{"results": {"demo_exam": {"acc": 0.5, "acc_stderr": 0.5, "acc_ci95": [0.0, 1.0], "n": 2, "skipped": 0, "unparsed": 0, "bad_rows": 0, "seconds": 1.0}},
        "provenance": {"model": "m.gguf", "model_sha256": "ab", "datasets": {"demo_exam": {"importer": "records", "format": "jsonl", "files": [{"path": "builtin:demo/exam.jsonl", "sha256": "cd"}], "records": 5, "spec_version": 1, "spec_hash": "ef"}}, "shots": 1, "limit": 2, "seed": 7, "chat_template": false, "max_new_tokens": null, "engine_version": "0.1.0", "backend": "cpu", "seconds": 3.0}}"#;
    let i = report::parse_report("old.json", old_cli).unwrap();
    assert!(i.notes.iter().any(|n| n.contains("old.json") && n.contains("earlier clinicbench")), "{:?}", i.notes);
    let r = i.report.result("demo_exam").unwrap();
    assert_eq!((r.scores[0].value, r.scores[0].ci95, r.n), (0.5, Some([0.0, 1.0]), 2));
    let t = &i.report.provenance.tasks["demo_exam"];
    assert_eq!((t.shots, t.seed, t.limit, t.documents, t.dataset.files[0].sha256.as_str()), (1, 7, Some(2), 2, "cd"));
    assert_eq!(i.report.provenance.model.sha256, "ab");

    let sample = r#"{"task": "demo_exam", "doc_id": 0, "native_id": "0", "prompt": "p", "choices": ["A", "B"], "target": 0, "pred": 0, "metrics": {"acc": 1.0}, "truncated": false}"#;
    let old_page = format!(r#"{{"results": {{"results": {{"demo_exam": {{"acc": 1.0, "n": 1}}}}, "provenance": {{"model": "m.gguf", "model_sha256": "ab"}}}}, "samples": [{sample}]}}"#);
    let i = report::parse_report("export.json", old_page.as_bytes()).unwrap();
    assert_eq!(i.notes.len(), 1);
    assert_eq!((i.report.results[0].task.as_str(), i.report.samples.len()), ("demo_exam", 1));
}

#[test]
fn bad_report_files_are_refused_with_the_file_and_the_problem() {
    let cases: [(&[u8], &str); 6] = [
        (b"{\"version\": 1, \"results\": {\"demo_exam\": {\"acc\": 0.5", "ends before the JSON does"),
        (b"[1, 2]", "not an object"),
        (b"{\"version\": 99, \"results\": {}}", "newer clinicbench (report version 99"),
        (b"{\"version\": 1, \"results\": {\"t\": {\"n\": -1}}}", "results.t"),
        (b"{\"version\": 1, \"results\": {}, \"provenance\": {\"model\": {\"file\": \"m\", \"sha256\": \"\"}}, \"samples\": [{\"task\": 1}]}", "samples[0]"),
        (b"{\"results\": {\"t\": {}}, \"versions\": {}, \"configs\": {}}", "lm-evaluation-harness"),
    ];
    for (bytes, needle) in cases {
        let e = report::parse_report("run.json", bytes).unwrap_err().to_string();
        assert!(e.starts_with("run.json: ") && e.contains(needle), "{needle}: {e}");
    }
    let e = report::parse_samples_jsonl("s.jsonl", "{\"task\": \"t\"}\n{\"task\"", false).unwrap_err().to_string();
    assert!(e.contains("s.jsonl") && e.contains("line 1"), "{e}");
    let e = report::import_files(&[("samples.jsonl", b"")]).unwrap_err().to_string();
    assert!(e.contains("no report"), "{e}");
    let dir = tmp("unfinished");
    std::fs::write(dir.join("samples.jsonl.partial"), "").unwrap();
    let e = report::read_run(&dir).unwrap_err().to_string();
    assert!(e.contains("did not finish") && e.contains("--resume"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Three runs side by side against the first: the paired cells and the Holm-adjusted p-values
/// equal statsmodels' (exact McNemar, `multipletests(method="holm")`;
/// `scripts/make_report_fixtures.py`), runs on other data or another version of a task are not
/// paired and say why, and every format is written.
#[test]
fn runs_side_by_side_match_statsmodels() {
    use clinicbench::report::render::{render, Format};
    use clinicbench::report::side_by_side::{side_by_side, NamedRun, Versus};
    let fixture = |name: &str| common::fixture(&format!("report/{name}"));
    let runs: Vec<NamedRun> = ["run_a.json", "run_b.json", "run_c.json"]
        .iter()
        .map(|f| NamedRun { source: f.to_string(), report: report::read_run(&fixture(f)).unwrap().report })
        .collect();
    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap();
    let t = side_by_side(&runs, Some(0), &|name| clinicbench::tasks::spec::find(name));
    assert_eq!(t.tests as u64, expected["tests"].as_u64().unwrap());
    assert_eq!(t.scenarios, ["reasoning", "generation", "understanding"], "the paper's order");
    let names: Vec<&str> = t.tasks.iter().map(|c| c.task.as_str()).collect();
    assert_eq!(names, ["medqa_4options", "pubmedqa", "mmlu_anatomy", "iu_xray_summarization", "pharmacology_qa"]);
    let row = |name: &str| t.runs.iter().position(|r| r.model == name).unwrap();
    let col = |task: &str| t.tasks.iter().position(|c| c.task == task).unwrap();
    for cell in expected["cells"].as_array().unwrap() {
        let (run, task) = (cell["run"].as_str().unwrap(), cell["task"].as_str().unwrap());
        let Some(Versus::Paired { comparison: c, p_holm }) = &t.cells[row(run)][col(task)].versus else {
            panic!("{run} {task}: {:?}", t.cells[row(run)][col(task)].versus)
        };
        let what = format!("{run} {task}");
        assert_eq!(c.n as u64, cell["n"].as_u64().unwrap(), "{what}");
        let discordant: Vec<u64> = serde_json::from_value(cell["discordant"].clone()).unwrap();
        assert_eq!(c.discordant.map(|d| d.to_vec()), Some(discordant), "{what}");
        for (ours, key) in [(c.a, "a"), (c.b, "b"), (c.delta, "delta"), (c.p_value, "p_value"), (*p_holm, "p_holm")] {
            let want = cell[key].as_f64().unwrap();
            assert!((ours - want).abs() <= 1e-12 * want.abs().max(1e-300) + 1e-15, "{what} {key}: {ours} vs statsmodels {want}");
        }
    }
    for pair in expected["not_paired"].as_array().unwrap() {
        let (run, task, why) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap(), pair[2].as_str().unwrap());
        match &t.cells[row(run)][col(task)].versus {
            Some(Versus::NotPaired { reason }) => assert!(reason.contains(why), "{run} {task}: {reason}"),
            other => panic!("{run} {task}: {other:?}"),
        }
    }
    assert!(t.cells[row("gamma")][col("pharmacology_qa")].score.is_none(), "a task the run lacks is empty");
    assert!(t.cells[0].iter().all(|c| c.versus.is_none()), "the baseline is not tested against itself");
    let mean = t.means[row("gamma")][0].unwrap();
    assert_eq!((mean.tasks, mean.of), (3, 3));

    // Every format, headed by the task names.
    let md = render(&t, Format::Markdown);
    assert!(md.contains("| run | medqa_4options | pubmedqa | mmlu_anatomy | reasoning mean |"), "{md}");
    assert!(md.contains("alpha (baseline)") && md.contains("Holm p = "));
    let csv = render(&t, Format::Csv);
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("run,model,model_sha256,source,baseline,medqa_4options,medqa_4options metric"), "{header}");
    assert_eq!(csv.lines().count(), 4, "a header and a row per run");
    let json: serde_json::Value = serde_json::from_str(&render(&t, Format::Json)).unwrap();
    assert_eq!(json["tasks"][0]["task"], "medqa_4options");
    let html = render(&t, Format::Html);
    assert!(html.contains("<svg") && html.contains("medqa_4options") && !html.contains("<script"));
    assert!(!html.contains("src=") && !html.contains("href="), "the HTML loads nothing and links nowhere");
}

#[test]
fn the_report_command_writes_each_format_and_escapes_what_files_say() {
    let dir = tmp("cmd");
    // A model named like markup: the HTML shows it as text.
    let mut hostile = report::read_run(&common::fixture("report/run_c.json")).unwrap().report;
    hostile.provenance.model.name = Some("<img src=x onerror=alert(1)> | evil".into());
    let hostile_file = dir.join("hostile.json");
    std::fs::write(&hostile_file, hostile.export_json()).unwrap();
    let (a, b) = (common::fixture("report/run_a.json"), common::fixture("report/run_b.json"));
    for ext in ["md", "csv", "json", "html"] {
        let out = dir.join(format!("report.{ext}"));
        let o = common::run_cli(
            &["report", a.to_str().unwrap(), b.to_str().unwrap(), hostile_file.to_str().unwrap(), "--baseline", a.to_str().unwrap(), "--out", out.to_str().unwrap()],
            "",
        );
        assert_eq!(o.status.code(), Some(0), "{ext}: {}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("medqa_4options"), "{ext}");
        if ext == "html" {
            assert!(!text.contains("<img") && text.contains("&lt;img src=x onerror=alert(1)&gt;"), "escaped in the HTML");
        }
        if ext == "md" {
            assert!(text.contains("\\| evil"), "a pipe in a name does not break the table");
        }
    }
    let o = common::run_cli(&["report", a.to_str().unwrap(), "--format", "pdf", "--out", dir.join("x").to_str().unwrap()], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("md, csv, json, html"));
    let _ = std::fs::remove_dir_all(&dir);
}
