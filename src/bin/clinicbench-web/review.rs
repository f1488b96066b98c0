//! The page's clinician review: a blinded set built from finished runs, rated by a reviewer with
//! the keyboard (one output at a time, or two side by side), every rating kept in IndexedDB as
//! it is given, and the results of several reviewers' files with their agreement, the items they
//! disagree on, and adjudicated ratings beside the originals.
//!
//! Blinding: the rating view shows the set only (sources, references, outputs); nothing in its
//! DOM names a run, a model or a file. The build panel, which does name the runs, is not shown
//! while a review is open. Every text from a file is rendered as text.

use super::checkpoint;
use super::files::{download, picked, read_texts};
use super::side_by_side::runs_from_files;
use clinicbench::report::side_by_side::{run_labels, NamedRun};
use clinicbench::report::RunReport;
use clinicbench::review::results::{Adjudication, Adjudications, Reviews};
use clinicbench::review::session::{units, Mode, Session};
use clinicbench::review::{self, Choice, Key, ReviewSet};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn now_iso() -> String {
    clinicbench::calendar::utc_timestamp((js_sys::Date::now() / 1000.0) as u64)
}

fn now_s() -> f64 {
    js_sys::Date::now() / 1000.0
}

/// Where a reviewer's work is kept: the set under `set/<hash>`, the session under
/// `session/<hash>/<pseudonym>`, and `current` naming the open one.
fn session_key(set_hash: &str, rater: &str) -> String {
    format!("session/{set_hash}/{rater}")
}

async fn store_set(set: &ReviewSet) -> Result<(), String> {
    let db = checkpoint::open().await?;
    let text = serde_json::to_string(set).map_err(|e| e.to_string())?;
    checkpoint::put(&db, "reviews", &format!("set/{}", set.hash()), &JsValue::from_str(&text)).await
}

async fn store_session(session: &Session) -> Result<(), String> {
    let db = checkpoint::open().await?;
    let key = session_key(&session.review.set_hash, &session.review.rater);
    let text = serde_json::to_string(session).map_err(|e| e.to_string())?;
    checkpoint::put(&db, "reviews", &key, &JsValue::from_str(&text)).await?;
    checkpoint::put(&db, "reviews", "current", &JsValue::from_str(&key)).await
}

async fn store_adjudications(a: &Adjudications) -> Result<(), String> {
    let db = checkpoint::open().await?;
    let text = serde_json::to_string(a).map_err(|e| e.to_string())?;
    checkpoint::put(&db, "reviews", &format!("adjudications/{}", a.set_hash), &JsValue::from_str(&text)).await
}

async fn stored_text(key: &str) -> Result<Option<String>, String> {
    let db = checkpoint::open().await?;
    Ok(checkpoint::get(&db, "reviews", key).await?.and_then(|v| v.as_string()))
}

/// The review open when the page was last left: its set, the session, and adjudications.
async fn open_review() -> Result<Option<(ReviewSet, Session, Adjudications)>, String> {
    let Some(key) = stored_text("current").await? else { return Ok(None) };
    let Some(session) = stored_text(&key).await? else { return Ok(None) };
    let session: Session = serde_json::from_str(&session).map_err(|e| format!("the kept review cannot be read: {e}"))?;
    let hash = session.review.set_hash.clone();
    let Some(set) = stored_text(&format!("set/{hash}")).await? else { return Ok(None) };
    let set = review::read_set("the kept set", set.as_bytes()).map_err(|e| e.to_string())?;
    let adjudications = match stored_text(&format!("adjudications/{hash}")).await? {
        Some(t) => serde_json::from_str(&t).unwrap_or_default(),
        None => Adjudications { set_hash: hash, adjudications: vec![] },
    };
    Ok(Some((set, session, adjudications)))
}

async fn close_stored() -> Result<(), String> {
    let db = checkpoint::open().await?;
    checkpoint::put(&db, "reviews", "current", &JsValue::from_str("")).await
}

/// A change to a reviewer's session on the screen shown: (session, set, item, the screen's
/// outputs, its rows, screens in the mode) -> whether anything changed.
type Action<'a> = dyn Fn(&mut Session, &ReviewSet, &str, &[String], &[Row], usize) -> bool + 'a;

/// A row of the rating view: the preference (pairwise only) or one output on one dimension.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Row {
    Preference,
    /// (which of the screen's outputs, dimension index)
    Rating(usize, usize),
}

fn rows(mode: Mode, outputs: usize, dimensions: usize) -> Vec<Row> {
    let mut r = Vec::new();
    if mode == Mode::Pairwise {
        r.push(Row::Preference);
    }
    for o in 0..outputs {
        r.extend((0..dimensions).map(|d| Row::Rating(o, d)));
    }
    r
}

