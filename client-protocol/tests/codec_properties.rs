//! Property tests of the frame codec: what is encoded decodes to the same thing, and no byte
//! sequence makes the decoder panic.

use client_protocol::apply::apply_update;
use client_protocol::codec::{
    self, decode_frame, AwarenessUpdate, AwarenessUpdateEntry, Limits, Message, SyncMessage,
};
use proptest::prelude::*;
use yrs::block::ClientID;
use yrs::{Array, Doc, Map, ReadTxn, StateVector, Text, Transact};

/// A real update from a random little editing session.
fn update_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        1u64..(1u64 << 53),
        prop::collection::vec((any::<u8>(), "[a-z ]{0,12}"), 0..6),
    )
        .prop_map(|(client, ops)| {
            let doc = Doc::with_client_id(client);
            let text = doc.get_or_insert_text("notes");
            let cards = doc.get_or_insert_array("cards");
            let meta = doc.get_or_insert_map("meta");
            {
                let mut txn = doc.transact_mut();
                for (kind, s) in ops {
                    match kind % 3 {
                        0 => {
                            let len = text.len(&txn);
                            text.insert(&mut txn, len, &s);
                        }
                        1 => {
                            cards.push_back(&mut txn, s.as_str());
                        }
                        _ => {
                            meta.insert(&mut txn, s.as_str(), kind as i64);
                        }
                    }
                }
            }
            let txn = doc.transact();
            txn.encode_state_as_update_v1(&StateVector::default())
        })
}

fn json_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        "[a-zA-Z0-9 éà]{0,16}"
            .prop_map(|name| serde_json::json!({"user": {"name": name}}).to_string()),
        (any::<i32>(), any::<i32>())
            .prop_map(|(x, y)| serde_json::json!({"cursor": {"x": x, "y": y}}).to_string()),
    ]
}

fn message_strategy() -> impl Strategy<Value = Message> {
    prop_oneof![
        prop::collection::btree_map(1u64..(1u64 << 53), any::<u32>(), 0..8).prop_map(|entries| {
            let mut sv = StateVector::default();
            for (client, clock) in entries {
                sv.set_max(ClientID::new(client), clock);
            }
            Message::Sync(SyncMessage::SyncStep1(sv))
        }),
        update_strategy().prop_map(|u| Message::Sync(SyncMessage::SyncStep2(u))),
        update_strategy().prop_map(|u| Message::Sync(SyncMessage::Update(u))),
        prop::collection::hash_map(0u64..(1u64 << 53), (any::<u32>(), json_strategy()), 0..6)
            .prop_map(|entries| {
                Message::Awareness(AwarenessUpdate {
                    clients: entries
                        .into_iter()
                        .map(|(id, (clock, json))| {
                            (
                                ClientID::new(id),
                                AwarenessUpdateEntry {
                                    clock,
                                    json: json.into(),
                                },
                            )
                        })
                        .collect(),
                })
            }),
        Just(Message::AwarenessQuery),
        Just(Message::Auth(None)),
        ".{0,40}".prop_map(|reason| Message::Auth(Some(reason))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_message_survives_an_encode_decode_round_trip(message in message_strategy()) {
        let frame = codec::encode(&message);
        prop_assert_eq!(decode_frame(&frame, &Limits::default()).unwrap(), vec![message]);
    }

    #[test]
    fn several_messages_in_one_frame_decode_in_order(messages in prop::collection::vec(message_strategy(), 1..5)) {
        let frame: Vec<u8> = messages.iter().flat_map(codec::encode).collect();
        prop_assert_eq!(decode_frame(&frame, &Limits::default()).unwrap(), messages);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_frame(&bytes, &Limits::default());
        let _ = codec::decode_update(&bytes);
        let _ = codec::decode_state_vector(&bytes);
        let _ = codec::decode_awareness(&bytes, &Limits::default());
    }

    #[test]
    fn a_valid_frame_with_one_byte_flipped_never_panics(
        message in message_strategy(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut frame = codec::encode(&message);
        let i = position.index(frame.len());
        frame[i] = byte;
        if let Ok(messages) = decode_frame(&frame, &Limits::default()) {
            let doc = Doc::new();
            for message in messages {
                if let Message::Sync(SyncMessage::SyncStep2(u) | SyncMessage::Update(u)) = message {
                    let _ = apply_update(&doc, &u);
                }
            }
        }
    }

    #[test]
    fn client_ids_wider_than_53_bits_are_refused(id in (1u64 << 53)..=u64::MAX) {
        // An awareness update for one client, and a state vector with one entry.
        let mut id_bytes = Vec::new();
        let mut v = id;
        while v >= 0x80 {
            id_bytes.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        id_bytes.push(v as u8);
        let mut awareness = vec![1];
        awareness.extend(&id_bytes);
        awareness.extend([1, 2, b'{', b'}']);
        let mut frame = vec![1, awareness.len() as u8];
        frame.extend(awareness);
        prop_assert!(decode_frame(&frame, &Limits::default()).is_err());
        let mut sv = vec![1];
        sv.extend(&id_bytes);
        sv.push(1);
        prop_assert!(codec::decode_state_vector(&sv).is_err());
    }

    #[test]
    fn truncated_frames_are_errors_not_panics(message in message_strategy(), cut in any::<prop::sample::Index>()) {
        let frame = codec::encode(&message);
        let cut = cut.index(frame.len());
        let _ = decode_frame(&frame[..cut], &Limits::default());
    }
}
