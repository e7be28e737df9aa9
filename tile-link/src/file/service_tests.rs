//! Two or three file services wired back to back, messages delivered at
//! once, time stepped by hand.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;

use super::config::{FileConfig, FileEvent};
use super::msg::{Message, RefusalReason, MAX_CHUNK};
use super::name::FileName;
use super::service::{FileService, PublishError};
use super::signed::{self, SignedError};
use super::store::{MemStore, Store};
use crate::dir::Dir;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn config() -> FileConfig {
    FileConfig {
        trusted: vec![key(1).verifying_key()],
        advert_interval: Duration::from_secs(1),
        max_file_size: 64 * 1024,
        window: 4,
        stall_timeout: Duration::from_secs(3),
        ..FileConfig::default()
    }
}

fn file(name: &str, ts: u64, len: usize) -> Vec<u8> {
    let content: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    signed::sign(&key(1), &FileName::new(name).unwrap(), ts, &content)
}

/// A line of services: 0 --E/W-- 1 --E/W-- 2 ...
struct Line {
    nodes: Vec<FileService<MemStore>>,
    up: Vec<bool>,
    now: Instant,
    /// Messages in flight, delivered by `run` unless the link is down.
    limit_per_run: Option<usize>,
}

impl Line {
    fn new(n: usize, now: Instant) -> Self {
        let nodes = (0..n)
            .map(|i| FileService::new(config(), MemStore::new(), i as u64, now))
            .collect();
        Self {
            nodes,
            up: vec![false; n.saturating_sub(1)],
            now,
            limit_per_run: None,
        }
    }

    fn link(&mut self, i: usize, up: bool) {
        self.up[i] = up;
        let now = self.now;
        self.nodes[i].handle_neighbour(now, Dir::East, up);
        self.nodes[i + 1].handle_neighbour(now, Dir::West, up);
    }

    /// Delivers messages until none are left (or `limit_per_run` is hit);
    /// returns how many were delivered.
    fn run(&mut self) -> usize {
        let mut delivered = 0;
        loop {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                while let Some(o) = self.nodes[i].poll_transmit() {
                    let (j, from, link) = match o.dir {
                        Dir::East => (i + 1, Dir::West, i),
                        Dir::West => (i - 1, Dir::East, i - 1),
                        _ => unreachable!("line only"),
                    };
                    if !self.up[link] {
                        continue;
                    }
                    let now = self.now;
                    self.nodes[j].handle_message(now, from, &o.payload);
                    delivered += 1;
                    moved = true;
                    if self.limit_per_run.is_some_and(|l| delivered >= l) {
                        return delivered;
                    }
                }
            }
            if !moved {
                return delivered;
            }
        }
    }

    fn tick(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        for n in &mut self.nodes {
            n.handle_timeout(now);
        }
    }

    fn events(&mut self, i: usize) -> Vec<FileEvent> {
        std::iter::from_fn(|| self.nodes[i].poll_event()).collect()
    }
}

#[test]
fn published_file_reaches_the_end_of_the_line() {
    let mut l = Line::new(3, Instant::now());
    l.link(0, true);
    l.link(1, true);
    let f = file("phys.mfz", 10, 3000);
    let name = l.nodes[0].publish(&f).unwrap();
    l.run();
    for i in 0..3 {
        assert_eq!(l.nodes[i].store().live(&name), Some(&f[..]), "node {i}");
        assert_eq!(l.nodes[i].store().partial_count(), 0);
    }
    assert!(matches!(
        l.events(2).as_slice(),
        [FileEvent::Committed { size, .. }] if *size as usize == f.len()
    ));
    assert_eq!(l.nodes[1].counters().downloaded, 1);
    // After everyone re-advertised, each knows its neighbours have it.
    l.tick(Duration::from_secs(3));
    l.run();
    assert_eq!(l.nodes[1].neighbours_with(&name).len(), 2);
    // Chunks went once per hop, windowed: no chunk sent twice.
    let chunks = f.len().div_ceil(MAX_CHUNK) as u64;
    assert_eq!(l.nodes[0].counters().chunks_sent, chunks);
    assert_eq!(l.nodes[1].counters().chunks_sent, chunks);
}

