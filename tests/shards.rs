//! A run split over machines, the way a scheduler runs it: a plan of 2 models × 3 tasks × 2
//! shards, each job its own process with its index in the environment (Kubernetes' and Slurm's
//! variables), in shuffled order, one job killed mid-way and run again; then `merge`, whose
//! reports must equal the unsharded runs' (metrics and intervals, bit for bit). And the ways
//! shards go wrong, each with a message naming the file and the problem.

mod common;

use clinicbench::report::{self, RunReport};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const TASKS: &str = "demo_exam,demo_summary,demo_entities";

fn cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clinicbench"));
    c.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for var in ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "CLINICBENCH_ABORT_AFTER_SAMPLES"] {
        c.env_remove(var);
    }
    c.envs(env.iter().copied());
    c.output().expect("run clinicbench")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(o));
}

fn fails_with(o: &Output, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(2), "expected a failure: {}", stderr(o));
    for n in needles {
        assert!(stderr(o).contains(n), "the message should name {n:?}: {}", stderr(o));
    }
}

fn read(p: &Path) -> RunReport {
    report::read_run(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).report
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_plan_run_shard_by_shard_merges_into_the_unsharded_run() {
    let dir = std::env::temp_dir().join(format!("clinicbench-shards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let models = [common::fixture("families/llama_q4_k_m.gguf"), common::fixture("families/qwen2_q5_k_m.gguf")];
    let models_arg = format!("{},{}", s(&models[0]), s(&models[1]));
    let results = dir.join("results");
    let plan = dir.join("plan.json");
    let out = cli(
        &["plan", "--models", &models_arg, "--tasks", TASKS, "--shards", "2", "--results", s(&results), "--data-root", "/nonexistent", "--out", s(&plan)],
        &[],
    );
    ok(&out, "plan");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "12", "2 models × 3 tasks × 2 shards");
    let engine = ["--backend", "cpu", "--threads", "1"];
    let job = |index: usize, extra: &[(&str, &str)]| {
        let i = index.to_string();
        // Half the jobs as a Kubernetes Indexed Job sets them, half as a Slurm job array.
        let var = if index.is_multiple_of(2) { "JOB_COMPLETION_INDEX" } else { "SLURM_ARRAY_TASK_ID" };
        let mut env = vec![(var, i.as_str())];
        env.extend_from_slice(extra);
        let mut args = vec!["eval", "--plan", s(&plan)];
        args.extend(engine);
        cli(&args, &env)
    };
    // Shuffled order; job 4 (llama, demo_entities, shard 0/2: documents 0 and 1) is killed after
    // its first sample.
    let killed = 4;
    for index in [7, 2, 11, 4, 0, 9, 5, 1, 10, 3, 8, 6] {
        if index == killed {
            let o = job(index, &[("CLINICBENCH_ABORT_AFTER_SAMPLES", "1")]);
            assert_ne!(o.status.code(), Some(0), "the killed job fails");
            continue;
        }
        ok(&job(index, &[]), &format!("job {index}"));
    }
    let killed_dir = results.join("llama_q4_k_m/demo_entities/shard-0");
    assert!(killed_dir.join("samples.jsonl.partial").is_file() && !killed_dir.join("results.json").exists(), "a killed job leaves no results.json");
    let merged = dir.join("merged");
    fails_with(&cli(&["merge", "--plan", s(&plan), "--out", s(&merged)], &[]), &["shard-0", "did not finish"]);
    // The scheduler retries it: it goes on from the sample it had.
    let again = job(killed, &[]);
    ok(&again, "the retried job");
    assert!(stderr(&again).contains("resuming with 1 finished samples"), "{}", stderr(&again));
    assert!(!killed_dir.join("samples.jsonl.partial").exists());

    ok(&cli(&["merge", "--plan", s(&plan), "--out", s(&merged)], &[]), "merge");
    for (model, label) in models.iter().zip(["llama_q4_k_m", "qwen2_q5_k_m"]) {
        let whole = dir.join(format!("whole-{label}"));
        let mut args = vec!["eval", "--model", s(model), "--tasks", TASKS, "--data-root", "/nonexistent", "--out", s(&whole)];
        args.extend(engine);
        ok(&cli(&args, &[]), "the unsharded run");
        let (a, b) = (read(&whole), read(&merged.join(label)));
        assert_eq!(a.results.len(), 3);
        assert_eq!(b.results.len(), 3);
        for ra in &a.results {
            let what = format!("{label} {}", ra.task);
            let rb = b.result(&ra.task).unwrap_or_else(|| panic!("{what} is in the merged run"));
            // Metrics and intervals bit for bit (bleu and entity_f1 are bootstrapped).
            assert_eq!(ra.scores, rb.scores, "{what}");
            assert_eq!((ra.n, ra.skipped, ra.unparsed, ra.bad_rows), (rb.n, rb.skipped, rb.unparsed, rb.bad_rows), "{what}");
            assert!(ra.scores.iter().any(|s| s.ci95.is_some()), "{what}: intervals to compare");
            let (pa, pb) = (&a.provenance.tasks[&ra.task], &b.provenance.tasks[&ra.task]);
            assert_eq!(pa, pb, "{what}: the merged run's task provenance is the unsharded run's");
        }
        let doc_ids = |r: &RunReport| {
            let mut v = r.samples.iter().map(|s| (s.task.clone(), s.doc_id, s.pred, s.generation.clone())).collect::<Vec<_>>();
            v.sort_by(|x, y| (&x.0, x.1).cmp(&(&y.0, y.1)));
            v
        };
        assert_eq!(doc_ids(&a), doc_ids(&b), "{label}: the samples in document order");
        assert_eq!(a.provenance.model.sha256, b.provenance.model.sha256);
    }

    // What goes wrong, said.
    let o = cli(&["eval", "--plan", s(&plan), "--index", "12"], &[]);
    fails_with(&o, &["plan.json", "out of range", "12 jobs"]);
    let bad_out = dir.join("bad");
    let m = |shards: &[&Path]| {
        let mut args = vec!["merge", "--out", s(&bad_out)];
        args.extend(shards.iter().map(|p| s(p)));
        cli(&args, &[])
    };
    let shard = |model: &str, i: usize| results.join(model).join("demo_exam").join(format!("shard-{i}"));
    fails_with(&m(&[&shard("llama_q4_k_m", 0), &shard("qwen2_q5_k_m", 1)]), &["shard-0", "shard-1", "model SHA-256"]);
    fails_with(&m(&[&shard("llama_q4_k_m", 0)]), &["demo_exam", "shard 1/2 is missing"]);
    let copy = dir.join("copy-of-shard-0");
    std::fs::create_dir_all(&copy).unwrap();
    for f in ["results.json", "samples.jsonl"] {
        std::fs::copy(shard("llama_q4_k_m", 0).join(f), copy.join(f)).unwrap();
    }
    fails_with(&m(&[&shard("llama_q4_k_m", 0), &copy, &shard("llama_q4_k_m", 1)]), &["shard 0/2 appears twice", "copy-of-shard-0"]);
    // A shard generated one document at a time does not merge with one generated in batches
    // (their sums round differently).
    let single = dir.join("one-at-a-time");
    let mut args = vec!["eval", "--model", s(&models[0]), "--task", "demo_entities", "--shard", "1/2", "--batch", "1", "--data-root", "/nonexistent", "--out", s(&single)];
    args.extend(engine);
    ok(&cli(&args, &[]), "a shard generated one document at a time");
    let entities = |i: usize| results.join("llama_q4_k_m").join("demo_entities").join(format!("shard-{i}"));
    fails_with(&m(&[&entities(0), &single]), &["generation batched or one at a time", "demo_entities"]);
    // A results file cut short.
    let text = std::fs::read_to_string(copy.join("results.json")).unwrap();
    std::fs::write(copy.join("results.json"), &text[..text.len() / 2]).unwrap();
    fails_with(&m(&[&copy, &shard("llama_q4_k_m", 1)]), &["copy-of-shard-0/results.json", "ends before the JSON does"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plans_and_shards_refuse_what_they_cannot_run() {
    let bad_shard = cli(&["eval", "--model", "x.gguf", "--task", "demo_exam", "--shard", "2/2", "--out", "/tmp/x"], &[]);
    assert_eq!(bad_shard.status.code(), Some(2));
    assert!(stderr(&bad_shard).contains("zero-based"), "{}", stderr(&bad_shard));
    let dir = std::env::temp_dir().join(format!("clinicbench-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = dir.join("plan.json");
    std::fs::write(&plan, r#"{"version": 1, "models": [], "tasks": ["demo_exam"], "shards": 1, "results": "r", "data_root": "d", "prompts": {"shots": 0, "limit": null, "seed": 1, "chat_template": false, "max_new_tokens": null}, "jobs": 1}"#).unwrap();
    fails_with(&cli(&["eval", "--plan", s(&plan), "--index", "0"], &[]), &["plan.json", "0 models"]);
    std::fs::write(&plan, "{\"version\": 1, \"models\"").unwrap();
    fails_with(&cli(&["eval", "--plan", s(&plan), "--index", "0"], &[]), &["plan.json", "not a clinicbench plan"]);
    fails_with(&cli(&["eval", "--plan", s(&plan)], &[]), &["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The scheduler files in deploy/ call the CLI as it is: the Slurm script's body with
/// SLURM_ARRAY_TASK_ID set, and the Kubernetes Job's container command with JOB_COMPLETION_INDEX
/// set, each run one job of a plan. (The manifest's schema is checked by scripts/test.sh with
/// PyPI kubernetes-validate.)
#[test]
fn the_deploy_files_run_a_plans_jobs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("clinicbench-deploy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (plan, results) = (dir.join("plan.json"), dir.join("results"));
    let model = common::fixture("families/llama_q4_k_m.gguf");
    let args = ["plan", "--models", s(&model), "--tasks", "demo_exam", "--shards", "2", "--results", s(&results), "--data-root", "/x", "--out", s(&plan)];
    ok(&cli(&args, &[]), "plan");
    let bin = env!("CARGO_BIN_EXE_clinicbench");

    let script = root.join("deploy/slurm/clinicbench-array.sh");
    let syntax = Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(syntax.status.success(), "bash -n: {}", stderr(&syntax));
    let slurm = Command::new("bash")
        .arg(&script)
        .arg(&plan)
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_CPUS_PER_TASK", "1")
        .env("CLINICBENCH", bin)
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    ok(&slurm, "the Slurm script");
    assert!(results.join("llama_q4_k_m/demo_exam/shard-1/results.json").is_file());
    let unset = Command::new("bash").arg(&script).arg(&plan).env_remove("SLURM_ARRAY_TASK_ID").output().unwrap();
    assert_eq!(unset.status.code(), Some(2), "without an array index it says so: {}", stderr(&unset));

    let manifest = std::fs::read_to_string(root.join("deploy/kubernetes/indexed-job.yaml")).unwrap();
    assert!(manifest.contains("completionMode: Indexed") && manifest.contains("restartPolicy: Never"));
    let line = manifest.lines().find_map(|l| l.trim().strip_prefix("command: ")).expect("the container's command");
    let command: Vec<String> = serde_json::from_str(line).expect("a flow sequence of quoted strings");
    assert_eq!(command[0], "clinicbench");
    let args: Vec<String> = command[1..].iter().map(|a| if a == "/plan/plan.json" { s(&plan).to_string() } else { a.clone() }).collect();
    let k8s = Command::new(bin).args(&args).env("JOB_COMPLETION_INDEX", "0").env_remove("SLURM_ARRAY_TASK_ID").output().unwrap();
    ok(&k8s, "the Kubernetes Job's command");
    assert!(results.join("llama_q4_k_m/demo_exam/shard-0/results.json").is_file());
    ok(&cli(&["merge", "--plan", s(&plan), "--out", s(&dir.join("merged"))], &[]), "merge");
    assert_eq!(read(&dir.join("merged/llama_q4_k_m")).result("demo_exam").unwrap().n, 5);
    let _ = std::fs::remove_dir_all(&dir);
}
