//! Any bytes as one incoming frame: decoding never panics, and what decodes re-encodes to frames
//! that decode to the same messages.
#![no_main]

use client_protocol::codec::{decode_frame, encode, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(messages) = decode_frame(data, &limits) {
        for message in messages {
            let again = decode_frame(&encode(&message), &limits).expect("re-encoded frame decodes");
            assert_eq!(again, vec![message]);
        }
    }
});
