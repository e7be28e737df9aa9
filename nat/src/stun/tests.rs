//! Round trips, integrity, the demultiplexing rule and the responder.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use super::*;

fn key(b: u8) -> IntegrityKey {
    IntegrityKey::new(&[b; 32])
}

fn v4(a: u8, port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(203, 0, 113, a), port))
}

const ID: TransactionId = TransactionId([7; 12]);

#[test]
fn plain_request_round_trips() {
    let bytes = encode_request(ID, &RequestOptions::default()).unwrap();
    assert_eq!(bytes.len(), 28, "header and FINGERPRINT");
    assert!(looks_like_stun(&bytes));
    let d = decode(&bytes, None).unwrap();
    assert_eq!(d.transaction_id, ID);
    assert_eq!(d.integrity, Integrity::Absent);
    assert_eq!(
        d.message,
        Message::Request {
            username: None,
            change: ChangeRequest::default()
        }
    );
}

#[test]
fn keyed_request_verifies_only_with_its_key() {
    let k = key(1);
    let opts = RequestOptions {
        key: Some(&k),
        change: ChangeRequest {
            ip: true,
            port: false,
        },
    };
    let bytes = encode_request(ID, &opts).unwrap();
    let d = decode(&bytes, Some(&k)).unwrap();
    assert_eq!(d.integrity, Integrity::Verified);
    let Message::Request { username, change } = &d.message else {
        panic!("{d:?}")
    };
    assert_eq!(username.as_deref(), Some(k.username()));
    assert!(change.ip && !change.port);
    assert_eq!(
        decode(&bytes, Some(&key(2))).unwrap().integrity,
        Integrity::Failed
    );
    assert_eq!(decode(&bytes, None).unwrap().integrity, Integrity::Failed);
}

#[test]
fn the_username_names_the_key_without_revealing_it() {
    let (a, b) = (key(1), key(2));
    assert_ne!(a.username(), b.username());
    assert_eq!(a.username(), key(1).username());
    assert!(a.username().starts_with("tessel-") && a.username().len() == 7 + 16);
    assert!(!format!("{a:?}").contains("0101"));
}

#[test]
fn success_round_trips_with_rfc5780_attributes() {
    let k = key(3);
    for mapped in [
        v4(9, 40001),
        SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 5), 9740)),
    ] {
        let opts = SuccessOptions {
            key: Some(&k),
            response_origin: Some(v4(1, 3478)),
            other_address: Some(v4(2, 3479)),
        };
        let bytes = encode_success(ID, mapped, &opts).unwrap();
        let d = decode(&bytes, Some(&k)).unwrap();
        assert_eq!(d.integrity, Integrity::Verified);
        assert_eq!(
            d.message,
            Message::Success {
                mapped,
                other_address: Some(v4(2, 3479)),
                response_origin: Some(v4(1, 3478)),
            }
        );
    }
}

#[test]
fn tampering_breaks_the_fingerprint_or_the_integrity() {
    let k = key(4);
    let opts = SuccessOptions {
        key: Some(&k),
        ..SuccessOptions::default()
    };
    let bytes = encode_success(ID, v4(9, 1000), &opts).unwrap();
    // Flip a bit of the mapped port: FINGERPRINT catches it.
    let mut t = bytes.clone();
    t[HEADER_LEN + 6] ^= 1;
    assert_eq!(decode(&t, Some(&k)), Err(StunError::BadFingerprint));
    // Strip FINGERPRINT (8 bytes) and fix the length: integrity fails.
    let mut t = bytes[..bytes.len() - 8].to_vec();
    let len = (t.len() - HEADER_LEN) as u16;
    t[2..4].copy_from_slice(&len.to_be_bytes());
    t[HEADER_LEN + 6] ^= 1;
    assert_eq!(decode(&t, Some(&k)).unwrap().integrity, Integrity::Failed);
}

#[test]
fn tessel_messages_do_not_look_like_stun() {
    // A hello: type 4, three zero bytes, then a node ID.
    let mut hello = vec![4, 0, 0, 0];
    hello.extend([0x21, 0x12, 0xa4, 0x43]);
    hello.extend([0u8; 44]);
    assert!(!looks_like_stun(&hello));
    // The cookie alone is not enough: the length must match.
    hello[4..8].copy_from_slice(&MAGIC_COOKIE);
    assert!(!looks_like_stun(&hello));
    assert!(!looks_like_stun(&[0u8; 19]));
    let mut req = encode_request(ID, &RequestOptions::default()).unwrap();
    req[0] |= 0x40;
    assert!(!looks_like_stun(&req));
    assert_eq!(decode(&req, None), Err(StunError::NotStun));
}

