//! Many runs side by side ([`SideBySide`]) written out: Markdown, CSV, JSON, and one
//! self-contained HTML file (inline style and SVG bars, no script, no `src` or `href`, so it
//! opens anywhere, makes no request and prints well). Every text that came from a file (model
//! names, task names, paths) is escaped for the format it goes into.

use super::side_by_side::{score_text, Cell, SideBySide, Versus};
use crate::metrics::PairedTest;

/// What `report --format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Csv,
    Json,
    Html,
}

impl Format {
    /// `md`, `csv`, `json` or `html`.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Format::Markdown,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "html" | "htm" => Format::Html,
            _ => return None,
        })
    }
}

/// The table in a format.
pub fn render(t: &SideBySide, format: Format) -> String {
    match format {
        Format::Markdown => markdown(t),
        Format::Csv => csv(t),
        Format::Json => serde_json::to_string_pretty(t).expect("the table serializes") + "\n",
        Format::Html => html(t),
    }
}

fn test_name(test: PairedTest) -> &'static str {
    match test {
        PairedTest::McnemarExact => "exact McNemar",
        PairedTest::PairedBootstrap => "paired bootstrap",
    }
}

/// A p-value for people: four decimals, or two significant digits below 0.0001.
pub fn p_text(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// The versus-baseline part of a cell, as text.
fn versus_text(v: &Versus) -> String {
    match v {
        Versus::Paired { comparison: c, p_holm } => {
            format!("{:+.3} vs baseline, p = {}, Holm p = {} ({}, n = {})", c.delta, p_text(c.p_value), p_text(*p_holm), test_name(c.test), c.n)
        }
        Versus::NotPaired { reason } => format!("not paired: {reason}"),
    }
}

fn cell_text(c: &Cell) -> String {
    match &c.score {
        None => "–".into(),
        Some(s) => match &c.versus {
            Some(v) => format!("{} · {}", score_text(s), versus_text(v)),
            None => score_text(s),
        },
    }
}

fn caption(t: &SideBySide) -> String {
    let mut s = format!(
        "{} runs. Each cell: the task's first metric with its 95% interval (normal approximation for means, bootstrap for corpus metrics).",
        t.runs.len()
    );
    if let Some(b) = t.baseline {
        s += &format!(
            " Against the baseline ({}): the difference on the documents both runs scored, its paired test (exact McNemar for accuracy, paired bootstrap otherwise) and the p-value adjusted by Holm's method over the table's {} tests.",
            t.runs[b].label, t.tests
        );
    }
    s
}

fn md_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|").replace(['\n', '\r'], " ").replace('<', "&lt;").replace('>', "&gt;")
}

fn title(scenario: &str) -> String {
    let mut c = scenario.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().collect::<String>() + c.as_str())
}

fn markdown(t: &SideBySide) -> String {
    let mut out = format!("# ClinicBench: runs side by side\n\n{}\n", md_escape(&caption(t)));
    for (si, sc) in t.scenarios.iter().enumerate() {
        let cols: Vec<(usize, &super::side_by_side::TaskColumn)> = t.columns_of(sc).collect();
        out += &format!("\n## {}\n\n", md_escape(&title(sc)));
        out += &format!(
            "Metrics: {}.\n\n",
            cols.iter().map(|(_, c)| format!("{} {}", md_escape(&c.task), c.metric.name())).collect::<Vec<_>>().join(", ")
        );
        out += "| run |";
        for (_, c) in &cols {
            out += &format!(" {} |", md_escape(&c.task));
        }
        out += &format!(" {} mean |\n| --- |", md_escape(sc));
        out += &" --- |".repeat(cols.len() + 1);
        out += "\n";
        for (i, run) in t.runs.iter().enumerate() {
            let base = if t.baseline == Some(i) { " (baseline)" } else { "" };
            out += &format!("| {}{base} |", md_escape(&run.label));
            for (j, _) in &cols {
                out += &format!(" {} |", md_escape(&cell_text(&t.cells[i][*j])));
            }
            out += &match t.means[i][si] {
                Some(m) => format!(" {:.3} ({} of {} tasks) |\n", m.value, m.tasks, m.of),
                None => " – |\n".into(),
            };
        }
    }
    out += "\nRuns:\n\n";
    for r in &t.runs {
        let adapters = if r.adapters.is_empty() { String::new() } else { format!("; LoRA {}", md_escape(&r.adapters)) };
        out += &format!("- {}: {} (model SHA-256 {}{adapters})\n", md_escape(&r.label), md_escape(&r.source), md_escape(&r.model_sha256));
    }
    out
}

