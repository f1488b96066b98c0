//! The page's IndexedDB: each run's settings (`runs`, with its dataset file as a Blob), each
//! finished sample (`samples`, keyed `<run id>/<doc id>`), so a reload resumes a run; and each
//! reviewer's work (`reviews`: the set, the session after every rating, adjudications), so a
//! reload resumes a review at the same item.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbRequest, IdbTransactionMode};

const DB: &str = "clinicbench";
/// 2 added `reviews`; an upgrade creates the stores a database lacks (creating one that exists
/// fails, and is ignored).
const VERSION: u32 = 2;

fn err(e: JsValue) -> String {
    format!("IndexedDB: {e:?}")
}

/// A request's result, once it succeeds.
async fn done(req: &IdbRequest) -> Result<JsValue, String> {
    let req2 = req.clone();
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call1(&JsValue::NULL, &JsValue::TRUE);
        });
        let bad = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str("request failed"));
        });
        req2.set_onsuccess(Some(ok.unchecked_ref()));
        req2.set_onerror(Some(bad.unchecked_ref()));
    });
    JsFuture::from(promise).await.map_err(err)?;
    req.result().map_err(err)
}

pub async fn open() -> Result<IdbDatabase, String> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or("IndexedDB is not available")?;
    let req = factory.open_with_u32(DB, VERSION).map_err(err)?;
    let upgrade = Closure::<dyn FnMut(web_sys::IdbVersionChangeEvent)>::new(move |ev: web_sys::IdbVersionChangeEvent| {
        let db: Option<IdbDatabase> = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::IdbOpenDbRequest>().ok())
            .and_then(|r| r.result().ok())
            .and_then(|r| r.dyn_into().ok());
        if let Some(db) = db {
            let _ = db.create_object_store("runs");
            let _ = db.create_object_store("samples");
                let _ = db.create_object_store("reviews");
        }
    });
    req.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    upgrade.forget();
    let db = done(&req).await?;
    db.dyn_into().map_err(err)
}

/// The value under `key`, if any.
pub async fn get(db: &IdbDatabase, store: &str, key: &str) -> Result<Option<JsValue>, String> {
    let tx = db.transaction_with_str(store).map_err(err)?;
    let req = tx.object_store(store).map_err(err)?.get(&JsValue::from_str(key)).map_err(err)?;
    let v = done(&req).await?;
    Ok((!v.is_undefined() && !v.is_null()).then_some(v))
}

pub async fn put(db: &IdbDatabase, store: &str, key: &str, value: &JsValue) -> Result<(), String> {
    let tx = db.transaction_with_str_and_mode(store, IdbTransactionMode::Readwrite).map_err(err)?;
    let req = tx.object_store(store).map_err(err)?.put_with_key(value, &JsValue::from_str(key)).map_err(err)?;
    done(&req).await.map(|_| ())
}

/// Every (key, value) of a store whose key starts with `prefix`.
pub async fn entries(db: &IdbDatabase, store: &str, prefix: &str) -> Result<Vec<(String, JsValue)>, String> {
    let tx = db.transaction_with_str(store).map_err(err)?;
    let os = tx.object_store(store).map_err(err)?;
    let keys = done(&os.get_all_keys().map_err(err)?).await?;
    let values = done(&os.get_all().map_err(err)?).await?;
    let keys: js_sys::Array = keys.dyn_into().map_err(err)?;
    let values: js_sys::Array = values.dyn_into().map_err(err)?;
    Ok(keys
        .iter()
        .zip(values.iter())
        .filter_map(|(k, v)| k.as_string().map(|k| (k, v)))
        .filter(|(k, _)| k.starts_with(prefix))
        .collect())
}

pub async fn delete_prefix(db: &IdbDatabase, store: &str, prefix: &str) -> Result<(), String> {
    let keys: Vec<String> = entries(db, store, prefix).await?.into_iter().map(|(k, _)| k).collect();
    let tx = db.transaction_with_str_and_mode(store, IdbTransactionMode::Readwrite).map_err(err)?;
    let os = tx.object_store(store).map_err(err)?;
    for k in keys {
        let _ = os.delete(&JsValue::from_str(&k));
    }
    Ok(())
}


