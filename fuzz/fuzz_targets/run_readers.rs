//! Arbitrary bytes through everything that reads a user's files besides the model: every
//! dataset importer (through each built-in task's spec), the run report's readers (results.json,
//! samples.jsonl, the page's export, a results file with its samples), lm-eval's results and
//! samples, and what is built on a report read (the side-by-side table and its HTML). Each must
//! return a value or an error, never panic. The first byte picks the reader.
#![no_main]

use clinicbench::report::{self, lm_eval, render, side_by_side};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(bytes);
    match pick % 8 {
        0 => {
            if let Ok(i) = report::parse_report("run.json", bytes) {
                let runs = [side_by_side::NamedRun { source: "a".into(), report: i.report.clone() }, side_by_side::NamedRun { source: "b".into(), report: i.report }];
                let t = side_by_side::side_by_side(&runs, Some(0), &clinicbench::tasks::spec::find);
                let _ = render::render(&t, render::Format::Html);
                let _ = render::render(&t, render::Format::Csv);
            }
        }
        1 => {
            let _ = report::parse_samples_jsonl("samples.jsonl", &text, pick & 0x80 != 0);
        }
        2 => {
            // A results file and a samples file, split at a byte the input chooses.
            let at = bytes.first().map_or(0, |b| *b as usize % (bytes.len().max(1)));
            let (a, b) = bytes.split_at(at.min(bytes.len()));
            let _ = report::import_files(&[("results.json", a), ("samples.jsonl", b)]);
        }
        3 => {
            let _ = lm_eval::parse_results("results_x.json", bytes);
        }
        4 => {
            let _ = lm_eval::parse_samples("samples_t_x.jsonl", "medqa_4options", &text, " ");
        }
        _ => {
            // A dataset file for one of the built-in tasks (the spec picks the importer).
            let specs = clinicbench::tasks::spec::builtin();
            let spec = &specs[usize::from(pick / 8) % specs.len()];
            let limit = (pick & 1 == 1).then_some(2);
            if let Ok(d) = clinicbench::tasks::load_bytes_up_to(spec, "data", bytes, limit) {
                if let Ok(p) = clinicbench::tasks::Prompter::new(spec) {
                    for (i, doc) in d.docs.iter().take(3).enumerate() {
                        let _ = p.context(doc, i, &[]);
                    }
                }
            }
        }
    }
});
