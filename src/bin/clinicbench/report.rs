//! `clinicbench report`: many runs side by side, as the paper's tables, in Markdown, CSV, JSON
//! or one self-contained HTML file.

use super::eval::{find_spec, user_specs};
use anyhow::{bail, Context, Result};
use clap::Args;
use clinicbench::report::render::{render, Format};
use clinicbench::report::side_by_side::{side_by_side, NamedRun};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ReportArgs {
    /// The runs: `eval --out` folders, results.json files or page exports.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The run the others are tested against (it may be one of RUNS; if not, it is added as the
    /// first row).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// md, csv, json or html (default: from --out's extension, else md).
    #[arg(long)]
    pub format: Option<String>,
    /// Task spec files of your own that the runs used, if any.
    #[arg(long, value_delimiter = ',')]
    pub spec: Vec<PathBuf>,
    /// The file to write.
    #[arg(long)]
    pub out: PathBuf,
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

pub fn report(args: &ReportArgs) -> Result<bool> {
    let format = match &args.format {
        Some(f) => Format::from_name(f).with_context(|| format!("--format {f}: one of md, csv, json, html"))?,
        None => args.out.extension().and_then(|e| e.to_str()).and_then(Format::from_name).unwrap_or(Format::Markdown),
    };
    let user = user_specs(&args.spec)?;
    let mut paths: Vec<PathBuf> = args.runs.clone();
    let baseline = match &args.baseline {
        None => None,
        Some(b) => match paths.iter().position(|p| same_path(p, b)) {
            Some(i) => Some(i),
            None => {
                paths.insert(0, b.clone());
                Some(0)
            }
        },
    };
    let mut runs = Vec::with_capacity(paths.len());
    for p in &paths {
        let imported = clinicbench::report::read_run(p)?;
        for note in &imported.notes {
            eprintln!("clinicbench: note: {note}");
        }
        if imported.report.results.is_empty() {
            bail!("{}: the run has no results", p.display());
        }
        runs.push(NamedRun { source: p.display().to_string(), report: imported.report });
    }
    let table = side_by_side(&runs, baseline, &|name| find_spec(name, &user).ok());
    super::eval::write_atomically(&args.out, render(&table, format).as_bytes())?;
    eprintln!(
        "clinicbench: {} runs × {} tasks{} written to {}",
        table.runs.len(),
        table.tasks.len(),
        if table.tests > 0 { format!(", {} paired tests against the baseline", table.tests) } else { String::new() },
        args.out.display()
    );
    Ok(true)
}
