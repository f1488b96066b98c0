//! Clinician review from the command line: a blinded set built from two runs, two reviewers'
//! files, and their results, with agreement equal to the statistics' own functions (which equal
//! scikit-learn and krippendorff, tests/metrics.rs); bad review files refused by name.

mod common;

use clinicbench::metrics::agreement::{cohen_kappa_quadratic, krippendorff_alpha_ordinal};
use clinicbench::review::{self, Rating, Review, ReviewSet};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(o: &std::process::Output, what: &str) -> String {
    assert_eq!(o.status.code(), Some(0), "{what}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Two models' runs on the demo generation tasks, and a set of 2 items a task from them.
fn setup(dir: &Path) -> (ReviewSet, PathBuf, PathBuf) {
    let mut runs = Vec::new();
    for m in ["llama_q4_k_m", "qwen2_q5_k_m"] {
        let out = dir.join(m);
        let model = common::fixture(&format!("families/{m}.gguf"));
        ok(
            &common::run_cli(&["eval", "--model", s(&model), "--tasks", "demo_summary,demo_medications", "--backend", "cpu", "--data-root", "/x", "--out", s(&out)], ""),
            "eval",
        );
        runs.push(out);
    }
    let (set, key) = (dir.join("set.json"), dir.join("key.json"));
    ok(
        &common::run_cli(&["review", "build", "--runs", s(&runs[0]), s(&runs[1]), "--per-task", "2", "--seed", "7", "--out", s(&set), "--key", s(&key)], ""),
        "review build",
    );
    let parsed = review::read_set("set.json", &std::fs::read(&set).unwrap()).unwrap();
    (parsed, set, key)
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clinicbench-review-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A reviewer who rates every output on every dimension with `rate(item index, output index, dimension index)`.
fn reviewer(set: &ReviewSet, rater: &str, rate: impl Fn(usize, usize, usize) -> u8) -> Review {
    let mut ratings = Vec::new();
    for (i, item) in set.items.iter().enumerate() {
        for (o, out) in item.outputs.iter().enumerate() {
            for (d, dim) in set.instrument.dimensions.iter().enumerate() {
                ratings.push(Rating { item: item.id.clone(), output: out.id.clone(), dimension: dim.id.clone(), value: rate(i, o, d), tags: vec![], comment: String::new(), seconds: 3.0 });
            }
        }
    }
    Review {
        version: 1,
        set_hash: set.hash(),
        instrument_hash: set.instrument_hash.clone(),
        rater: rater.into(),
        app_version: "test".into(),
        started: "2026-12-04T10:00:00Z".into(),
        updated: "2026-12-04T10:30:00Z".into(),
        ratings,
        preferences: vec![],
    }
}

#[test]
fn a_blinded_set_two_reviewers_and_their_agreement() {
    let dir = std::env::temp_dir().join(format!("clinicbench-review-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (set, set_path, key_path) = setup(&dir);
    assert_eq!(set.items.len(), 4, "2 items from each of the 2 generation tasks");
    assert!(set.items.iter().all(|i| i.outputs.len() == 2 && !i.source.is_empty()));
    // Blinding: nothing in the set names a model, a file or a run folder.
    let text = std::fs::read_to_string(&set_path).unwrap();
    for secret in ["llama", "qwen", ".gguf", "q4_k_m", s(&dir)] {
        assert!(!text.contains(secret), "the set names {secret:?}");
    }
    let key = review::read_key("key.json", &std::fs::read(&key_path).unwrap()).unwrap();
    assert_eq!((key.set_hash.clone(), key.outputs.len()), (set.hash(), 8));
    // Outputs are not in the runs' order in every item.
    let firsts: Vec<usize> = set.items.iter().map(|i| key.outputs[&i.outputs[0].id]).collect();
    assert!(firsts.contains(&0) || firsts.contains(&1));

    // Two reviewers who mostly agree, one point apart now and then.
    let a = reviewer(&set, "dr-a", |i, o, d| (1 + (i + 2 * o + d) % 4) as u8);
    let b = reviewer(&set, "dr-b", |i, o, d| {
        let v = 1 + (i + 2 * o + d) % 4;
        (if (i + o + d) % 3 == 0 { (v % 4) + 1 } else { v }) as u8
    });
    let (fa, fb) = (dir.join("a.json"), dir.join("b.json"));
    std::fs::write(&fa, serde_json::to_string(&a).unwrap()).unwrap();
    std::fs::write(&fb, serde_json::to_string(&b).unwrap()).unwrap();
    let out = ok(&common::run_cli(&["review", "stats", "--set", s(&set_path), "--key", s(&key_path), s(&fa), s(&fb), "--json"], ""), "review stats");
    let stats: Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    for dim in &set.instrument.dimensions {
        let (mut ra, mut rb) = (Vec::new(), Vec::new());
        for item in &set.items {
            for output in &item.outputs {
                let pick = |r: &Review| r.ratings.iter().find(|x| x.item == item.id && x.output == output.id && x.dimension == dim.id).map(|x| f64::from(x.value));
                ra.push(pick(&a));
                rb.push(pick(&b));
            }
        }
        let kappa = cohen_kappa_quadratic(&ra, &rb);
        let units: Vec<Vec<f64>> = ra.iter().zip(&rb).map(|(x, y)| [*x, *y].into_iter().flatten().collect()).collect();
        let alpha = krippendorff_alpha_ordinal(&units);
        let got = &stats["dimensions"][&dim.id];
        assert_eq!(got["kappa"].as_f64(), kappa, "{}", dim.id);
        assert_eq!(got["alpha"].as_f64(), alpha, "{}", dim.id);
        assert!(got["alpha_ci95"].is_array() || alpha.is_none());
        // Runs named through the key.
        let runs = got["runs"].as_object().unwrap();
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert!(runs.keys().all(|k| k.contains("llama") || k.contains("qwen2")), "{runs:?}");
        assert!(runs.values().all(|r| r["mean"].as_f64().is_some_and(|m| (1.0..=4.0).contains(&m)) && r["ci95"].is_array()));
    }

    // The long CSV form gives the same results.
    let mut csv = String::from("item,run,dimension,rater,value\n");
    for r in [&a, &b] {
        for x in &r.ratings {
            let run = &key.runs[key.outputs[&x.output]].label;
            csv += &format!("{},\"{}\",{},{},{}\n", x.item, run, x.dimension, r.rater, x.value);
        }
    }
    let fc = dir.join("long.csv");
    std::fs::write(&fc, csv).unwrap();
    let from_csv: Value = serde_json::from_str(&ok(&common::run_cli(&["review", "stats", s(&fc), "--json"], ""), "stats from CSV")).unwrap();
    assert_eq!(from_csv["dimensions"], stats["dimensions"]);

    // Bad files, each refused by name; nothing else is lost.
    let write = |name: &str, r: &Review| {
        let p = dir.join(name);
        std::fs::write(&p, serde_json::to_string(r).unwrap()).unwrap();
        p
    };
    let refused = |files: &[&Path], needle: &str| {
        let mut args = vec!["review", "stats", "--set", s(&set_path)];
        args.extend(files.iter().map(|p| s(p)));
        let o = common::run_cli(&args, "");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{needle}: {err}");
        assert!(err.contains(needle), "{needle}: {err}");
    };
    let mut other = a.clone();
    other.instrument_hash = "0".repeat(64);
    refused(&[&write("other.json", &other)], "other.json: rated on another instrument");
    let mut unknown = a.clone();
    unknown.ratings[0].item = "i9999".into();
    refused(&[&write("unknown.json", &unknown)], "unknown item \"i9999\"");
    let mut five = a.clone();
    five.ratings[3].value = 5;
    refused(&[&write("five.json", &five)], "5 is outside the scale 1-4");
    let mut impostor = b.clone();
    impostor.rater = "dr-a".into();
    impostor.started = "2026-12-05T09:00:00Z".into();
    refused(&[&fa, &write("impostor.json", &impostor)], "the pseudonym \"dr-a\" is already");
    let text = std::fs::read_to_string(&fa).unwrap();
    let cut = dir.join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    refused(&[&cut], "cut.json: the file ends before the JSON does");
    // A later export of the same review replaces the earlier one.
    let mut later = a.clone();
    later.updated = "2026-12-04T11:00:00Z".into();
    later.ratings.truncate(4);
    let o = common::run_cli(&["review", "stats", "--set", s(&set_path), s(&fa), s(&write("later.json", &later)), s(&fb)], "");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("later export"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_set_whose_instrument_was_edited_is_refused() {
    let mut set = ReviewSet {
        version: 1,
        instrument: review::Instrument::clinical(),
        instrument_hash: String::new(),
        seed: 1,
        items: vec![],
    };
    set.instrument_hash = set.instrument.hash();
    let good = serde_json::to_string(&set).unwrap();
    assert!(review::read_set("set.json", good.as_bytes()).is_ok());
    set.instrument.dimensions[0].scale[3] = "Perfect".into();
    let e = review::read_set("set.json", serde_json::to_string(&set).unwrap().as_bytes()).unwrap_err().to_string();
    assert!(e.starts_with("set.json: ") && e.contains("hash"), "{e}");
    assert_eq!(set.instrument.dimensions.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["factuality", "completeness", "safety", "usefulness"]);
}

/// A model as judge over a set of more than ten items: it completes, its file is a valid review
/// of the set, and it enters the results as one more rater beside a clinician; error tags are
/// counted per run. The judge is a third small model (the real one took 45 s of the suite for
/// the same path: the ratings are its loglikelihoods of the digits, whatever model gives them).
#[test]
fn a_model_judges_a_set_as_one_more_rater() {
    let model = common::fixture("families/mistral_q2_k.gguf");
    let dir = std::env::temp_dir().join(format!("clinicbench-judge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tasks = "demo_summary,demo_medications,demo_entities,demo_yesno_gen";
    let mut runs = Vec::new();
    for m in ["llama_q4_k_m", "qwen2_q5_k_m"] {
        let out = dir.join(m);
        let fixture = common::fixture(&format!("families/{m}.gguf"));
        ok(&common::run_cli(&["eval", "--model", s(&fixture), "--tasks", tasks, "--backend", "cpu", "--data-root", "/x", "--out", s(&out)], ""), "eval");
        runs.push(out);
    }
    let (set_path, key_path, judged) = (dir.join("set.json"), dir.join("key.json"), dir.join("judge.json"));
    ok(&common::run_cli(&["review", "build", "--runs", s(&runs[0]), s(&runs[1]), "--per-task", "3", "--out", s(&set_path), "--key", s(&key_path)], ""), "build");
    let set = review::read_set("set.json", &std::fs::read(&set_path).unwrap()).unwrap();
    assert!(set.items.len() >= 10, "{} items", set.items.len());
    ok(&common::run_cli(&["review", "judge", "--model", s(&model), "--backend", "cpu", s(&set_path), "--out", s(&judged)], ""), "judge");
    let judge = review::read_review("judge.json", &std::fs::read(&judged).unwrap(), Some(&set)).unwrap();
    assert_eq!(judge.ratings.len(), set.items.len() * 2 * 4, "every output on every dimension");
    assert!(judge.rater.starts_with("judge:") && judge.rater.contains(".gguf"));
    // A clinician who tags every other output as an omission.
    let mut human = reviewer(&set, "dr-a", |i, o, d| (1 + (i + o + d) % 4) as u8);
    for r in human.ratings.iter_mut().filter(|r| r.dimension == "completeness") {
        if r.item.ends_with(['1', '3', '5', '7', '9']) {
            r.tags.push("omission".into());
        }
    }
    let fh = dir.join("dr-a.json");
    std::fs::write(&fh, serde_json::to_string(&human).unwrap()).unwrap();
    let out = ok(&common::run_cli(&["review", "stats", "--set", s(&set_path), "--key", s(&key_path), s(&fh), s(&judged), "--json"], ""), "stats");
    let stats: Value = serde_json::from_str(&out).unwrap();
    let raters: Vec<&str> = stats["raters"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(raters.len(), 2);
    assert!(raters.iter().any(|r| r.starts_with("judge:")), "{raters:?}");
    assert!(stats["dimensions"]["safety"]["exact_agreement"].is_f64());
    let tags = stats["tags"].as_object().unwrap();
    assert_eq!(tags.len(), 2, "{tags:?}");
    assert!(tags.values().all(|t| t["omission"].as_f64().is_some_and(|r| r > 0.0 && r < 1.0)), "{tags:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pairwise mode over three runs: every item shows one pair, the pairs dealt evenly and the
/// sides drawn; preferences give win/tie/loss per pair and Bradley–Terry strengths equal to the
/// ranking function's on the same judgements (which equals a scipy fit, tests/metrics.rs).
#[test]
fn pairwise_preferences_rank_three_runs() {
    use clinicbench::metrics::agreement::{bradley_terry, Comparison};
    use clinicbench::review::{Choice, Preference};
    let dir = std::env::temp_dir().join(format!("clinicbench-pairwise-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let models = ["llama_q4_k_m", "qwen2_q5_k_m", "mistral_q2_k"];
    let mut runs = Vec::new();
    for m in models {
        let out = dir.join(m);
        let fixture = common::fixture(&format!("families/{m}.gguf"));
        ok(&common::run_cli(&["eval", "--model", s(&fixture), "--tasks", "demo_summary,demo_medications,demo_entities", "--backend", "cpu", "--data-root", "/x", "--out", s(&out)], ""), "eval");
        runs.push(out);
    }
    let (set_path, key_path) = (dir.join("set.json"), dir.join("key.json"));
    ok(&common::run_cli(&["review", "build", "--runs", s(&runs[0]), s(&runs[1]), s(&runs[2]), "--per-task", "3", "--out", s(&set_path), "--key", s(&key_path)], ""), "build");
    let set = review::read_set("set.json", &std::fs::read(&set_path).unwrap()).unwrap();
    let key = review::read_key("key.json", &std::fs::read(&key_path).unwrap()).unwrap();
    let run_of = |o: &str| key.outputs[o];
    let mut shown = std::collections::BTreeMap::new();
    let mut left_first = 0;
    for item in &set.items {
        let [l, r] = item.pair.clone().expect("every item has a pair");
        let (a, b) = (run_of(&l), run_of(&r));
        assert_ne!(a, b);
        *shown.entry((a.min(b), a.max(b))).or_insert(0) += 1;
        left_first += usize::from(a < b);
    }
    assert_eq!(shown.len(), 3, "every pair of three runs is shown: {shown:?}");
    let (lo, hi) = (shown.values().min().unwrap(), shown.values().max().unwrap());
    assert!(hi - lo <= 1, "dealt evenly: {shown:?}");
    assert!(left_first > 0 && left_first < set.items.len(), "sides drawn per item");
    // A reviewer who prefers the lower-numbered run, with a tie every third item and an upset
    // every fourth.
    let mut review = reviewer(&set, "dr-a", |_, _, _| 3);
    let mut comparisons = Vec::new();
    for (i, item) in set.items.iter().enumerate() {
        let [l, r] = item.pair.clone().unwrap();
        let (a, b) = (run_of(&l), run_of(&r));
        let choice = if i % 3 == 0 { Choice::Tie } else if (a < b) != (i % 4 == 1) { Choice::Left } else { Choice::Right };
        let score = match choice { Choice::Left => 1.0, Choice::Tie => 0.5, Choice::Right => 0.0 };
        comparisons.push(Comparison { a, b, score });
        review.preferences.push(Preference { item: item.id.clone(), left: l, right: r, choice, seconds: 2.0 });
    }
    let fa = dir.join("a.json");
    std::fs::write(&fa, serde_json::to_string(&review).unwrap()).unwrap();
    let out = ok(&common::run_cli(&["review", "stats", "--set", s(&set_path), "--key", s(&key_path), s(&fa), "--json"], ""), "stats");
    let stats: Value = serde_json::from_str(&out).unwrap();
    let pairwise = &stats["pairwise"];
    assert_eq!(pairwise["pairs"].as_array().unwrap().len(), 3);
    let total: u64 = pairwise["pairs"].as_array().unwrap().iter().map(|p| p["a_wins"].as_u64().unwrap() + p["ties"].as_u64().unwrap() + p["b_wins"].as_u64().unwrap()).sum();
    assert_eq!(total as usize, set.items.len());
    let want = bradley_terry(3, &comparisons).unwrap();
    for entry in pairwise["bradley_terry"].as_array().unwrap() {
        let label = entry[0].as_str().unwrap();
        let run = key.runs.iter().position(|r| r.label == label).unwrap();
        assert!((entry[1].as_f64().unwrap() - want[run]).abs() < 1e-12, "{label}: {entry} vs {want:?}");
    }
    // A reviewer whose judgements always favour the same run: no finite ranking, said.
    let mut lopsided = review.clone();
    lopsided.rater = "dr-b".into();
    for p in lopsided.preferences.iter_mut() {
        p.choice = if run_of(&p.left) == 0 { Choice::Left } else if run_of(&p.right) == 0 { Choice::Right } else { Choice::Tie };
    }
    let fb = dir.join("b.json");
    std::fs::write(&fb, serde_json::to_string(&lopsided).unwrap()).unwrap();
    let out = ok(&common::run_cli(&["review", "stats", "--key", s(&key_path), s(&fb), "--json"], ""), "stats");
    let stats: Value = serde_json::from_str(&out).unwrap();
    assert!(stats["pairwise"]["bradley_terry"].is_null());
    assert!(stats["pairwise"]["ranking_note"].as_str().is_some_and(|n| n.contains("no finite estimate")), "{}", stats["pairwise"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A reviewer's session as the page keeps it: their own order (stable, different from another
/// reviewer's), screens per mode, ratings that read back as a valid review, and the long CSV that
/// gives the same results as the JSON file.
#[test]
fn a_reviewers_session_orders_rates_and_exports() {
    use clinicbench::review::results::Reviews;
    use clinicbench::review::session::{item_order, units, Mode, Session};
    let dir = tempdir("session");
    let (set, _, _) = setup(&dir);
    assert_eq!(item_order(&set, "dr-a"), item_order(&set, "dr-a"), "a reviewer's order is the same every time");
    let orders: std::collections::BTreeSet<Vec<usize>> = ["dr-a", "dr-b", "dr-c", "dr-d"].iter().map(|p| item_order(&set, p)).collect();
    assert!(orders.len() > 1, "reviewers do not all share one order");
    let absolute = units(&set, "dr-a", Mode::Absolute);
    assert_eq!(absolute.len(), set.items.iter().map(|i| i.outputs.len()).sum::<usize>());
    assert!(absolute.iter().all(|u| u.outputs.len() == 1));
    let pairwise = units(&set, "dr-a", Mode::Pairwise);
    assert_eq!(pairwise.len(), set.items.len(), "two runs: every item has its pair");
    assert!(pairwise.iter().all(|u| u.outputs.len() == 2 && u.outputs[0].id != u.outputs[1].id));

    let mut s = Session::new(&set, "dr-a", "test", "2026-12-04T10:00:00Z");
    let dims: Vec<String> = set.instrument.dimensions.iter().map(|d| d.id.clone()).collect();
    assert!(!s.rate(&absolute[0].item.id, &absolute[0].outputs[0].id, &dims[0], 5, 1.0, "t"), "5 is off the scale");
    assert!(!s.annotate(&absolute[0].item.id, &absolute[0].outputs[0].id, &["omission".into()], "x", "t"), "tags need a rating first");
    for (n, u) in absolute.iter().enumerate() {
        for (d, dim) in dims.iter().enumerate() {
            assert!(s.rate(&u.item.id, &u.outputs[0].id, dim, ((n + d) % 4 + 1) as u8, 2.0, "2026-12-04T10:05:00Z"));
        }
    }
    // A rating given again replaces the first.
    s.rate(&absolute[0].item.id, &absolute[0].outputs[0].id, &dims[0], 4, 3.0, "2026-12-04T10:06:00Z");
    assert!(s.annotate(&absolute[0].item.id, &absolute[0].outputs[0].id, &["omission".into()], "misses the dose", "2026-12-04T10:06:00Z"));
    assert_eq!(s.review.ratings.len(), absolute.len() * dims.len());
    assert_eq!(s.done(&set), absolute.len());
    s.mode = Mode::Pairwise;
    assert_eq!(s.done(&set), 0, "pairwise screens need a preference");

    let json = serde_json::to_vec(&s.review).unwrap();
    let read = review::read_review("dr-a.json", &json, Some(&set)).expect("the session's review reads back against its set");
    assert_eq!(read, s.review);
    // The long CSV gives the same results as the JSON (runs as opaque output ids in both).
    let other = reviewer(&set, "dr-b", |i, o, d| ((i * 3 + o + d) % 4 + 1) as u8);
    let mut from_json = Reviews::default();
    from_json.add("dr-a.json", &json, Some(&set)).unwrap();
    from_json.add("dr-b.json", &serde_json::to_vec(&other).unwrap(), Some(&set)).unwrap();
    let mut from_csv = Reviews::default();
    from_csv.add("dr-a.csv", s.long_csv().as_bytes(), Some(&set)).unwrap();
    from_csv.add("dr-b.csv", clinicbench::review::session::long_csv(&other).as_bytes(), Some(&set)).unwrap();
    assert_eq!(from_json.results(None).stats, from_csv.results(None).stats);
}

/// Reviewers' files gathered: the same pseudonym twice is refused (nothing lost), a later export
/// of the same review replaces the earlier one; disagreements of 2 points or more are listed;
/// an adjudication is kept beside the ratings.
#[test]
fn reviews_gathered_disagreements_and_adjudication() {
    use clinicbench::review::results::{Adjudication, Adjudications, Reviews};
    let dir = tempdir("gather");
    let (set, _, _) = setup(&dir);
    let a = reviewer(&set, "dr-a", |_, _, _| 4);
    let b = reviewer(&set, "dr-b", |i, _, d| if i == 0 && d == 2 { 1 } else { 4 });
    let mut reviews = Reviews::default();
    reviews.add("a.json", &serde_json::to_vec(&a).unwrap(), Some(&set)).unwrap();
    reviews.add("b.json", &serde_json::to_vec(&b).unwrap(), Some(&set)).unwrap();
    let impostor = Review { started: "2026-12-05T09:00:00Z".into(), ..a.clone() };
    let err = reviews.add("c.json", &serde_json::to_vec(&impostor).unwrap(), Some(&set)).unwrap_err().to_string();
    assert!(err.contains("c.json") && err.contains("dr-a") && err.contains("already"), "{err}");
    assert_eq!(reviews.reviews.len(), 2, "the refused file changes nothing");
    let later = Review { updated: "2026-12-04T11:00:00Z".into(), ratings: a.ratings[1..].to_vec(), ..a.clone() };
    let note = reviews.add("a-later.json", &serde_json::to_vec(&later).unwrap(), Some(&set)).unwrap().expect("a note");
    assert!(note.contains("replaces"), "{note}");
    assert_eq!(reviews.reviews.len(), 2);
    assert_eq!(reviews.reviews[0].1.ratings.len(), a.ratings.len() - 1);
    let results = reviews.results(None);
    let n_outputs = set.items[0].outputs.len();
    assert_eq!(results.disagreements.len(), n_outputs, "item 0 on safety, each output: 4 against 1");
    assert!(results.disagreements.iter().all(|d| d.item == set.items[0].id && d.dimension == "safety" && d.ratings.len() == 2));
    let mut adj = Adjudications { set_hash: set.hash(), adjudications: vec![] };
    let d = &results.disagreements[0];
    let entry = |value| Adjudication { item: d.item.clone(), run: d.run.clone(), dimension: d.dimension.clone(), value, by: "panel".into(), note: String::new(), at: "t".into() };
    assert!(!adj.record(entry(0)));
    assert!(adj.record(entry(3)) && adj.record(entry(2)));
    assert_eq!(adj.adjudications.len(), 1);
    assert_eq!(adj.of(&d.item, &d.run, &d.dimension).map(|a| a.value), Some(2));
    // The originals are untouched.
    assert_eq!(reviews.results(None).disagreements, results.disagreements);
}
