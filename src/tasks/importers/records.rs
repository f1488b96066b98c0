//! The generic importer: records in a JSON list, a JSON object (of records under a key, or
//! keyed by id), JSON lines, or a CSV/TSV table with a header row — the format is detected from
//! the bytes. A task's `[columns]` table maps columns to template fields and names the gold
//! column; every column is also a field under its own name. This is how users bring their own
//! data, and how the built-in tasks with simple layouts read theirs.

use super::{BadRow, Doc, Imported};
use crate::tasks::spec::Columns;
use serde_json::{json, Map, Value};

/// The most bytes an Excel workbook may inflate to (all its parts together): a 3.8 MB file can
/// hold a gigabyte of sheet XML, and a dataset sheet is far below this.
pub const MAX_XLSX_INFLATED_BYTES: u64 = 256 << 20;

/// The most text one record (a row of a sheet) may hold.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Reads `bytes` as records and maps them with `columns`. `choices` key the `options` field.
/// With `max_docs`, reading stops once that many documents are read where the format streams
/// (Excel sheets); elsewhere every record is read.
pub fn records(file: &str, bytes: &[u8], columns: &Columns, choices: &[String], max_docs: Option<usize>) -> Imported {
    let mut out = Imported::default();
    let mut bad_rows = Vec::new();
    let take = |line: usize, row: Map<String, Value>, out: &mut Imported, bad_rows: &mut Vec<BadRow>| {
        match to_doc(&row, line, columns, choices) {
            Ok(doc) => out.docs.push(doc),
            Err(problem) => bad_rows.push(BadRow { file: file.into(), line, problem }),
        }
        max_docs.is_none_or(|m| out.docs.len() < m)
    };
    if bytes.starts_with(b"PK\x03\x04") {
        out.format = "xlsx".into();
        let mut rows_bad = Vec::new();
        xlsx_rows(file, bytes, &mut rows_bad, &mut |line, row| take(line, row, &mut out, &mut bad_rows));
        rows_bad.extend(bad_rows);
        rows_bad.sort_by_key(|b| b.line);
        out.bad_rows = rows_bad;
        return out;
    }
    let (format, rows, read_bad) = read_rows(file, bytes, columns.records_key.as_deref());
    out.format = format;
    bad_rows = read_bad;
    for (line, row) in rows {
        match to_doc(&row, line, columns, choices) {
            Ok(doc) => out.docs.push(doc),
            Err(problem) => bad_rows.push(BadRow { file: file.into(), line, problem }),
        }
    }
    out.bad_rows = bad_rows;
    out
}

type Rows = Vec<(usize, Map<String, Value>)>;

/// The records of a file, each with its 1-based line (JSONL, CSV) or record number (JSON).
fn read_rows(file: &str, bytes: &[u8], records_key: Option<&str>) -> (String, Rows, Vec<BadRow>) {
    let bad = |line: usize, problem: String| BadRow { file: file.into(), line, problem };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.strip_prefix('\u{feff}').unwrap_or(t),
        Err(e) => return ("unknown".into(), vec![], vec![bad(1, format!("not UTF-8 text: {e}"))]),
    };
    let first = text.trim_start().chars().next();
    let mut rows = Vec::new();
    let mut bad_rows = Vec::new();
    let object_rows = |items: Vec<(String, Value)>, rows: &mut Rows, bad_rows: &mut Vec<BadRow>| {
        for (i, (key, v)) in items.into_iter().enumerate() {
            match v {
                Value::Object(mut o) => {
                    o.entry("_key").or_insert(json!(key));
                    rows.push((i + 1, o));
                }
                _ => bad_rows.push(bad(i + 1, format!("record {key} is not a JSON object"))),
            }
        }
    };
    match first {
        Some('[') | Some('{') => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => {
                object_rows(items.into_iter().enumerate().map(|(i, v)| ((i + 1).to_string(), v)).collect(), &mut rows, &mut bad_rows);
                ("json".into(), rows, bad_rows)
            }
            Ok(Value::Object(mut o)) => {
                if let Some(key) = records_key {
                    match o.remove(key) {
                        Some(Value::Array(items)) => object_rows(
                            items.into_iter().enumerate().map(|(i, v)| ((i + 1).to_string(), v)).collect(),
                            &mut rows,
                            &mut bad_rows,
                        ),
                        _ => bad_rows.push(bad(1, format!("no list of records under the key {key:?}"))),
                    }
                } else if !o.is_empty() && o.values().all(Value::is_object) {
                    // An object of records keyed by their id (PubMedQA's layout).
                    object_rows(o.into_iter().collect(), &mut rows, &mut bad_rows);
                } else {
                    // One record: JSON lines with a single line.
                    rows.push((1, o));
                    return ("jsonl".into(), rows, bad_rows);
                }
                ("json".into(), rows, bad_rows)
            }
            Ok(_) => ("json".into(), rows, vec![bad(1, "the JSON is neither a list nor an object of records".into())]),
            Err(_) if first == Some('{') => {
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Value>(line) {
                        Ok(Value::Object(o)) => rows.push((i + 1, o)),
                        Ok(_) => bad_rows.push(bad(i + 1, "not a JSON object".into())),
                        Err(e) => bad_rows.push(bad(i + 1, format!("not JSON: {e}"))),
                    }
                }
                ("jsonl".into(), rows, bad_rows)
            }
            Err(e) => ("json".into(), rows, vec![bad(e.line(), format!("not JSON: {e}"))]),
        },
        _ => {
            let header = text.lines().next().unwrap_or("");
            let tab = file.ends_with(".tsv") || (header.contains('\t') && !header.contains(','));
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(if tab { b'\t' } else { b',' })
                .quoting(!tab)
                .flexible(true)
                .from_reader(text.as_bytes());
            let headers = match reader.headers() {
                Ok(h) => h.clone(),
                Err(e) => return ("csv".into(), rows, vec![bad(1, format!("no header row: {e}"))]),
            };
            for (i, record) in reader.records().enumerate() {
                let line = record.as_ref().ok().and_then(|r| r.position()).map_or(i + 2, |p| p.line() as usize);
                match record {
                    Ok(r) if r.len() == headers.len() => {
                        let mut row: Map<String, Value> = headers.iter().zip(r.iter()).map(|(h, v)| (h.to_string(), json!(v))).collect();
                        // The id of a table row is its 1-based number below the header.
                        row.insert("_key".into(), json!((i + 1).to_string()));
                        rows.push((line, row))
                    }
                    Ok(r) => bad_rows.push(bad(line, format!("{} columns, the header has {}", r.len(), headers.len()))),
                    Err(e) => bad_rows.push(bad(line, format!("not CSV: {e}"))),
                }
            }
            (if tab { "tsv" } else { "csv" }.into(), rows, bad_rows)
        }
    }
}

