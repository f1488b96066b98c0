//! Reading is bounded: a compressed workbook that inflates past a sane size, or a record past
//! one, is refused with a message naming the file and the limit (in the importer the CLI and the
//! page share), and `--limit N` stops reading a streamed sheet once N documents are read.

mod common;

use clinicbench::tasks::{self, importers};
use std::io::Write;

/// A minimal workbook: one sheet of inline-string rows under a header.
fn workbook(header: &[&str], rows: &mut dyn Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let fast = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).compression_level(Some(1));
    let parts: [(&str, &str); 4] = [
        ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#),
        ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#),
        ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#),
        ("xl/_rels/workbook.xml.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#),
    ];
    for (name, text) in parts {
        zip.start_file(name, fast).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.start_file("xl/worksheets/sheet1.xml", fast).unwrap();
    let row = |r: usize, cells: &[String]| {
        let mut s = format!("<row r=\"{r}\">");
        for (c, v) in cells.iter().enumerate() {
            s += &format!("<c r=\"{}{r}\" t=\"inlineStr\"><is><t>{v}</t></is></c>", (b'A' + c as u8) as char);
        }
        s + "</row>"
    };
    zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#).unwrap();
    zip.write_all(row(1, &header.iter().map(|h| h.to_string()).collect::<Vec<_>>()).as_bytes()).unwrap();
    for (i, cells) in rows.enumerate() {
        zip.write_all(row(i + 2, &cells).as_bytes()).unwrap();
    }
    zip.write_all(b"</sheetData></worksheet>").unwrap();
    zip.finish().unwrap().into_inner()
}

const HEADER: [&str; 6] = ["question", "option_A", "option_B", "option_C", "option_D", "answer"];

fn question(i: usize) -> Vec<String> {
    vec![format!("Question {i}?"), "a".into(), "b".into(), "c".into(), "d".into(), "B".into()]
}

#[test]
fn a_workbook_streams_and_stops_at_the_limit() {
    let spec = tasks::spec::find("pharmacology_qa").unwrap();
    let book = workbook(&HEADER, &mut (0..500).map(question));
    let all = tasks::load_bytes(&spec, "q.xlsx", &book).unwrap();
    assert_eq!((all.docs.len(), all.bad_rows.len(), all.format.as_str()), (500, 0, "xlsx"));
    assert_eq!(all.docs[3].fields["question"], "Question 3?");
    assert_eq!(all.docs[3].native_id, "4", "the record's number below the header");
    let two = tasks::load_bytes_up_to(&spec, "q.xlsx", &book, Some(2)).unwrap();
    assert_eq!(two.docs, all.docs[..2], "the first two documents, read and no more");
    // Zero-shot with --limit reads only what it needs; few-shot draws from every document.
    let opts = |shots| tasks::RunOptions { shots, limit: Some(2), ..Default::default() };
    assert_eq!((tasks::documents_needed(&opts(0)), tasks::documents_needed(&opts(3))), (Some(2), None));
}

#[test]
fn a_workbook_that_inflates_past_the_limit_is_refused_by_name() {
    let spec = tasks::spec::find("pharmacology_qa").unwrap();
    // About 300 MB of sheet XML in a few hundred KB: a row of 60 KB of one letter, repeated.
    let big = "x".repeat(60_000);
    let bomb = workbook(&HEADER, &mut (0..5_000).map(|_| vec![big.clone(), "a".into(), "b".into(), "c".into(), "d".into(), "B".into()]));
    assert!(bomb.len() < 4 << 20, "{} bytes compressed", bomb.len());
    let d = tasks::load_bytes(&spec, "bomb.xlsx", &bomb).unwrap();
    assert!(d.docs.is_empty());
    let msg = d.bad_rows[0].to_string();
    assert!(msg.contains("bomb.xlsx") && msg.contains("256 MiB"), "{msg}");

    // The command line says so and stops, as a user would see it (exit 1: no document).
    let dir = std::env::temp_dir().join(format!("clinicbench-bomb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("Pharmacology-QA.xlsx");
    std::fs::write(&file, &bomb).unwrap();
    let o = common::run_cli(
        &["eval", "--model", common::fixture("families/llama_q4_k_m.gguf").to_str().unwrap(), "--task", "pharmacology_qa", "--limit", "2",
          "--backend", "cpu", "--data", file.to_str().unwrap(), "--out", dir.join("out").to_str().unwrap()],
        "",
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("Pharmacology-QA.xlsx") && err.contains("inflates past 256 MiB"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_record_past_the_limit_is_a_bad_row() {
    let spec = tasks::spec::find("pharmacology_qa").unwrap();
    let huge = "y".repeat(importers::MAX_RECORD_BYTES + 10);
    let mut rows = vec![question(0), vec![huge, "a".into(), "b".into(), "c".into(), "d".into(), "B".into()], question(2)].into_iter();
    let d = tasks::load_bytes(&spec, "r.xlsx", &workbook(&HEADER, &mut rows)).unwrap();
    assert_eq!(d.docs.len(), 2, "the others are read");
    let msg = d.bad_rows[0].to_string();
    assert!(msg.starts_with("r.xlsx:3: ") && msg.contains("16 MiB"), "{msg}");
}