#[test]
fn bad_files_are_refused_at_publish() {
    let mut l = Line::new(1, Instant::now());
    let untrusted = signed::sign(&key(2), &FileName::new("x").unwrap(), 1, b"c");
    assert!(matches!(
        l.nodes[0].publish(&untrusted),
        Err(PublishError::Signed(SignedError::Untrusted))
    ));
    let mut tampered = file("x", 1, 10);
    let n = tampered.len();
    tampered[n - 1] ^= 1;
    assert!(matches!(
        l.nodes[0].publish(&tampered),
        Err(PublishError::Signed(SignedError::BadSignature))
    ));
    assert!(matches!(
        l.nodes[0].publish(&file("big", 1, 70_000)),
        Err(PublishError::TooLarge { .. })
    ));
    l.nodes[0].publish(&file("x", 5, 10)).unwrap();
    assert!(matches!(
        l.nodes[0].publish(&file("x", 4, 10)),
        Err(PublishError::NotNewer(_))
    ));
    assert!(l.nodes[0].store().list().unwrap().len() == 1);
}

#[test]
fn a_liar_serving_tampered_bytes_is_dropped_as_a_source() {
    let now = Instant::now();
    let mut b = FileService::new(config(), MemStore::new(), 7, now);
    b.handle_neighbour(now, Dir::West, true);
    b.handle_neighbour(now, Dir::East, true);
    let good = file("f", 3, 500);
    let p = signed::Packet::new_checked(&good[..]).unwrap();
    let (name, version) = (p.name(), p.version());
    let advert = Message::Advert {
        version,
        size: good.len() as u32,
        name: name.clone(),
    }
    .to_vec();
    // The liar (west) advertises the genuine version first.
    b.handle_message(now, Dir::West, &advert);
    let req = b.poll_transmit().unwrap();
    assert_eq!(req.dir, Dir::West);
    let Ok(Message::Request { id, offset: 0, .. }) = Message::parse(&req.payload) else {
        panic!("expected a request");
    };
    let mut bad = good.clone();
    bad[200] ^= 0xff;
    for (k, c) in bad.chunks(MAX_CHUNK).enumerate() {
        let m = Message::Chunk {
            id,
            offset: (k * MAX_CHUNK) as u32,
            data: c,
        };
        b.handle_message(now, Dir::West, &m.to_vec());
    }
    b.handle_message(
        now,
        Dir::West,
        &Message::End {
            id,
            size: bad.len() as u32,
        }
        .to_vec(),
    );
    assert!(b.store().live(&name).is_none());
    assert_eq!(b.store().partial_count(), 0);
    assert_eq!(b.counters().bad_files, 1);
    assert!(std::iter::from_fn(|| b.poll_event())
        .any(|e| matches!(e, FileEvent::Rejected { dir: Dir::West, .. })));
    // The genuine version is not blacklisted: an honest east neighbour's
    // advert starts a new download from the east.
    while b.poll_transmit().is_some() {}
    b.handle_message(now, Dir::East, &advert);
    let req = b.poll_transmit().unwrap();
    assert_eq!(req.dir, Dir::East);
    assert!(matches!(
        Message::parse(&req.payload),
        Ok(Message::Request { offset: 0, .. })
    ));
    // The liar is no longer a source: its adverts alone start nothing.
    while b.poll_transmit().is_some() {}
    b.handle_neighbour(now, Dir::East, false);
    assert_eq!(b.downloads(), 0);
    b.handle_message(now, Dir::West, &advert);
    assert_eq!(b.downloads(), 0);
    assert_eq!(b.poll_transmit(), None);
}

#[test]
fn a_wrongly_signed_version_is_bad_everywhere() {
    let now = Instant::now();
    let mut b = FileService::new(config(), MemStore::new(), 7, now);
    b.handle_neighbour(now, Dir::West, true);
    let f = signed::sign(&key(9), &FileName::new("f").unwrap(), 3, b"evil");
    let p = signed::Packet::new_checked(&f[..]).unwrap();
    let advert = Message::Advert {
        version: p.version(),
        size: f.len() as u32,
        name: p.name(),
    }
    .to_vec();
    b.handle_message(now, Dir::West, &advert);
    let req = b.poll_transmit().unwrap();
    let Ok(Message::Request { id, .. }) = Message::parse(&req.payload) else {
        panic!("expected a request");
    };
    for (k, c) in f.chunks(MAX_CHUNK).enumerate() {
        let m = Message::Chunk {
            id,
            offset: (k * MAX_CHUNK) as u32,
            data: c,
        };
        b.handle_message(now, Dir::West, &m.to_vec());
    }
    let end = Message::End {
        id,
        size: f.len() as u32,
    };
    b.handle_message(now, Dir::West, &end.to_vec());
    assert_eq!(b.counters().bad_files, 1);
    assert!(b.store().list().unwrap().is_empty());
    // Heard again: not requested again.
    b.handle_message(now, Dir::West, &advert);
    assert_eq!(b.poll_transmit(), None);
}

