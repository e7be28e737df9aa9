//! The Binding messages Tessel sends: requests (plain or with integrity,
//! optionally with an RFC 5780 CHANGE-REQUEST) and success responses.
//! Every message ends in FINGERPRINT, as RFC 8489 recommends when STUN
//! shares a port with another protocol.

use std::net::SocketAddr;

use stun_rs::attributes::discovery::{
    ChangeRequest as ChangeRequestAttr, ChangeRequestFlags, OtherAddress, ResponseOrigin,
};
use stun_rs::attributes::stun::{
    Fingerprint, MessageIntegrity, MessageIntegritySha256, UserName, XorMappedAddress,
};
use stun_rs::methods::BINDING;
use stun_rs::{MessageClass, MessageEncoderBuilder, StunMessageBuilder};

use super::{ChangeRequest, IntegrityKey, StunError, TransactionId};

/// Room for the largest message we build (about 150 bytes).
const BUFFER: usize = 512;

/// How to build a Binding request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestOptions<'a> {
    /// Sign it (USERNAME, MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256).
    pub key: Option<&'a IntegrityKey>,
    /// Ask for an answer from another address or port (RFC 5780).
    pub change: ChangeRequest,
}

/// What a Binding success response carries besides the mapped address.
#[derive(Debug, Clone, Copy, Default)]
pub struct SuccessOptions<'a> {
    /// Sign it (MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256), as the
    /// request was.
    pub key: Option<&'a IntegrityKey>,
    /// RFC 5780 RESPONSE-ORIGIN: the address the response is sent from.
    pub response_origin: Option<SocketAddr>,
    /// RFC 5780 OTHER-ADDRESS: the responder's alternate address.
    pub other_address: Option<SocketAddr>,
}

/// A Binding request with transaction ID `id`.
///
/// # Errors
/// Only if `stun-rs` fails to encode it, which our inputs never cause.
pub fn encode_request(id: TransactionId, opts: &RequestOptions<'_>) -> Result<Vec<u8>, StunError> {
    let mut b = StunMessageBuilder::new(BINDING, MessageClass::Request)
        .with_transaction_id(stun_rs::TransactionId::from(id.0));
    if opts.change.any() {
        let mut flags = None;
        if opts.change.ip {
            flags = Some(ChangeRequestFlags::ChangeIp.into());
        }
        if opts.change.port {
            flags = Some(match flags {
                Some(f) => f | ChangeRequestFlags::ChangePort,
                None => ChangeRequestFlags::ChangePort.into(),
            });
        }
        b = b.with_attribute(ChangeRequestAttr::new(flags));
    }
    if let Some(key) = opts.key {
        let name = UserName::new(key.username()).map_err(|e| StunError::Encode(e.to_string()))?;
        b = b.with_attribute(name);
    }
    finish(b, opts.key)
}

/// A Binding success response to transaction `id`, telling the requester
/// that it was seen at `mapped` (XOR-MAPPED-ADDRESS).
///
/// # Errors
/// Only if `stun-rs` fails to encode it, which our inputs never cause.
pub fn encode_success(
    id: TransactionId,
    mapped: SocketAddr,
    opts: &SuccessOptions<'_>,
) -> Result<Vec<u8>, StunError> {
    let mut b = StunMessageBuilder::new(BINDING, MessageClass::SuccessResponse)
        .with_transaction_id(stun_rs::TransactionId::from(id.0))
        .with_attribute(XorMappedAddress::from(mapped));
    if let Some(origin) = opts.response_origin {
        b = b.with_attribute(ResponseOrigin::new(origin.ip(), origin.port()));
    }
    if let Some(other) = opts.other_address {
        b = b.with_attribute(OtherAddress::new(other.ip(), other.port()));
    }
    finish(b, opts.key)
}

/// Adds the integrity attributes (if keyed) and FINGERPRINT, and encodes.
fn finish(mut b: StunMessageBuilder, key: Option<&IntegrityKey>) -> Result<Vec<u8>, StunError> {
    if let Some(key) = key {
        // RFC 8489 §14.5-14.6: MESSAGE-INTEGRITY, then
        // MESSAGE-INTEGRITY-SHA256, then FINGERPRINT.
        b = b
            .with_attribute(MessageIntegrity::new(key.hmac().clone()))
            .with_attribute(MessageIntegritySha256::new(key.hmac().clone()));
    }
    let msg = b.with_attribute(Fingerprint::default()).build();
    let mut buf = vec![0u8; BUFFER];
    let n = MessageEncoderBuilder::default()
        .build()
        .encode(&mut buf, &msg)
        .map_err(|e| StunError::Encode(e.to_string()))?;
    buf.truncate(n);
    Ok(buf)
}