/// Whether a workbook inflates to at most [`MAX_XLSX_INFLATED_BYTES`], counted by inflating
/// every part (the sizes a zip file declares can lie): memory stays bounded whatever it holds.
fn check_inflated_size(bytes: &[u8]) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| format!("not a readable .xlsx workbook: {e}"))?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).map_err(|e| format!("not a readable .xlsx workbook: {e}"))?;
        let budget = MAX_XLSX_INFLATED_BYTES - total;
        let n = std::io::copy(&mut std::io::Read::take(&mut part, budget + 1), &mut std::io::sink())
            .map_err(|e| format!("not a readable .xlsx workbook: {e}"))?;
        total += n;
        if total > MAX_XLSX_INFLATED_BYTES {
            return Err(format!(
                "the workbook inflates past {} MiB (at {}), more than a dataset sheet holds: refused, as a compressed file that could exhaust memory",
                MAX_XLSX_INFLATED_BYTES >> 20,
                part.name().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// The first sheet of an Excel workbook, its first row the header, streamed cell by cell: each
/// record goes to `on_row` (its 1-based sheet row and fields) as soon as it is complete, and
/// reading stops when `on_row` says so. Cells become text as a CSV export writes them (numbers
/// without a trailing `.0`). Problems of the whole file go to `bad_rows`.
fn xlsx_rows(file: &str, bytes: &[u8], bad_rows: &mut Vec<BadRow>, on_row: &mut dyn FnMut(usize, Map<String, Value>) -> bool) {
    use calamine::Reader;
    let mut bad = |line: usize, problem: String| bad_rows.push(BadRow { file: file.into(), line, problem });
    if let Err(problem) = check_inflated_size(bytes) {
        return bad(1, problem);
    }
    let mut book: calamine::Xlsx<_> = match calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)) {
        Ok(b) => b,
        Err(e) => return bad(1, format!("not a readable .xlsx workbook: {e}")),
    };
    let Some(sheet) = book.sheet_names().first().cloned() else { return bad(1, "the workbook has no sheet".into()) };
    let mut cells = match book.worksheet_cells_reader(&sheet) {
        Ok(r) => r,
        Err(e) => return bad(1, format!("cannot read the first sheet: {e}")),
    };
    let mut records = SheetRecords { header: None, records: 0, on_row, problems: Vec::new() };
    let mut current: Option<SheetRow> = None;
    loop {
        let cell = match cells.next_cell() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                records.problems.push((current.as_ref().map_or(1, |c| c.row as usize + 1), format!("cannot read the first sheet: {e}")));
                break;
            }
        };
        let (r, c) = cell.get_position();
        let text = calamine::Data::from(cell.get_value().clone()).to_string();
        if current.as_ref().is_some_and(|cur| cur.row != r) && current.take().is_some_and(|done| !records.finish(done)) {
            current = None;
            break;
        }
        current.get_or_insert_with(|| SheetRow { row: r, cells: Vec::new(), bytes: 0 }).add(c, text);
    }
    if let Some(last) = current {
        records.finish(last);
    }
    for (line, problem) in records.problems {
        bad(line, problem);
    }
}

