//! Chat templates (`tokenizer.chat_template`, Jinja2) rendered with minijinja the way
//! llama-cpp-python renders them with jinja2: `trim_blocks` and `lstrip_blocks` on, variables
//! `messages` (a list of `{role, content}`), `add_generation_prompt`, `bos_token` and
//! `eos_token` (the vocabulary texts of BOS/EOS), and the functions `raise_exception(msg)` and
//! `strftime_now(fmt)`. Python string and dict methods that templates call (`.strip()`,
//! `.startswith()`, `.items()`, ...) are provided for the common cases.

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
#[cfg(not(target_arch = "wasm32"))]
use std::time::{SystemTime, UNIX_EPOCH};

/// Steps a chat template may take (minijinja's fuel): real templates take a few thousand per
/// message; a template that loops without end is stopped within a second or two.
pub(crate) const TEMPLATE_FUEL: u64 = 20_000_000;
/// The most text a chat template may write (or one string method make): prompts are a context
/// window of text, far below this.
pub(crate) const MAX_TEMPLATE_OUTPUT: usize = 16 << 20;
/// The most data one render may make, counted as it is made and never given back: every
/// string and sequence an operator (`~`, `+`, `*`, slicing), a `{% set %}` capture, a filter,
/// function or method makes, and every item written when a list is displayed, joined or
/// serialized (the patch in `vendor/minijinja`). Fuel alone cannot stop `{% set s = s ~ s %}`:
/// forty steps of it make a terabyte. A real prompt, and the copies a template makes of it,
/// are far below this.
pub(crate) const TEMPLATE_DATA_BUDGET: usize = 32 << 20;

/// The rendered text, refused once it would pass [`MAX_TEMPLATE_OUTPUT`] bytes.
struct BoundedOutput(Vec<u8>);