/// The review section: build, rate, results.
#[component]
pub fn ReviewWorkspace(page_run: Signal<RunReport>, set_error: WriteSignal<Option<String>>) -> impl IntoView {
    let set = RwSignal::new(None::<ReviewSet>);
    let key = RwSignal::new(None::<Key>);
    let session = RwSignal::new(None::<Session>);
    let adjudications = RwSignal::new(Adjudications::default());
    let notice = RwSignal::new(None::<String>);

    // A review left open is opened again, at the same screen.
    leptos::task::spawn_local(async move {
        match open_review().await {
            Ok(Some((s, sess, adj))) => {
                notice.set(Some(format!("Resumed the review by {} where it was left.", sess.review.rater)));
                set.set(Some(s));
                adjudications.set(adj);
                session.set(Some(sess));
            }
            Ok(None) => {}
            Err(e) => set_error.set(Some(format!("cannot resume the review: {e}"))),
        }
    });

    view! {
        <section id="review" aria-labelledby="review-heading">
            <h2 id="review-heading">"Clinician review"</h2>
            <p class="muted">"A review set holds the runs' prompts and outputs: treat its file like the data it came from. Nothing here leaves this browser."</p>
            {move || notice.get().map(|n| view! { <p class="notice" id="review-notice">{n}</p> })}
            <Show when=move || session.with(Option::is_none)>
                <BuildSet page_run set key set_error/>
                <OpenSet set session adjudications set_error/>
            </Show>
            <Show when=move || session.with(Option::is_some)>
                <RatingView set session set_error/>
            </Show>
            <ReviewResults set key session adjudications set_error/>
        </section>
    }
}

/// Build a set from this page's run and imported runs; the set and the key download apart.
#[component]
fn BuildSet(page_run: Signal<RunReport>, set: RwSignal<Option<ReviewSet>>, key: RwSignal<Option<Key>>, set_error: WriteSignal<Option<String>>) -> impl IntoView {
    let imported = RwSignal::new(Vec::<NamedRun>::new());
    let use_page = RwSignal::new(true);
    let per_task = RwSignal::new(5usize);
    let seed = RwSignal::new(1234u64);
    let built = RwSignal::new(None::<String>);
    let runs = move || {
        let mut v = Vec::new();
        let here = page_run.get();
        if use_page.get() && here.samples.iter().any(|s| s.generation.is_some()) {
            v.push(NamedRun { source: "this page's run".into(), report: here });
        }
        v.extend(imported.get());
        v
    };
    let add_run = move |ev: leptos::ev::Event| {
        let files = picked(&ev);
        leptos::task::spawn_local(async move {
            let read = match read_texts(&files).await {
                Ok(r) => r,
                Err(e) => return set_error.set(Some(e)),
            };
            match runs_from_files(&read) {
                Ok((runs, _)) => imported.update(|v| v.extend(runs)),
                Err(e) => set_error.set(Some(e)),
            }
        });
    };
    let build = move |_| {
        let named = runs();
        let labels = run_labels(&named);
        let sources: Vec<review::SourceRun> =
            named.into_iter().zip(labels).map(|(n, label)| review::SourceRun { label, source: n.source, report: n.report }).collect();
        match review::build(&sources, None, per_task.get_untracked(), seed.get_untracked(), &clinicbench::tasks::spec::find) {
            Ok((s, k)) => {
                set_error.set(None);
                built.set(Some(format!("{} items from {} runs. Download the set for reviewers and keep the key.", s.items.len(), sources.len())));
                set.set(Some(s));
                key.set(Some(k));
            }
            Err(e) => set_error.set(Some(e.to_string())),
        }
    };
    let download_set = move |_| {
        if let Some(s) = set.get_untracked() {
            download("review-set.json", &(serde_json::to_string_pretty(&s).unwrap_or_default() + "\n"), "application/json");
        }
    };
    let download_key = move |_| {
        if let Some(k) = key.get_untracked() {
            download("review-key.json", &(serde_json::to_string_pretty(&k).unwrap_or_default() + "\n"), "application/json");
        }
    };
    view! {
        <details id="review-build" open>
            <summary>"Build a review set from finished runs"</summary>
            <div class="row">
                <label><input type="checkbox" id="review-use-page" prop:checked=move || use_page.get() on:change=move |ev| use_page.set(event_target_checked(&ev))/>" this page's run"</label>
                <label>"Add a run (a page export, or results.json with its samples.jsonl) "
                    <input type="file" id="review-add-run" multiple accept=".json,.jsonl,application/json" on:change=add_run/></label>
            </div>
            <ul id="review-runs">
                {move || runs().into_iter().map(|r| view! { <li>{r.source}</li> }).collect_view()}
            </ul>
            <div class="row">
                <label>"Items per task " <input type="number" id="review-per-task" min="1" prop:value=move || per_task.get().to_string() on:input=move |ev| per_task.set(event_target_value(&ev).parse().unwrap_or(5))/></label>
                <label>"Seed " <input type="number" id="review-seed" prop:value=move || seed.get().to_string() on:input=move |ev| seed.set(event_target_value(&ev).parse().unwrap_or(1234))/></label>
                <button id="review-build-set" on:click=build disabled=move || runs().is_empty()>"Build the set"</button>
            </div>
            {move || built.get().map(|b| view! {
                <p id="review-built">{b}</p>
                <div class="row">
                    <button id="review-download-set" on:click=download_set>"Download the set (for reviewers)"</button>
                    <button id="review-download-key" on:click=download_key>"Download the key (keep it)"</button>
                </div>
            })}
        </details>
    }
}

