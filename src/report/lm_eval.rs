//! lm-evaluation-harness's files, both ways, at the edge of the report: an lm-eval 0.4 output
//! folder (`results_<time>.json` and `samples_<task>_<time>.jsonl`, as `--log_samples` writes
//! them) read as a run, and a run written in that layout (`eval --log-format lm-eval`) under our
//! task names, so a run of a Hugging Face model by lm-eval and ours compare document by document.
//!
//! lm-eval's samples carry its dataset row, not our document id: an imported sample has no
//! `native_id`, and pairs with ours only where the prompts are identical (lm-eval's
//! `prompt_hash`, the SHA-256 of the prompt). Its intervals are not in its files: for mean metrics
//! they are rebuilt from its standard error as ours are (value ± 1.96 stderr, clamped).

use super::read::{parse_json, read_bounded, ReadError};
use super::{DatasetProvenance, Imported, ModelProvenance, Provenance, RunReport, TaskProvenance, TaskResult};
use crate::metrics::{Metric, Score};
use crate::tasks::{Output, Sample, TaskSpec};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The lm-eval versions whose files this reads.
const READS: &str = "0.4";

fn bad(path: &str, problem: impl Into<String>) -> ReadError {
    ReadError::Bad { path: path.into(), problem: problem.into() }
}

/// The `results_*.json` files in `dir` and in its folders one level down (lm-eval puts them
/// under a folder named after the model), sorted by name (their timestamps).
pub fn results_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut look = |d: &Path| {
        if let Ok(entries) = std::fs::read_dir(d) {
            for e in entries.flatten() {
                let p = e.path();
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                if p.is_file() && name.starts_with("results_") && name.ends_with(".json") {
                    out.push(p);
                }
            }
        }
    };
    look(dir);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                look(&e.path());
            }
        }
    }
    out.sort();
    out
}

/// The time part of an lm-eval file name (`results_<time>.json`, `samples_<task>_<time>.jsonl`).
fn file_time(name: &str) -> &str {
    let stem = name.trim_end_matches(".jsonl").trim_end_matches(".json");
    stem.rfind('_').map_or(stem, |i| &stem[i + 1..])
}

/// A run from an lm-eval output folder: its latest results file and the samples beside it.
pub fn read_folder(dir: &Path) -> Result<Imported, ReadError> {
    let files = results_files(dir);
    let Some(results_path) = files.last() else {
        return Err(bad(&dir.display().to_string(), "no results_*.json in it: not an lm-evaluation-harness output folder"));
    };
    let name = results_path.display().to_string();
    let (mut imported, delimiters) = parse_results_file(&name, &read_bounded(results_path)?)?;
    if files.len() > 1 {
        imported.notes.push(format!("{}: {} lm-eval results files; read the latest, {name}", dir.display(), files.len()));
    }
    let folder = results_path.parent().unwrap_or(dir);
    let time = file_time(results_path.file_name().and_then(|n| n.to_str()).unwrap_or_default()).to_string();
    let tasks: Vec<String> = imported.report.results.iter().map(|r| r.task.clone()).collect();
    for task in tasks {
        let samples_path = folder.join(format!("samples_{task}_{time}.jsonl"));
        if !samples_path.is_file() {
            imported.notes.push(format!("{name}: no samples for {task} ({} is missing: run lm-eval with --log_samples to pair it document by document)", samples_path.display()));
            continue;
        }
        let sp = samples_path.display().to_string();
        let text = String::from_utf8(read_bounded(&samples_path)?).map_err(|_| bad(&sp, "not UTF-8 text"))?;
        let delimiter = delimiters.iter().find(|(t, _)| *t == task).map_or(" ", |(_, d)| d.as_str());
        let samples = parse_samples(&sp, &task, &text, delimiter)?;
        imported.report.samples.extend(samples);
    }
    Ok(imported)
}

/// An lm-eval `results_*.json` as a run (without samples).
pub fn parse_results(name: &str, bytes: &[u8]) -> Result<Imported, ReadError> {
    parse_results_file(name, bytes).map(|(imported, _)| imported)
}