impl std::io::Write for BoundedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_TEMPLATE_OUTPUT {
            return Err(std::io::Error::other("output limit"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders `template`. `messages` are `(role, content)` pairs. The template is a program from
/// the model file: it runs at most [`TEMPLATE_FUEL`] steps, writes at most
/// [`MAX_TEMPLATE_OUTPUT`] bytes and makes at most [`TEMPLATE_DATA_BUDGET`] bytes of data, and
/// is stopped with a message otherwise.
pub(crate) fn render(
    template: &str,
    messages: &[(&str, &str)],
    add_generation_prompt: bool,
    bos_token: &str,
    eos_token: &str,
) -> Result<String, String> {
    // Parsing and rendering both run under the budget (constant folding makes strings too).
    let _budget = minijinja::set_thread_budget(Some(TEMPLATE_DATA_BUDGET));
    let mut env = Environment::new();
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_function("raise_exception", |msg: String| -> Result<Value, Error> {
        Err(Error::new(ErrorKind::InvalidOperation, msg))
    });
    env.add_function("strftime_now", |fmt: String| -> String { strftime_now(&fmt) });
    env.set_unknown_method_callback(py_method);
    let template = without_line_continuations(&without_generation_tags(template)).into_owned();
    let tmpl = env.template_from_str(&template).map_err(|e| format!("{e:#}"))?;
    let msgs: Vec<Value> = messages
        .iter()
        .map(|(role, content)| Value::from_iter([("role", Value::from(*role)), ("content", Value::from(*content))]))
        .collect();
    let ctx = Value::from_iter([
        ("messages", Value::from(msgs)),
        ("add_generation_prompt", Value::from(add_generation_prompt)),
        ("bos_token", Value::from(bos_token)),
        ("eos_token", Value::from(eos_token)),
    ]);
    let mut out = BoundedOutput(Vec::new());
    let rendered = tmpl.render_captured_to(ctx, &mut out).map(|_| ());
    match rendered {
        Ok(_) => String::from_utf8(out.0).map_err(|_| "the chat template wrote text that is not UTF-8".to_string()),
        Err(e) if e.kind() == ErrorKind::OutOfFuel => {
            Err(format!("the chat template ran too long (more than {TEMPLATE_FUEL} steps) and was stopped"))
        }
        Err(e) if e.kind() == ErrorKind::OutOfMemory => Err(format!(
            "the chat template made more than {} MiB of text and data and was stopped",
            TEMPLATE_DATA_BUDGET >> 20
        )),
        Err(e) if e.kind() == ErrorKind::WriteFailure => {
            Err(format!("the chat template wrote more than {} MiB and was stopped", MAX_TEMPLATE_OUTPUT >> 20))
        }
        // Show the template's own message for raise_exception, with minijinja's context after.
        Err(e) => Err(match e.detail() {
            Some(d) if e.kind() == ErrorKind::InvalidOperation => format!("{d} ({e})"),
            _ => format!("{e:#}"),
        }),
    }
}

/// The template with Hugging Face's `{% generation %}` ... `{% endgeneration %}` blocks (which
/// mark the assistant's text for training masks and render their body unchanged, as
/// transformers' `AssistantTracker` does outside training) made plain `if true` blocks: the
/// same block tags, so `trim_blocks`, `lstrip_blocks` and the `-`/`+` markers act on them as
/// before. SmolLM3's template has them; minijinja knows no such tag.
fn without_generation_tags(template: &str) -> std::borrow::Cow<'_, str> {
    if !template.contains("generation") {
        return template.into();
    }
    let tag = fancy_regex::Regex::new(r"\{%([-+]?)\s*(end)?generation\s*([-+]?)%\}").expect("a valid pattern");
    tag.replace_all(template, |c: &fancy_regex::Captures| {
        let body = if c.get(2).is_some() { "endif" } else { "if true" };
        format!("{{%{} {body} {}%}}", &c[1], &c[3])
    })
}

/// The template with each backslash-newline inside a string literal of a tag removed: jinja2
/// reads string literals as Python does, where a backslash before a line break continues the
/// line (Mistral Small 3.1's default system message is written so), while minijinja keeps both
/// characters. Text outside tags, where jinja2 keeps them too, is left alone.
fn without_line_continuations(template: &str) -> std::borrow::Cow<'_, str> {
    if !template.contains("\\\n") && !template.contains("\\\r\n") {
        return template.into();
    }
    let bytes = template.as_bytes();
    let mut out = String::with_capacity(template.len());
    let (mut in_tag, mut quote): (Option<u8>, Option<u8>) = (None, None);
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        match (in_tag, quote) {
            (None, _) => {
                if rest.starts_with(b"{{") || rest.starts_with(b"{%") {
                    in_tag = Some(rest[1]);
                } else if rest.starts_with(b"{#") {
                    // A comment: copied through to its end.
                    let end = template[i..].find("#}").map_or(bytes.len(), |e| i + e + 2);
                    out.push_str(&template[i..end]);
                    i = end;
                    continue;
                }
            }
            (Some(kind), None) => {
                let close = if kind == b'{' { b"}}" } else { b"%}" };
                if rest.starts_with(close) {
                    out.push_str(&template[i..i + 2]);
                    in_tag = None;
                    i += 2;
                    continue;
                }
                if rest[0] == b'"' || rest[0] == b'\'' {
                    quote = Some(rest[0]);
                }
            }
            (Some(_), Some(q)) => {
                if rest.starts_with(b"\\\n") {
                    i += 2;
                    continue;
                }
                if rest.starts_with(b"\\\r\n") {
                    i += 3;
                    continue;
                }
                if rest[0] == b'\\' && rest.len() > 1 {
                    // An escape: the next character does not end the string.
                    let n = 1 + template[i + 1..].chars().next().map_or(0, char::len_utf8);
                    out.push_str(&template[i..i + n]);
                    i += n;
                    continue;
                }
                if rest[0] == q {
                    quote = None;
                }
            }
        }
        let n = template[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&template[i..i + n]);
        i += n;
    }
    out.into()
}