/// Open a set (built here or a file) under a pseudonym, and start rating.
#[component]
fn OpenSet(set: RwSignal<Option<ReviewSet>>, session: RwSignal<Option<Session>>, adjudications: RwSignal<Adjudications>, set_error: WriteSignal<Option<String>>) -> impl IntoView {
    let pseudonym = RwSignal::new(String::new());
    let open_file = move |ev: leptos::ev::Event| {
        let files = picked(&ev);
        leptos::task::spawn_local(async move {
            let read = match read_texts(&files).await {
                Ok(r) => r,
                Err(e) => return set_error.set(Some(e)),
            };
            let Some((name, text)) = read.into_iter().next() else { return };
            match review::read_set(&name, text.as_bytes()) {
                Ok(s) => {
                    set_error.set(None);
                    set.set(Some(s));
                }
                Err(e) => set_error.set(Some(e.to_string())),
            }
        });
    };
    let start = move |_| {
        let Some(s) = set.get_untracked() else { return };
        let rater = pseudonym.get_untracked().trim().to_string();
        if rater.is_empty() {
            return set_error.set(Some("choose a pseudonym first: it names your review and sets your order of items".into()));
        }
        leptos::task::spawn_local(async move {
            // The same pseudonym on the same set goes on with its kept review.
            let kept = stored_text(&session_key(&s.hash(), &rater)).await.ok().flatten().and_then(|t| serde_json::from_str::<Session>(&t).ok());
            let sess = kept.unwrap_or_else(|| Session::new(&s, &rater, env!("CARGO_PKG_VERSION"), &now_iso()));
            let adj = match stored_text(&format!("adjudications/{}", s.hash())).await.ok().flatten() {
                Some(t) => serde_json::from_str(&t).unwrap_or_default(),
                None => Adjudications { set_hash: s.hash(), adjudications: vec![] },
            };
            if let Err(e) = async {
                store_set(&s).await?;
                store_session(&sess).await
            }
            .await
            {
                set_error.set(Some(format!("cannot keep the review in this browser: {e}")));
            }
            adjudications.set(adj);
            session.set(Some(sess));
        });
    };
    view! {
        <div id="review-open" class="row">
            <label>"Open a review set " <input type="file" id="review-set-file" accept=".json,application/json" on:change=open_file/></label>
            <label>"Your pseudonym " <input type="text" id="review-pseudonym" autocomplete="off" prop:value=move || pseudonym.get() on:input=move |ev| pseudonym.set(event_target_value(&ev))/></label>
            <button id="review-start" on:click=start disabled=move || set.with(Option::is_none)>"Start rating"</button>
            {move || set.with(|s| s.as_ref().map(|s| format!("{} items ready.", s.items.len())))}
        </div>
    }
}

