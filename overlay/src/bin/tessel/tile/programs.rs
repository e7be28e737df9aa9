//! `tessel tile send` and `tessel tile listen`: programs on the tile
//! socket like any other.

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};
use tessel_tile_link::channel::Frame;
use tessel_tile_link::wire::{tep, Service};

use super::client::TileSocket;
use super::{ListenArgs, SendArgs};

pub(super) fn send(a: &SendArgs) -> Result<()> {
    let service = Service::new(a.svc).map_err(|e| anyhow!("service {}: {e}", a.svc))?;
    let payload = if a.hex {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(a.data.as_bytes())
            .map_err(|e| anyhow!("DATA is not hexadecimal: {e}"))?
    } else {
        a.data.clone().into_bytes()
    };
    let mut sock = TileSocket::connect(&a.dirs)?;
    sock.send(&Frame::Bind { service })?;
    sock.send(&Frame::Service {
        dir: a.dir,
        service,
        payload: &payload,
    })?;
    sock.finish()?;
    // The daemon answers a refused frame before it closes the connection.
    while let Some(bytes) = sock.next()? {
        if let Ok(Some((Frame::Refused { reason, dir }, _))) = Frame::decode(&bytes) {
            bail!("refused ({reason:?}) toward {dir}");
        }
    }
    if a.json {
        println!(
            "{}",
            json!({ "sent": payload.len(), "dir": a.dir.code(), "service": a.svc })
        );
    } else {
        println!(
            "sent {} bytes to service {} toward {}",
            payload.len(),
            a.svc,
            a.dir
        );
    }
    Ok(())
}

fn text_or_hex(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => json!({ "text": s }),
        _ => json!({ "hex": data_encoding::HEXLOWER.encode(bytes) }),
    }
}

/// One received frame as JSON, or `None` for frames not worth a line.
fn describe(frame: &Frame<'_>) -> Option<Value> {
    Some(match *frame {
        Frame::Packet { dir, packet } => {
            let event =
                (packet.first() == Some(&tep::TEP_PKT_TYPE)).then(
                    || match tep::Packet::new_checked(packet).map(|p| p.event()) {
                        Ok(tep::Event::Connect) => "connect",
                        Ok(tep::Event::Disconnect) => "disconnect",
                        _ => "other",
                    },
                );
            match event {
                Some(e) => json!({ "dir": dir.code(), "event": e }),
                None => {
                    json!({ "dir": dir.code(), "packet": data_encoding::HEXLOWER.encode(packet) })
                }
            }
        }
        Frame::Service {
            dir,
            service,
            payload,
        } => {
            let mut v = json!({ "dir": dir.code(), "service": service.number() });
            if let (Some(o), Value::Object(d)) = (v.as_object_mut(), text_or_hex(payload)) {
                o.extend(d);
            }
            v
        }
        Frame::Neighbour { dir, present } => json!({ "dir": dir.code(), "present": present }),
        Frame::Refused { reason, dir } => {
            json!({ "dir": dir.code(), "refused": format!("{reason:?}") })
        }
        _ => return None,
    })
}

pub(super) fn listen(a: &ListenArgs) -> Result<()> {
    let mut sock = TileSocket::connect(&a.dirs)?;
    match a.svc {
        Some(n) => {
            let service = Service::new(n).map_err(|e| anyhow!("service {n}: {e}"))?;
            sock.send(&Frame::Bind { service })?;
        }
        None => sock.send(&Frame::OpenMfm)?,
    }
    let mut seen = 0u64;
    while let Some(bytes) = sock.next()? {
        let Ok(Some((frame, _))) = Frame::decode(&bytes) else {
            continue;
        };
        let Some(v) = describe(&frame) else {
            continue;
        };
        if let Frame::Refused { .. } = frame {
            bail!("refused: {v}");
        }
        if a.json {
            println!("{v}");
        } else {
            let dir = v["dir"].as_str().unwrap_or("?");
            let what = v
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| *k != "dir")
                        .map(|(k, x)| format!("{k}={x}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            println!("{dir}  {what}");
        }
        seen += 1;
        if a.count.is_some_and(|c| seen >= c) {
            break;
        }
    }
    Ok(())
}