/// A run as its checkpoint keeps it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunMeta {
    pub id: String,
    pub request: clinicbench::web::RunRequest,
    pub model_name: String,
    pub model_sha256: String,
    /// The LoRA adapters the model ran with: a run goes on only over the same ones (by SHA-256
    /// and scale), or its documents would mix two models. (Absent in older checkpoints: none.)
    #[serde(default)]
    pub adapters: Vec<clinicbench::report::AdapterProvenance>,
    pub finished: bool,
}

impl RunMeta {
    /// Whether `model` is the model this run ran on: its bytes and its adapters.
    pub fn same_model(&self, model: &super::state::Loaded) -> bool {
        let key = |a: &clinicbench::report::AdapterProvenance| (a.sha256.clone(), a.scale.to_bits());
        model.sha256 == self.model_sha256 && model.adapters.iter().map(key).eq(self.adapters.iter().map(key))
    }
}

fn record(meta: &RunMeta, data: Option<&web_sys::Blob>) -> JsValue {
    let obj = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&obj, &"json".into(), &serde_json::to_string(meta).unwrap_or_default().into());
    if let Some(d) = data {
        let _ = js_sys::Reflect::set(&obj, &"data".into(), d);
    }
    obj.into()
}

/// Keeps a run's settings (and its dataset file); a failure goes to `on_error`.
pub fn save_run(meta: RunMeta, data: Option<web_sys::Blob>, on_error: impl Fn(String) + 'static) {
    wasm_bindgen_futures::spawn_local(async move {
        let r = async {
            let db = open().await?;
            put(&db, "runs", &meta.id, &record(&meta, data.as_ref())).await
        }
        .await;
        if let Err(e) = r {
            on_error(format!("cannot checkpoint the run: {e}"));
        }
    });
}

/// Keeps a finished sample of a run.
pub fn save_sample(run_id: String, sample: clinicbench::tasks::Sample, on_error: impl Fn(String) + 'static) {
    wasm_bindgen_futures::spawn_local(async move {
        let r = async {
            let db = open().await?;
            let key = format!("{run_id}/{:08}", sample.doc_id);
            let text = serde_json::to_string(&sample).map_err(|e| e.to_string())?;
            put(&db, "samples", &key, &JsValue::from_str(&text)).await
        }
        .await;
        if let Err(e) = r {
            on_error(format!("cannot checkpoint a sample: {e}"));
        }
    });
}

/// The most recent unfinished run, with its dataset file and finished samples.
pub async fn interrupted_run() -> Result<Option<(RunMeta, Option<web_sys::Blob>, Vec<clinicbench::tasks::Sample>)>, String> {
    let db = open().await?;
    let mut runs: Vec<(RunMeta, Option<web_sys::Blob>)> = entries(&db, "runs", "")
        .await?
        .into_iter()
        .filter_map(|(_, v)| {
            let json = js_sys::Reflect::get(&v, &"json".into()).ok()?.as_string()?;
            let meta: RunMeta = serde_json::from_str(&json).ok()?;
            let data = js_sys::Reflect::get(&v, &"data".into()).ok().and_then(|d| d.dyn_into::<web_sys::Blob>().ok());
            Some((meta, data))
        })
        .filter(|(m, _)| !m.finished)
        .collect();
    runs.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    let Some((meta, data)) = runs.pop() else { return Ok(None) };
    let mut samples: Vec<clinicbench::tasks::Sample> = entries(&db, "samples", &format!("{}/", meta.id))
        .await?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_str(&v.as_string()?).ok())
        .collect();
    samples.sort_by_key(|s| s.doc_id);
    Ok(Some((meta, data, samples)))
}

/// Forgets a run's samples and marks it finished, so it is not offered again.
pub fn forget_run(meta: RunMeta) {
    wasm_bindgen_futures::spawn_local(async move {
        if let Ok(db) = open().await {
            let _ = delete_prefix(&db, "samples", &format!("{}/", meta.id)).await;
            let id = meta.id.clone();
            let _ = put(&db, "runs", &id, &record(&RunMeta { finished: true, ..meta }, None)).await;
        }
    });
}