/// The blinded rating view, keyboard first.
#[component]
fn RatingView(set: RwSignal<Option<ReviewSet>>, session: RwSignal<Option<Session>>, set_error: WriteSignal<Option<String>>) -> impl IntoView {
    let focus = RwSignal::new(0usize);
    let show_reference = RwSignal::new(false);
    let shown_at = StoredValue::new(now_s());
    let view_ref = NodeRef::<leptos::html::Section>::new();

    // The view takes the keyboard when it opens.
    Effect::new(move |_| {
        if let Some(el) = view_ref.get() {
            let _ = el.focus();
        }
    });
    let refocus = move || {
        let typing = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.active_element())
            .is_some_and(|e| matches!(e.tag_name().as_str(), "TEXTAREA" | "INPUT"));
        if !typing {
            if let Some(el) = view_ref.get_untracked() {
                let _ = el.focus();
            }
        }
    };
    // Saves go one at a time, the latest state last: a quick run of keys never leaves an
    // older state on top of a newer one.
    let saved = RwSignal::new(true);
    let pending = StoredValue::new(None::<Session>);
    let saving = StoredValue::new(false);
    let save = move |sess: Session| {
        pending.set_value(Some(sess));
        saved.set(false);
        if saving.get_value() {
            return;
        }
        saving.set_value(true);
        leptos::task::spawn_local(async move {
            while let Some(next) = pending.try_update_value(Option::take).flatten() {
                if let Err(e) = store_session(&next).await {
                    set_error.set(Some(format!("cannot keep the rating in this browser (export your review now): {e}")));
                }
            }
            saving.set_value(false);
            saved.set(true);
        });
    };
    // The screen shown: (item id, output ids, rows).
    let screen = move || -> Option<(String, Vec<String>, Vec<Row>, usize)> {
        set.with(|s| {
            let s = s.as_ref()?;
            session.with(|sess| {
                let sess = sess.as_ref()?;
                let all = units(s, &sess.review.rater, sess.mode);
                let u = all.get(sess.position.min(all.len().saturating_sub(1)))?;
                let outs: Vec<String> = u.outputs.iter().map(|o| o.id.clone()).collect();
                let r = rows(sess.mode, outs.len(), s.instrument.dimensions.len());
                Some((u.item.id.clone(), outs, r, all.len()))
            })
        })
    };
    // Time on the current screen, added to the session; returns the screen's total.
    let spend = move |sess: &mut Session, item: &str, first: &str| {
        let now = now_s();
        let spent = now - shown_at.get_value();
        shown_at.set_value(now);
        sess.spend(item, first, spent)
    };
    let act = move |f: &Action| {
        let Some((item, outs, rows, total)) = screen() else { return };
        let Some(s) = set.get_untracked() else { return };
        let mut changed = None;
        session.update(|sess| {
            if let Some(sess) = sess.as_mut() {
                if f(sess, &s, &item, &outs, &rows, total) {
                    changed = Some(sess.clone());
                }
            }
        });
        if let Some(sess) = changed {
            save(sess);
        }
        refocus();
    };
    let rate = move |row: Row, value: u8| {
        act(&|sess, s, item, outs, rows, _| {
            let secs = spend(sess, item, &outs[0]);
            let now = now_iso();
            let ok = match row {
                Row::Preference => {
                    let choice = match value {
                        1 => Choice::Left,
                        2 => Choice::Tie,
                        3 => Choice::Right,
                        _ => return false,
                    };
                    sess.prefer(item, &outs[0], &outs[1], choice, secs, &now);
                    true
                }
                Row::Rating(o, d) => sess.rate(item, &outs[o], &s.instrument.dimensions[d].id, value, secs, &now),
            };
            if ok {
                let at = rows.iter().position(|r| *r == row).unwrap_or(0);
                focus.set((at + 1).min(rows.len() - 1));
            }
            ok
        })
    };
    let go = move |step: isize| {
        act(&|sess, _, item, outs, _, total| {
            spend(sess, item, &outs[0]);
            let next = (sess.position as isize + step).clamp(0, total.saturating_sub(1) as isize) as usize;
            sess.position = next;
            focus.set(0);
            true
        })
    };
    let set_mode = move |mode: Mode| {
        session.update(|s| {
            if let Some(s) = s.as_mut() {
                if s.mode != mode {
                    s.mode = mode;
                    s.position = 0;
                }
            }
        });
        focus.set(0);
        if let Some(s) = session.get_untracked() {
            save(s);
        }
        refocus();
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let typing = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).is_some_and(|e| matches!(e.tag_name().as_str(), "TEXTAREA" | "INPUT"));
        if typing {
            if ev.key() == "Escape" {
                if let Some(el) = view_ref.get_untracked() {
                    let _ = el.focus();
                }
            }
            return;
        }
        let Some((_, _, rows, _)) = screen() else { return };
        let row = rows.get(focus.get_untracked()).copied().unwrap_or(Row::Preference);
        match ev.key().as_str() {
            k @ ("1" | "2" | "3" | "4") => {
                ev.prevent_default();
                rate(row, k.parse().unwrap_or(0));
            }
            "ArrowDown" | "ArrowRight" => {
                ev.prevent_default();
                focus.update(|f| *f = (*f + 1).min(rows.len() - 1));
            }
            "ArrowUp" | "ArrowLeft" => {
                ev.prevent_default();
                focus.update(|f| *f = f.saturating_sub(1));
            }
            "Enter" => {
                ev.prevent_default();
                go(1);
            }
            "Backspace" => {
                ev.prevent_default();
                go(-1);
            }
            "r" => show_reference.update(|v| *v = !*v),
            "m" => set_mode(if session.with_untracked(|s| s.as_ref().map(|s| s.mode)) == Some(Mode::Pairwise) { Mode::Absolute } else { Mode::Pairwise }),
            _ => {}
        }
    };
    let export_json = move |_| {
        if let Some(s) = session.get_untracked() {
            download(&format!("review-{}.json", file_safe(&s.review.rater)), &(serde_json::to_string_pretty(&s.review).unwrap_or_default() + "\n"), "application/json");
        }
    };
    let export_csv = move |_| {
        if let Some(s) = session.get_untracked() {
            download(&format!("review-{}.csv", file_safe(&s.review.rater)), &s.long_csv(), "text/csv");
        }
    };
    let close = move |_| {
        leptos::task::spawn_local(async move {
            let _ = close_stored().await;
        });
        session.set(None);
    };

    let body = move || {
        let (item_id, outs, rows_now, total) = screen()?;
        let s = set.get()?;
        let sess = session.get()?;
        let item = s.items.iter().find(|i| i.id == item_id)?.clone();
        let focused = focus.get();
        let dims = s.instrument.dimensions.clone();
        let letters = ["A", "B"];
        let done = sess.done(&s);
        let headline = format!(
            "Screen {} of {total} · {} · {done} of {total} complete",
            sess.position.min(total.saturating_sub(1)) + 1,
            item.task
        );
        let output_text = |id: &str| item.outputs.iter().find(|o| o.id == id).map(|o| o.text.clone()).unwrap_or_default();
        let outputs_view = outs
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let title = if outs.len() == 1 { "Output".to_string() } else { format!("Output {}", letters[i]) };
                view! { <div class="review-output"><h3>{title}</h3><pre class="generation" data-testid="review-output">{output_text(id)}</pre></div> }
            })
            .collect_view();
        let row_views = rows_now
            .iter()
            .enumerate()
            .map(|(ri, row)| {
                let row = *row;
                let is_focused = ri == focused;
                let (label, options, given): (String, Vec<(u8, String)>, Option<u8>) = match row {
                    Row::Preference => (
                        "Which output is better overall?".into(),
                        vec![(1, "A is better".into()), (2, "Tie".into()), (3, "B is better".into())],
                        sess.preference(&item_id).map(|c| match c {
                            Choice::Left => 1,
                            Choice::Tie => 2,
                            Choice::Right => 3,
                        }),
                    ),
                    Row::Rating(o, d) => {
                        let dim = &dims[d];
                        let who = if outs.len() == 1 { String::new() } else { format!("{}: ", letters[o]) };
                        (
                            format!("{who}{} — {}", dim.name, dim.question),
                            dim.scale.iter().enumerate().map(|(i, w)| (i as u8 + 1, w.clone())).collect(),
                            sess.rating(&item_id, &outs[o], &dim.id).map(|r| r.value),
                        )
                    }
                };
                let buttons = options
                    .into_iter()
                    .map(|(v, w)| {
                        let pressed = given == Some(v);
                        view! {
                            <button type="button" class="scale-point" class:chosen=pressed aria-pressed=pressed.to_string()
                                on:click=move |_| { focus.set(ri); rate(row, v) }>
                                <span class="digit">{v.to_string()}</span>" "{w}
                            </button>
                        }
                    })
                    .collect_view();
                let aria = label.clone();
                view! {
                    <div class="review-row" class:focused=is_focused role="group" aria-label=aria data-testid="review-row"
                        data-focused=is_focused.to_string() data-value=given.map(|v| v.to_string()).unwrap_or_default()>
                        <span class="question">{label}</span>
                        <div class="scale">{buttons}</div>
                    </div>
                }
            })
            .collect_view();
        // Error tags and a comment, per output (kept on its ratings: rate it first).
        let notes = outs
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let (tags, comment) = sess.annotation(&item_id, id);
                let rated = dims.iter().any(|d| sess.rating(&item_id, id, &d.id).is_some());
                let who = if outs.len() == 1 { String::new() } else { format!("{} ", letters[i]) };
                let tag_boxes = s
                    .instrument
                    .tags
                    .iter()
                    .map(|t| {
                        let on = tags.contains(&t.id);
                        let (item_id, id, tag) = (item_id.clone(), id.clone(), t.id.clone());
                        view! {
                            <label class="tag"><input type="checkbox" prop:checked=on disabled=!rated on:change=move |ev| {
                                let checked = event_target_checked(&ev);
                                let (item_id, id, tag) = (item_id.clone(), id.clone(), tag.clone());
                                act(&move |sess, _, _, _, _, _| {
                                    let (mut tags, comment) = sess.annotation(&item_id, &id);
                                    tags.retain(|x| *x != tag);
                                    if checked { tags.push(tag.clone()); }
                                    sess.annotate(&item_id, &id, &tags, &comment, &now_iso())
                                });
                            }/>" "{t.label.clone()}</label>
                        }
                    })
                    .collect_view();
                let (item_id2, id2) = (item_id.clone(), id.clone());
                view! {
                    <fieldset class="review-notes">
                        <legend>{format!("{who}error tags and comment")}</legend>
                        {tag_boxes}
                        <textarea aria-label=format!("{who}comment") rows="2" prop:value=comment disabled=!rated on:change=move |ev| {
                            let text = event_target_value(&ev);
                            let (item_id, id) = (item_id2.clone(), id2.clone());
                            act(&move |sess, _, _, _, _, _| {
                                let (tags, _) = sess.annotation(&item_id, &id);
                                sess.annotate(&item_id, &id, &tags, &text, &now_iso())
                            });
                        }></textarea>
                    </fieldset>
                }
            })
            .collect_view();
        let reference = item.reference.clone();
        Some(view! {
            <p data-testid="review-item" data-item=item_id.clone() data-position=sess.position.to_string()>{headline}</p>
            <div class="review-source">
                <h3>"Source"</h3>
                <pre class="prompt">{item.source.clone()}</pre>
                {reference.map(|r| view! {
                    <Show when=move || show_reference.get() fallback=|| view! { <p class="muted">"Reference hidden (R shows it)."</p> }>
                        <h3>"Reference"</h3><pre class="reference">{r.clone()}</pre>
                    </Show>
                })}
            </div>
            <div class="review-outputs" class:pair=outs.len() == 2>{outputs_view}</div>
            <div class="review-rows">{row_views}</div>
            {notes}
        })
    };

    view! {
        <section id="rating-view" data-testid="rating-view" tabindex="0" node_ref=view_ref on:keydown=on_key data-saved=move || saved.get().to_string()
            aria-label="Rating view: digits 1 to 4 rate the focused row, arrows move between rows, Enter goes on, Backspace goes back, R shows the reference, M switches mode">
            <div class="row">
                <label><input type="radio" name="review-mode" id="review-mode-absolute" prop:checked=move || session.with(|s| s.as_ref().is_some_and(|s| s.mode == Mode::Absolute)) on:change=move |_| set_mode(Mode::Absolute)/>" one output at a time"</label>
                <label><input type="radio" name="review-mode" id="review-mode-pairwise" prop:checked=move || session.with(|s| s.as_ref().is_some_and(|s| s.mode == Mode::Pairwise)) on:change=move |_| set_mode(Mode::Pairwise)/>" two side by side"</label>
                <label><input type="checkbox" id="review-show-reference" prop:checked=move || show_reference.get() on:change=move |ev| show_reference.set(event_target_checked(&ev))/>" show the reference"</label>
            </div>
            <p class="muted keys">"Keys: 1–4 rate the focused row (pairwise: 1 A better, 2 tie, 3 B better) · ↑ ↓ move between rows · Enter next · Backspace back · R reference · M mode"</p>
            <p class="muted" aria-live="polite">{move || if saved.get() { "Every rating is kept in this browser." } else { "Keeping…" }}</p>
            {body}
            <div class="row">
                <button id="review-back" on:click=move |_| go(-1)>"Back"</button>
                <button id="review-next" on:click=move |_| go(1)>"Next"</button>
                <button id="review-export-json" on:click=export_json>"Export my review (JSON)"</button>
                <button id="review-export-csv" on:click=export_csv>"Export my review (CSV)"</button>
                <button id="review-close" on:click=close>"Close the review"</button>
            </div>
        </section>
    }
}

