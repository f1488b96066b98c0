//! Shards back into one run: the reports of `eval --shard i/n` (each a deterministic block of
//! every task's documents) merged into the report the unsharded run would have written.
//!
//! The shards must agree on everything that shapes a score (model, task spec, data, seed,
//! shots, limit, chat template, generation length); every shard of a task must be there once.
//! The merged samples, in document order, are scored once with the task's scorer, so metrics
//! and intervals (bootstrap ones included) are bit-identical to the unsharded run's.

use super::{score_samples, Host, Provenance, RunReport, TaskProvenance, TaskResult, Timings};
use crate::tasks::{Sample, TaskSpec};
use std::collections::BTreeMap;

/// One shard's report and where it came from (a folder, for messages).
#[derive(Debug, Clone)]
pub struct ShardRun {
    pub label: String,
    pub report: RunReport,
}

/// Why shards cannot be merged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: give the shards' folders")]
    NoShards,
    #[error("{a} and {b} are not shards of one run: their {what} differ ({value_a} vs {value_b})")]
    Disagree { a: String, b: String, what: String, value_a: String, value_b: String },
    #[error("task {task}: {label} has no provenance for it, so it cannot be placed among the shards")]
    NoProvenance { task: String, label: String },
    #[error("task {task}: shard {index}/{count} is missing (have: {have})")]
    Missing { task: String, index: usize, count: usize, have: String },
    #[error("task {task}: shard {index}/{count} appears twice: {a} and {b}")]
    Overlap { task: String, index: usize, count: usize, a: String, b: String },
    #[error("task {task}: document {doc_id} is in two shards")]
    DuplicateDocument { task: String, doc_id: usize },
    #[error("{label}: task {task} holds {samples} samples but its results say n = {n} (a shard re-run left files of two runs?)")]
    Inconsistent { label: String, task: String, samples: usize, n: usize },
    #[error("{label}: task {task}, document {doc_id} lies outside shard {index}/{count}'s documents")]
    OutsideShard { label: String, task: String, doc_id: usize, index: usize, count: usize },
    #[error("unknown task {task:?}: give its spec file with --spec")]
    UnknownTask { task: String },
    #[error("task {task}: this clinicbench's spec (hash {ours}) is not the one the shards ran (hash {theirs}); merge with the clinicbench that ran them, or give that spec with --spec")]
    SpecChanged { task: String, ours: String, theirs: String },
    #[error("task {task}: {problem}")]
    Score { task: String, problem: String },
}

/// One shard's part of one task.
struct Part<'a> {
    label: &'a str,
    result: &'a TaskResult,
    provenance: &'a TaskProvenance,
    samples: Vec<&'a Sample>,
}

