//! Prompts: a task's Jinja templates rendered over a document's fields, with few-shot examples,
//! as plain text (lm-eval's layout) or as chat messages for the model's template.

use super::importers::Doc;
use super::spec::TaskSpec;
use super::TaskError;
use crate::engine::ChatMessage;
use minijinja::Environment;
use serde_json::Value;

/// The prompt renderer for a task: description, few-shot examples and the document's prompt.
pub struct Prompter<'s> {
    spec: &'s TaskSpec,
    env: Environment<'s>,
}

impl<'s> Prompter<'s> {
    pub fn new(spec: &'s TaskSpec) -> Result<Self, TaskError> {
        let mut env = Environment::new();
        // lm-eval renders with jinja2's keep_trailing_newline=True: MMLU's description ends in
        // "\n\n" and both newlines belong to the prompt.
        env.set_keep_trailing_newline(true);
        // Python's str.strip(), which lm-eval's templates call: Unicode whitespace plus the
        // ASCII separators U+001C..U+001F.
        env.add_filter("strip", |s: String| {
            s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)).to_string()
        });
        let bad = |e: minijinja::Error| TaskError::BadSpec { file: spec.name.clone(), problem: e.to_string() };
        env.add_template("prompt", &spec.prompt).map_err(bad)?;
        env.add_template("description", &spec.description).map_err(bad)?;
        if let Some(answer) = &spec.answer {
            env.add_template("answer", answer).map_err(bad)?;
        }
        Ok(Prompter { spec, env })
    }

    fn render(&self, template: &str, doc: &Doc, doc_id: usize) -> Result<String, TaskError> {
        let t = self.env.get_template(template).map_err(|e| self.template_error(doc_id, e))?;
        let mut ctx = doc.fields.clone();
        ctx.insert("gold".into(), doc.gold.clone());
        t.render(Value::Object(ctx)).map_err(|e| self.template_error(doc_id, e))
    }

    fn template_error(&self, doc_id: usize, e: minijinja::Error) -> TaskError {
        TaskError::Template { task: self.spec.name.clone(), doc_id, problem: e.to_string() }
    }

    /// A few-shot example's answer: the choice of its gold class (multiple choice and choice
    /// extraction), else the spec's `answer` template, else the gold as text.
    fn example_answer(&self, ex: &Doc, doc_id: usize) -> Result<String, TaskError> {
        if self.spec.answer.is_some() {
            return self.render("answer", ex, doc_id);
        }
        if let Some(i) = ex.gold.as_str().and_then(|g| self.spec.class_index(g)) {
            return Ok(self.spec.choices[i].clone());
        }
        Ok(ex.gold_text())
    }

    /// `Σ (prompt(ex) + delimiter + answer(ex) + fewshot_delimiter) + prompt(doc)`.
    fn body(&self, doc: &Doc, doc_id: usize, examples: &[&Doc]) -> Result<String, TaskError> {
        let mut out = String::new();
        let delimiter = self.spec.target_delimiter.as_str();
        for ex in examples {
            out.push_str(&self.render("prompt", ex, doc_id)?);
            out.push_str(delimiter);
            out.push_str(&self.example_answer(ex, doc_id)?);
            out.push_str(&self.spec.fewshot_delimiter);
        }
        out.push_str(&self.render("prompt", doc, doc_id)?);
        Ok(out)
    }

    /// The plain-text context: `description + examples + prompt(doc)`.
    pub fn context(&self, doc: &Doc, doc_id: usize, examples: &[&Doc]) -> Result<String, TaskError> {
        let mut ctx = self.render("description", doc, doc_id)?;
        ctx.push_str(&self.body(doc, doc_id, examples)?);
        Ok(ctx)
    }

    /// The context as chat messages, as lm-eval builds them with `--apply_chat_template`: the
    /// description as the system message, examples and the document as one user message.
    pub fn messages(&self, doc: &Doc, doc_id: usize, examples: &[&Doc]) -> Result<Vec<ChatMessage>, TaskError> {
        let mut out = Vec::new();
        let description = self.render("description", doc, doc_id)?;
        if !description.is_empty() {
            out.push(ChatMessage::new("system", description));
        }
        out.push(ChatMessage::new("user", self.body(doc, doc_id, examples)?));
        Ok(out)
    }
}