/// A sheet row being read: its 0-based row, its cells by column, and the size of their text.
struct SheetRow {
    row: u32,
    cells: Vec<(u32, String)>,
    bytes: usize,
}

impl SheetRow {
    fn add(&mut self, column: u32, text: String) {
        self.bytes += text.len();
        // A record past the limit keeps only its size, not its cells.
        if self.bytes <= MAX_RECORD_BYTES {
            self.cells.push((column, text));
        } else {
            self.cells.clear();
        }
    }
}

/// Sheet rows becoming records: the first non-empty row is the header, each later one a record
/// handed to `on_row` (which says whether to go on).
struct SheetRecords<'a> {
    header: Option<Vec<String>>,
    /// Records so far (a record's `_key` is its number).
    records: usize,
    on_row: &'a mut dyn FnMut(usize, Map<String, Value>) -> bool,
    /// Rows that could not be records: (1-based sheet row, why).
    problems: Vec<(usize, String)>,
}

impl SheetRecords<'_> {
    /// Takes a finished row; false to stop reading.
    fn finish(&mut self, row: SheetRow) -> bool {
        let line = row.row as usize + 1;
        if row.bytes > MAX_RECORD_BYTES {
            self.records += 1;
            self.problems.push((line, format!("a record of {} bytes, past the {} MiB a record may hold", row.bytes, MAX_RECORD_BYTES >> 20)));
            return true;
        }
        if row.cells.iter().all(|(_, v)| v.is_empty()) {
            return true;
        }
        let Some(header) = &self.header else {
            let width = row.cells.iter().map(|(c, _)| *c as usize + 1).max().unwrap_or(0);
            let mut names = vec![String::new(); width];
            for (c, v) in row.cells {
                names[c as usize] = v;
            }
            self.header = Some(names);
            return true;
        };
        self.records += 1;
        let mut fields: Map<String, Value> = header.iter().map(|name| (name.clone(), json!(""))).collect();
        for (c, v) in row.cells {
            if let Some(name) = header.get(c as usize) {
                fields.insert(name.clone(), json!(v));
            }
        }
        fields.insert("_key".into(), json!(self.records.to_string()));
        (self.on_row)(line, fields)
    }
}

fn to_doc(row: &Map<String, Value>, line: usize, columns: &Columns, choices: &[String]) -> Result<Doc, String> {
    let get = |col: &str| -> Result<Value, String> {
        let v = row.get(col).filter(|v| !v.is_null()).ok_or_else(|| format!("no {col:?} column"))?;
        if columns.lists.iter().any(|l| l == col) {
            let list = match v {
                Value::Array(a) => a.clone(),
                Value::String(s) => parse_list_literal(s).ok_or_else(|| format!("column {col:?} is not a list: {s:?}"))?,
                other => return Err(format!("column {col:?} is not a list: {other}")),
            };
            if let Some(x) = list.iter().find(|x| !x.is_string()) {
                return Err(format!("column {col:?} holds {x}, not text"));
            }
            Ok(Value::Array(list))
        } else {
            Ok(v.clone())
        }
    };
    let mut fields = Map::new();
    for (k, v) in row {
        if k != "_key" {
            fields.insert(k.clone(), if columns.lists.contains(k) { get(k)? } else { v.clone() });
        }
    }
    for (field, col) in &columns.fields {
        fields.insert(field.clone(), get(col)?);
    }
    if !columns.options.is_empty() {
        let mut options = Vec::new();
        for (i, col) in columns.options.iter().enumerate() {
            let text = get(col)?;
            let key = choices.get(i).cloned().unwrap_or_else(|| ((b'A' + i as u8) as char).to_string());
            options.push(json!({"key": key, "text": text}));
        }
        fields.insert("options".into(), Value::Array(options));
    }
    let mut gold = match get(&columns.gold)? {
        Value::Number(n) => json!(n.to_string()),
        Value::Bool(b) => json!(b.to_string()),
        v => v,
    };
    if columns.normalize_gold {
        if let Value::String(s) = &gold {
            gold = json!(s.trim().to_lowercase());
        }
    }
    let native_id = match &columns.id {
        Some(col) => match get(col)? {
            Value::String(s) => s,
            v => v.to_string(),
        },
        None => row.get("_key").and_then(Value::as_str).map_or_else(|| line.to_string(), str::to_string),
    };
    Ok(Doc { native_id, fields, gold })
}