/// The run, and each task's `target_delimiter` (to read its samples' choices).
fn parse_results_file(name: &str, bytes: &[u8]) -> Result<(Imported, Vec<(String, String)>), ReadError> {
    let doc = parse_json(name, bytes)?;
    let top = doc.as_object().ok_or_else(|| bad(name, "not an lm-evaluation-harness results file: the JSON is not an object"))?;
    let version = top.get("lm_eval_version").and_then(Value::as_str);
    match version {
        Some(v) if v == READS || v.starts_with(&format!("{READS}.")) => {}
        Some(v) => {
            return Err(bad(name, format!("written by lm-evaluation-harness {v}; this clinicbench reads the files of lm-eval {READS}.x")))
        }
        // Ours (eval --log-format lm-eval) say clinicbench_version instead.
        None if top.contains_key("clinicbench_version") => {}
        None => return Err(bad(name, format!("no lm_eval_version: not a results file of lm-evaluation-harness {READS}.x"))),
    }
    let results = top.get("results").and_then(Value::as_object).ok_or_else(|| bad(name, "no \"results\" object"))?;
    let empty = Map::new();
    let obj = |k: &str| top.get(k).and_then(Value::as_object).unwrap_or(&empty);
    let config = obj("config");
    let model = match config.get("model_args") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Object(m)) if !m.is_empty() => Value::Object(m.clone()).to_string(),
        _ => String::new(),
    };
    let model_kind = config.get("model").and_then(Value::as_str).unwrap_or("unknown");
    let seed = config.get("fewshot_seed").or(config.get("random_seed")).and_then(Value::as_u64).unwrap_or(0);
    let limit = config.get("limit").and_then(Value::as_f64).map(|l| l as usize);
    let mut report = RunReport::default();
    let mut delimiters = Vec::new();
    for (task, entry) in results {
        let entry = entry.as_object().ok_or_else(|| bad(name, format!("results.{task} is not an object")))?;
        let counts = obj("n-samples").get(task);
        let n = counts
            .and_then(|c| c.get("effective"))
            .or(entry.get("sample_len"))
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        let records = counts.and_then(|c| c.get("original")).and_then(Value::as_u64).map_or(n, |x| x as usize);
        let scores = scores_of(entry, n);
        let cfg = obj("configs").get(task).and_then(Value::as_object).unwrap_or(&empty);
        delimiters.push((task.clone(), cfg.get("target_delimiter").and_then(Value::as_str).unwrap_or(" ").to_string()));
        report.results.push(TaskResult { task: task.clone(), scenario: None, scores, n, ..TaskResult::default() });
        let shots = obj("n-shot").get(task).and_then(Value::as_u64).unwrap_or(0) as usize;
        let version = obj("versions").get(task).and_then(Value::as_f64).unwrap_or(0.0);
        report.provenance.tasks.insert(
            task.clone(),
            TaskProvenance {
                spec_version: version as u32,
                spec_hash: String::new(),
                dataset: DatasetProvenance {
                    importer: "lm-evaluation-harness".into(),
                    format: cfg.get("dataset_path").and_then(Value::as_str).unwrap_or_default().to_string(),
                    files: vec![],
                    records,
                },
                shots,
                seed,
                limit,
                chat_template: top.get("chat_template").is_some_and(|c| !c.is_null()),
                max_new_tokens: None,
                shard: None,
                sample: None,
                batched_generation: false,
                documents: n,
            },
        );
    }
    let created = top.get("date").and_then(Value::as_f64).filter(|d| *d > 0.0).map(|d| super::utc_timestamp(d as u64));
    let label = top.get("model_name").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    report.provenance = Provenance {
        model: ModelProvenance {
            file: if model.is_empty() { model_kind.to_string() } else { model.clone() },
            sha256: top.get("model_sha256").and_then(Value::as_str).unwrap_or_default().to_string(),
            name: Some(if model.is_empty() { model_kind.to_string() } else { format!("{model_kind} {model}") }).or(label),
            ..ModelProvenance::default()
        },
        tasks: std::mem::take(&mut report.provenance.tasks),
        backend: format!("lm-evaluation-harness {}", version.unwrap_or("(clinicbench's lm-eval format)")),
        engine_version: version.unwrap_or_default().to_string(),
        timings: super::Timings {
            seconds: top.get("total_evaluation_time_seconds").and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok())).unwrap_or(0.0),
            ..Default::default()
        },
        host: super::Host::default(),
        created,
    };
    Ok((Imported { report, notes: vec![] }, delimiters))
}

