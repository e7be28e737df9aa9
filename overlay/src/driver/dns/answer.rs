//! DNS messages for the responder, without sockets: what a query asks
//! ([`read_query`]) and the answer once the node said who holds the name
//! ([`answer`]). Messages are parsed and built with `hickory-proto`.
//!
//! The responder is authoritative for one domain and answers only there:
//! * `NAME.<domain>`, `A`/`AAAA`/`ANY`: the overlay addresses of the member
//!   that holds `NAME` ([`NAME_TTL`] seconds), `NXDOMAIN` if none does;
//!   other types get an empty answer (the name exists, the type does not).
//! * the domain itself: an empty answer; deeper names and labels that are
//!   no node name: `NXDOMAIN`.
//! * any other domain: `REFUSED` (it is no resolver); an undecodable query
//!   `FORMERR`; another opcode or class `NOTIMP` / `REFUSED`.
//!
//! Answers are minimal: the question, the records, no SOA or authority
//! section, EDNS echoed when the query used it.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::identity::NodeName;
use crate::node::NAME_TTL;

/// The largest UDP answer we advertise with EDNS.
const EDNS_PAYLOAD: u16 = 1232;

/// What a query needs.
#[derive(Debug)]
pub(crate) enum Query {
    /// Send these bytes back at once.
    Reply(Vec<u8>),
    /// Ask the node who holds `name`, then [`answer`] `query`.
    Lookup {
        /// The decoded query.
        query: Box<Message>,
        /// The name asked for.
        name: NodeName,
    },
}

/// A member's overlay addresses, or nobody.
pub(crate) type Holder = Option<(Ipv6Addr, Option<Ipv4Addr>)>;

/// Reads a query for names under `domain` (lowercase, fully qualified).
/// `None`: too short to answer at all (no ID).
pub(crate) fn read_query(bytes: &[u8], domain: &Name) -> Option<Query> {
    let query = match Message::from_vec(bytes) {
        Ok(m) => m,
        Err(_) => {
            let id = u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]);
            let reply = Message::error_msg(id, OpCode::Query, ResponseCode::FormErr);
            return Some(Query::Reply(emit(&reply)));
        }
    };
    if query.metadata.message_type != MessageType::Query {
        return None;
    }
    let code = |c| Some(Query::Reply(emit(&response(&query, c))));
    if query.metadata.op_code != OpCode::Query {
        return code(ResponseCode::NotImp);
    }
    let [q] = &query.queries[..] else {
        return code(ResponseCode::FormErr);
    };
    let qname = q.name().to_lowercase();
    if !matches!(q.query_class(), DNSClass::IN | DNSClass::ANY) || !domain.zone_of(&qname) {
        return code(ResponseCode::Refused);
    }
    let depth = qname.num_labels() - domain.num_labels();
    if depth == 0 {
        return code(ResponseCode::NoError);
    }
    let label = qname.iter().next().unwrap_or_default();
    let name = std::str::from_utf8(label)
        .ok()
        .and_then(|l| NodeName::parse(l).ok());
    match name {
        Some(name) if depth == 1 => Some(Query::Lookup {
            query: Box::new(query),
            name,
        }),
        _ => code(ResponseCode::NXDomain),
    }
}

/// The answer to `query` (one that [`read_query`] passed on) given who
/// holds its name.
pub(crate) fn answer(query: &Message, holder: Holder) -> Vec<u8> {
    let Some((v6, v4)) = holder else {
        return emit(&response(query, ResponseCode::NXDomain));
    };
    let mut reply = response(query, ResponseCode::NoError);
    let q = &query.queries[0];
    let ttl = NAME_TTL.as_secs() as u32;
    let name = q.name().clone();
    let qtype = q.query_type();
    if matches!(qtype, RecordType::AAAA | RecordType::ANY) {
        reply.add_answer(Record::from_rdata(name.clone(), ttl, RData::AAAA(AAAA(v6))));
    }
    if let Some(v4) = v4.filter(|_| matches!(qtype, RecordType::A | RecordType::ANY)) {
        reply.add_answer(Record::from_rdata(name, ttl, RData::A(A(v4))));
    }
    emit(&reply)
}

/// `SERVFAIL` for `query`: the node did not answer in time.
pub(crate) fn server_failure(query: &Message) -> Vec<u8> {
    emit(&response(query, ResponseCode::ServFail))
}

/// An authoritative response to `query` with its question and `code`.
fn response(query: &Message, code: ResponseCode) -> Message {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.checking_disabled = query.metadata.checking_disabled;
    reply.metadata.response_code = code;
    reply.add_queries(query.queries.iter().cloned());
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        reply.set_edns(edns);
    }
    reply
}