/// Merges shard reports into one (see the module docs); `spec_of` finds each task's spec.
pub fn merge(shards: &[ShardRun], spec_of: &dyn Fn(&str) -> Option<TaskSpec>) -> Result<RunReport, MergeError> {
    let first = shards.first().ok_or(MergeError::NoShards)?;
    let disagree = |a: &ShardRun, b: &ShardRun, what: &str, va: String, vb: String| MergeError::Disagree {
        a: a.label.clone(),
        b: b.label.clone(),
        what: what.into(),
        value_a: va,
        value_b: vb,
    };
    for s in &shards[1..] {
        let (ma, mb) = (&first.report.provenance.model, &s.report.provenance.model);
        if ma.sha256 != mb.sha256 {
            return Err(disagree(first, s, "model SHA-256", ma.sha256.clone(), mb.sha256.clone()));
        }
        let adapters = |m: &super::ModelProvenance| m.adapters.iter().map(|a| format!("{} ×{}", a.sha256, a.scale)).collect::<Vec<_>>().join(", ");
        if adapters(ma) != adapters(mb) {
            return Err(disagree(first, s, "LoRA adapters", ma.adapters_label(), mb.adapters_label()));
        }
    }
    // Tasks in the order they first appear.
    let mut order: Vec<&str> = Vec::new();
    let mut parts: BTreeMap<&str, Vec<(&ShardRun, Part)>> = BTreeMap::new();
    for s in shards {
        for r in &s.report.results {
            let provenance = s
                .report
                .provenance
                .tasks
                .get(&r.task)
                .ok_or_else(|| MergeError::NoProvenance { task: r.task.clone(), label: s.label.clone() })?;
            if !order.contains(&r.task.as_str()) {
                order.push(&r.task);
            }
            let samples = s.report.samples_of(&r.task).collect();
            parts.entry(&r.task).or_default().push((s, Part { label: &s.label, result: r, provenance, samples }));
        }
    }
    let mut merged = RunReport { provenance: merged_provenance(shards), ..RunReport::default() };
    for task in order {
        let mut list = parts.remove(task).unwrap_or_default();
        let (s0, p0) = &list[0];
        for (s, p) in &list[1..] {
            let (a, b) = (p0.provenance, p.provenance);
            let checks: [(&str, String, String); 9] = [
                ("spec hashes", a.spec_hash.clone(), b.spec_hash.clone()),
                ("dataset files (SHA-256)", a.data_hashes().join(","), b.data_hashes().join(",")),
                ("seeds", a.seed.to_string(), b.seed.to_string()),
                ("shots", a.shots.to_string(), b.shots.to_string()),
                ("limits", format!("{:?}", a.limit), format!("{:?}", b.limit)),
                ("chat template settings", a.chat_template.to_string(), b.chat_template.to_string()),
                ("max new tokens", format!("{:?}", a.max_new_tokens), format!("{:?}", b.max_new_tokens)),
                ("shard counts", a.shard.map_or(1, |x| x.count).to_string(), b.shard.map_or(1, |x| x.count).to_string()),
                ("generation batched or one at a time", a.batched_generation.to_string(), b.batched_generation.to_string()),
            ];
            for (what, va, vb) in checks {
                if va != vb {
                    return Err(disagree(s0, s, &format!("{what} for task {task}"), va, vb));
                }
            }
        }
        let count = p0.provenance.shard.map_or(1, |s| s.count);
        let mut by_index: BTreeMap<usize, &Part> = BTreeMap::new();
        for (_, p) in &list {
            let index = p.provenance.shard.map_or(0, |s| s.index);
            if let Some(other) = by_index.insert(index, p) {
                return Err(MergeError::Overlap { task: task.into(), index, count, a: other.label.into(), b: p.label.into() });
            }
        }
        if let Some(index) = (0..count).find(|i| !by_index.contains_key(i)) {
            let have = by_index.keys().map(|i| format!("{i}/{count}")).collect::<Vec<_>>().join(", ");
            return Err(MergeError::Missing { task: task.into(), index, count, have });
        }
        let documents = p0.provenance.documents;
        let mut samples: Vec<Sample> = Vec::new();
        for (index, p) in &by_index {
            if p.samples.len() != p.result.n {
                return Err(MergeError::Inconsistent { label: p.label.into(), task: task.into(), samples: p.samples.len(), n: p.result.n });
            }
            let range = crate::tasks::Shard { index: *index, count }.range(documents);
            if let Some(s) = p.samples.iter().find(|s| !range.contains(&s.doc_id)) {
                return Err(MergeError::OutsideShard { label: p.label.into(), task: task.into(), doc_id: s.doc_id, index: *index, count });
            }
            samples.extend(p.samples.iter().map(|s| (*s).clone()));
        }
        samples.sort_by_key(|s| s.doc_id);
        if let Some(w) = samples.windows(2).find(|w| w[0].doc_id == w[1].doc_id) {
            return Err(MergeError::DuplicateDocument { task: task.into(), doc_id: w[0].doc_id });
        }
        let spec = spec_of(task).ok_or_else(|| MergeError::UnknownTask { task: task.into() })?;
        if !p0.provenance.spec_hash.is_empty() && spec.fingerprint() != p0.provenance.spec_hash {
            return Err(MergeError::SpecChanged { task: task.into(), ours: spec.fingerprint(), theirs: p0.provenance.spec_hash.clone() });
        }
        let scores = if samples.is_empty() {
            vec![]
        } else {
            score_samples(&spec, &samples).map_err(|e| MergeError::Score { task: task.into(), problem: e.to_string() })?
        };
        let seconds = list.iter().map(|(_, p)| p.result.seconds).sum::<Option<f64>>();
        let result = TaskResult {
            task: task.into(),
            scenario: Some(spec.scenario.clone()),
            scores,
            n: samples.len(),
            skipped: list.iter().map(|(_, p)| p.result.skipped).sum(),
            unparsed: samples.iter().filter(|s| s.unparsed).count(),
            // Bad rows are the data file's, read whole by every shard.
            bad_rows: p0.result.bad_rows,
            seconds,
        };
        let provenance = TaskProvenance { shard: None, ..p0.provenance.clone() };
        list.clear();
        merged.set_task(result, Some(provenance));
        merged.samples.extend(samples);
    }
    Ok(merged)
}

