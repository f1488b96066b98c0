//! ClinicBench patch: a limit on the data one render makes.
//!
//! Fuel bounds the steps a template takes, but one step can double a string (`s ~ s`,
//! `s + s`, a `{% set %}` block capturing itself twice), so forty steps make a terabyte.
//! A budget set on the rendering thread is charged, before or as they are made, for the
//! strings and sequences that operators, captures, filters, functions and methods make, and
//! for every item a container writes when it is displayed, serialized or joined; once spent,
//! the render fails with [`ErrorKind::OutOfMemory`]. The charge is cumulative (nothing is
//! given back when a value is dropped), so the memory a render holds stays below it. Without a
//! budget (the default) nothing is charged and minijinja behaves as published.

use std::cell::Cell;
use std::fmt;

use crate::error::{Error, ErrorKind};
use crate::value::{Value, ValueMap};

thread_local! {
    /// Bytes this thread's render may still make; `None`: no limit.
    static LEFT: Cell<Option<usize>> = const { Cell::new(None) };
    /// The budget set, for the message.
    static LIMIT: Cell<usize> = const { Cell::new(0) };
}

/// What one item of a sequence or map is charged beyond its text: its slot and separators.
pub(crate) const ITEM_COST: usize = 24;

/// Sets the budget of the renders on this thread to `bytes` (`None`: no limit) and returns a
/// guard that puts the previous budget back when dropped.
pub fn set_thread_budget(bytes: Option<usize>) -> BudgetGuard {
    let previous = (LEFT.with(Cell::get), LIMIT.with(Cell::get));
    LEFT.with(|l| l.set(bytes));
    LIMIT.with(|l| l.set(bytes.unwrap_or(0)));
    BudgetGuard { previous }
}

/// Puts the previous budget back on drop (see [`set_thread_budget`]).
#[must_use = "the budget is lifted again when the guard is dropped"]
pub struct BudgetGuard {
    previous: (Option<usize>, usize),
}

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        LEFT.with(|l| l.set(self.previous.0));
        LIMIT.with(|l| l.set(self.previous.1));
    }
}

/// True once a charge on this thread failed: a `fmt::Error` that follows came from the budget.
pub(crate) fn is_spent() -> bool {
    LEFT.with(|l| l.get() == Some(0))
}

/// The error a spent budget gives.
pub(crate) fn spent_error() -> Error {
    Error::new(
        ErrorKind::OutOfMemory,
        format!(
            "the template made more than {} bytes of data",
            LIMIT.with(Cell::get)
        ),
    )
}

/// Charges `bytes`; fails (and spends the rest) when fewer are left.
pub(crate) fn spend(bytes: usize) -> Result<(), Error> {
    LEFT.with(|l| match l.get() {
        None => Ok(()),
        Some(left) if bytes <= left && left > 0 => {
            l.set(Some(left - bytes));
            Ok(())
        }
        Some(_) => {
            l.set(Some(0));
            Err(spent_error())
        }
    })
}

/// [`spend`] for the inside of `fmt` implementations.
pub(crate) fn spend_fmt(bytes: usize) -> fmt::Result {
    spend(bytes).map_err(|_| fmt::Error)
}

/// A `fmt::Error` turned into the budget's error where the budget caused it.
pub(crate) fn fmt_error(err: fmt::Error) -> Error {
    Error::from(err)
}

/// What a value made by an operation costs: a string its bytes, a list or map held in memory
/// [`ITEM_COST`] an item (two for a map's), anything else one item. Lazy sequences (`range`,
/// a concatenation, a repetition) hold no items; the operators that make them are charged for
/// their length instead, and writing them out is charged item by item.
pub(crate) fn cost_of(value: &Value) -> usize {
    if let Some(bytes) = value.as_bytes() {
        return bytes.len();
    }
    if let Some(list) = value.downcast_object_ref::<Vec<Value>>() {
        return list.len().saturating_mul(ITEM_COST);
    }
    if let Some(map) = value.downcast_object_ref::<ValueMap>() {
        return map.len().saturating_mul(2 * ITEM_COST);
    }
    ITEM_COST
}

/// The charge for writing `value` as an item of a container: its text if it is a string (the
/// same text again for every time it is written), else one item.
pub(crate) fn item_cost(value: &Value) -> usize {
    match value.as_bytes() {
        Some(bytes) => bytes.len().saturating_add(ITEM_COST),
        None => ITEM_COST,
    }
}

/// A string that charges the budget for what is written into it.
#[derive(Default)]
pub(crate) struct ChargedString(pub(crate) String);

impl fmt::Write for ChargedString {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        spend_fmt(s.len())?;
        self.0.push_str(s);
        Ok(())
    }
}

/// Bytes that charge the budget for what is written into them.
#[cfg(feature = "json")]
#[derive(Default)]
pub(crate) struct ChargedBytes(pub(crate) Vec<u8>);

#[cfg(feature = "json")]
impl std::io::Write for ChargedBytes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        spend(buf.len()).map_err(|_| std::io::Error::other("budget spent"))?;
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `value` displayed into a string, charged as it is written.
pub(crate) fn display(value: &Value) -> Result<String, Error> {
    let mut out = ChargedString::default();
    fmt::Write::write_fmt(&mut out, format_args!("{value}")).map_err(fmt_error)?;
    Ok(out.0)
}
