//! Scorers against the implementations they reproduce, through the fixtures
//! `scripts/make_metric_fixtures.py` wrote into `tests/fixtures/metrics/` with rouge-score 0.1.2,
//! nltk's Porter stemmer, sacrebleu 2.6, seqeval 1.2, scikit-learn, HELM's exact-match code and
//! lm-eval 0.4.13's multiple-choice rule.
//!
//! Every value must equal the reference to 1e-6 (BLEU to 1e-6 on its 0-100 scale); token lists,
//! stems and entity lists must be identical. The `score` command is checked end to end on the
//! same fixtures, with its error lines and exit codes.

mod common;

use clinicbench::metrics::bleu::{tokenize_13a, BleuStats};
use clinicbench::metrics::classification::{f1, Average, Labels};
use clinicbench::metrics::exact_match::{exact_match, normalize_text, quasi_exact_match};
use clinicbench::metrics::multiple_choice::{choice_accuracy, ChoiceNormalization};
use clinicbench::metrics::rouge::{RougeScorer, RougeType};
use clinicbench::metrics::seqeval::{entity_f1, get_entities};
use clinicbench::metrics::set_f1::set_f1;
use clinicbench::metrics::{
    compare, porter, Metric, MetricError, PairedTest, SampleError, ScoreOptions, Scored, Scorer,
};
use serde_json::{json, Value};
use std::process::Output;

const TOL: f64 = 1e-6;

fn load(name: &str) -> Value {
    let path = common::fixture(&format!("metrics/{name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|x| s(x).to_string()).collect()
}

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= TOL, "{what}: got {got}, want {want}");
}

const ROUGE: [(RougeType, &str); 4] = [
    (RougeType::Rouge1, "rouge1"),
    (RougeType::Rouge2, "rouge2"),
    (RougeType::RougeL, "rougeL"),
    (RougeType::RougeLsum, "rougeLsum"),
];

