//! Requests in and answers out: versions, commands, arguments, who may
//! send what, and the round trip of both envelopes.

use serde_json::{json, Value};

use super::*;

/// One request of every command (a match on the variants keeps the list
/// whole: a new command fails to compile here until it has an example).
pub(crate) fn examples() -> Vec<Request> {
    let all = vec![
        Request::Status,
        Request::Ip,
        Request::Ping {
            target: "fd00::1".into(),
        },
        Request::Whois {
            target: "100.64.0.1".into(),
        },
        Request::Down,
        Request::NetworkRotate {
            grace_s: 60,
            signed: None,
        },
        Request::NetworkRevocations {
            list: "tessel-revoked-…".into(),
        },
        Request::NetworkHandover {
            handover: "tessel-handover-…".into(),
        },
        Request::RecordPublish {
            key: "00".repeat(32),
            ttl_s: 60,
            value: "ab".into(),
        },
        Request::RecordFetch {
            key: "00".repeat(32),
        },
        Request::EngineList,
        #[cfg(feature = "test-hooks")]
        Request::EngineTamper {
            mode: "forge".into(),
        },
        Request::TileStatus,
        Request::TileFiles,
        Request::TilePublish {
            path: "/tmp/f.tsf".into(),
        },
        Request::TileAnnounce {
            announcement: "00".into(),
        },
        Request::Scope {
            args: Map::from_iter([("op".to_owned(), json!("list"))]),
        },
    ];
    for r in &all {
        match r {
            Request::Status
            | Request::Ip
            | Request::Ping { .. }
            | Request::Whois { .. }
            | Request::Down
            | Request::NetworkRotate { .. }
            | Request::NetworkRevocations { .. }
            | Request::NetworkHandover { .. }
            | Request::RecordPublish { .. }
            | Request::RecordFetch { .. }
            | Request::EngineList
            | Request::TileStatus
            | Request::TileFiles
            | Request::TilePublish { .. }
            | Request::TileAnnounce { .. }
            | Request::Scope { .. } => {}
            #[cfg(feature = "test-hooks")]
            Request::EngineTamper { .. } => {}
        }
    }
    all
}

#[test]
fn every_command_has_one_name_and_round_trips() {
    let all = examples();
    let names: Vec<&str> = all.iter().map(Request::name).collect();
    assert_eq!(names, Request::NAMES, "NAMES lists every command, in order");
    for r in all {
        let line = request_line(&r, Some(json!(7)));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["cmd"], r.name(), "{line}");
        assert_eq!(v["v"], 1, "{line}");
        let got = admit(&line, true).unwrap();
        assert_eq!(got.request, r, "{line}");
        assert_eq!(got.id, Some(json!(7)));
    }
}

fn refused(line: &str, privileged: bool) -> Refused {
    admit(line, privileged).expect_err(line)
}

