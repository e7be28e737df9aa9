//! Decoding any Binding message into a [`Decoded`].

use stun_rs::attributes::discovery::{
    ChangeRequest as ChangeRequestAttr, ChangeRequestFlags, OtherAddress, ResponseOrigin,
};
use stun_rs::attributes::stun::{
    ErrorCode, Fingerprint, MappedAddress, MessageIntegrity, MessageIntegritySha256, UserName,
    XorMappedAddress,
};
use stun_rs::methods::BINDING;
use stun_rs::{get_input_text, MessageClass, MessageDecoderBuilder, StunMessage};

use super::{
    looks_like_stun, ChangeRequest, Decoded, Integrity, IntegrityKey, Message, StunError,
    TransactionId,
};

/// Decodes a Binding message and checks its FINGERPRINT (if any) and its
/// integrity against `key` (if given).
///
/// # Errors
/// [`StunError::NotStun`] if [`looks_like_stun`] fails, and the other
/// variants for STUN messages that do not parse, are not Binding requests or
/// responses, fail their FINGERPRINT, or are successes without an address.
pub fn decode(datagram: &[u8], key: Option<&IntegrityKey>) -> Result<Decoded, StunError> {
    if !looks_like_stun(datagram) {
        return Err(StunError::NotStun);
    }
    let (msg, _) = MessageDecoderBuilder::default()
        .build()
        .decode(datagram)
        .map_err(|e| StunError::Malformed(e.to_string()))?;
    if msg.method() != BINDING {
        return Err(StunError::NotBinding(msg.method().as_u16()));
    }
    if msg.get::<Fingerprint>().is_some() {
        let ok = get_input_text::<Fingerprint>(datagram).is_some_and(|input| {
            msg.get::<Fingerprint>()
                .and_then(|a| a.as_fingerprint().ok())
                .is_some_and(|f| f.validate(&input))
        });
        if !ok {
            return Err(StunError::BadFingerprint);
        }
    }
    let integrity = integrity(&msg, datagram, key);
    let transaction_id = TransactionId(*msg.transaction_id().as_bytes());
    let message = match msg.class() {
        MessageClass::Request => Message::Request {
            username: msg
                .get::<UserName>()
                .and_then(|a| a.as_user_name().ok())
                .map(|u| u.as_str().to_owned()),
            change: msg
                .get::<ChangeRequestAttr>()
                .and_then(|a| a.as_change_request().ok())
                .map(|c| ChangeRequest {
                    ip: c.flags().contains(ChangeRequestFlags::ChangeIp),
                    port: c.flags().contains(ChangeRequestFlags::ChangePort),
                })
                .unwrap_or_default(),
        },
        MessageClass::SuccessResponse => {
            let xor = msg
                .get::<XorMappedAddress>()
                .and_then(|a| a.as_xor_mapped_address().ok())
                .map(|a| *a.socket_address());
            let plain = || {
                msg.get::<MappedAddress>()
                    .and_then(|a| a.as_mapped_address().ok())
                    .map(|a| *a.socket_address())
            };
            Message::Success {
                mapped: xor.or_else(plain).ok_or(StunError::NoMappedAddress)?,
                other_address: msg
                    .get::<OtherAddress>()
                    .and_then(|a| a.as_other_address().ok())
                    .map(|a| *a.socket_address()),
                response_origin: msg
                    .get::<ResponseOrigin>()
                    .and_then(|a| a.as_response_origin().ok())
                    .map(|a| *a.socket_address()),
            }
        }
        MessageClass::ErrorResponse => {
            let (code, reason) = msg
                .get::<ErrorCode>()
                .and_then(|a| a.as_error_code().ok())
                .map(|e| {
                    let e = e.error_code();
                    (e.error_code(), e.reason().to_owned())
                })
                .unwrap_or((0, String::new()));
            Message::Error { code, reason }
        }
        MessageClass::Indication => return Err(StunError::Indication),
    };
    Ok(Decoded {
        transaction_id,
        message,
        integrity,
    })
}

/// Checks MESSAGE-INTEGRITY-SHA256. A message with only the SHA-1
/// MESSAGE-INTEGRITY fails: members always send both, and the SHA-1 one
/// alone would let a shorter request through.
fn integrity(msg: &StunMessage, datagram: &[u8], key: Option<&IntegrityKey>) -> Integrity {
    let sha256 = msg
        .get::<MessageIntegritySha256>()
        .and_then(|a| a.as_message_integrity_sha256().ok());
    let sha1 = msg
        .get::<MessageIntegrity>()
        .and_then(|a| a.as_message_integrity().ok());
    if sha256.is_none() && sha1.is_none() {
        return Integrity::Absent;
    }
    let Some(key) = key else {
        return Integrity::Failed;
    };
    let ok = sha256.is_some_and(|attr| {
        get_input_text::<MessageIntegritySha256>(datagram)
            .is_some_and(|input| attr.validate(&input, key.hmac()))
    });
    if ok {
        Integrity::Verified
    } else {
        Integrity::Failed
    }
}