/// Scores from lm-eval's `"metric,filter"` keys: the `none` filter where there is one, else the
/// first; metrics we do not know are left out.
fn scores_of(entry: &Map<String, Value>, n: usize) -> Vec<Score> {
    let mut scores: Vec<(Score, bool)> = Vec::new();
    for (key, value) in entry {
        let Some((metric_name, filter)) = key.split_once(',') else { continue };
        if metric_name.ends_with("_stderr") {
            continue;
        }
        let (Ok(metric), Some(value)) = (Metric::from_name(metric_name), value.as_f64()) else { continue };
        let stderr = entry.get(&format!("{metric_name}_stderr,{filter}")).and_then(Value::as_f64);
        let (lo, hi) = metric.range();
        let ci95 = (!metric.is_corpus()).then_some(stderr).flatten().map(|se| [(value - 1.96 * se).max(lo), (value + 1.96 * se).min(hi)]);
        let score = Score { metric, value, n, stderr, ci95 };
        let preferred = filter == "none";
        match scores.iter_mut().find(|(s, _)| s.metric == metric) {
            Some(slot) if preferred && !slot.1 => *slot = (score, true),
            Some(_) => {}
            None => scores.push((score, preferred)),
        }
    }
    scores.into_iter().map(|(s, _)| s).collect()
}

/// A number lm-eval wrote as a number or as a string (its tuples become strings).
fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.trim().parse().ok())
}

fn boolean(v: &Value) -> Option<bool> {
    v.as_bool().or_else(|| match v.as_str()?.trim() {
        "True" | "true" => Some(true),
        "False" | "false" => Some(false),
        _ => None,
    })
}