fn csv(t: &SideBySide) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = ["run", "model", "model_sha256", "source", "baseline"].map(String::from).to_vec();
    for c in &t.tasks {
        let n = &c.task;
        header.push(n.clone());
        for part in ["metric", "ci95_low", "ci95_high", "n", "delta", "delta_ci95_low", "delta_ci95_high", "p", "p_holm", "test", "note"] {
            header.push(format!("{n} {part}"));
        }
    }
    for sc in &t.scenarios {
        header.push(format!("{sc} mean"));
    }
    // Last, so that files written before adapters existed keep their columns.
    header.push("adapters".into());
    let num = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    let _ = w.write_record(&header);
    for (i, r) in t.runs.iter().enumerate() {
        let mut row = vec![r.label.clone(), r.model.clone(), r.model_sha256.clone(), r.source.clone(), (t.baseline == Some(i)).to_string()];
        for (j, c) in t.tasks.iter().enumerate() {
            let cell = &t.cells[i][j];
            let s = cell.score.as_ref();
            row.push(num(s.map(|s| s.value)));
            row.push(c.metric.name().into());
            row.push(num(s.and_then(|s| s.ci95).map(|x| x[0])));
            row.push(num(s.and_then(|s| s.ci95).map(|x| x[1])));
            row.push(s.map_or(String::new(), |s| s.n.to_string()));
            match &cell.versus {
                Some(Versus::Paired { comparison: cmp, p_holm }) => {
                    row.push(cmp.delta.to_string());
                    row.push(num(cmp.delta_ci95.map(|x| x[0])));
                    row.push(num(cmp.delta_ci95.map(|x| x[1])));
                    row.push(cmp.p_value.to_string());
                    row.push(p_holm.to_string());
                    row.push(test_name(cmp.test).into());
                    row.push(String::new());
                }
                Some(Versus::NotPaired { reason }) => {
                    row.extend(std::iter::repeat_n(String::new(), 6));
                    row.push(format!("not paired: {reason}"));
                }
                None => row.extend(std::iter::repeat_n(String::new(), 7)),
            }
        }
        for m in &t.means[i] {
            row.push(num(m.map(|m| m.value)));
        }
        row.push(r.adapters.clone());
        let _ = w.write_record(&row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Text for HTML, in element content and in attribute values alike.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&#39;",
            c => out.push(c),
        }
    }
    out
}

