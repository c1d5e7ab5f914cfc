//! A stream of frames fed to a board the way the server's room does: decode, apply updates with
//! the server's own apply path, apply awareness, answer step 1 with a diff, then snapshot and
//! reload. A yrs panic that the server's guard catches is answered as the server answers it
//! (the board is reloaded from storage); any other panic or inconsistency is a crash.
#![no_main]

#[path = "../../tests/support/board_session.rs"]
mod support;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // libFuzzer's hook aborts on every panic, even one the server's `catch_unwind` guard handles.
    // A quiet hook lets those guards work; a panic that escapes them still reaches libfuzzer-sys,
    // which aborts and reports the crash.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    support::board_session(data);
});