#[test]
fn responder_answers_only_its_key() {
    let k = key(5);
    let r = Responder::new(k.clone());
    let from = v4(7, 51000);
    let keyed = encode_request(
        ID,
        &RequestOptions {
            key: Some(&k),
            ..RequestOptions::default()
        },
    )
    .unwrap();
    let resp = r.respond(&keyed, from).unwrap();
    // No amplification, whatever the family of the requester.
    let v6 = SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9));
    assert!(r.respond(&keyed, v6).unwrap().len() <= keyed.len());
    let d = decode(&resp, Some(&k)).unwrap();
    assert_eq!(d.transaction_id, ID);
    assert_eq!(d.integrity, Integrity::Verified);
    assert!(matches!(d.message, Message::Success { mapped, .. } if mapped == from));

    let plain = encode_request(ID, &RequestOptions::default()).unwrap();
    assert_eq!(r.respond(&plain, from), Err(Refusal::Unauthenticated));
    let other = key(6);
    let foreign = encode_request(
        ID,
        &RequestOptions {
            key: Some(&other),
            ..RequestOptions::default()
        },
    )
    .unwrap();
    assert_eq!(r.respond(&foreign, from), Err(Refusal::OtherKey));
    // Our USERNAME with a forged HMAC.
    let mut forged = keyed.clone();
    let n = forged.len();
    forged[n - 8 - 36 - 4] ^= 1; // inside MESSAGE-INTEGRITY
    let fixed = fix_fingerprint(&forged);
    assert_eq!(r.respond(&fixed, from), Err(Refusal::BadIntegrity));
    assert_eq!(r.respond(&resp, from), Err(Refusal::NotRequest));
    let change = encode_request(
        ID,
        &RequestOptions {
            key: Some(&k),
            change: ChangeRequest {
                ip: false,
                port: true,
            },
        },
    )
    .unwrap();
    assert_eq!(r.respond(&change, from), Err(Refusal::ChangeUnsupported));
}

/// Recomputes FINGERPRINT (CRC-32 xor 0x5354554e) over a modified message.
fn fix_fingerprint(msg: &[u8]) -> Vec<u8> {
    let mut m = msg.to_vec();
    let n = m.len();
    let crc = crc32(&m[..n - 8]) ^ 0x5354_554e;
    m[n - 4..].copy_from_slice(&crc.to_be_bytes());
    m
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

proptest! {
    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..120)) {
        let _ = decode(&body, Some(&key(1)));
        // Random attributes behind a valid header, too.
        let mut m = vec![0x01, 0x01, 0, 0];
        m.extend(MAGIC_COOKIE);
        m.extend([9u8; 12]);
        let pad = (4 - body.len() % 4) % 4;
        m.extend(&body);
        m.extend(std::iter::repeat_n(0, pad));
        let len = (m.len() - HEADER_LEN) as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        prop_assert!(looks_like_stun(&m));
        let _ = decode(&m, Some(&key(1)));
        let _ = Responder::new(key(1)).respond(&m, v4(1, 1));
    }
}

/// A request built attribute by attribute, for the shapes our encoder
/// never makes.
fn request_with(username: Option<&str>, sha1: bool, sha256: bool, k: &IntegrityKey) -> Vec<u8> {
    use stun_rs::attributes::stun::{
        Fingerprint, MessageIntegrity, MessageIntegritySha256, UserName,
    };
    use stun_rs::{MessageClass, MessageEncoderBuilder, StunMessageBuilder};
    let mut b = StunMessageBuilder::new(stun_rs::methods::BINDING, MessageClass::Request)
        .with_transaction_id(stun_rs::TransactionId::from(ID.0));
    if let Some(name) = username {
        b = b.with_attribute(UserName::new(name).unwrap());
    }
    if sha1 {
        b = b.with_attribute(MessageIntegrity::new(k.hmac().clone()));
    }
    if sha256 {
        b = b.with_attribute(MessageIntegritySha256::new(k.hmac().clone()));
    }
    let msg = b.with_attribute(Fingerprint::default()).build();
    let mut buf = vec![0u8; 512];
    let n = MessageEncoderBuilder::default()
        .build()
        .encode(&mut buf, &msg)
        .unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn keyed_requests_need_username_and_sha256_and_are_never_shorter_than_the_answer() {
    let k = key(5);
    let r = Responder::new(k.clone());
    let v6 = SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 65535));
    let full = request_with(Some(k.username()), true, true, &k);
    let answer = r.respond(&full, v6).unwrap();
    assert!(
        answer.len() <= full.len(),
        "{} > {}",
        answer.len(),
        full.len()
    );
    // SHA-1 integrity alone: a shorter request, refused.
    let sha1_only = request_with(Some(k.username()), true, false, &k);
    assert_eq!(r.respond(&sha1_only, v6), Err(Refusal::BadIntegrity));
    // No USERNAME: refused, whatever the integrity.
    let anonymous = request_with(None, true, true, &k);
    assert!(anonymous.len() < answer.len());
    assert_eq!(r.respond(&anonymous, v6), Err(Refusal::Unauthenticated));
    // Integrity without the SHA-1 attribute: valid, but shorter than the
    // answer (which carries both), so unanswered.
    let sha256_only = request_with(Some(k.username()), false, true, &k);
    assert_eq!(r.respond(&sha256_only, v6), Err(Refusal::WouldAmplify));
}
