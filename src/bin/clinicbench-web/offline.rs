//! The page's service worker (`www/sw.js`, our code from our origin): registered here, with the
//! isolation header it should send (`credentialless` where this browser has it); what it gives
//! (the page offline after one visit, cross-origin isolation) or why not, for the model card; and
//! a newer build offered, never swapped in under a running evaluation.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// What the service worker gives this page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Offline {
    /// The page is kept for use without the network.
    pub ready: bool,
    /// `crossOriginIsolated`: SharedArrayBuffer is available.
    pub isolated: bool,
    /// Why not, where it does not.
    pub missing: Option<String>,
    /// A newer build is installed and waits for the user.
    pub update_waiting: bool,
}

impl Offline {
    /// One line for the model card.
    pub fn summary(&self) -> String {
        let offline = if self.ready { "works offline (kept in this browser)" } else { "is not kept for offline use" };
        let isolated = if self.isolated {
            "cross-origin isolated (SharedArrayBuffer available)".to_string()
        } else if self.ready {
            "not cross-origin isolated yet: it will be from the next load".to_string()
        } else {
            "not cross-origin isolated".to_string()
        };
        match &self.missing {
            Some(why) => format!("This page {offline}; {isolated}: {why}."),
            None => format!("This page {offline}; {isolated}."),
        }
    }
}

fn get(target: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(target, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Whether the browser has COEP `credentialless` (Chromium's iframes carry the attribute).
fn has_credentialless() -> bool {
    let proto = get(&get(&js_sys::global(), "HTMLIFrameElement"), "prototype");
    proto.is_object() && js_sys::Reflect::has(&proto, &"credentialless".into()).unwrap_or(false)
}

/// Registers the service worker and keeps `state` current.
pub fn start(state: RwSignal<Offline>) {
    let Some(window) = web_sys::window() else { return };
    let isolated = get(&window, "crossOriginIsolated").as_bool() == Some(true);
    state.update(|s| s.isolated = isolated);
    if !window.is_secure_context() {
        return state.update(|s| {
            s.missing = Some(
                "service workers and SharedArrayBuffer need HTTPS or localhost, and this page came over plain http:// (serve it over HTTPS, or open it on localhost)"
                    .into(),
            )
        });
    }
    let container = window.navigator().service_worker();
    if !get(&window.navigator(), "serviceWorker").is_object() {
        return state.update(|s| s.missing = Some("this browser offers no service workers".into()));
    }
    let coep = if has_credentialless() { "credentialless" } else { "require-corp" };
    let registered = container.register(&format!("./sw.js?coep={coep}"));
    wasm_bindgen_futures::spawn_local(async move {
        let registration: web_sys::ServiceWorkerRegistration = match wasm_bindgen_futures::JsFuture::from(registered).await {
            Ok(r) => r.unchecked_into(),
            Err(e) => {
                let why = e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|| format!("{e:?}"));
                return state.update(|s| s.missing = Some(format!("the service worker could not be registered ({why})")));
            }
        };
        watch_updates(&registration, state);
        if let Ok(ready) = container.ready() {
            if wasm_bindgen_futures::JsFuture::from(ready).await.is_ok() {
                state.update(|s| s.ready = true);
            }
        }
    });
}

/// A newer build found installed (now, or later while the page is open) is offered.
fn watch_updates(registration: &web_sys::ServiceWorkerRegistration, state: RwSignal<Offline>) {
    let has_controller = || web_sys::window().and_then(|w| w.navigator().service_worker().controller()).is_some();
    if registration.waiting().is_some() && has_controller() {
        state.update(|s| s.update_waiting = true);
    }
    let reg = registration.clone();
    let found = gloo_events::EventListener::new(registration, "updatefound", move |_| {
        let Some(installing) = reg.installing() else { return };
        let watched = installing.clone();
        let changed = gloo_events::EventListener::new(&installing, "statechange", move |_| {
            // The first install has no page to replace: only a build installed beside a
            // running one is "newer".
            if watched.state() == web_sys::ServiceWorkerState::Installed && has_controller() {
                state.update(|s| s.update_waiting = true);
            }
        });
        changed.forget();
    });
    found.forget();
}

/// The user chose the newer build: it takes over, and the page reloads into it.
pub fn use_newer_build() {
    let Some(window) = web_sys::window() else { return };
    let container = window.navigator().service_worker();
    let reload = gloo_events::EventListener::once(&container, "controllerchange", |_| {
        if let Some(w) = web_sys::window() {
            let _ = w.location().reload();
        }
    });
    reload.forget();
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(r) = wasm_bindgen_futures::JsFuture::from(container.get_registration()).await else { return };
        let Ok(registration) = r.dyn_into::<web_sys::ServiceWorkerRegistration>() else { return };
        if let Some(waiting) = registration.waiting() {
            let _ = waiting.post_message(&"activate".into());
        }
    });
}

/// The offer of a newer build.
#[component]
pub fn NewerBuild() -> impl IntoView {
    let page = super::state::page();
    let state = page.offline;
    view! {
        <Show when=move || state.with(|s| s.update_waiting)>
            <section id="newer-build" class="notice" role="status">
                <p>"A newer version of ClinicBench Web is ready. It takes over when you choose, never during a run."</p>
                <button id="use-newer-build" on:click=move |_| use_newer_build() disabled=move || page.running.get()>"Use it now (reloads the page)"</button>
            </section>
        </Show>
    }
}