/// A list written as JSON or as a Python literal of strings (`['a', "b's"]`), as pandas writes
/// list columns to CSV. `None` when it is neither.
pub fn parse_list_literal(s: &str) -> Option<Vec<Value>> {
    if let Ok(Value::Array(a)) = serde_json::from_str(s) {
        return Some(a);
    }
    let inner = s.trim().strip_prefix('[')?.strip_suffix(']')?;
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(quote) = chars.next() else { break };
        if quote != '\'' && quote != '"' {
            return None;
        }
        let mut item = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => item.push('\n'),
                    't' => item.push('\t'),
                    c => item.push(c),
                },
                c if c == quote => break,
                c => item.push(c),
            }
        }
        out.push(Value::String(item));
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            Some(',') => continue,
            None => break,
            Some(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(gold: &str) -> Columns {
        Columns { gold: gold.into(), ..Default::default() }
    }

    #[test]
    fn formats_are_detected() {
        let c = Columns { id: Some("uid".into()), ..cols("impression") };
        let list = br#"[{"uid": "8", "findings": "F", "impression": "I"}, {"uid": "9", "findings": "G"}]"#;
        let imp = records("a.json", list, &c, &[], None);
        assert_eq!((imp.format.as_str(), imp.docs.len(), imp.bad_rows.len()), ("json", 1, 1));
        assert_eq!((imp.docs[0].native_id.as_str(), imp.docs[0].fields["findings"].as_str()), ("8", Some("F")));

        let keyed = Columns { records_key: Some("test".into()), ..cols("impression") };
        let imp = records("m.json", br#"{"test": [{"findings": "F", "impression": "I"}]}"#, &keyed, &[], None);
        assert_eq!(imp.docs[0].gold, "I");
        // A JSON-lines file of one line is one record, not an object of records.
        let imp = records("one.jsonl", b"{\"question\": \"q\", \"answer\": \"a\"}\n", &cols("answer"), &[], None);
        assert_eq!((imp.format.as_str(), imp.docs.len(), imp.docs[0].native_id.as_str()), ("jsonl", 1, "1"));
        let keyed_by_id = records("k.json", br#"{"p1": {"answer": "a"}, "p2": {"answer": "b"}}"#, &cols("answer"), &[], None);
        assert_eq!(keyed_by_id.docs[1].native_id, "p2");

        let jsonl = b"{\"question\": \"q\", \"answer\": \"a\"}\n\n{broken\n{\"question\": \"r\", \"answer\": 3}\n";
        let imp = records("r.jsonl", jsonl, &cols("answer"), &[], None);
        assert_eq!((imp.format.as_str(), imp.docs.len()), ("jsonl", 2));
        assert_eq!(imp.bad_rows[0].line, 3);
        assert_eq!(imp.docs[1].gold, "3", "numbers become text");
        assert_eq!(imp.docs[1].native_id, "4");

        let csv = "question,answer\n\"Does it, really?\",Yes \nshort\n";
        let c = Columns { normalize_gold: true, ..cols("answer") };
        let imp = records("d.csv", csv.as_bytes(), &c, &[], None);
        assert_eq!((imp.docs[0].gold.as_str(), imp.docs[0].fields["question"].as_str()), (Some("yes"), Some("Does it, really?")));
        assert_eq!(imp.bad_rows[0].line, 3);

        let tsv = "index\tsentence\tlabel\n0\t\"quoted\" @GENE$\t1\n";
        let imp = records("t.tsv", tsv.as_bytes(), &Columns { id: Some("index".into()), ..cols("label") }, &[], None);
        assert_eq!(imp.docs[0].fields["sentence"], "\"quoted\" @GENE$");
        assert_eq!(imp.format, "tsv");
    }

    #[test]
    fn list_columns_and_options() {
        let csv = "idx,meds,question,option_A,option_B,answer\n0,\"['a', \"\"b's\"\"]\",Q,x,y,B\n1,not a list,Q,x,y,A\n";
        let c = Columns {
            lists: vec!["meds".into()],
            options: vec!["option_A".into(), "option_B".into()],
            ..cols("answer")
        };
        let imp = records("t.csv", csv.as_bytes(), &c, &["A".into(), "B".into()], None);
        assert_eq!(imp.docs[0].fields["meds"], json!(["a", "b's"]));
        assert_eq!(imp.docs[0].fields["options"], json!([{"key": "A", "text": "x"}, {"key": "B", "text": "y"}]));
        assert!(imp.bad_rows[0].problem.contains("not a list"), "{:?}", imp.bad_rows);
        assert_eq!(parse_list_literal("['x', 'it\\'s']"), Some(vec![json!("x"), json!("it's")]));
        assert_eq!(parse_list_literal("[]"), Some(vec![]));
        assert_eq!(parse_list_literal("['x' 'y']"), None);
    }
}
