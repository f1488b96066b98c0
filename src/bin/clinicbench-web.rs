//! The page: a model and a benchmark become scores, live, in the browser, with nothing leaving
//! the device. The UI thread only renders; a worker ([`clinicbench::web::Session`]) runs the
//! model. Model and dataset text is only ever rendered as text, never as HTML.
//!
//! The UI is in `clinicbench-web/`, one component per section.

#[cfg(target_arch = "wasm32")]
#[path = "clinicbench-web/mod.rs"]
mod page;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("clinicbench-web is the page's WebAssembly UI: build the page with `trunk build`");
}

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(page::app::App);
}