fn emit(m: &Message) -> Vec<u8> {
    // A message built here from a decoded query always encodes.
    m.to_vec().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::Query as Question;

    use super::*;

    const V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 2, 3, 4, 5, 6, 7);
    const V4: Ipv4Addr = Ipv4Addr::new(100, 64, 1, 2);

    fn domain() -> Name {
        Name::from_ascii("tessel.internal.").unwrap()
    }

    fn query(name: &str, qtype: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 0x1234;
        m.metadata.recursion_desired = true;
        m.add_query(Question::query(Name::from_ascii(name).unwrap(), qtype));
        m.to_vec().unwrap()
    }

    fn reply_of(bytes: &[u8]) -> Message {
        let m = Message::from_vec(bytes).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.metadata.message_type, MessageType::Response);
        m
    }

    /// Reads the query, answers it as the node would with `holder`.
    fn ask(name: &str, qtype: RecordType, holder: Holder) -> Message {
        match read_query(&query(name, qtype), &domain()).unwrap() {
            Query::Reply(bytes) => reply_of(&bytes),
            Query::Lookup { query, name } => {
                assert_eq!(name.as_str(), "web-1");
                reply_of(&answer(&query, holder))
            }
        }
    }

    fn addresses(m: &Message) -> Vec<String> {
        m.answers.iter().map(|r| r.data.to_string()).collect()
    }

    #[test]
    fn a_name_gets_its_overlay_addresses() {
        let holder = Some((V6, Some(V4)));
        let m = ask("web-1.tessel.internal.", RecordType::AAAA, holder);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        assert!(m.metadata.recursion_desired && !m.metadata.recursion_available);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(addresses(&m), [V6.to_string()]);
        assert_eq!(m.answers[0].ttl, 60);
        assert!(m.authorities.is_empty());
        let m = ask("web-1.tessel.internal.", RecordType::A, holder);
        assert_eq!(addresses(&m), [V4.to_string()]);
        let m = ask("WEB-1.Tessel.Internal.", RecordType::ANY, holder);
        assert_eq!(addresses(&m), [V6.to_string(), V4.to_string()]);
        // The name exists, the type does not: empty, not NXDOMAIN.
        let m = ask("web-1.tessel.internal.", RecordType::MX, holder);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        // No IPv4 address known: no A record.
        let m = ask("web-1.tessel.internal.", RecordType::A, Some((V6, None)));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
    }

    #[test]
    fn a_name_nobody_holds_is_nxdomain() {
        let m = ask("web-1.tessel.internal.", RecordType::AAAA, None);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(m.answers.is_empty());
        for name in ["a.web-1.tessel.internal.", "web_1.tessel.internal."] {
            let m = ask(name, RecordType::A, None);
            assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{name}");
        }
    }

    #[test]
    fn other_domains_are_refused_and_the_apex_is_empty() {
        for name in [
            "example.com.",
            "internal.",
            "web-1.tessel.internal.example.",
        ] {
            let m = ask(name, RecordType::A, None);
            assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{name}");
        }
        let m = ask("tessel.internal.", RecordType::A, None);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
    }

    #[test]
    fn bad_queries_get_an_error_or_nothing() {
        assert!(read_query(&[], &domain()).is_none());
        assert!(read_query(&[0x12], &domain()).is_none());
        match read_query(&[0x12, 0x34, 0xff], &domain()) {
            Some(Query::Reply(b)) => {
                assert_eq!(reply_of(&b).metadata.response_code, ResponseCode::FormErr)
            }
            other => panic!("{other:?}"),
        }
        // Two questions.
        let mut m = Message::from_vec(&query("web-1.tessel.internal.", RecordType::A)).unwrap();
        m.add_query(m.queries[0].clone());
        match read_query(&m.to_vec().unwrap(), &domain()) {
            Some(Query::Reply(b)) => {
                assert_eq!(reply_of(&b).metadata.response_code, ResponseCode::FormErr)
            }
            other => panic!("{other:?}"),
        }
        // A response is not a query: no answer.
        let mut r = Message::from_vec(&query("web-1.tessel.internal.", RecordType::A)).unwrap();
        r.metadata.message_type = MessageType::Response;
        assert!(read_query(&r.to_vec().unwrap(), &domain()).is_none());
    }

    #[test]
    fn servfail_keeps_the_question() {
        let Some(Query::Lookup { query, .. }) =
            read_query(&query("web-1.tessel.internal.", RecordType::A), &domain())
        else {
            panic!("not a lookup");
        };
        let m = reply_of(&server_failure(&query));
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
        assert_eq!(m.queries.len(), 1);
    }

    #[test]
    fn edns_is_echoed() {
        let mut q = Message::from_vec(&query("web-1.tessel.internal.", RecordType::A)).unwrap();
        q.set_edns(Edns::new());
        let Some(Query::Lookup { query, .. }) = read_query(&q.to_vec().unwrap(), &domain()) else {
            panic!("not a lookup");
        };
        let m = Message::from_vec(&answer(&query, Some((V6, Some(V4))))).unwrap();
        assert!(m.edns.is_some());
        assert_eq!(addresses(&m), [V4.to_string()]);
    }
}