#[test]
fn bad_lines_get_their_error_code() {
    for line in ["", "status", "[1]", "{\"v\":1", "null"] {
        assert!(
            refused(line, true).error.is(ErrorCode::BadRequest),
            "{line}"
        );
    }
    let r = refused(r#"{"cmd":"status","id":"a"}"#, true);
    assert!(r.error.is(ErrorCode::BadRequest) && r.error.message.contains("\"v\":1"));
    assert_eq!(r.id, Some(json!("a")), "the id is echoed in refusals too");

    let r = refused(r#"{"v":2,"cmd":"status"}"#, true);
    assert!(r.error.is(ErrorCode::UnsupportedVersion));
    assert_eq!(r.error.details["versions"], json!([1]));
    assert!(refused(r#"{"v":"1","cmd":"status"}"#, true)
        .error
        .is(ErrorCode::UnsupportedVersion));

    let r = refused(r#"{"v":1,"cmd":"fly"}"#, true);
    assert!(r.error.is(ErrorCode::UnknownCommand));
    assert!(r.error.message.contains("whois"), "{}", r.error.message);
    assert!(refused(r#"{"v":1}"#, true).error.is(ErrorCode::BadRequest));
    assert!(refused(r#"{"v":1,"cmd":7}"#, true)
        .error
        .is(ErrorCode::BadRequest));

    let r = refused(r#"{"v":1,"cmd":"ping"}"#, true);
    assert!(r.error.is(ErrorCode::BadRequest));
    assert!(r.error.message.contains("target"), "{}", r.error.message);
    let r = refused(r#"{"v":1,"cmd":"network_rotate","grace_s":"soon"}"#, true);
    assert!(r.error.is(ErrorCode::BadRequest));
}

#[test]
fn unknown_arguments_are_ignored_within_a_version() {
    let got = admit(r#"{"v":1,"cmd":"status","verbose":true}"#, false).unwrap();
    assert_eq!(got.request, Request::Status);
}

#[test]
fn the_socket_group_may_read_and_use_but_not_change_or_stop() {
    for r in examples() {
        let line = request_line(&r, None);
        let open = admit(&line, false);
        match r.access() {
            Access::Open => assert!(open.is_ok(), "{line}"),
            Access::Privileged(_) => {
                let e = open.expect_err(&line).error;
                assert!(e.is(ErrorCode::PermissionDenied), "{line}");
                assert!(
                    e.message.starts_with("only root or the daemon's user may "),
                    "{}",
                    e.message
                );
            }
        }
    }
    let open = |line: &str| admit(line, false).is_ok();
    assert!(open(r#"{"v":1,"cmd":"status"}"#));
    assert!(open(r#"{"v":1,"cmd":"whois","target":"x"}"#));
    assert!(open(r#"{"v":1,"cmd":"scope","op":"query"}"#));
    assert!(!open(r#"{"v":1,"cmd":"down"}"#));
    assert!(!open(r#"{"v":1,"cmd":"network_rotate","grace_s":1}"#));
    assert!(!open(r#"{"v":1,"cmd":"scope","op":"register"}"#));
    assert!(!open(r#"{"v":1,"cmd":"tile_publish","path":"/x"}"#));
}

#[test]
fn answers_round_trip() {
    let body = reply(&json!({ "node_id": "n", "v": 9, "ok": false })).unwrap();
    let line = answer_line(Some(&json!(3)), &Ok(body));
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v, json!({ "v": 1, "id": 3, "ok": true, "node_id": "n" }));
    let fields = read_answer(&line).unwrap().unwrap();
    assert_eq!(Value::Object(fields), json!({ "node_id": "n" }));

    let e = ApiError::new(ErrorCode::NotFound, "no such member").detail("x", json!(1));
    let line = answer_line(None, &Err(e.clone()));
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        v,
        json!({ "v": 1, "ok": false, "error": { "code": "not_found", "message": "no such member", "x": 1 } })
    );
    assert_eq!(read_answer(&line).unwrap(), Err(e));

    assert!(matches!(read_answer("pong"), Err(AnswerError::NotJson(_))));
    assert!(matches!(
        read_answer(r#"{"v":2,"ok":true}"#),
        Err(AnswerError::Version(_))
    ));
    assert!(matches!(
        read_answer(r#"{"v":1,"ok":false}"#),
        Err(AnswerError::Malformed(_))
    ));
}

#[test]
fn an_id_comes_back_as_it_was_sent_even_a_long_decimal() {
    // A decimal of more digits than an f64 holds is read to the nearest
    // f64 and written back as that value's shortest form; reading the
    // answer's id must give that same value again (found by the
    // control_request fuzz target).
    let id = "2222222222222222222222222222222222222222222222222222222222222.22222";
    let line = format!(r#"{{"v":1,"id":{id},"cmd":"status"}}"#);
    let incoming = admit(&line, true).expect("admitted");
    let again = request_line(&incoming.request, incoming.id.clone());
    assert_eq!(admit(&again, true), Ok(incoming));
}
