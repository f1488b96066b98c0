//! Files in and out of the page: the files an `<input type=file>` holds, read as text, and a
//! text handed to the user as a download. Nothing here touches the network.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The files an input's change event carries.
pub fn picked(ev: &leptos::ev::Event) -> Vec<web_sys::File> {
    let input: web_sys::HtmlInputElement = event_target(ev);
    let files = input.files().map(|list| (0..list.length()).filter_map(|i| list.get(i)).collect()).unwrap_or_default();
    // The same file picked again is a change too.
    input.set_value("");
    files
}

/// Each file's name and text, in order; the first that cannot be read is named.
pub async fn read_texts(files: &[web_sys::File]) -> Result<Vec<(String, String)>, String> {
    let mut read = Vec::with_capacity(files.len());
    for f in files {
        let name = f.name();
        match gloo_file::futures::read_as_text(&gloo_file::File::from(f.clone())).await {
            Ok(text) => read.push((name, text)),
            Err(e) => return Err(format!("{name}: cannot read it ({e})")),
        }
    }
    Ok(read)
}

/// Offers `text` as a file named `name`.
pub fn download(name: &str, text: &str, mime: &str) {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    if let Some(a) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}