/// lm-eval's `samples_<task>_*.jsonl` as our samples: multiple choice (a loglikelihood request
/// per choice) or generation. `delimiter` is the task's `target_delimiter`.
pub fn parse_samples(name: &str, task: &str, text: &str, delimiter: &str) -> Result<Vec<Sample>, ReadError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = |problem: String| bad(name, format!("line {}: {problem}", i + 1));
        let v: Value = serde_json::from_str(line).map_err(|e| at(format!("not JSON: {e}")))?;
        let doc_id = v.get("doc_id").and_then(Value::as_u64).ok_or_else(|| at("no doc_id".into()))? as usize;
        let args = v.get("arguments").ok_or_else(|| at("no arguments".into()))?;
        // Requests in order: an object {"gen_args_0": {"arg_0", "arg_1"}, ...} or a list of lists.
        let requests: Vec<(Value, Value)> = match args {
            Value::Object(m) => {
                let mut keyed: Vec<(usize, (Value, Value))> = m
                    .iter()
                    .map(|(k, a)| {
                        let idx = k.rsplit('_').next().and_then(|x| x.parse().ok()).unwrap_or(usize::MAX);
                        (idx, (a.get("arg_0").cloned().unwrap_or(Value::Null), a.get("arg_1").cloned().unwrap_or(Value::Null)))
                    })
                    .collect();
                keyed.sort_by_key(|(k, _)| *k);
                keyed.into_iter().map(|(_, a)| a).collect()
            }
            Value::Array(a) => a.iter().map(|r| (r.get(0).cloned().unwrap_or(Value::Null), r.get(1).cloned().unwrap_or(Value::Null))).collect(),
            _ => return Err(at("arguments is neither an object nor a list".into())),
        };
        let prompt = requests.first().and_then(|r| r.0.as_str()).ok_or_else(|| at("no prompt in its arguments".into()))?.to_string();
        let filtered = v.get("filtered_resps").and_then(Value::as_array).cloned().unwrap_or_default();
        let metrics = v
            .as_object()
            .map(|o| o.iter().filter(|(k, _)| Metric::from_name(k).is_ok()).filter_map(|(k, x)| Some((k.clone(), x.as_f64()?))).collect())
            .unwrap_or_default();
        let target = v.get("target").cloned().unwrap_or(Value::Null);
        let mut sample = Sample::new(task, doc_id, "", prompt, target.clone());
        sample.metrics = metrics;
        let multiple_choice = requests.iter().all(|r| r.1.is_string()) && filtered.iter().all(|f| f.is_array());
        if multiple_choice {
            let choices: Vec<String> = requests
                .iter()
                .map(|r| {
                    let c = r.1.as_str().unwrap_or_default();
                    c.strip_prefix(delimiter).unwrap_or(c).to_string()
                })
                .collect();
            let lls: Vec<f64> = filtered
                .iter()
                .map(|f| f.get(0).and_then(number))
                .collect::<Option<_>>()
                .ok_or_else(|| at("a loglikelihood that is not a number".into()))?;
            if lls.len() != choices.len() || choices.is_empty() {
                return Err(at(format!("{} loglikelihoods for {} choices", lls.len(), choices.len())));
            }
            let gold = match &target {
                Value::Number(n) => n.as_u64().map(|x| x as usize),
                Value::String(s) => choices.iter().position(|c| c == s).or_else(|| s.trim().parse().ok()),
                _ => None,
            }
            .filter(|g| *g < choices.len())
            .ok_or_else(|| at(format!("target {target} is not one of the choices {choices:?}")))?;
            let argmax = |score: &dyn Fn(usize) -> f64| (0..lls.len()).fold(0, |best, i| if score(i) > score(best) { i } else { best });
            sample.pred = Some(argmax(&|i| lls[i]));
            sample.pred_norm = Some(argmax(&|i| lls[i] / choices[i].chars().count().max(1) as f64));
            sample.is_greedy = filtered.iter().map(|f| f.get(1).and_then(boolean)).collect();
            sample.target = json!(gold);
            sample.choices = choices;
            sample.loglikelihoods = Some(lls);
        } else {
            let text = filtered.first().and_then(Value::as_str).unwrap_or_default().to_string();
            sample.answer = Some(json!(text));
            sample.generation = Some(text);
        }
        out.push(sample);
    }
    out.sort_by_key(|s| s.doc_id);
    Ok(out)
}

/// lm-eval's SHA-256 of a string (`hash_string`).
fn hash(s: &str) -> String {
    crate::web::sha256_hex(s.as_bytes())
}