/// Refuses a string method's result that would pass [`MAX_TEMPLATE_OUTPUT`] bytes, before it
/// is made.
fn bounded(len: usize) -> Result<(), Error> {
    if len > MAX_TEMPLATE_OUTPUT {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("a string of {len} bytes: more than the {} MiB a chat template may make", MAX_TEMPLATE_OUTPUT >> 20),
        ));
    }
    Ok(())
}

/// Python's `str.isspace` for one char (Unicode White_Space plus the ASCII separators
/// U+001C..U+001F).
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn arg_str(args: &[Value], i: usize) -> Option<&str> {
    args.get(i).and_then(|v| v.as_str())
}

/// A subset of Python's `str` and `dict` methods, for templates written against jinja2.
fn py_method(_state: &State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    let bad = || {
        Error::new(
            ErrorKind::UnknownMethod,
            format!("{} has no method {method}", value.kind()),
        )
    };
    match value.kind() {
        ValueKind::String => {
            let s = value.as_str().unwrap_or("");
            let chars_arg = arg_str(args, 0);
            let strip_set = |c: char| match chars_arg {
                Some(set) => set.contains(c),
                None => py_space(c),
            };
            Ok(match method {
                "strip" => Value::from(s.trim_matches(strip_set)),
                "lstrip" => Value::from(s.trim_start_matches(strip_set)),
                "rstrip" => Value::from(s.trim_end_matches(strip_set)),
                "upper" => Value::from(s.to_uppercase()),
                "lower" => Value::from(s.to_lowercase()),
                "title" => Value::from(title_case(s)),
                "capitalize" => {
                    let mut cs = s.chars();
                    Value::from(match cs.next() {
                        Some(f) => f
                            .to_uppercase()
                            .chain(cs.flat_map(char::to_lowercase))
                            .collect::<String>(),
                        None => String::new(),
                    })
                }
                "startswith" | "endswith" => {
                    let test = |p: &str| {
                        if method == "startswith" {
                            s.starts_with(p)
                        } else {
                            s.ends_with(p)
                        }
                    };
                    let arg = args.first().ok_or_else(bad)?;
                    let hit = match arg.kind() {
                        ValueKind::String => test(arg.as_str().unwrap_or("")),
                        ValueKind::Seq => arg.try_iter()?.any(|p| p.as_str().is_some_and(test)),
                        _ => return Err(bad()),
                    };
                    Value::from(hit)
                }
                "replace" => {
                    let (old, new) = (arg_str(args, 0).ok_or_else(bad)?, arg_str(args, 1).ok_or_else(bad)?);
                    // Python puts `new` between every character when `old` is empty.
                    let hits = if old.is_empty() { s.chars().count() + 1 } else { s.matches(old).count() };
                    bounded(s.len().saturating_add(hits.saturating_mul(new.len())))?;
                    match args.get(2).and_then(|v| v.as_i64()) {
                        Some(n) if n >= 0 => Value::from(s.replacen(old, new, n as usize)),
                        _ => Value::from(s.replace(old, new)),
                    }
                }
                "split" => {
                    let maxsplit = args
                        .get(1)
                        .and_then(|v| v.as_i64())
                        .filter(|&n| n >= 0)
                        .map(|n| n as usize);
                    let parts: Vec<Value> = match args.first().and_then(|v| v.as_str()) {
                        Some(sep) if !sep.is_empty() => match maxsplit {
                            Some(n) => s.splitn(n + 1, sep).map(Value::from).collect(),
                            None => s.split(sep).map(Value::from).collect(),
                        },
                        Some(_) => return Err(Error::new(ErrorKind::InvalidOperation, "empty separator")),
                        None => s.split(py_space).filter(|p| !p.is_empty()).map(Value::from).collect(),
                    };
                    Value::from(parts)
                }
                "splitlines" => Value::from(s.lines().map(Value::from).collect::<Vec<_>>()),
                "find" => {
                    let sub = arg_str(args, 0).ok_or_else(bad)?;
                    Value::from(s.find(sub).map(|b| s[..b].chars().count() as i64).unwrap_or(-1))
                }
                "count" => {
                    let sub = arg_str(args, 0).ok_or_else(bad)?;
                    Value::from(if sub.is_empty() {
                        s.chars().count() + 1
                    } else {
                        s.matches(sub).count()
                    })
                }
                "join" => {
                    let items = args.first().ok_or_else(bad)?;
                    let parts: Vec<String> = items.try_iter()?.map(|v| v.to_string()).collect();
                    bounded(parts.iter().map(String::len).sum::<usize>().saturating_add(s.len().saturating_mul(parts.len())))?;
                    Value::from(parts.join(s))
                }
                "isdigit" => Value::from(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())),
                "isalpha" => Value::from(!s.is_empty() && s.chars().all(char::is_alphabetic)),
                "isspace" => Value::from(!s.is_empty() && s.chars().all(py_space)),
                _ => return Err(bad()),
            })
        }
        ValueKind::Map => match method {
            "items" => {
                let mut out = Vec::new();
                for k in value.try_iter()? {
                    let v = value.get_item(&k)?;
                    out.push(Value::from(vec![k, v]));
                }
                Ok(Value::from(out))
            }
            "keys" => Ok(Value::from(value.try_iter()?.collect::<Vec<_>>())),
            "values" => {
                let mut out = Vec::new();
                for k in value.try_iter()? {
                    out.push(value.get_item(&k)?);
                }
                Ok(Value::from(out))
            }
            "get" => {
                let key = args.first().ok_or_else(bad)?;
                let v = value.get_item(key)?;
                Ok(if v.is_undefined() {
                    args.get(1).cloned().unwrap_or(Value::from(()))
                } else {
                    v
                })
            }
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_cased = false;
    for c in s.chars() {
        if prev_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_cased = c.is_alphabetic();
    }
    out
}

/// Today's date/time (UTC) formatted with the strftime directives chat templates use
/// (`%d %b %Y`, `%B`, `%m`, `%y`, `%H:%M:%S`, `%A`, `%a`, `%j`, `%%`).
fn strftime_now(fmt: &str) -> String {
    // In the browser std has no clock (`SystemTime::now` panics there): JavaScript's is used.
    #[cfg(target_arch = "wasm32")]
    let secs = (js_sys::Date::now() / 1000.0) as u64;
    #[cfg(not(target_arch = "wasm32"))]
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_time(secs, fmt)
}

fn format_time(secs: u64, fmt: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    let days = (secs / 86_400) as i64;
    let tod = secs % 86_400;
    let (y, m, d) = crate::calendar::civil_from_days(days);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let jday = CUM[(m - 1) as usize] + d + i64::from(leap && m > 2);
    let weekday = DAYS[days.rem_euclid(7) as usize];

    let mut out = String::new();
    let mut it = fmt.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('Y') => out.push_str(&y.to_string()),
            Some('y') => out.push_str(&format!("{:02}", y % 100)),
            Some('B') => out.push_str(MONTHS[(m - 1) as usize]),
            Some('b') => out.push_str(&MONTHS[(m - 1) as usize][..3]),
            Some('A') => out.push_str(weekday),
            Some('a') => out.push_str(&weekday[..3]),
            Some('j') => out.push_str(&format!("{jday:03}")),
            Some('H') => out.push_str(&format!("{:02}", tod / 3600)),
            Some('M') => out.push_str(&format!("{:02}", tod / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", tod % 60)),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Markers put around message content to find it in the rendered text: Unicode noncharacters,
/// which no real message contains.
pub(crate) const OPEN: char = '\u{FDD0}';
pub(crate) const CLOSE: char = '\u{FDD1}';

/// Renders and splits the result into `(text, is_content)` segments: message content (as the
/// template placed it) and the template's own text. Returns `None` when the split cannot be
/// trusted: the template changed the content in a way the markers do not survive.
pub(crate) fn render_segments(
    template: &str,
    messages: &[(&str, &str)],
    add_generation_prompt: bool,
    bos_token: &str,
    eos_token: &str,
    plain: &str,
) -> Option<Vec<(String, bool)>> {
    if messages.iter().any(|(_, c)| c.contains(OPEN) || c.contains(CLOSE)) {
        return None;
    }
    // First the content as is; then pre-trimmed, for templates that `| trim` it.
    for trim in [false, true] {
        let marked: Vec<String> = messages
            .iter()
            .map(|(_, c)| format!("{OPEN}{}{CLOSE}", if trim { c.trim_matches(py_space) } else { c }))
            .collect();
        let msgs: Vec<(&str, &str)> = messages
            .iter()
            .zip(&marked)
            .map(|((r, _), m)| (*r, m.as_str()))
            .collect();
        let Ok(out) = render(template, &msgs, add_generation_prompt, bos_token, eos_token) else {
            continue;
        };
        let stripped: String = out.chars().filter(|&c| c != OPEN && c != CLOSE).collect();
        if stripped != plain {
            continue;
        }
        let mut segments = Vec::new();
        let mut cur = String::new();
        let mut inside = false;
        let mut ok = true;
        for c in out.chars() {
            match c {
                OPEN if !inside => {
                    segments.push((std::mem::take(&mut cur), false));
                    inside = true;
                }
                CLOSE if inside => {
                    segments.push((std::mem::take(&mut cur), true));
                    inside = false;
                }
                OPEN | CLOSE => ok = false,
                _ => cur.push(c),
            }
        }
        if !ok || inside {
            continue;
        }
        segments.push((cur, false));
        segments.retain(|(s, _)| !s.is_empty());
        return Some(segments);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_like_strftime() {
        // 2024-07-23 14:05:09 UTC was a Tuesday.
        let t = 1_721_743_509;
        assert_eq!(format_time(t, "%d %b %Y"), "23 Jul 2024");
        assert_eq!(
            format_time(t, "%A %B %m/%d/%y %H:%M:%S %j %%"),
            "Tuesday July 07/23/24 14:05:09 205 %"
        );
        assert_eq!(format_time(0, "%Y-%m-%d %a"), "1970-01-01 Thu");
    }

    /// `{% generation %}` renders its body, and its whitespace markers act as on any block tag
    /// (the markers, the word inside a string and a variable of that name are left alone).
    #[test]
    fn generation_blocks_render_their_body() {
        let t = "a\n  {%- generation -%}\n b {{ 'generation' }}\n{%+ endgeneration %}\n{% generation %}\nc{% endgeneration %}";
        assert_eq!(render(t, &[], false, "", "").unwrap(), "ab generation\nc");
        assert_eq!(without_generation_tags("{{ generation }}"), "{{ generation }}");
    }

    /// A backslash before a line break inside a string literal continues the line, as in
    /// jinja2 (Python's literals); outside tags, and after an escaped backslash, both stay.
    #[test]
    fn string_literals_continue_lines_like_python() {
        let t = "a\\\nb{{ \"c\\\nd\" + 'e\\\r\nf' + \"\\\\\" }}\\\n{# x\\\n #}{% set s = \"g\\\nh\" %}{{ s }}";
        assert_eq!(render(t, &[], false, "", "").unwrap(), "a\\\nbcdef\\\\\ngh");
    }

    #[test]
    fn python_methods_work_in_templates() {
        let out = render(
            "{{ messages[0]['content'].strip().upper() }}|{{ 'a,b'.split(',') | join('+') }}|{{ 'x'.startswith(('y','x')) }}",
            &[("user", "  hi  ")],
            false,
            "",
            "",
        )
        .unwrap();
        assert_eq!(out, "HI|a+b|True");
    }

    #[test]
    fn raise_exception_reports_the_message() {
        let e = render("{{ raise_exception('no system role') }}", &[], false, "", "").unwrap_err();
        assert!(e.starts_with("no system role"), "{e}");
    }

    /// A chat template is a program from a stranger's file: one that loops without end, writes
    /// without end, or makes a huge string in one method call is stopped with a message, and a
    /// real template still renders.
    #[test]
    fn hostile_templates_are_stopped_with_a_message() {
        let loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
        let e = render(loops, &[], false, "", "").unwrap_err();
        assert!(e.contains("ran too long"), "{e}");
        let writes = "{% set s = 'x' * 1000 %}{% for i in range(100000) %}{{ s }}{% endfor %}";
        let e = render(writes, &[], false, "", "").unwrap_err();
        assert!(e.contains("wrote more than 16 MiB"), "{e}");
        let replace = "{{ ('x' * 100000).replace('x', 'y' * 100000) }}";
        let e = render(replace, &[], false, "", "").unwrap_err();
        assert!(e.contains("more than the 16 MiB"), "{e}");
        let between = "{{ ('x' * 100000).replace('', 'y' * 1000) }}";
        assert!(render(between, &[], false, "", "").unwrap_err().contains("more than the 16 MiB"));
        let join = "{{ ('y' * 100000).join(['a'] * 1000) }}";
        assert!(render(join, &[], false, "", "").unwrap_err().contains("more than the 16 MiB"));
        // Strings and lists that double each step: forty steps would make a terabyte.
        // (A `{% set %}` inside a loop does not outlive its iteration, as in jinja2: the loops
        // carry their state in a namespace, or the steps are written out.)
        let steps = |step: &str, n: usize| step.repeat(n);
        let concat = format!("{{% set s = 'x' %}}{}{{{{ s|length }}}}", steps("{% set s = s ~ s %}", 40));
        let plus = format!("{{% set s = 'x' %}}{}{{{{ s|length }}}}", steps("{% set s = s + s %}", 40));
        let captures = format!("{{% set s = 'x' %}}{}{{{{ s|length }}}}", steps("{% set s %}{{ s }}{{ s }}{% endset %}", 40));
        let lists = format!("{{% set l = ['x' * 1000] %}}{}{{{{ l|join|length }}}}", steps("{% set l = l + l %}", 40));
        let doublings = [
            concat.as_str(),
            plus.as_str(),
            captures.as_str(),
            lists.as_str(),
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
            "{% macro grow(s, n) %}{% if n %}{{ grow(s ~ s, n - 1) }}{% else %}{{ s|length }}{% endif %}{% endmacro %}{{ grow('x', 40) }}",
            "{% set l = ['x' * 1000000] * 100000 %}{{ l|join|length }}",
            "{% set ns = namespace(l=['x' * 1000000]) %}{% for i in range(100) %}{% set ns.l = ns.l + [ns.l[-1] ~ 'y'] %}{% endfor %}{{ ns.l|length }}",
            "{% set l = ['x' * 1000000] * 1000 %}{{ (l|string)|length }}",
            "{% set l = ['x' * 1000000] * 1000 %}{{ (l|tojson)|length }}",
            "{% set s = 'x' * 10000 %}{{ s|replace('', s)|length }}",
            "{% set s = 'x\\n' * 100000 %}{{ s|indent(100000)|length }}",
            "{{ ('%' ~ (2 ** 40) ~ 's')|format('x')|length }}",
            "{% set ns = namespace(d={}) %}{% set s = 'x' * 1000000 %}{% for i in range(100) %}{% set ns.d = dict(ns.d, **{i|string: s ~ i}) %}{% endfor %}{{ ns.d|length }}",
        ];
        for t in doublings {
            let started = std::time::Instant::now();
            let e = render(t, &[], false, "", "").expect_err(t);
            assert!(e.contains("made more than 32 MiB"), "{t}: {e}");
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "{t}: {:?}", started.elapsed());
        }
        // The budget is the render's: the next render starts with all of it.
        assert_eq!(render("{{ ('x' * 1000000)|length }}", &[], false, "", "").unwrap(), "1000000");
        // A long conversation in a real template's shape renders.
        let turns: Vec<(&str, &str)> = (0..200).map(|i| if i % 2 == 0 { ("user", "How much aspirin?") } else { ("assistant", "75 mg daily.") }).collect();
        let chatml = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
        let out = render(chatml, &turns, true, "", "").unwrap();
        assert_eq!(out.matches("<|im_start|>").count(), 201);
    }
}