#[test]
fn a_cut_transfer_never_appears_partially_and_resumes() {
    let mut l = Line::new(3, Instant::now());
    l.link(0, true);
    let f = file("big.mfz", 1, 20_000);
    let name = l.nodes[0].publish(&f).unwrap();
    // Let only part of the transfer through, then cut the link.
    l.limit_per_run = Some(30);
    l.run();
    l.link(0, false);
    l.limit_per_run = None;
    l.run();
    assert!(l.nodes[1].store().live(&name).is_none());
    let part = l.nodes[1].store().partial_count();
    assert_eq!(part, 1, "the partial file is kept for resuming");
    let got = l.nodes[1].counters().chunk_bytes_received;
    assert!(got > 0 && got < f.len() as u64);
    // The link returns: the background adverts bring the offer back and
    // the download resumes where it stopped.
    l.link(0, true);
    for _ in 0..10 {
        l.tick(Duration::from_secs(1));
        l.run();
    }
    assert_eq!(l.nodes[1].store().live(&name), Some(&f[..]));
    let total = l.nodes[1].counters().chunk_bytes_received;
    assert_eq!(total, f.len() as u64, "no byte fetched twice");
}

#[test]
fn a_stalled_source_is_replaced_by_another() {
    let mut l = Line::new(3, Instant::now());
    let f = file("s", 1, 5000);
    let name = l.nodes[0].publish(&f).unwrap();
    l.nodes[2].publish(&f).unwrap();
    l.link(0, true);
    l.link(1, true);
    // Node 1 hears both adverts (sent on connect) ...
    let now = l.now;
    while let Some(o) = l.nodes[0].poll_transmit() {
        l.nodes[1].handle_message(now, Dir::West, &o.payload);
    }
    while let Some(o) = l.nodes[2].poll_transmit() {
        l.nodes[1].handle_message(now, Dir::East, &o.payload);
    }
    // ... and asks one of them, but the request is lost.
    let lost: Vec<_> = std::iter::from_fn(|| l.nodes[1].poll_transmit()).collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(l.nodes[1].downloads(), 1);
    l.tick(Duration::from_secs(2));
    assert_eq!(l.nodes[1].counters().stalled, 0);
    l.tick(Duration::from_secs(2));
    assert_eq!(l.nodes[1].counters().stalled, 1);
    // The retry goes to the other neighbour, which answers.
    let retry = l.nodes[1].poll_transmit().unwrap();
    assert_ne!(retry.dir, lost[0].dir);
    let (j, from) = if retry.dir == Dir::East {
        (2, Dir::West)
    } else {
        (0, Dir::East)
    };
    let now = l.now;
    l.nodes[j].handle_message(now, from, &retry.payload);
    l.run();
    assert_eq!(l.nodes[1].store().live(&name), Some(&f[..]));
}

#[test]
fn newer_versions_win_and_ties_go_to_the_lower_hash() {
    let mut l = Line::new(2, Instant::now());
    l.link(0, true);
    let old = file("v", 1, 100);
    let new = file("v", 2, 100);
    l.nodes[0].publish(&old).unwrap();
    l.run();
    l.nodes[0].publish(&new).unwrap();
    l.run();
    let name = FileName::new("v").unwrap();
    assert_eq!(l.nodes[1].store().live(&name), Some(&new[..]));
    // Two different files with the same timestamp: both tiles settle on
    // the one whose signed content hashes lower, whoever publishes first.
    let a = signed::sign(&key(1), &name, 9, b"first");
    let b = signed::sign(&key(1), &name, 9, b"second");
    let ha = signed::Packet::new_checked(&a[..]).unwrap().version();
    let hb = signed::Packet::new_checked(&b[..]).unwrap().version();
    let winner = if ha > hb { &a } else { &b };
    let loser = if ha > hb { &b } else { &a };
    l.link(0, false);
    l.nodes[0].publish(loser).unwrap();
    l.nodes[1].publish(winner).unwrap();
    l.link(0, true);
    l.run();
    assert_eq!(l.nodes[0].store().live(&name), Some(&winner[..]));
    assert_eq!(l.nodes[1].store().live(&name), Some(&winner[..]));
}

