//! A stream of frames fed to a board the way the server's room does: decode, apply updates with
//! the server's own apply path, apply awareness, answer step 1 with a diff, then snapshot and
//! reload. Nothing may panic (libFuzzer's panic hook aborts, so yrs panics are found even though
//! the server would survive them by reloading the board).
#![no_main]

#[path = "../../tests/support/board_session.rs"]
mod support;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| support::board_session(data));
