//! The page's worker logic, natively: a Session loads a model from bytes, runs a task a document
//! (or a batch of generated ones) a step, pauses, cancels, and reports bad input as messages,
//! never panics.

mod common;

use clinicbench::engine::wait;
use clinicbench::gguf::SliceSource;
use clinicbench::web::{self, sha256_hex, FromWorker, RunRequest, Session, ToWorker};

/// Loads a model from its bytes onto the CPU backend, as the worker does from a file.
fn load(s: &mut Session, name: &str, bytes: Vec<u8>) -> FromWorker {
    let sha = sha256_hex(&bytes);
    wait(s.load_model(name, &sha, SliceSource(bytes), None, "test"))
}

fn request(task: &str) -> RunRequest {
    serde_json::from_value(serde_json::json!({"task": task, "limit": 2})).unwrap()
}

#[test]
fn messages_round_trip_as_json() {
    let m: ToWorker = serde_json::from_str(r#"{"kind": "run", "task": "demo_exam", "shots": 1}"#).unwrap();
    assert_eq!(m, ToWorker::Run(RunRequest { task: "demo_exam".into(), data_file: None, shots: 1, limit: None, seed: 1234, max_new_tokens: None, chat_template: false, previous: vec![], batch: None }));
    let m: ToWorker = serde_json::from_str(r#"{"kind": "load_url", "url": "models/demo.gguf"}"#).unwrap();
    assert_eq!(m, ToWorker::LoadUrl { url: "models/demo.gguf".into() });
    assert!(serde_json::from_str::<ToWorker>(r#"{"kind": "format_disk"}"#).is_err());
}

#[test]
fn bad_input_becomes_an_error_message() {
    let mut s = Session::new();
    assert!(matches!(s.start(&request("demo_exam"), None), FromWorker::Error { message } if message.contains("load a model")));
    match load(&mut s, "junk.gguf", b"not a model".to_vec()) {
        FromWorker::Error { message } => assert!(message.contains("junk.gguf"), "{message}"),
        other => panic!("{other:?}"),
    }
    let mut out = vec![];
    assert!(!wait(s.step(&mut |m| out.push(m))));
    assert!(out.is_empty());
}

#[test]
fn a_demo_task_runs_pauses_resumes_and_cancels() {
    let Some(model) = common::real_model() else { return };
    let mut s = Session::new();
    match load(&mut s, "demo.gguf", std::fs::read(&model).unwrap()) {
        FromWorker::ModelLoaded { card, .. } => assert_eq!(card.architecture, "gemma3"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(s.start(&request("no_such_task"), None), FromWorker::Error { .. }));
    assert!(matches!(s.start(&request("medqa_4options"), None), FromWorker::Error { message } if message.contains("choose its dataset file")));

    assert!(matches!(s.start(&request("demo_exam"), None), FromWorker::Started { total: 2, records: 5, .. }));
    let mut out = vec![];
    assert!(wait(s.step(&mut |m| out.push(m))));
    assert!(matches!(s.pause(), Some(FromWorker::Paused { .. })));
    assert!(!wait(s.step(&mut |m| out.push(m))), "paused");
    s.resume();
    while wait(s.step(&mut |m| out.push(m))) {}
    let samples = out.iter().filter(|m| matches!(m, FromWorker::Sample { .. })).count();
    assert_eq!(samples, 2);
    match out.last().unwrap() {
        FromWorker::Finished { task, result, provenance, .. } => {
            assert_eq!(task, "demo_exam");
            assert_eq!(result.n, 2);
            assert_eq!((provenance.documents, provenance.dataset.files.len()), (2, 1));
            assert_eq!(provenance.dataset.files[0].sha256.len(), 64);
        }
        other => panic!("{other:?}"),
    }
    // A generation task streams its tokens; cancelling keeps what was done (one document a
    // step here: by default the page generates several together, see below).
    let mut req = request("demo_summary");
    req.limit = None;
    req.batch = Some(1);
    assert!(matches!(s.start(&req, None), FromWorker::Started { total: 3, .. }));
    let mut out = vec![];
    assert!(wait(s.step(&mut |m| out.push(m))));
    assert!(out.iter().any(|m| matches!(m, FromWorker::Token { .. })) || out.iter().any(|m| matches!(m, FromWorker::Sample { sample, .. } if sample.generation.as_deref() == Some(""))));
    assert!(matches!(s.cancel(), Some(FromWorker::Cancelled { done: 1, .. })));
    assert!(!s.running());
}

#[test]
fn models_too_large_for_the_browser_are_refused_before_reading() {
    use clinicbench::web::check_browser_model_size as check;
    assert!(check("small.gguf", 300 << 20, false).is_ok());
    assert!(check("2.5GiB.gguf", 5 << 29, false).is_ok(), "read tensor by tensor, the CPU takes files past 2 GiB");
    let e = check("big.gguf", 4 << 30, false).unwrap_err();
    assert!(e.contains("big.gguf") && e.contains("4.00 GiB") && e.contains("WebGPU") && e.contains("command line"), "{e}");
    // On WebGPU the weights go to the GPU: a 4B-parameter Q4 file (about 2.5 GB) and larger load.
    assert!(check("big.gguf", 4 << 30, true).is_ok());
}

/// A model file is hashed a piece at a time (it is never whole in memory in the browser), and
/// the hash is the file's SHA-256 all the same.
#[test]
fn a_model_is_hashed_in_pieces_as_a_whole() {
    let bytes: Vec<u8> = (0..(40u32 << 20) / 7).flat_map(|i| (i.wrapping_mul(2654435761)).to_le_bytes()).collect();
    let whole = sha256_hex(&bytes);
    assert_eq!(clinicbench::web::sha256_of(&SliceSource(&bytes)).unwrap(), whole);
    assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/// Which backend runs the model in the page: WebGPU on a hardware adapter whose kernels agree
/// with the CPU; the CPU on a software adapter, without an adapter, or when the check failed;
/// `?backend=` overrides, and the reason always says why.
#[test]
fn the_page_places_a_model_on_webgpu_only_where_it_pays() {
    use clinicbench::backend::wgpu::check::FormatCheck;
    use clinicbench::web::{place_model, BackendChoice, GpuReport};
    let report = |adapter: Option<&str>, software: bool, ok: bool| GpuReport {
        adapter: adapter.map(str::to_string),
        software,
        kernels: vec![FormatCheck { format: "Q4_K".into(), max_relative_error: if ok { 1e-7 } else { 0.5 }, ok }],
        forward_relative_error: None,
        forward_model: None,
        problem: adapter.is_none().then(|| "navigator.gpu is missing".to_string()),
        top_k_agrees: None,
        cpu_kernels: vec![],
    };
    let hardware = report(Some("NVIDIA H200 (WebGPU)"), false, true);
    let swiftshader = report(Some("SwiftShader Device (WebGPU)"), true, true);
    let broken = report(Some("Some GPU (WebGPU)"), false, false);
    let none = report(None, false, false);
    use BackendChoice::*;
    let p = place_model(Auto, Some(&hardware));
    assert!(p.webgpu && p.reason.contains("NVIDIA H200"), "{p:?}");
    let p = place_model(Auto, Some(&swiftshader));
    assert!(!p.webgpu && p.reason.contains("software adapter") && p.reason.contains("?backend=webgpu"), "{p:?}");
    let p = place_model(Auto, Some(&broken));
    assert!(!p.webgpu && p.reason.contains("did not agree"), "{p:?}");
    let p = place_model(Auto, Some(&none));
    assert!(!p.webgpu && p.reason.contains("navigator.gpu is missing"), "{p:?}");
    assert!(!place_model(Auto, None).webgpu, "before the check has run, the CPU");
    let p = place_model(Webgpu, Some(&swiftshader));
    assert!(p.webgpu && p.reason.contains("?backend=webgpu") && p.reason.contains("slower"), "{p:?}");
    let p = place_model(Webgpu, Some(&none));
    assert!(!p.webgpu && p.reason.contains("no WebGPU adapter"), "{p:?}");
    assert!(!place_model(Cpu, Some(&hardware)).webgpu);
    assert_eq!(BackendChoice::from_query(Some("webgpu")), Ok(Webgpu));
    assert_eq!(BackendChoice::from_query(None), Ok(Auto));
    assert!(BackendChoice::from_query(Some("cuda")).unwrap_err().contains("cpu or webgpu"));
    let m: ToWorker = serde_json::from_str(r#"{"kind": "choose_backend", "backend": "webgpu"}"#).unwrap();
    assert_eq!(m, ToWorker::ChooseBackend { backend: Webgpu });
}

/// The page's session runs a task on the GPU backend as it does on the CPU: the same answers,
/// loglikelihoods within 1e-3 (lavapipe here; WebGPU in the browser test).
#[test]
fn a_task_runs_on_the_gpu_as_on_the_cpu() {
    use clinicbench::backend::wgpu::{Gpu, GpuOptions};
    let bytes = std::fs::read(common::fixture("families/llama_q4_k_m.gguf")).unwrap();
    let run = |gpu: Option<Gpu>| {
        let mut s = Session::new();
        let sha = sha256_hex(&bytes);
        let loaded = wait(s.load_model("tiny.gguf", &sha, SliceSource(bytes.clone()), gpu, "test"));
        let FromWorker::ModelLoaded { backend, .. } = loaded else { panic!("{loaded:?}") };
        let mut req = request("demo_exam");
        req.limit = Some(3);
        assert!(matches!(s.start(&req, None), FromWorker::Started { .. }));
        let mut out = vec![];
        while wait(s.step(&mut |m| out.push(m))) {}
        let lls: Vec<Vec<f64>> = out
            .iter()
            .filter_map(|m| match m {
                FromWorker::Sample { sample, .. } => sample.loglikelihoods.clone(),
                _ => None,
            })
            .collect();
        // A generation task: batched where the backend runs documents side by side (the
        // CPU's), one at a time on the GPU, and the results say which.
        let mut req = request("demo_summary");
        req.limit = Some(2);
        assert!(matches!(s.start(&req, None), FromWorker::Started { .. }));
        let mut out = vec![];
        while wait(s.step(&mut |m| out.push(m))) {}
        let batched = match out.last() {
            Some(FromWorker::Finished { provenance, .. }) => provenance.batched_generation,
            other => panic!("{other:?}"),
        };
        (backend, lls, batched)
    };
    let (cpu_backend, cpu, cpu_batched) = run(None);
    assert!(cpu_backend.starts_with("cpu"));
    assert!(cpu_batched);
    let gpu = match wait(Gpu::open(&GpuOptions::default())) {
        Ok(g) => g,
        Err(e) if !std::env::var("CI").is_ok_and(|v| v == "true") => return eprintln!("note: {e}; skipping"),
        Err(e) => panic!("{e}"),
    };
    let (gpu_backend, on_gpu, gpu_batched) = run(Some(gpu));
    assert!(gpu_backend.starts_with("wgpu"), "{gpu_backend}");
    assert!(!gpu_batched, "the GPU generates one document at a time");
    assert_eq!(cpu.len(), 3);
    for (a, b) in cpu.iter().zip(&on_gpu) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-3, "cpu {a:?} gpu {b:?}");
        }
    }
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
        top_k_agrees: Some(true),
        cpu_kernels: vec![pass("Q4_K"), pass("Q8_0")],
    };
    assert!(report.ok());
    let s = report.summary();
    assert!(s.contains("CPU kernel check: 2 of 2 block formats agree with the reference"), "{s}");
    let mut cpu_fails = report.clone();
    cpu_fails.cpu_kernels[1] = FormatCheck { format: "Q8_0".into(), max_relative_error: 0.2, ok: false };
    assert!(cpu_fails.summary().contains("1 of 2 block formats agree with the reference (worst relative error 2.0e-1; failed: Q8_0)"), "{}", cpu_fails.summary());
    assert!(s.contains("Top-k selection agrees"), "{s}");
    let mut top_k_differs = report.clone();
    top_k_differs.top_k_agrees = Some(false);
    assert!(!top_k_differs.ok() && top_k_differs.summary().contains("Top-k selection DIFFERS"));
    assert!(s.contains("2 of 2 block formats agree") && s.contains("tiny.gguf on WebGPU agree with the CPU's") && s.contains("software adapter is slower"), "{s}");
    // Another model loaded: the forward result was not about it.
    assert!(!report.clone().for_model("demo.gguf").summary().contains("logits"));
    assert!(report.clone().for_model("tiny.gguf").summary().contains("logits"));
    report.kernels.push(FormatCheck { format: "Q6_K".into(), max_relative_error: 0.3, ok: false });
    report.forward_relative_error = Some(0.5);
    assert!(!report.ok());
    let s = report.summary();
    assert!(s.contains("2 of 3") && s.contains("failed: Q6_K") && s.contains("DIFFER"), "{s}");
    let none = GpuReport { adapter: None, software: false, kernels: vec![], forward_relative_error: None, forward_model: None, problem: None, top_k_agrees: None, cpu_kernels: vec![] };
    assert!(!none.ok());
    assert!(none.summary().starts_with("No WebGPU adapter") && none.summary().contains("CPU backend"));
    // It travels to the page as JSON.
    let msg = FromWorker::GpuReport(report);
    let back: FromWorker = serde_json::from_str(&serde_json::to_string(&msg).unwrap()).unwrap();
    assert_eq!(back, msg);
}

/// The page's judge: the worker's session rates a review set with the loaded model, item by
/// item, and answers with a review that reads back against the set; not while a task runs.
#[test]
fn the_loaded_model_judges_a_review_set_in_the_worker() {
    use clinicbench::review::{self, Instrument, Item, ItemOutput, ReviewSet};
    let instrument = Instrument::clinical();
    let output = |id: &str, text: &str| ItemOutput { id: id.into(), text: text.into() };
    let set = ReviewSet {
        version: 1,
        instrument_hash: instrument.hash(),
        instrument,
        seed: 1,
        items: vec![Item {
            id: "i0001".into(),
            task: "demo_summary".into(),
            doc_id: 0,
            source: "Summarize: the patient has a cough.".into(),
            reference: Some("Cough.".into()),
            outputs: vec![output("oa", "The patient coughs."), output("ob", "<script>x</script> take 50 g")],
            pair: Some(["ob".into(), "oa".into()]),
        }],
    };
    let mut s = Session::new();
    assert!(matches!(wait(s.judge(&set, "judge", "t", &mut |_| {})), FromWorker::Error { message } if message.contains("load a model")));
    let bytes = std::fs::read(common::fixture("families/llama_q4_k_m.gguf")).unwrap();
    assert!(matches!(load(&mut s, "llama.gguf", bytes), FromWorker::ModelLoaded { .. }));
    let mut heard = vec![];
    match wait(s.judge(&set, "judge:llama", "2026-12-04T20:00:00Z", &mut |m| heard.push(m))) {
        FromWorker::Judged { review: r } => {
            assert_eq!(r.rater, "judge:llama");
            assert_eq!(r.ratings.len(), 2 * 4, "every output on every dimension");
            let json = serde_json::to_vec(&r).unwrap();
            review::read_review("judge.json", &json, Some(&set)).expect("the judge's review reads back against the set");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(heard.as_slice(), [FromWorker::Judging { done: 1, total: 1 }]), "{heard:?}");
    assert!(matches!(s.start(&request("demo_exam"), None), FromWorker::Started { .. }));
    assert!(matches!(wait(s.judge(&set, "judge", "t", &mut |_| {})), FromWorker::Error { message } if message.contains("task is running")));
}

/// A split model's parts picked together, in any order: put in order and loaded as one model
/// (its demo answers equal the unsplit file's, its SHA-256 that of the parts in order); a
/// missing part named by its file name; two models' parts and a file that is no part refused.
#[test]
fn a_split_models_parts_load_together_and_a_missing_one_is_named() {
    use clinicbench::web::{order_parts, sha256_of_parts, AdapterSource};
    let part = |name: &str| (name.to_string(), SliceSource(std::fs::read(common::fixture(&format!("split/{name}"))).unwrap()));
    let names = ["llama-00003-of-00003.gguf", "llama-00001-of-00003.gguf", "llama-00002-of-00003.gguf"];
    let ordered = order_parts(names.iter().map(|n| part(n)).collect()).unwrap();
    let order: Vec<&str> = ordered.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(order, ["llama-00001-of-00003.gguf", "llama-00002-of-00003.gguf", "llama-00003-of-00003.gguf"]);
    let sources: Vec<SliceSource<Vec<u8>>> = ordered.into_iter().map(|(_, s)| s).collect();
    let sha = sha256_of_parts(&sources).unwrap();
    let mut whole: Vec<u8> = Vec::new();
    for s in &sources {
        whole.extend_from_slice(&s.0);
    }
    assert_eq!(sha, sha256_hex(&whole));

    // The parts and the unsplit file answer alike.
    let run = |s: &mut Session| -> Vec<Option<Vec<f64>>> {
        assert!(matches!(s.start(&request("demo_exam"), None), FromWorker::Started { .. }));
        let mut lls = Vec::new();
        while wait(s.step(&mut |m| {
            if let FromWorker::Sample { sample, .. } = m {
                lls.push(sample.loglikelihoods.clone());
            }
        })) {}
        lls
    };
    let mut split = Session::new();
    let none: &[AdapterSource<SliceSource<Vec<u8>>>] = &[];
    let loaded = wait(split.load_model_adapted("llama-00001-of-00003.gguf", &sha, sources, none, None, "test"));
    assert!(matches!(loaded, FromWorker::ModelLoaded { .. }), "{loaded:?}");
    let mut unsplit = Session::new();
    load(&mut unsplit, "llama_q4_k_m.gguf", std::fs::read(common::fixture("families/llama_q4_k_m.gguf")).unwrap());
    let (a, b) = (run(&mut split), run(&mut unsplit));
    assert!(a.len() == 2 && a.iter().all(Option::is_some), "{a:?}");
    assert_eq!(a, b);

    let err = order_parts(vec![part(names[0]), part(names[1])]).map(|_| ()).unwrap_err();
    assert!(err.contains("part 2 of 3") && err.contains("llama-00002-of-00003.gguf"), "{err}");
    let err = order_parts(vec![part(names[1]), part("other-model-00002-of-00003.gguf"), part(names[2]), part(names[2])]).map(|_| ()).unwrap_err();
    assert!(err.contains("both say they are part"), "{err}");
    let model = ("llama_q4_k_m.gguf".to_string(), SliceSource(std::fs::read(common::fixture("families/llama_q4_k_m.gguf")).unwrap()));
    let err = order_parts(vec![part(names[1]), model]).map(|_| ()).unwrap_err();
    assert!(err.contains("llama_q4_k_m.gguf is not a part"), "{err}");
}

/// The page's worker meets a chat template that doubles a string as the CLI does: the task
/// ends with the template's message, and the model stays loaded for the next run.
#[test]
fn a_hostile_chat_template_is_a_message_in_the_page() {
    let model = std::fs::read(common::fixture("families/llama_q4_k_m.gguf")).unwrap();
    let doubling = format!("{{% set s = 'x' %}}{}{{{{ s }}}}", "{% set s = s ~ s %}".repeat(40));
    let mut s = Session::new();
    assert!(matches!(load(&mut s, "hostile.gguf", common::with_chat_template(&model, &doubling)), FromWorker::ModelLoaded { .. }));
    let mut req = request("demo_yesno");
    req.chat_template = true;
    assert!(matches!(s.start(&req, None), FromWorker::Started { .. }));
    let mut out = vec![];
    while wait(s.step(&mut |m| out.push(m))) {}
    let said: Vec<String> = out.iter().filter_map(|m| match m { FromWorker::Error { message } => Some(message.clone()), _ => None }).collect();
    assert!(said.iter().any(|m| m.contains("made more than 32 MiB")), "{out:?}");
    // Without the template the same model runs.
    assert!(matches!(s.start(&request("demo_yesno"), None), FromWorker::Started { .. }));
    let mut out = vec![];
    while wait(s.step(&mut |m| out.push(m))) {}
    assert!(out.iter().any(|m| matches!(m, FromWorker::Finished { .. })), "{out:?}");
}

/// Twelve exam questions, answered in words (the demo sets hold three documents each).
fn questions() -> String {
    (0..12)
        .map(|i| serde_json::json!({"question": format!("Question {i}: which drug lowers blood pressure?"), "options": {"A": "aspirin", "B": format!("drug {i}"), "C": "lisinopril", "D": "insulin"}, "answer_idx": "C"}).to_string() + "\n")
        .collect()
}

/// The generated texts among `messages`' samples, with the count of documents done each says.
fn generated(messages: &[FromWorker]) -> Vec<(usize, String)> {
    messages.iter().filter_map(|m| if let FromWorker::Sample { sample, done, .. } = m { Some((*done, sample.generation.clone().unwrap_or_default())) } else { None }).collect()
}

/// What each step of a run of `req` sent, until the run finished.
fn steps_of(s: &mut Session, req: &RunRequest, data: &str) -> Vec<Vec<FromWorker>> {
    assert!(matches!(s.start(req, Some(("questions.jsonl", data.as_bytes()))), FromWorker::Started { total: 12, .. }));
    let mut steps = vec![];
    loop {
        let mut out = vec![];
        let more = wait(s.step(&mut |m| out.push(m)));
        steps.push(out);
        if !more {
            return steps;
        }
    }
}

#[test]
fn the_page_generates_documents_together_and_reports_each_one() {
    let mut s = Session::new();
    assert!(matches!(load(&mut s, "llama_q4_k_m.gguf", std::fs::read(common::fixture("families/llama_q4_k_m.gguf")).unwrap()), FromWorker::ModelLoaded { .. }));
    let questions = questions();
    let req = |batch| RunRequest { data_file: Some("questions.jsonl".into()), limit: None, batch, ..request("medqa_4options_gen") };
    let texts = |steps: &[Vec<FromWorker>]| -> Vec<String> {
        steps.iter().flatten().filter_map(|m| if let FromWorker::Sample { sample, .. } = m { sample.generation.clone() } else { None }).collect()
    };
    let batched = |steps: &[Vec<FromWorker>]| match steps.last().and_then(|s| s.last()) {
        Some(FromWorker::Finished { provenance, .. }) => provenance.batched_generation,
        other => panic!("{other:?}"),
    };

    // By default a step generates PAGE_BATCH documents, and each one's sample is a message of
    // its own, in order, counting the documents done.
    let default = steps_of(&mut s, &req(None), &questions);
    let mut done = 0;
    for step in &default[..default.len() - 1] {
        let prompts: Vec<usize> = step.iter().filter_map(|m| if let FromWorker::Prompt { doc_id, .. } = m { Some(*doc_id) } else { None }).collect();
        let samples: Vec<(usize, usize)> =
            step.iter().filter_map(|m| if let FromWorker::Sample { sample, done, .. } = m { Some((sample.doc_id, *done)) } else { None }).collect();
        assert_eq!(prompts.len(), web::PAGE_BATCH.min(12 - done), "a step's documents");
        assert_eq!(samples, prompts.iter().enumerate().map(|(i, &d)| (d, done + i + 1)).collect::<Vec<_>>());
        // Tokens come tagged with their document, every one of this step's.
        for m in step {
            if let FromWorker::Token { doc_id, .. } = m {
                assert!(prompts.contains(doc_id), "a token of document {doc_id} in a step of {prompts:?}");
            }
        }
        done += prompts.len();
    }
    assert_eq!((done, default.len()), (12, 12usize.div_ceil(web::PAGE_BATCH) + 1));
    assert!(batched(&default), "the results say generation was batched");

    assert!(texts(&default).iter().filter(|t| !t.is_empty()).count() >= 6, "{:?}", texts(&default));
    // Which documents share a batch does not change a document's text.
    let by_five = steps_of(&mut s, &req(Some(5)), &questions);
    assert_eq!(by_five.len(), 12usize.div_ceil(5) + 1);
    assert_eq!(texts(&by_five), texts(&default));
    assert!(batched(&by_five));
    // One at a time: a step a document, and the results say so.
    let one = steps_of(&mut s, &req(Some(1)), &questions);
    assert_eq!(one.len(), 13);
    assert!(!batched(&one));
}

#[test]
fn a_batch_interrupted_between_steps_keeps_nothing_half_done_and_runs_again() {
    use std::cell::Cell;
    use std::rc::Rc;
    let mut s = Session::new();
    assert!(matches!(load(&mut s, "llama_q4_k_m.gguf", std::fs::read(common::fixture("families/llama_q4_k_m.gguf")).unwrap()), FromWorker::ModelLoaded { .. }));
    // The worker's question between steps, answered here: stop when `stop` says so.
    let (asked, stop) = (Rc::new(Cell::new(0usize)), Rc::new(Cell::new(false)));
    let (a, st) = (asked.clone(), stop.clone());
    s.set_interrupt(Rc::new(move || {
        a.set(a.get() + 1);
        let stop = st.get();
        Box::pin(async move { stop })
    }));
    let questions = questions();
    let req = RunRequest { data_file: Some("questions.jsonl".into()), limit: None, batch: Some(8), ..request("medqa_4options_gen") };
    let reference: Vec<(usize, String)> = generated(&steps_of(&mut s, &req, &questions).concat());
    assert_eq!(reference.iter().map(|(done, _)| *done).collect::<Vec<_>>(), (1..=12).collect::<Vec<_>>());
    assert!(asked.get() > 2, "asked between steps");

    // The first batch interrupted: no sample, and the step says there is more to do.
    assert!(matches!(s.start(&req, Some(("questions.jsonl", questions.as_bytes()))), FromWorker::Started { .. }));
    stop.set(true);
    let mut out = vec![];
    assert!(wait(s.step(&mut |m| out.push(m))), "more to do");
    assert!(generated(&out).is_empty() && !out.iter().any(|m| matches!(m, FromWorker::Error { .. })), "{out:?}");
    // Paused there, then resumed: the batch runs again from its start, and every document's
    // text is the uninterrupted run's, each counted once.
    stop.set(false);
    assert!(matches!(s.pause(), Some(FromWorker::Paused { .. })));
    assert!(!wait(s.step(&mut |m| out.push(m))), "paused");
    s.resume();
    let mut rest = vec![];
    while wait(s.step(&mut |m| rest.push(m))) {}
    assert_eq!(generated(&rest), reference);
    assert!(matches!(rest.last(), Some(FromWorker::Finished { result, .. }) if result.n == 12));

    // Cancelled after an interrupted batch: its documents are not counted as done.
    assert!(matches!(s.start(&req, Some(("questions.jsonl", questions.as_bytes()))), FromWorker::Started { .. }));
    assert!(wait(s.step(&mut |_| {})));
    stop.set(true);
    let mut out = vec![];
    assert!(wait(s.step(&mut |m| out.push(m))));
    assert!(generated(&out).is_empty());
    assert!(matches!(s.cancel(), Some(FromWorker::Cancelled { done: 8, .. })));
}