#[test]
fn size_limit_and_full_disk() {
    let now = Instant::now();
    let mut b = FileService::new(config(), MemStore::with_quota(1000), 1, now);
    b.handle_neighbour(now, Dir::West, true);
    let big = Message::Advert {
        version: super::signed::Version {
            timestamp: 1,
            hash: [0; 32],
        },
        size: 1 << 20,
        name: FileName::new("huge").unwrap(),
    };
    b.handle_message(now, Dir::West, &big.to_vec());
    assert_eq!(b.counters().too_large, 1);
    assert_eq!(b.poll_transmit(), None);
    // A file larger than the quota: the store fills, the download stops
    // with a clear event, nothing partial is left anywhere.
    let mut a = FileService::new(config(), MemStore::new(), 2, now);
    a.publish(&file("f", 1, 3000)).unwrap();
    a.handle_neighbour(now, Dir::East, true);
    for _ in 0..200 {
        let mut moved = false;
        while let Some(o) = a.poll_transmit() {
            b.handle_message(now, Dir::West, &o.payload);
            moved = true;
        }
        while let Some(o) = b.poll_transmit() {
            a.handle_message(now, Dir::East, &o.payload);
            moved = true;
        }
        if !moved {
            break;
        }
    }
    let events: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, FileEvent::StoreFailed { error, .. } if error.contains("full"))),
        "{events:?}"
    );
    assert!(b.store().list().unwrap().is_empty());
    assert_eq!(b.store().partial_count(), 0);
}

#[test]
fn bad_local_files_are_ignored_at_start() {
    let mut store = MemStore::new();
    let mut t = file("t", 1, 10);
    t[112] ^= 1;
    store.insert_unchecked(FileName::new("t").unwrap(), t);
    // A good file stored under another name than it was signed for.
    store.insert_unchecked(FileName::new("u").unwrap(), file("w", 1, 10));
    store.insert_unchecked(FileName::new("w").unwrap(), file("w", 1, 10));
    // A good file above the size limit.
    store.insert_unchecked(FileName::new("big").unwrap(), file("big", 1, 70_000));
    let s = FileService::new(config(), store, 0, Instant::now());
    assert_eq!(s.counters().bad_local, 3);
    assert_eq!(s.files().count(), 1);
    assert!(s.version(&FileName::new("w").unwrap()).is_some());
}

#[test]
fn a_poisoned_partial_costs_a_retry_not_the_honest_source() {
    let now = Instant::now();
    let mut b = FileService::new(config(), MemStore::new(), 7, now);
    b.handle_neighbour(now, Dir::West, true);
    let good = file("f", 3, 2000);
    let p = signed::Packet::new_checked(&good[..]).unwrap();
    let advert = Message::Advert {
        version: p.version(),
        size: good.len() as u32,
        name: p.name(),
    }
    .to_vec();
    // The liar in the west sends two chunks of wrong bytes, then leaves.
    b.handle_message(now, Dir::West, &advert);
    let Ok(Message::Request { id, .. }) = Message::parse(&b.poll_transmit().unwrap().payload)
    else {
        panic!("expected a request");
    };
    let junk = vec![0x5a; MAX_CHUNK];
    for k in 0..2 {
        let m = Message::Chunk {
            id,
            offset: (k * MAX_CHUNK) as u32,
            data: &junk,
        };
        b.handle_message(now, Dir::West, &m.to_vec());
    }
    b.handle_neighbour(now, Dir::West, false);
    while b.poll_transmit().is_some() {}
    // An honest neighbour in the east: the download resumes after the junk.
    let mut a = FileService::new(config(), MemStore::new(), 8, now);
    a.publish(&good).unwrap();
    a.handle_neighbour(now, Dir::West, true);
    b.handle_neighbour(now, Dir::East, true);
    let mut first_offsets = Vec::new();
    for _ in 0..100 {
        let mut moved = false;
        while let Some(o) = a.poll_transmit() {
            b.handle_message(now, Dir::East, &o.payload);
            moved = true;
        }
        while let Some(o) = b.poll_transmit() {
            if let Ok(Message::Request { offset, window, .. }) = Message::parse(&o.payload) {
                if window > 0 && !first_offsets.contains(&offset) {
                    first_offsets.push(offset);
                }
            }
            a.handle_message(now, Dir::West, &o.payload);
            moved = true;
        }
        if !moved {
            break;
        }
    }
    // The resumed copy failed its check; the east was not blamed, and the
    // retry from offset 0 brought the right file.
    assert_eq!(first_offsets[0], 2 * MAX_CHUNK as u32);
    assert!(first_offsets.contains(&0));
    assert_eq!(b.counters().bad_files, 1);
    assert_eq!(b.store().live(&p.name()), Some(&good[..]));
    assert_eq!(b.store().partial_count(), 0);
}