/// The run's provenance from its shards': the model and engine of the first, work and time
/// summed, backends and hosts named once each.
fn merged_provenance(shards: &[ShardRun]) -> Provenance {
    let all: Vec<&Provenance> = shards.iter().map(|s| &s.report.provenance).collect();
    let distinct = |f: &dyn Fn(&Provenance) -> String| {
        let mut v: Vec<String> = Vec::new();
        for p in &all {
            let x = f(p);
            if !v.contains(&x) {
                v.push(x);
            }
        }
        v.join("; ")
    };
    // Rates from summed tokens over summed seconds of work.
    let seconds_of = |tokens: u64, rate: Option<f64>| rate.filter(|r| *r > 0.0).map_or(0.0, |r| tokens as f64 / r);
    let sum = |f: &dyn Fn(&Timings) -> f64| all.iter().map(|p| f(&p.timings)).sum::<f64>();
    let prefill_tokens = all.iter().map(|p| p.timings.prefill_tokens).sum::<u64>();
    let decode_tokens = all.iter().map(|p| p.timings.decode_tokens).sum::<u64>();
    let prefill_seconds = sum(&|t| seconds_of(t.prefill_tokens, t.prefill_tokens_per_second));
    let decode_seconds = sum(&|t| seconds_of(t.decode_tokens, t.decode_tokens_per_second));
    let timings = Timings {
        seconds: sum(&|t| t.seconds),
        prefill_tokens,
        prefill_tokens_per_second: (prefill_seconds > 0.0).then(|| prefill_tokens as f64 / prefill_seconds),
        decode_tokens,
        decode_tokens_per_second: (decode_seconds > 0.0).then(|| decode_tokens as f64 / decode_seconds),
        reused_tokens: all.iter().map(|p| p.timings.reused_tokens).sum(),
    };
    let host = if all.iter().all(|p| p.host == all[0].host) {
        all[0].host.clone()
    } else {
        Host { os: distinct(&|p| format!("{} {}", p.host.os, p.host.arch)), ..Host::default() }
    };
    Provenance {
        model: all[0].model.clone(),
        tasks: BTreeMap::new(),
        backend: distinct(&|p| p.backend.clone()),
        engine_version: distinct(&|p| p.engine_version.clone()),
        timings,
        host,
        created: all.iter().filter_map(|p| p.created.clone()).max(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::AdapterProvenance;

    /// Shards of one model with other LoRA adapters are different runs: not merged.
    #[test]
    fn shards_with_other_adapters_are_not_merged() {
        let shard = |label: &str, scale: f32| {
            let mut report = RunReport::default();
            report.provenance.model.sha256 = "ab".repeat(32);
            report.provenance.model.adapters =
                vec![AdapterProvenance { file: "med.gguf".into(), sha256: "cd".repeat(32), scale, alpha: Some(16.0), name: None }];
            ShardRun { label: label.into(), report }
        };
        let err = merge(&[shard("a", 1.0), shard("b", 0.5)], &|_| None).unwrap_err();
        assert!(err.to_string().contains("LoRA adapters"), "{err}");
        assert!(err.to_string().contains("med.gguf ×0.5"), "{err}");
    }
}