/// A pseudonym made safe for a file name.
fn file_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "undefined".to_string(), |v| format!("{v:.3}"))
}

fn ci(x: Option<[f64; 2]>) -> String {
    x.map_or_else(|| "-".to_string(), |[lo, hi]| format!("[{lo:.3}, {hi:.3}]"))
}

fn full(x: Option<f64>) -> String {
    x.map_or_else(|| "null".to_string(), |v| format!("{v:?}"))
}

/// Several reviewers' files together: agreement, each run's ratings, pairwise preferences, the
/// disagreement queue with adjudication.
#[component]
fn ReviewResults(
    set: RwSignal<Option<ReviewSet>>,
    key: RwSignal<Option<Key>>,
    session: RwSignal<Option<Session>>,
    adjudications: RwSignal<Adjudications>,
    set_error: WriteSignal<Option<String>>,
) -> impl IntoView {
    let page = super::state::page();
    let others = RwSignal::new(Reviews::default());
    let include_own = RwSignal::new(true);
    let notes = RwSignal::new(Vec::<String>::new());
    let import = move |ev: leptos::ev::Event| {
        let files = picked(&ev);
        leptos::task::spawn_local(async move {
            let read = match read_texts(&files).await {
                Ok(r) => r,
                Err(e) => return set_error.set(Some(e)),
            };
            // Each file checked on its own: a bad one is named and the rest still come in.
            let s = set.get_untracked();
            let mut all = others.get_untracked();
            let mut errors = Vec::new();
            for (name, text) in read {
                if name.to_ascii_lowercase().contains("key") && text.contains("\"outputs\"") && !text.contains("\"ratings\"") {
                    match review::read_key(&name, text.as_bytes()) {
                        Ok(k) if s.as_ref().is_some_and(|s| s.hash() != k.set_hash) => errors.push(format!("{name}: the key of another set (set hash differs)")),
                        Ok(k) => key.set(Some(k)),
                        Err(e) => errors.push(e.to_string()),
                    }
                    continue;
                }
                match all.add(&name, text.as_bytes(), s.as_ref()) {
                    Ok(Some(n)) => notes.update(|v| v.push(n)),
                    Ok(None) => {}
                    Err(e) => errors.push(e.to_string()),
                }
            }
            others.set(all);
            set_error.set((!errors.is_empty()).then(|| errors.join("; ")));
        });
    };
    let results = Memo::new(move |_| {
        let mut all = others.get();
        let mut problems = Vec::new();
        if include_own.get() {
            if let Some(own) = session.get() {
                if let Err(e) = all.add_review("this browser's review", own.review) {
                    problems.push(e.to_string());
                }
            }
        }
        if let Some(judge) = page.judged.get() {
            if let Err(e) = all.add_review("the loaded model's review", judge) {
                problems.push(e.to_string());
            }
        }
        let k = key.get();
        (!all.is_empty()).then(|| (all.results(k.as_ref()), all.reviews.iter().map(|(n, r)| format!("{} ({n})", r.rater)).collect::<Vec<_>>(), problems))
    });
    let output_of = move |item: &str, run: &str| -> Option<String> {
        let s = set.get_untracked()?;
        let item = s.items.iter().find(|i| i.id == item)?;
        let k = key.get_untracked();
        let id = k
            .as_ref()
            .and_then(|k| item.outputs.iter().find(|o| k.outputs.get(&o.id).and_then(|&i| k.runs.get(i)).is_some_and(|r| r.label == run)))
            .or_else(|| item.outputs.iter().find(|o| o.id == run))?;
        Some(id.text.clone())
    };
    // The loaded model as one more rater: it never sees which run wrote an output.
    let judge = move |_| {
        let (Some(s), Some(m)) = (set.get_untracked(), page.model.get_untracked()) else { return };
        if s.hash() != page.judged.with_untracked(|j| j.as_ref().map(|j| j.set_hash.clone())).unwrap_or_default() {
            page.judged.set(None);
        }
        page.busy.set(true);
        page.error.set(None);
        page.judging.set(Some((0, s.items.len())));
        page.status.set("The model is judging the set…".into());
        super::worker::send(&clinicbench::web::ToWorker::Judge { set: Box::new(s), rater: format!("judge:{}", m.file_name), now: now_iso() }, None);
    };
    let export_judge = move |_| {
        if let Some(j) = page.judged.get_untracked() {
            download(&format!("review-{}.json", file_safe(&j.rater)), &(serde_json::to_string_pretty(&j).unwrap_or_default() + "\n"), "application/json");
        }
    };
    let export_adjudications = move |_| {
        download("review-adjudications.json", &(serde_json::to_string_pretty(&adjudications.get_untracked()).unwrap_or_default() + "\n"), "application/json");
    };

    view! {
        <details id="review-results" open>
            <summary>"Results"</summary>
            <div class="row">
                <label>"Reviewers' files (JSON or long CSV), and the key to name the runs " <input type="file" id="review-import" multiple accept=".json,.csv,application/json,text/csv" on:change=import/></label>
                <label><input type="checkbox" id="review-include-own" prop:checked=move || include_own.get() on:change=move |ev| include_own.set(event_target_checked(&ev))/>" include this browser's review"</label>
            </div>
            <div class="row">
                <button id="review-judge" on:click=judge
                    disabled=move || set.with(Option::is_none) || page.model.with(Option::is_none) || page.busy.get() || page.running.get()>
                    "Let the loaded model judge the set (one more rater)"
                </button>
                <button id="review-export-judge" on:click=export_judge disabled=move || page.judged.with(Option::is_none)>"Export the model's review"</button>
                {move || page.judging.get().map(|(done, total)| view! { <progress id="review-judging" max=total.max(1).to_string() value=done.to_string()></progress> })}
            </div>
            {move || notes.get().into_iter().map(|n| view! { <p class="muted">{n}</p> }).collect_view()}
            {move || match results.get() {
                None => view! { <p class="muted">"No ratings yet: rate a set, or import reviewers' files."</p> }.into_any(),
                Some((r, raters, problems)) => {
                    let agreement = r.stats.dimensions.iter().map(|(dim, d)| view! {
                        <tr>
                            <td>{dim.clone()}</td>
                            <td data-testid=format!("alpha-{dim}") data-value=full(d.alpha)>{num(d.alpha)}</td><td>{ci(d.alpha_ci95)}</td>
                            <td data-testid=format!("kappa-{dim}") data-value=full(d.kappa)>{num(d.kappa)}</td><td>{ci(d.kappa_ci95)}</td>
                            <td data-testid=format!("exact-{dim}") data-value=full(d.exact_agreement)>{num(d.exact_agreement)}</td><td>{ci(d.exact_agreement_ci95)}</td>
                            <td>{d.units_rated_twice}</td>
                        </tr>
                    }).collect_view();
                    let per_run = r.stats.dimensions.iter().flat_map(|(dim, d)| d.runs.iter().map(move |(run, x)| {
                        let dist = x.distribution.map(|c| c.to_string()).join(" / ");
                        view! { <tr><td>{dim.clone()}</td><td>{run.clone()}</td><td>{format!("{:.3}", x.mean)}</td><td>{ci(x.ci95)}</td><td>{x.items}</td><td>{dist}</td></tr> }
                    }).collect::<Vec<_>>()).collect_view();
                    let tags = r.tags.iter().map(|(run, rates)| {
                        let list = rates.iter().map(|(t, v)| format!("{t} {:.0}%", 100.0 * v)).collect::<Vec<_>>().join(", ");
                        view! { <li>{format!("{run}: {}", if list.is_empty() { "no tags".into() } else { list })}</li> }
                    }).collect_view();
                    let pairs = r.pairwise.pairs.iter().map(|p| view! {
                        <tr><td>{p.a.clone()}</td><td>{p.b.clone()}</td><td>{p.a_wins}</td><td>{p.ties}</td><td>{p.b_wins}</td><td>{format!("{:.3}", p.a_win_rate)}</td><td>{ci(p.a_win_rate_ci95)}</td></tr>
                    }).collect_view();
                    let ranking = r.pairwise.bradley_terry.clone().map(|ranked| ranked.iter().map(|(run, s)| format!("{run} {s:+.3}")).collect::<Vec<_>>().join(" > "));
                    let ranking_note = r.pairwise.ranking_note.clone();
                    let queue = r.disagreements.iter().map(|d| {
                        let (item, run, dim) = (d.item.clone(), d.run.clone(), d.dimension.clone());
                        let given = d.ratings.iter().map(|(who, v)| format!("{who} {v}")).collect::<Vec<_>>().join(", ");
                        let text = output_of(&item, &run).unwrap_or_default();
                        let chosen = RwSignal::new(String::new());
                        let note = RwSignal::new(String::new());
                        let (i2, r2, d2) = (item.clone(), run.clone(), dim.clone());
                        let recorded = move || adjudications.with(|a| a.of(&i2, &r2, &d2).map(|a| format!("adjudicated: {} ({}){}", a.value, a.by, if a.note.is_empty() { String::new() } else { format!(": {}", a.note) })));
                        let record = move |_| {
                            let Ok(value) = chosen.get_untracked().parse::<u8>() else { return };
                            let by = session.get_untracked().map(|s| s.review.rater).unwrap_or_else(|| "adjudicator".into());
                            let mut a = adjudications.get_untracked();
                            if a.set_hash.is_empty() {
                                a.set_hash = set.get_untracked().map(|s| s.hash()).unwrap_or_default();
                            }
                            if a.record(Adjudication { item: item.clone(), run: run.clone(), dimension: dim.clone(), value, by, note: note.get_untracked(), at: now_iso() }) {
                                adjudications.set(a.clone());
                                leptos::task::spawn_local(async move {
                                    if let Err(e) = store_adjudications(&a).await {
                                        set_error.set(Some(format!("cannot keep the adjudication in this browser (export them now): {e}")));
                                    }
                                });
                            }
                        };
                        view! {
                            <li class="disagreement" data-testid="disagreement">
                                <details>
                                    <summary>{format!("{} · {} · {}: {given}", d.item, d.run, d.dimension)}</summary>
                                    <pre class="generation">{text}</pre>
                                </details>
                                <div class="row">
                                    <select aria-label="Adjudicated rating" on:change=move |ev| chosen.set(event_target_value(&ev))>
                                        <option value="">"adjudicate…"</option>
                                        <option value="1">"1"</option><option value="2">"2"</option><option value="3">"3"</option><option value="4">"4"</option>
                                    </select>
                                    <input type="text" aria-label="Adjudication note" placeholder="note" on:input=move |ev| note.set(event_target_value(&ev))/>
                                    <button on:click=record>"Record beside the ratings"</button>
                                    <span class="muted">{recorded}</span>
                                </div>
                            </li>
                        }
                    }).collect_view();
                    view! {
                        {problems.into_iter().map(|p| view! { <p class="error">{p}</p> }).collect_view()}
                        <p id="review-raters">{format!("Raters: {}", raters.join(", "))}</p>
                        <h3>"Agreement (per dimension, over every output)"</h3>
                        <table id="review-agreement">
                            <thead><tr><th>"dimension"</th><th>"Krippendorff's alpha (ordinal)"</th><th>"95% interval"</th><th>"Cohen's kappa (quadratic, two raters)"</th><th>"95% interval"</th><th>"exact agreement"</th><th>"95% interval"</th><th>"outputs rated twice"</th></tr></thead>
                            <tbody>{agreement}</tbody>
                        </table>
                        {r.stats.notes.iter().map(|n| view! { <p class="muted">{n.clone()}</p> }).collect_view()}
                        <h3>"Each run's ratings"</h3>
                        <table id="review-runs-table">
                            <thead><tr><th>"dimension"</th><th>"run"</th><th>"mean"</th><th>"95% interval"</th><th>"items"</th><th>"ratings 1 / 2 / 3 / 4"</th></tr></thead>
                            <tbody>{per_run}</tbody>
                        </table>
                        <h3>"Error tags"</h3>
                        <ul id="review-tags">{tags}</ul>
                        <h3>"Pairwise"</h3>
                        <table id="review-pairwise">
                            <thead><tr><th>"a"</th><th>"b"</th><th>"a wins"</th><th>"ties"</th><th>"b wins"</th><th>"a's win rate"</th><th>"95% interval"</th></tr></thead>
                            <tbody>{pairs}</tbody>
                        </table>
                        {ranking.map(|t| view! { <p id="review-ranking">{format!("Bradley–Terry log-strengths: {t}")}</p> })}
                        {ranking_note.map(|t| view! { <p class="muted">{format!("No ranking: {t}")}</p> })}
                        <h3>"Disagreements (2 points or more)"</h3>
                        <ol id="review-disagreements">{queue}</ol>
                        <button id="review-export-adjudications" on:click=export_adjudications>"Export adjudications (JSON)"</button>
                    }.into_any()
                }
            }}
        </details>
    }
}
