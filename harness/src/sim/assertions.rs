//! A failed assertion in the code under simulation (the consensus core's
//! own: a chosen value never changes, one value per ballot and slot,
//! ballots only grow, ...) is a finding of the seed that hit it, not the
//! end of the whole run: that seed fails with the assertion's message and
//! place, its history and trace so far are kept, and the other seeds go on.
//! A planted bug is often caught this way first. (A panic of the
//! simulator's own code is caught the same way; its place says so.)

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Whether this thread is running a seed (its panics are caught).
    static IN_SEED: Cell<bool> = const { Cell::new(false) };
    /// The last caught panic's message and place.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Runs `f`; a panic inside it comes back as `Err("message at file:line")`
/// instead of unwinding further, and is not printed.
pub fn catching<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_hook();
    let was = IN_SEED.replace(true);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    IN_SEED.set(was);
    result.map_err(|payload| {
        CAUGHT
            .take()
            .unwrap_or_else(|| message(payload.as_ref()).to_string())
    })
}

/// Panics outside a seed still reach the hook that was there before.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_SEED.get() {
                let place = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let what = format!("{}{place}", message(info.payload()));
                CAUGHT.set(Some(what));
            } else {
                previous(info);
            }
        }));
    });
}

fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a panic without a message"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_comes_back_with_its_message_and_place() {
        let r: Result<(), String> = catching(|| panic!("ballots only grow: {}", 3));
        let e = r.expect_err("caught");
        assert!(e.starts_with("ballots only grow: 3 at "), "{e}");
        assert!(e.contains("assertions.rs:"), "{e}");
        assert_eq!(catching(|| 7), Ok(7));
        // After a caught panic, the thread is no longer in a seed.
        assert!(!IN_SEED.get());
    }
}
