//! The page's worker logic, natively: a Session loads a model from bytes, runs a task one
//! document at a time, pauses, cancels, and reports bad input as messages, never panics.

mod common;

use clinicbench::web::{FromWorker, RunRequest, Session, ToWorker};

fn request(task: &str) -> RunRequest {
    serde_json::from_value(serde_json::json!({"task": task, "limit": 2})).unwrap()
}

#[test]
fn messages_round_trip_as_json() {
    let m: ToWorker = serde_json::from_str(r#"{"kind": "run", "task": "demo_exam", "shots": 1}"#).unwrap();
    assert_eq!(m, ToWorker::Run(RunRequest { task: "demo_exam".into(), data_file: None, shots: 1, limit: None, seed: 1234, max_new_tokens: None, chat_template: false, previous: vec![] }));
    let m: ToWorker = serde_json::from_str(r#"{"kind": "load_url", "url": "models/demo.gguf"}"#).unwrap();
    assert_eq!(m, ToWorker::LoadUrl { url: "models/demo.gguf".into() });
    assert!(serde_json::from_str::<ToWorker>(r#"{"kind": "format_disk"}"#).is_err());
}

#[test]
fn bad_input_becomes_an_error_message() {
    let mut s = Session::new();
    assert!(matches!(s.start(&request("demo_exam"), None), FromWorker::Error { message } if message.contains("load a model")));
    match s.load_model("junk.gguf", b"not a model".to_vec(), "test") {
        FromWorker::Error { message } => assert!(message.contains("junk.gguf"), "{message}"),
        other => panic!("{other:?}"),
    }
    let mut out = vec![];
    assert!(!s.step(&mut |m| out.push(m)));
    assert!(out.is_empty());
}

#[test]
fn a_demo_task_runs_pauses_resumes_and_cancels() {
    let Some(model) = common::real_model() else { return };
    let mut s = Session::new();
    match s.load_model("demo.gguf", std::fs::read(&model).unwrap(), "CPU") {
        FromWorker::ModelLoaded { card, .. } => assert_eq!(card.architecture, "gemma3"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(s.start(&request("no_such_task"), None), FromWorker::Error { .. }));
    assert!(matches!(s.start(&request("medqa_4options"), None), FromWorker::Error { message } if message.contains("choose its dataset file")));

    assert!(matches!(s.start(&request("demo_exam"), None), FromWorker::Started { total: 2, records: 5, .. }));
    let mut out = vec![];
    assert!(s.step(&mut |m| out.push(m)));
    assert!(matches!(s.pause(), Some(FromWorker::Paused { .. })));
    assert!(!s.step(&mut |m| out.push(m)), "paused");
    s.resume();
    while s.step(&mut |m| out.push(m)) {}
    let samples = out.iter().filter(|m| matches!(m, FromWorker::Sample { .. })).count();
    assert_eq!(samples, 2);
    match out.last().unwrap() {
        FromWorker::Finished { task, results, .. } => {
            assert_eq!(task, "demo_exam");
            assert_eq!(results["n"], 2);
        }
        other => panic!("{other:?}"),
    }
    // A generation task streams its tokens; cancelling keeps what was done.
    let mut req = request("demo_summary");
    req.limit = None;
    assert!(matches!(s.start(&req, None), FromWorker::Started { total: 3, .. }));
    let mut out = vec![];
    assert!(s.step(&mut |m| out.push(m)));
    assert!(out.iter().any(|m| matches!(m, FromWorker::Token { .. })) || out.iter().any(|m| matches!(m, FromWorker::Sample { sample, .. } if sample.generation.as_deref() == Some(""))));
    assert!(matches!(s.cancel(), Some(FromWorker::Cancelled { done: 1, .. })));
    assert!(!s.running());
}

#[test]
fn models_too_large_for_the_browser_are_refused_before_reading() {
    assert!(clinicbench::web::check_browser_model_size("small.gguf", 300 << 20).is_ok());
    let e = clinicbench::web::check_browser_model_size("big.gguf", 4 << 30).unwrap_err();
    assert!(e.contains("big.gguf") && e.contains("4.00 GiB") && e.contains("command line"), "{e}");
}

/// The page's GPU line: a passing report says so and names the backend that runs the model; a
/// failing format or a diverging forward pass is named, and `ok` turns false.
#[test]
fn the_gpu_report_names_failures_and_the_backend() {
    use clinicbench::backend::wgpu::check::FormatCheck;
    use clinicbench::web::GpuReport;
    let pass = |f: &str| FormatCheck { format: f.into(), max_relative_error: 1e-7, ok: true };
    let mut report = GpuReport {
        adapter: Some("SwiftShader (WebGPU)".into()),
        software: true,
        kernels: vec![pass("Q4_K"), pass("Q8_0")],
        forward_relative_error: Some(2e-6),
        forward_model: Some("tiny.gguf".into()),
        problem: None,
    };
    assert!(report.ok());
    let s = report.summary();
    assert!(s.contains("2 of 2 block formats agree") && s.contains("tiny.gguf on WebGPU agree with the CPU's") && s.contains("software adapter is slower"), "{s}");
    // Another model loaded: the forward result was not about it.
    assert!(!report.clone().for_model("demo.gguf").summary().contains("logits"));
    assert!(report.clone().for_model("tiny.gguf").summary().contains("logits"));
    report.kernels.push(FormatCheck { format: "Q6_K".into(), max_relative_error: 0.3, ok: false });
    report.forward_relative_error = Some(0.5);
    assert!(!report.ok());
    let s = report.summary();
    assert!(s.contains("2 of 3") && s.contains("failed: Q6_K") && s.contains("DIFFER"), "{s}");
    let none = GpuReport { adapter: None, software: false, kernels: vec![], forward_relative_error: None, forward_model: None, problem: None };
    assert!(!none.ok());
    assert!(none.summary().starts_with("No WebGPU adapter") && none.summary().contains("CPU backend"));
    // It travels to the page as JSON.
    let msg = FromWorker::GpuReport(report);
    let back: FromWorker = serde_json::from_str(&serde_json::to_string(&msg).unwrap()).unwrap();
    assert_eq!(back, msg);
}