/// A bar for a value in [0, 1] of its scale, with its interval as a whisker.
fn svg_bar(value: f64, ci: Option<[f64; 2]>, scale: f64, label: &str) -> String {
    let w = 120.0;
    let x = |v: f64| (v / scale).clamp(0.0, 1.0) * w;
    let whisker = ci.map_or(String::new(), |[lo, hi]| {
        format!(
            r#"<line x1="{:.1}" y1="7" x2="{:.1}" y2="7" class="ci"/><line x1="{:.1}" y1="3" x2="{:.1}" y2="11" class="ci"/><line x1="{:.1}" y1="3" x2="{:.1}" y2="11" class="ci"/>"#,
            x(lo),
            x(hi),
            x(lo),
            x(lo),
            x(hi),
            x(hi)
        )
    });
    format!(
        r#"<svg class="bar" width="{w}" height="14" viewBox="0 0 {w} 14" role="img" aria-label="{}"><rect x="0" y="2" width="{w}" height="10" class="track"/><rect x="0" y="2" width="{:.1}" height="10" class="fill"/>{whisker}</svg>"#,
        html_escape(label),
        x(value)
    )
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1b1f24;background:#fff}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #d0d7de;padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:#f6f8fa}td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.vs{display:block;font-size:.85em;color:#57606a;white-space:normal;max-width:16rem}.sig{color:#0a6d2f;font-weight:600}.np{color:#9a6700}
.bar .track{fill:#eaeef2}.bar .fill{fill:#4f7fbf}.bar .ci{stroke:#1b1f24;stroke-width:1.2}
.muted{color:#57606a}code{font-size:.9em}
@media print{body{margin:0;font-size:10pt}table{page-break-inside:auto}tr{break-inside:avoid}th{background:#eee}.bar .fill{fill:#777}}";

fn html(t: &SideBySide) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    // Nothing may load: no scripts, styles or images from anywhere, not even this file's origin.
    out += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n";
    out += "<title>ClinicBench: runs side by side</title>\n<style>\n";
    out += STYLE;
    out += "\n</style>\n</head>\n<body>\n<h1>ClinicBench: runs side by side</h1>\n";
    out += &format!("<p class=\"muted\">{}</p>\n", html_escape(&caption(t)));
    for (si, sc) in t.scenarios.iter().enumerate() {
        let cols: Vec<(usize, &super::side_by_side::TaskColumn)> = t.columns_of(sc).collect();
        out += &format!("<h2>{}</h2>\n<table>\n<thead><tr><th scope=\"col\">run</th>", html_escape(&title(sc)));
        for (_, c) in &cols {
            out += &format!("<th scope=\"col\">{}<br><span class=\"muted\">{}</span></th>", html_escape(&c.task), c.metric.name());
        }
        out += &format!("<th scope=\"col\">{} mean</th></tr></thead>\n<tbody>\n", html_escape(sc));
        for (i, run) in t.runs.iter().enumerate() {
            let base = if t.baseline == Some(i) { " <span class=\"muted\">(baseline)</span>" } else { "" };
            out += &format!("<tr><th scope=\"row\">{}{base}</th>", html_escape(&run.label));
            for (j, c) in &cols {
                let cell = &t.cells[i][*j];
                let Some(s) = &cell.score else {
                    out += "<td class=\"num muted\">–</td>";
                    continue;
                };
                let text = score_text(s);
                out += &format!("<td class=\"num\">{}<br>{}", svg_bar(s.value, s.ci95, c.metric.range().1, &format!("{} {text}", c.metric.name())), html_escape(&text));
                match &cell.versus {
                    Some(Versus::Paired { comparison: cmp, p_holm }) => {
                        let sig = if *p_holm < 0.05 { " sig" } else { "" };
                        out += &format!(
                            "<span class=\"vs{sig}\">{:+.3} vs baseline (n = {}), p = {}, Holm p = {}, {}</span>",
                            cmp.delta,
                            cmp.n,
                            p_text(cmp.p_value),
                            p_text(*p_holm),
                            test_name(cmp.test)
                        );
                    }
                    Some(Versus::NotPaired { reason }) => out += &format!("<span class=\"vs np\">not paired: {}</span>", html_escape(reason)),
                    None => {}
                }
                out += "</td>";
            }
            out += &match t.means[i][si] {
                Some(m) => format!("<td class=\"num\">{:.3}<br><span class=\"muted\">{} of {} tasks</span></td>", m.value, m.tasks, m.of),
                None => "<td class=\"num muted\">–</td>".into(),
            };
            out += "</tr>\n";
        }
        out += "</tbody>\n</table>\n";
    }
    out += "<h2>Runs</h2>\n<ul>\n";
    for r in &t.runs {
        out += &format!(
            "<li>{}: <code>{}</code>, model SHA-256 <code>{}</code>{}</li>\n",
            html_escape(&r.label),
            html_escape(&r.source),
            html_escape(&r.model_sha256),
            if r.adapters.is_empty() { String::new() } else { format!(", LoRA {}", html_escape(&r.adapters)) }
        );
    }
    out += "</ul>\n</body>\n</html>\n";
    out
}