#[test]
fn porter_stems_equal_nltk() {
    let path = common::fixture("metrics/porter.tsv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut n = 0;
    let mut bad = Vec::new();
    for line in text.lines() {
        let (word, want) = line.split_once('\t').unwrap();
        let got = porter::stem(word);
        if got != want {
            bad.push(format!("{word}: got {got}, want {want}"));
        }
        n += 1;
    }
    assert!(n > 5000, "{n} words");
    assert!(bad.is_empty(), "{} of {n} stems differ:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn rouge_tokens_equal_rouge_score() {
    for case in load("rouge_tokens.json").as_array().unwrap() {
        let text = s(&case["text"]);
        assert_eq!(RougeScorer::new(false).tokenize(text), strings(&case["plain"]), "{text:?}");
        assert_eq!(RougeScorer::new(true).tokenize(text), strings(&case["stemmed"]), "{text:?} (stemmed)");
    }
}

#[test]
fn rouge_equals_rouge_score_per_pair() {
    let fx = load("rouge.json");
    let pairs = fx["pairs"].as_array().unwrap();
    assert!(pairs.len() >= 40);
    for case in pairs {
        let (pred, reference) = (s(&case["prediction"]), s(&case["reference"]));
        for (stem, key) in [(false, "plain"), (true, "stemmed")] {
            let scorer = RougeScorer::new(stem);
            for (kind, name) in ROUGE {
                let got = scorer.score(kind, pred, reference);
                let want = &case[key][name];
                let what = format!("{name} ({key}) of {pred:?} vs {reference:?}");
                close(got.precision, f(&want[0]), &format!("{what}: precision"));
                close(got.recall, f(&want[1]), &format!("{what}: recall"));
                close(got.fmeasure, f(&want[2]), &format!("{what}: F"));
            }
        }
    }
}

#[test]
fn rouge_corpus_means_equal_rouge_score() {
    let fx = load("rouge.json");
    let pairs = fx["pairs"].as_array().unwrap();
    for corpus in fx["corpora"].as_array().unwrap() {
        let (lo, hi) = (corpus["pairs"][0].as_u64().unwrap() as usize, corpus["pairs"][1].as_u64().unwrap() as usize);
        let stemmer = corpus["stemmer"].as_bool().unwrap();
        for (metric, name) in [
            (Metric::Rouge1, "rouge1"),
            (Metric::Rouge2, "rouge2"),
            (Metric::RougeL, "rougeL"),
            (Metric::RougeLsum, "rougeLsum"),
        ] {
            let mut scorer =
                Scorer::new(metric, ScoreOptions { rouge_stemmer: stemmer, ..Default::default() }).unwrap();
            for case in &pairs[lo..hi] {
                scorer.push_text(s(&case["prediction"]), s(&case["reference"])).unwrap();
            }
            let score = scorer.finish().unwrap().score();
            close(
                score.value,
                f(&corpus["mean_f"][name]),
                &format!("{name} mean over pairs {lo}..{hi}, stemmer {stemmer}"),
            );
            assert_eq!(score.n, hi - lo);
        }
    }
}

#[test]
fn bleu_tokens_equal_sacrebleu_13a() {
    for case in load("bleu_tokens.json").as_array().unwrap() {
        let text = s(&case["text"]);
        let trimmed = text.trim_end_matches(|c: char| {
            matches!(c, '\t'..='\r' | '\u{1c}'..='\u{1f}' | ' ' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
        });
        assert_eq!(tokenize_13a(trimmed), s(&case["tokens"]), "{text:?}");
    }
}

#[test]
fn bleu_equals_sacrebleu() {
    let cases = load("bleu.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 40);
    for case in cases {
        let preds = strings(&case["predictions"]);
        let refs = strings(&case["references"]);
        let mut total = BleuStats::default();
        let mut scorer = Scorer::new(Metric::Bleu, ScoreOptions::default()).unwrap();
        for (p, r) in preds.iter().zip(&refs) {
            total.add(&BleuStats::new(p, r));
            scorer.push_text(p, r).unwrap();
        }
        let what = format!("BLEU of {preds:?} vs {refs:?}");
        assert_eq!(total.hyp_len, case["sys_len"].as_u64().unwrap(), "{what}: sys_len");
        assert_eq!(total.ref_len, case["ref_len"].as_u64().unwrap(), "{what}: ref_len");
        let counts: Vec<u64> = case["counts"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
        let totals: Vec<u64> = case["totals"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
        assert_eq!(total.correct.to_vec(), counts, "{what}: counts");
        assert_eq!(total.total.to_vec(), totals, "{what}: totals");
        let score = total.score();
        close(score.score, f(&case["score"]), &what);
        close(score.bp, f(&case["bp"]), &format!("{what}: BP"));
        close(scorer.finish().unwrap().value(), f(&case["score"]), &format!("{what} (scorer)"));
    }
}

fn tag_lists(v: &Value) -> Vec<Vec<String>> {
    v.as_array().unwrap().iter().map(strings).collect()
}

fn entity_triples(v: &Value) -> Vec<(String, usize, usize)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| (s(&e[0]).to_string(), e[1].as_u64().unwrap() as usize, e[2].as_u64().unwrap() as usize))
        .collect()
}

#[test]
fn entity_f1_equals_seqeval() {
    let cases = load("entity_f1.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 40);
    for case in cases {
        let t = tag_lists(&case["references"]);
        let p = tag_lists(&case["predictions"]);
        close(entity_f1(&p, &t).unwrap(), f(&case["f1"]), &format!("entity_f1 of {p:?} vs {t:?}"));
        for (side, key) in [(&t, "entities_reference"), (&p, "entities_prediction")] {
            let flat: Vec<&str> = side.iter().flat_map(|s| s.iter().map(String::as_str).chain(["O"])).collect();
            let got: Vec<_> = get_entities(&flat).unwrap().into_iter().map(|e| (e.kind, e.start, e.end)).collect();
            assert_eq!(got, entity_triples(&case[key]), "get_entities({flat:?})");
        }
    }
}

fn label_samples(v: &Value) -> Vec<Labels> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| match x {
            Value::String(s) => Labels::Single(s.clone()),
            _ => Labels::Multi(strings(x)),
        })
        .collect()
}

#[test]
fn f1_equals_scikit_learn() {
    let cases = load("f1.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 40);
    for case in cases {
        let t = label_samples(&case["references"]);
        let p = label_samples(&case["predictions"]);
        let labels = case["labels"].as_array().map(|_| strings(&case["labels"]));
        for (avg, key) in [(Average::Micro, "micro"), (Average::Macro, "macro")] {
            let got = f1(avg, &p, &t, labels.as_deref()).unwrap();
            close(got, f(&case[key]), &format!("f1 {key} of {p:?} vs {t:?}, labels {labels:?}"));
        }
    }
}

#[test]
fn exact_match_equals_helm() {
    let cases = load("exact_match.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 40);
    for case in cases {
        let (p, r) = (s(&case["prediction"]), s(&case["reference"]));
        assert_eq!(normalize_text(p), s(&case["normalized_prediction"]), "normalize_text({p:?})");
        assert_eq!(exact_match(p, r), f(&case["exact_match"]), "exact_match({p:?}, {r:?})");
        assert_eq!(quasi_exact_match(p, r), f(&case["quasi_exact_match"]), "quasi_exact_match({p:?}, {r:?})");
    }
}

#[test]
fn set_f1_follows_its_definition() {
    let cases = load("set_f1.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 40);
    for case in cases {
        let (p, r) = (strings(&case["prediction"]), strings(&case["reference"]));
        close(set_f1(&p, &r), f(&case["set_f1"]), &format!("set_f1({p:?}, {r:?})"));
    }
}

fn gold(v: &Value) -> Vec<usize> {
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_u64().unwrap() as usize).collect(),
        _ => vec![v.as_u64().unwrap() as usize],
    }
}

#[test]
fn acc_and_acc_norm_equal_lm_eval() {
    let cases = load("multiple_choice.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 40);
    for case in cases {
        let lls: Vec<f64> = case["loglikelihoods"].as_array().unwrap().iter().map(f).collect();
        let choices = strings(&case["choices"]);
        let g = gold(&case["gold"]);
        let acc = choice_accuracy(&lls, Some(&choices[..]), &g, ChoiceNormalization::None).unwrap();
        let acc_norm = choice_accuracy(&lls, Some(&choices[..]), &g, ChoiceNormalization::Characters).unwrap();
        assert_eq!(acc, f(&case["acc"]), "acc of {lls:?} {choices:?} gold {g:?}");
        assert_eq!(acc_norm, f(&case["acc_norm"]), "acc_norm of {lls:?} {choices:?} gold {g:?}");
    }
}

#[test]
fn standard_errors_equal_lm_eval_and_mcnemar_is_exact() {
    let fx = load("stats.json");
    for case in fx["mean"].as_array().unwrap() {
        let v: Vec<f64> = case["values"].as_array().unwrap().iter().map(f).collect();
        let score = Scored::from_values(Metric::RougeL, v).unwrap().score();
        close(score.value, f(&case["mean"]), "mean");
        let se = score.stderr.unwrap();
        close(se, f(&case["stderr"]), "mean_stderr");
        let [lo, hi] = score.ci95.unwrap();
        close(lo, (score.value - 1.96 * se).max(0.0), "ci95 low");
        close(hi, (score.value + 1.96 * se).min(1.0), "ci95 high");
    }
    for case in fx["mcnemar"].as_array().unwrap() {
        let (b, c) = (case["b"].as_u64().unwrap() as usize, case["c"].as_u64().unwrap() as usize);
        // Runs whose only differences are b samples right in `a` alone and c in `b` alone, plus
        // agreeing samples.
        let mut xa = vec![1.0; b];
        let mut xb = vec![0.0; b];
        xa.extend(vec![0.0; c]);
        xb.extend(vec![1.0; c]);
        xa.extend([1.0, 0.0, 1.0]);
        xb.extend([1.0, 0.0, 1.0]);
        let (ra, rb) = (Scored::from_values(Metric::Acc, xa).unwrap(), Scored::from_values(Metric::Acc, xb).unwrap());
        let cmp = compare(&ra, &rb).unwrap();
        assert_eq!(cmp.test, PairedTest::McnemarExact);
        assert_eq!(cmp.discordant, Some([b as u64, c as u64]));
        let want = f(&case["p_value"]);
        assert!(
            (cmp.p_value - want).abs() <= 1e-9 * want.max(1e-300) + 1e-12,
            "McNemar({b}, {c}): got {}, want {want}",
            cmp.p_value
        );
    }
}

#[test]
fn corpus_metrics_bootstrap_deterministically() {
    let cases = load("bleu.json");
    let big = cases.as_array().unwrap().iter().max_by_key(|c| c["predictions"].as_array().unwrap().len()).unwrap();
    let run = || {
        let mut s = Scorer::new(Metric::Bleu, ScoreOptions::default()).unwrap();
        for (p, r) in strings(&big["predictions"]).iter().zip(strings(&big["references"])) {
            s.push_text(p, &r).unwrap();
        }
        s.finish().unwrap().score()
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    let [lo, hi] = a.ci95.unwrap();
    assert!(lo <= a.value && a.value <= hi && a.stderr.unwrap() > 0.0, "{a:?}");
    assert!(lo >= 0.0 && hi <= 100.0);

    // One sample: no spread to speak of.
    let mut s = Scorer::new(Metric::EntityF1, ScoreOptions::default()).unwrap();
    s.push_tags(&["B-A"], &["B-A"]).unwrap();
    let one = s.finish().unwrap().score();
    assert_eq!((one.value, one.n, one.stderr, one.ci95), (1.0, 1, None, None));
}

#[test]
fn paired_bootstrap_for_non_binary_metrics() {
    let a = Scored::from_values(Metric::RougeL, vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6]).unwrap();
    let b = Scored::from_values(Metric::RougeL, vec![0.9, 0.8, 0.9, 0.95, 0.85, 0.9]).unwrap();
    let cmp = compare(&a, &b).unwrap();
    assert_eq!(cmp.test, PairedTest::PairedBootstrap);
    assert!(cmp.delta > 0.5 && cmp.p_value < 0.01, "{cmp:?}");
    let [lo, hi] = cmp.delta_ci95.unwrap();
    assert!(lo > 0.0 && hi < 1.0);
    let same = compare(&a, &a).unwrap();
    assert_eq!(same.delta, 0.0);
    assert!(same.p_value > 0.5);
    let c = Scored::from_values(Metric::RougeL, vec![0.5]).unwrap();
    assert!(matches!(compare(&a, &c), Err(MetricError::RunLengthMismatch { .. })));
}

#[test]
fn failing_samples_are_errors_with_their_index() {
    let mut s = Scorer::new(Metric::AccNorm, ScoreOptions::default()).unwrap();
    s.push_choice(&[-1.0, -2.0], Some(&["a", "b"][..]), &[0]).unwrap();
    let e = s.push_choice(&[-1.0, f64::NAN], Some(&["a", "b"][..]), &[0]).unwrap_err();
    assert!(matches!(e, MetricError::Sample { index: 1, reason: SampleError::NonFinite { .. } }), "{e}");
    let e = s.push_choice(&[-1.0, -2.0], Some(&["a", ""][..]), &[0]).unwrap_err();
    assert!(matches!(e, MetricError::Sample { index: 2, reason: SampleError::EmptyChoice { index: 1 } }), "{e}");
    let e = s.push_choice(&[-1.0, -2.0], Some(&["a", "b"][..]), &[2]).unwrap_err();
    assert!(matches!(e, MetricError::Sample { index: 3, reason: SampleError::GoldOutOfRange { .. } }), "{e}");
    assert_eq!(s.finish().unwrap().n(), 1);

    assert!(matches!(Scored::from_values(Metric::Acc, vec![1.0, f64::NAN]), Err(MetricError::Sample { index: 1, .. })));
    assert!(matches!(
        Scorer::new(Metric::F1Micro, ScoreOptions::default()).unwrap().finish(),
        Err(MetricError::NoSamples { .. })
    ));
    let mut s = Scorer::new(Metric::F1Macro, ScoreOptions::default()).unwrap();
    s.push_labels(&Labels::Multi(vec![]), &Labels::Multi(vec![])).unwrap();
    assert!(matches!(s.finish(), Err(MetricError::NoLabels { .. })));
    assert!(matches!("rougel".parse::<Metric>(), Err(MetricError::UnknownMetric { .. })));
}

// ---------------------------------------------------------------------------------------------
// The `score` command.
// ---------------------------------------------------------------------------------------------

fn run(args: &[&str], stdin: &str) -> Output {
    common::run_cli(args, stdin)
}

fn jsonl(pairs: impl IntoIterator<Item = (Value, Value)>) -> String {
    pairs.into_iter().map(|(p, r)| json!({"prediction": p, "reference": r}).to_string() + "\n").collect()
}

fn score_cli(args: &[&str], stdin: &str) -> Value {
    let out = run(args, stdin);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON object: {text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn score_command_matches_the_references() {
    let rouge = load("rouge.json");
    let pairs = rouge["pairs"].as_array().unwrap();
    let input = jsonl(pairs.iter().map(|c| (c["prediction"].clone(), c["reference"].clone())));
    for (stem, key) in [(false, "plain"), (true, "stemmed")] {
        for name in ["rouge1", "rouge2", "rougeL", "rougeLsum"] {
            let mut args = vec!["score", "--metric", name];
            if stem {
                args.push("--rouge-stemmer");
            }
            let out = score_cli(&args, &input);
            let want: f64 = pairs.iter().map(|c| f(&c[key][name][2])).sum::<f64>() / pairs.len() as f64;
            close(f(&out["value"]), want, &format!("score --metric {name} ({key})"));
            assert_eq!(out["metric"], name);
            assert_eq!(out["n"], pairs.len());
            let keys: Vec<&str> = out.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, ["metric", "value", "n", "stderr", "ci95"]);
        }
    }

    let bleu = load("bleu.json");
    let big = bleu.as_array().unwrap().iter().max_by_key(|c| c["predictions"].as_array().unwrap().len()).unwrap();
    let input = jsonl(
        big["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .cloned()
            .zip(big["references"].as_array().unwrap().iter().cloned()),
    );
    let out = score_cli(&["score", "--metric", "bleu"], &input);
    close(f(&out["value"]), f(&big["score"]), "score --metric bleu");
    let ci = out["ci95"].as_array().unwrap();
    assert!(f(&ci[0]) <= f(&out["value"]) && f(&out["value"]) <= f(&ci[1]));

    let f1s = load("f1.json");
    for case in f1s.as_array().unwrap() {
        let input = jsonl(
            case["predictions"]
                .as_array()
                .unwrap()
                .iter()
                .cloned()
                .zip(case["references"].as_array().unwrap().iter().cloned()),
        );
        let labels =
            case["labels"].as_array().map(|l| l.iter().map(|x| s(x).to_string()).collect::<Vec<_>>().join(","));
        if labels.as_deref().is_some_and(|l| l.split(',').any(str::is_empty)) {
            continue; // a label with a comma or an empty label cannot be given on the command line
        }
        for (name, key) in [("f1_micro", "micro"), ("f1_macro", "macro")] {
            let mut args = vec!["score", "--metric", name];
            if let Some(l) = &labels {
                args.extend(["--labels", l]);
            }
            let out = score_cli(&args, &input);
            close(f(&out["value"]), f(&case[key]), &format!("score {args:?}"));
        }
    }

    let ner = load("entity_f1.json");
    let case = &ner.as_array().unwrap()[4];
    let input = jsonl(
        case["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .cloned()
            .zip(case["references"].as_array().unwrap().iter().cloned()),
    );
    close(
        f(&score_cli(&["score", "--metric", "entity_f1"], &input)["value"]),
        f(&case["f1"]),
        "score --metric entity_f1",
    );

    let input = jsonl([
        (json!({"loglikelihoods": [-6.0, -4.5], "choices": ["éééééé", "abcd"]}), json!(0)),
        (json!({"loglikelihoods": [-1.0, -4.5], "choices": ["a", "b"]}), json!([0, 1])),
    ]);
    assert_eq!(score_cli(&["score", "--metric", "acc_norm"], &input)["value"], 1.0);
    assert_eq!(score_cli(&["score", "--metric", "acc"], &input)["value"], 0.5);
    let input =
        jsonl([(json!("B"), json!("B")), (json!(2), json!(2.0)), (json!("A"), json!("B")), (json!(null), json!(null))]);
    let out = score_cli(&["score", "--metric", "acc"], &input);
    assert_eq!((f(&out["value"]), out["n"].as_u64()), (0.75, Some(4)));
    close(f(&out["stderr"]), 0.25, "acc stderr");
}

#[test]
fn score_command_reports_bad_lines_and_scores_the_rest() {
    let input = "{\"prediction\": [\"B-A\", \"O\"], \"reference\": [\"B-A\", \"O\"]}\n\
                 not json\n\
                 {\"prediction\": [\"B-A\"], \"reference\": [\"B-A\", \"O\"]}\n\
                 {\"prediction\": [\"B-A\", \"O\"]}\n\
                 {\"prediction\": [\"O\", \"O\"], \"reference\": [\"B-A\", \"O\"]}\n";
    let out = run(&["score", "--metric", "entity_f1"], input);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for line in ["line 2", "line 3", "line 4"] {
        assert!(err.contains(line), "{err}");
    }
    assert!(!err.contains("line 1:") && !err.contains("line 5"), "{err}");
    assert!(err.contains("1 tags") && err.contains("2"), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["n"], 2);
    close(f(&v["value"]), 2.0 / 3.0, "entity_f1 of the good lines");

    // Bad usage: exit 2.
    for args in [
        &["score", "--metric", "rougel"][..],
        &["score"][..],
        &["score", "--metric", "bleu", "--rouge-stemmer"][..],
        &["score", "--metric", "rougeL", "--labels", "a,b"][..],
    ] {
        let out = run(args, "{\"prediction\": \"a\", \"reference\": \"a\"}\n");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout.is_empty());
    }
    // Nothing to score.
    let out = run(&["score", "--metric", "bleu"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no samples"));
}

/// Agreement between raters and Bradley–Terry strengths equal scikit-learn's quadratic-weighted
/// kappa and PyPI krippendorff's ordinal alpha to 1e-9 (missing ratings, ties, 2 to 5 raters, a
/// constant rater, undefined cases as `None`), and an independent maximum-likelihood fit (scipy)
/// to 1e-6 (`scripts/make_agreement_fixtures.py`).
#[test]
fn agreement_and_rankings_equal_their_references() {
    use clinicbench::metrics::agreement::{bradley_terry, cohen_kappa_quadratic, krippendorff_alpha_ordinal, Comparison};
    let fx = load("agreement.json");
    let ratings = |v: &Value| -> Vec<Option<f64>> { v.as_array().unwrap().iter().map(Value::as_f64).collect() };
    let same = |got: Option<f64>, want: &Value, tol: f64, what: &str| match (got, want.as_f64()) {
        (None, None) => {}
        (Some(g), Some(w)) => assert!((g - w).abs() <= tol, "{what}: {g} vs {w}"),
        (g, _) => panic!("{what}: {g:?} vs the reference's {want}"),
    };
    for case in fx["kappa"].as_array().unwrap() {
        let got = cohen_kappa_quadratic(&ratings(&case["a"]), &ratings(&case["b"]));
        same(got, &case["kappa"], 1e-9, &format!("kappa, {}", s(&case["name"])));
    }
    for case in fx["alpha"].as_array().unwrap() {
        // raters × units in the fixture; units of present ratings here.
        let raters: Vec<Vec<Option<f64>>> = case["raters"].as_array().unwrap().iter().map(ratings).collect();
        let units: Vec<Vec<f64>> = (0..raters[0].len()).map(|u| raters.iter().filter_map(|r| r[u]).collect()).collect();
        same(krippendorff_alpha_ordinal(&units), &case["alpha"], 1e-9, &format!("alpha, {}", s(&case["name"])));
    }
    for case in fx["bradley_terry"].as_array().unwrap() {
        let comparisons: Vec<Comparison> = case["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Comparison { a: c[0].as_u64().unwrap() as usize, b: c[1].as_u64().unwrap() as usize, score: f(&c[2]) })
            .collect();
        let got = bradley_terry(case["runs"].as_u64().unwrap() as usize, &comparisons).unwrap();
        for (g, w) in got.iter().zip(case["strengths"].as_array().unwrap()) {
            assert!((g - f(w)).abs() < 1e-6, "Bradley–Terry, {}: {got:?} vs {}", s(&case["name"]), case["strengths"]);
        }
    }
}