/// Python's `json.dumps(value, indent=2, ensure_ascii=False)`, for lm-eval's `doc_hash` (its
/// separators are `,` and `: ` with an indent, as serde_json's pretty printer writes them).
fn python_json(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A run in lm-eval 0.4's layout under our task names: the results file and one samples file a
/// task, named for `time` (`2026-12-04T17-18-32`). Returns (file name, contents).
pub fn write(report: &RunReport, spec_of: &dyn Fn(&str) -> Option<TaskSpec>, time: &str) -> Vec<(String, String)> {
    let mut results = Map::new();
    let (mut configs, mut versions, mut n_shot, mut higher, mut n_samples) = (Map::new(), Map::new(), Map::new(), Map::new(), Map::new());
    let mut files = Vec::new();
    for r in &report.results {
        let p = report.provenance.tasks.get(&r.task).cloned().unwrap_or_default();
        let spec = spec_of(&r.task);
        let mut entry = Map::new();
        entry.insert("name".into(), json!(r.task));
        entry.insert("alias".into(), json!(r.task));
        entry.insert("sample_len".into(), json!(r.n));
        for s in &r.scores {
            let m = s.metric.name();
            entry.insert(format!("{m},none"), json!(s.value));
            entry.insert(format!("{m}_stderr,none"), s.stderr.map_or(json!("N/A"), |x| json!(x)));
        }
        results.insert(r.task.clone(), Value::Object(entry));
        versions.insert(r.task.clone(), json!(p.spec_version as f64));
        n_shot.insert(r.task.clone(), json!(p.shots));
        higher.insert(r.task.clone(), Value::Object(r.scores.iter().map(|s| (s.metric.name().to_string(), json!(true))).collect()));
        n_samples.insert(r.task.clone(), json!({"original": p.dataset.records, "effective": r.n}));
        let output_type = match spec.as_ref().map(|s| s.output) {
            Some(Output::MultipleChoice) => "multiple_choice",
            _ => "generate_until",
        };
        let delimiter = spec.as_ref().map_or(" ".to_string(), |s| s.target_delimiter.clone());
        let mut config = Map::new();
        let data = p.dataset.files.first().map(|f| f.path.clone()).unwrap_or_default();
        config.insert("task".into(), json!(r.task));
        config.insert("dataset_path".into(), json!(data));
        config.insert("dataset_kwargs".into(), json!({"data_files": {"test": data}, "importer": p.dataset.importer, "format": p.dataset.format}));
        config.insert("test_split".into(), json!("test"));
        // Our prompt is a Jinja template over our importer's fields, as lm-eval's doc_to_text.
        config.insert("doc_to_text".into(), json!(spec.as_ref().map(|s| s.prompt.clone())));
        config.insert("doc_to_target".into(), json!("gold"));
        config.insert("unsafe_code".into(), json!(false));
        config.insert("output_type".into(), json!(output_type));
        config.insert("should_decontaminate".into(), json!(false));
        if let Some(s) = &spec {
            if s.output == Output::MultipleChoice {
                config.insert("doc_to_choice".into(), json!(s.choices));
            } else {
                config.insert("generation_kwargs".into(), json!({"until": s.stop, "max_gen_toks": p.max_new_tokens.unwrap_or(s.max_new_tokens)}));
            }
            config.insert("description".into(), json!(s.description));
            config.insert("fewshot_delimiter".into(), json!(s.fewshot_delimiter));
        }
        config.insert("target_delimiter".into(), json!(delimiter));
        config.insert("num_fewshot".into(), json!(p.shots));
        config.insert(
            "fewshot_config".into(),
            json!({"sampler": "clinicbench", "split": null, "process_docs": null, "fewshot_indices": null, "samples": null,
                   "doc_to_text": spec.as_ref().map(|s| s.prompt.clone()), "doc_to_choice": spec.as_ref().map(|s| s.choices.clone()),
                   "doc_to_target": "gold", "gen_prefix": null, "fewshot_delimiter": spec.as_ref().map(|s| s.fewshot_delimiter.clone()),
                   "target_delimiter": delimiter, "seed": p.seed}),
        );
        config.insert(
            "metric_list".into(),
            json!(r.scores.iter().map(|s| json!({"metric": s.metric.name(), "aggregation": if s.metric.is_corpus() { s.metric.name() } else { "mean" }, "higher_is_better": true})).collect::<Vec<_>>()),
        );
        config.insert("repeats".into(), json!(1));
        config.insert("metadata".into(), json!({"version": p.spec_version as f64, "spec_hash": p.spec_hash, "dataset_sha256": p.data_hashes()}));
        configs.insert(r.task.clone(), Value::Object(config));
        let mut lines = String::new();
        for s in report.samples_of(&r.task) {
            lines += &serde_json::to_string(&sample_line(s, &delimiter)).unwrap_or_default();
            lines.push('\n');
        }
        files.push((format!("samples_{}_{time}.jsonl", r.task), lines));
    }
    let prov = &report.provenance;
    let any = prov.tasks.values().next().cloned().unwrap_or_default();
    let doc = json!({
        "results": results,
        "group_subtasks": {},
        "configs": configs,
        "versions": versions,
        "n-shot": n_shot,
        "higher_is_better": higher,
        "n-samples": n_samples,
        "config": {
            "model": "clinicbench",
            "model_args": prov.model.file,
            "batch_size": 1,
            "batch_sizes": [],
            "device": prov.backend,
            "use_cache": null,
            "limit": any.limit,
            "bootstrap_iters": crate::metrics::Bootstrap::DEFAULT.resamples,
            "gen_kwargs": {},
            "random_seed": any.seed,
            "numpy_seed": any.seed,
            "torch_seed": any.seed,
            "fewshot_seed": any.seed,
        },
        "git_hash": null,
        "date": 0.0,
        "clinicbench_version": prov.engine_version,
        "model_sha256": prov.model.sha256,
        "task_hashes": {},
        "model_source": "clinicbench",
        "model_name": prov.model.file,
        "model_name_sanitized": prov.model.label().replace(['/', '\\', ' '], "__"),
        "system_instruction": null,
        "system_instruction_sha": null,
        "fewshot_as_multiturn": false,
        "chat_template": if any.chat_template { json!("the model's tokenizer.chat_template") } else { Value::Null },
        "chat_template_sha": null,
        "total_evaluation_time_seconds": prov.timings.seconds.to_string(),
    });
    files.insert(0, (format!("results_{time}.json"), serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"));
    files
}

/// One sample as lm-eval logs it.
fn sample_line(s: &Sample, delimiter: &str) -> Value {
    let (arguments, resps, filtered, target): (Map<String, Value>, Vec<Value>, Vec<Value>, String) = match &s.loglikelihoods {
        Some(lls) => {
            let greedy = |i: usize| s.is_greedy.as_ref().and_then(|g| g.get(i).copied()).unwrap_or(false);
            let args = s
                .choices
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("gen_args_{i}"), json!({"arg_0": s.prompt, "arg_1": format!("{delimiter}{c}")})))
                .collect();
            // lm-eval writes each (loglikelihood, is_greedy) tuple as strings.
            let pair = |i: usize| json!([lls[i].to_string(), if greedy(i) { "True" } else { "False" }]);
            let target = s.target.as_u64().and_then(|g| s.choices.get(g as usize).cloned()).unwrap_or_else(|| s.target.to_string());
            (args, (0..lls.len()).map(|i| json!([pair(i)])).collect(), (0..lls.len()).map(pair).collect(), target)
        }
        None => {
            let text = s.generation.clone().unwrap_or_default();
            let mut args = Map::new();
            args.insert("gen_args_0".into(), json!({"arg_0": s.prompt, "arg_1": {}}));
            let target = s.target.as_str().map_or_else(|| s.target.to_string(), str::to_string);
            (args, vec![json!([text])], vec![json!(text)], target)
        }
    };
    // Our document's identity (lm-eval's `doc` is its dataset row, which the sample does not hold).
    let doc = json!({"native_id": s.native_id, "target": s.target});
    let mut line = Map::new();
    line.insert("doc_id".into(), json!(s.doc_id));
    line.insert("doc".into(), doc.clone());
    line.insert("target".into(), json!(target));
    line.insert("arguments".into(), Value::Object(arguments));
    line.insert("resps".into(), json!(resps));
    line.insert("filtered_resps".into(), json!(filtered));
    line.insert("filter".into(), json!("none"));
    line.insert("metrics".into(), json!(s.metrics.keys().collect::<Vec<_>>()));
    line.insert("doc_hash".into(), json!(hash(&python_json(&doc))));
    line.insert("prompt_hash".into(), json!(hash(&s.prompt)));
    line.insert("target_hash".into(), json!(hash(&target)));
    for (k, v) in &s.metrics {
        line.insert(k.clone(), json!(v));
    }
    Value::Object(line)
}