#[test]
fn a_local_publish_supersedes_a_download_in_progress() {
    let mut l = Line::new(2, Instant::now());
    l.link(0, true);
    let old = file("v", 1, 5000);
    let new = file("v", 2, 100);
    l.nodes[0].publish(&old).unwrap();
    l.limit_per_run = Some(6);
    l.run();
    assert_eq!(l.nodes[1].downloads(), 1);
    l.nodes[1].publish(&new).unwrap();
    assert_eq!(l.nodes[1].downloads(), 0);
    assert_eq!(l.nodes[1].store().partial_count(), 0);
    l.limit_per_run = None;
    l.run();
    let name = FileName::new("v").unwrap();
    assert_eq!(l.nodes[1].store().live(&name), Some(&new[..]));
    assert_eq!(l.nodes[0].store().live(&name), Some(&new[..]));
    assert!(
        l.nodes[1].counters().stray > 0,
        "the old stream's tail is ignored"
    );
}

#[test]
fn an_abandoned_upload_frees_its_slot() {
    let now = Instant::now();
    let cfg = FileConfig {
        max_uploads: 1,
        ..config()
    };
    let mut a = FileService::new(cfg, MemStore::new(), 1, now);
    let f = file("f", 1, 5000);
    a.publish(&f).unwrap();
    a.handle_neighbour(now, Dir::East, true);
    a.handle_neighbour(now, Dir::West, true);
    while a.poll_transmit().is_some() {}
    let p = signed::Packet::new_checked(&f[..]).unwrap();
    let req = |id| Message::Request {
        id,
        offset: 0,
        window: 2,
        version: p.version(),
        name: p.name(),
    };
    // The east asks, takes two chunks, and never acknowledges.
    a.handle_message(now, Dir::East, &req(1).to_vec());
    assert_eq!(std::iter::from_fn(|| a.poll_transmit()).count(), 2);
    // The west is refused: the one slot is taken.
    a.handle_message(now, Dir::West, &req(2).to_vec());
    let out: Vec<_> = std::iter::from_fn(|| a.poll_transmit()).collect();
    assert!(matches!(
        Message::parse(&out[0].payload),
        Ok(Message::Refusal {
            id: 2,
            reason: RefusalReason::Busy
        })
    ));
    // After two stall timeouts of silence the slot is free again.
    let later = now + Duration::from_secs(7);
    assert!(a.poll_timeout().is_some_and(|t| t <= later));
    a.handle_timeout(later);
    while a.poll_transmit().is_some() {}
    a.handle_message(later, Dir::West, &req(3).to_vec());
    let out: Vec<_> = std::iter::from_fn(|| a.poll_transmit()).collect();
    assert!(matches!(
        Message::parse(&out[0].payload),
        Ok(Message::Chunk {
            id: 3,
            offset: 0,
            ..
        })
    ));
}

#[test]
fn transfers_between_directory_stores() {
    use super::dir_store::DirStore;
    let root = std::env::temp_dir().join(format!("tessel-tile-svc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let now = Instant::now();
    let mut a = FileService::new(config(), DirStore::open(&root.join("a")).unwrap(), 1, now);
    let mut b = FileService::new(config(), DirStore::open(&root.join("b")).unwrap(), 2, now);
    let f = file("phys.mfz", 4, 9000);
    a.publish(&f).unwrap();
    a.handle_neighbour(now, Dir::East, true);
    b.handle_neighbour(now, Dir::West, true);
    let mut moved = true;
    while moved {
        moved = false;
        while let Some(o) = a.poll_transmit() {
            b.handle_message(now, Dir::West, &o.payload);
            moved = true;
        }
        while let Some(o) = b.poll_transmit() {
            a.handle_message(now, Dir::East, &o.payload);
            moved = true;
        }
    }
    let live = root.join("b").join("live").join("phys.mfz");
    assert_eq!(std::fs::read(&live).unwrap(), f);
    assert_eq!(
        std::fs::read_dir(root.join("b").join("tmp"))
            .unwrap()
            .count(),
        0
    );
    // A restarted tile finds and verifies what it committed.
    let b2 = FileService::new(config(), DirStore::open(&root.join("b")).unwrap(), 3, now);
    assert_eq!(b2.files().count(), 1);
    assert_eq!(b2.counters().bad_local, 0);
    std::fs::remove_dir_all(&root).unwrap();
}
