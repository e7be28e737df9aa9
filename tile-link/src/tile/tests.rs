use super::*;

fn drain(t: &mut Tile) -> Vec<Event> {
    std::iter::from_fn(|| t.poll_event()).collect()
}

fn open_tile() -> Tile {
    let mut t = Tile::new(TileConfig {
        mfm_window: 2,
        service_queue: 2,
        bulk_queue: 3,
    });
    t.open_mfm().unwrap();
    t
}

#[test]
fn connect_and_disconnect_become_teps_then_credit() {
    let mut t = open_tile();
    t.handle_link_up(Dir::East);
    assert_eq!(
        drain(&mut t),
        vec![
            Event::Mfm {
                dir: Dir::East,
                packet: vec![0xc4, 0x01]
            },
            Event::Neighbour {
                dir: Dir::East,
                present: true
            },
            Event::MfmCredit {
                dir: Dir::East,
                grant: 2
            },
        ]
    );
    t.handle_link_up(Dir::East);
    assert!(drain(&mut t).is_empty(), "a second link up is no event");
    t.handle_link_down(Dir::East);
    assert_eq!(
        drain(&mut t),
        vec![
            Event::Mfm {
                dir: Dir::East,
                packet: vec![0xc4, 0x02]
            },
            Event::Neighbour {
                dir: Dir::East,
                present: false
            },
        ]
    );
    let c = t.counters(Dir::East);
    assert_eq!((c.connects, c.disconnects), (1, 1));
}

#[test]
fn credit_limits_sends_per_direction_and_refuses_loudly() {
    let mut t = open_tile();
    t.handle_link_up(Dir::East);
    t.handle_link_up(Dir::West);
    drain(&mut t);
    t.send_mfm(Dir::East, &[0xa2, 1]).unwrap();
    t.send_mfm(Dir::East, &[0xa2, 2]).unwrap();
    assert_eq!(
        t.send_mfm(Dir::East, &[0xa2, 3]),
        Err(SendError::NoCredit(Dir::East))
    );
    assert_eq!(t.counters(Dir::East).tx_refused, 1);
    // The east link is stuck (no link credit); the west is not held back.
    t.send_mfm(Dir::West, &[0xa6, 9]).unwrap();
    t.handle_link_credit(Dir::West, 5);
    assert_eq!(
        t.poll_transmit(),
        Some(Transmit {
            dir: Dir::West,
            packet: vec![0xa6, 9]
        })
    );
    assert_eq!(t.poll_transmit(), None);
    assert_eq!(
        drain(&mut t),
        vec![Event::MfmCredit {
            dir: Dir::West,
            grant: 1
        }]
    );
    // East drains when its link can take packets; credit comes back.
    t.handle_link_credit(Dir::East, 1);
    assert_eq!(t.poll_transmit().unwrap().packet, vec![0xa2, 1]);
    assert_eq!(t.poll_transmit(), None);
    assert_eq!(
        drain(&mut t),
        vec![Event::MfmCredit {
            dir: Dir::East,
            grant: 1
        }]
    );
}

#[test]
fn sends_are_checked() {
    let mut t = open_tile();
    t.handle_link_up(Dir::North);
    drain(&mut t);
    assert!(matches!(
        t.send_mfm(Dir::North, &[0xb0, 1]),
        Err(SendError::Invalid(_))
    ));
    assert!(matches!(
        t.send_mfm(Dir::North, &[0xa8]),
        Err(SendError::Invalid(_))
    ));
    assert!(matches!(
        t.send_mfm(Dir::North, &[0xa1]),
        Err(SendError::Invalid(_))
    ));
    assert!(matches!(
        t.send_mfm(Dir::North, &[0xc4, 1]),
        Err(SendError::Invalid(_))
    ));
    assert!(matches!(
        t.send_mfm(Dir::North, &[0x80, 8]),
        Err(SendError::Invalid(_))
    ));
    assert!(matches!(
        t.send_mfm(Dir::North, &[0x12]),
        Err(SendError::Wire(_))
    ));
    assert_eq!(
        t.send_mfm(Dir::South, &[0xa4]),
        Err(SendError::Absent(Dir::South))
    );
    // A local packet of another type is fine.
    t.send_mfm(Dir::North, &[0xc1, 7]).unwrap();
    assert_eq!(t.counters(Dir::North).tx_refused, 6);
    let svc = Service::new(12).unwrap();
    assert_eq!(
        t.send_service(Dir::North, svc, b"x", Priority::Normal),
        Err(SendError::NotOpen)
    );
}

#[test]
fn received_packets_are_demultiplexed_or_dropped_and_counted() {
    let mut t = open_tile();
    let svc = Service::new(12).unwrap();
    t.bind(svc).unwrap();
    assert_eq!(t.bind(svc), Err(SendError::Taken));
    t.handle_link_up(Dir::SouthEast);
    drain(&mut t);
    let d = Dir::SouthEast;
    // MFM: DIR rewritten to the arrival direction.
    t.handle_packet(d, &[0xa7, 1, 2]);
    // Service 12, bound; service 13, not.
    t.handle_packet(d, &[0x87, 12, 5]);
    t.handle_packet(d, &[0x87, 13, 5]);
    // A TEP from the link, and one with a reserved event.
    t.handle_packet(d, &[0xc4, 1]);
    t.handle_packet(d, &[0xc4, 9]);
    // A local packet of type 2.
    t.handle_packet(d, &[0xc2, 0xee]);
    // Malformed: not standard, reserved local bit, reserved service bits,
    // too long; and OVRN set by a sender.
    for bad in [&[0x01u8][..], &[0xe0], &[0x80, 0x41], &[0xa0; 256], &[0xb3]] {
        t.handle_packet(d, bad);
    }
    // The next MFM packet carries EROR: packets were dropped.
    t.handle_packet(d, &[0xa0]);
    t.handle_rx_overrun(d);
    t.handle_packet(d, &[0xa0]);
    assert_eq!(
        drain(&mut t),
        vec![
            Event::Mfm {
                dir: d,
                packet: vec![0xa3, 1, 2]
            },
            Event::Service {
                service: svc,
                dir: d,
                payload: vec![5]
            },
            Event::Mfm {
                dir: d,
                packet: vec![0xc2, 0xee]
            },
            Event::Mfm {
                dir: d,
                packet: vec![0b1010_1011]
            },
            Event::Mfm {
                dir: d,
                packet: vec![0b1011_0011]
            },
        ]
    );
    let c = t.counters(d);
    assert_eq!(c.rx_packets, 13);
    assert_eq!((c.rx_mfm, c.rx_service, c.rx_unbound), (3, 1, 1));
    assert_eq!((c.rx_tep, c.rx_tep_bad_event), (2, 1));
    assert_eq!(c.rx_local[2], 1);
    assert_eq!((c.rx_malformed, c.rx_flags_set), (4, 1));
    assert_eq!(c.rx_dropped(), 8);
    assert_eq!(c.rx_overruns, 1);
}

#[test]
fn mfm_goes_before_service_before_bulk_and_disconnect_flushes() {
    let mut t = open_tile();
    let svc = Service::FILE_UPDATE;
    t.bind(svc).unwrap();
    t.handle_link_up(Dir::West);
    drain(&mut t);
    let w = Dir::West;
    t.send_service(w, svc, b"bulk", Priority::Bulk).unwrap();
    t.send_service(w, svc, b"norm", Priority::Normal).unwrap();
    t.send_mfm(w, &[0xa6]).unwrap();
    t.handle_link_credit(w, 2);
    assert_eq!(t.poll_transmit().unwrap().packet, vec![0xa6]);
    assert_eq!(t.poll_transmit().unwrap().packet, b"\x86\x08norm".to_vec());
    assert_eq!(t.poll_transmit(), None, "no link credit left");
    t.send_service(w, svc, b"b2", Priority::Bulk).unwrap();
    t.send_service(w, svc, b"b3", Priority::Bulk).unwrap();
    assert_eq!(
        t.send_service(w, svc, b"b4", Priority::Bulk),
        Err(SendError::QueueFull(w))
    );
    t.handle_link_down(w);
    assert_eq!(t.counters(w).tx_flushed, 3);
    assert_eq!(t.queued(w), 0);
    t.handle_link_up(w);
    t.handle_link_credit(w, 9);
    assert_eq!(t.poll_transmit(), None);
}

#[test]
fn closed_mfm_channel_counts_what_it_misses() {
    let mut t = Tile::new(TileConfig::default());
    t.handle_link_up(Dir::North);
    assert_eq!(
        drain(&mut t),
        vec![Event::Neighbour {
            dir: Dir::North,
            present: true
        }]
    );
    t.handle_packet(Dir::North, &[0xa0]);
    t.handle_packet(Dir::South, &[0xa0]);
    assert!(drain(&mut t).is_empty());
    assert_eq!(t.counters(Dir::North).rx_no_mfm, 1);
    assert_eq!(t.counters(Dir::South).rx_absent, 1);
    assert_eq!(t.send_mfm(Dir::North, &[0xa0]), Err(SendError::NotOpen));
}

#[test]
fn events_map_to_channel_frames() {
    let mut t = open_tile();
    let svc = Service::new(3).unwrap();
    t.bind(svc).unwrap();
    t.handle_link_up(Dir::NorthEast);
    t.handle_packet(Dir::NorthEast, &[0x81, 3, 0xee]);
    let bytes: Vec<Vec<u8>> = drain(&mut t)
        .iter()
        .map(|e| e.frame().to_vec().unwrap())
        .collect();
    assert_eq!(
        bytes,
        vec![
            vec![0, 4, 0x01, 1, 0xc4, 0x01],
            vec![0, 3, 0x06, 1, 1],
            vec![0, 4, 0x02, 1, 3, 0xee],
            vec![0, 4, 0x03, 1, 0, 2],
        ]
    );
}

#[derive(Debug, Clone)]
enum Op {
    Up(u8),
    Down(u8),
    LinkCredit(u8, u8),
    Send(u8),
    Transmit(u8),
    Events,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0u8..3).prop_map(Op::Up),
        (0u8..3).prop_map(Op::Down),
        (0u8..3, 0u8..4).prop_map(|(d, n)| Op::LinkCredit(d, n)),
        (0u8..3).prop_map(Op::Send),
        (0u8..3).prop_map(Op::Send),
        (0u8..6).prop_map(Op::Transmit),
        Just(Op::Events),
    ]
}

proptest::proptest! {
    /// A program that follows the credit it was granted is refused only
    /// when the neighbour is gone, never holds more than the window, and every accepted packet is
    /// transmitted, still queued, or counted as flushed at a disconnect.
    #[test]
    fn credit_model_holds(ops in proptest::collection::vec(op(), 1..200)) {
        let window = 3u32;
        let mut t = Tile::new(TileConfig { mfm_window: window as u16, ..TileConfig::default() });
        t.open_mfm().unwrap();
        let mut credit = [0u32; 8];
        let mut accepted = [0u64; 8];
        let mut sent = [0u64; 8];
        // A disconnect the program has not read yet: its credit is void.
        let mut stale = [false; 8];
        for op in ops {
            match op {
                Op::Up(d) => t.handle_link_up(Dir::from_bits(d)),
                Op::Down(d) => {
                    let dir = Dir::from_bits(d);
                    stale[dir.index()] |= t.is_present(dir);
                    t.handle_link_down(dir);
                }
                Op::LinkCredit(d, n) => t.handle_link_credit(Dir::from_bits(d), u32::from(n)),
                Op::Send(d) => {
                    let dir = Dir::from_bits(d);
                    let r = t.send_mfm(dir, &[0xa0 | d]);
                    if stale[dir.index()] {
                        proptest::prop_assert!(matches!(
                            r,
                            Err(SendError::Absent(_) | SendError::NoCredit(_))
                        ));
                    } else if credit[dir.index()] > 0 {
                        proptest::prop_assert_eq!(r, Ok(()));
                        credit[dir.index()] -= 1;
                        accepted[dir.index()] += 1;
                    } else {
                        proptest::prop_assert!(r.is_err());
                    }
                }
                Op::Transmit(k) => {
                    for _ in 0..k {
                        if let Some(tx) = t.poll_transmit() {
                            proptest::prop_assert_eq!(tx.packet[0] & 7, tx.dir.value());
                            sent[tx.dir.index()] += 1;
                        }
                    }
                }
                Op::Events => {
                    stale = [false; 8];
                    while let Some(e) = t.poll_event() {
                        match e {
                            Event::MfmCredit { dir, grant } => {
                                credit[dir.index()] += u32::from(grant);
                                proptest::prop_assert!(credit[dir.index()] <= window);
                            }
                            Event::Mfm { dir, packet } if packet == [0xc4, 0x02] => {
                                credit[dir.index()] = 0;
                            }
                            _ => {}
                        }
                    }
                }
            }
            for d in 0..3 {
                let dir = Dir::from_bits(d);
                let c = t.counters(dir);
                proptest::prop_assert_eq!(
                    accepted[dir.index()],
                    sent[dir.index()] + c.tx_flushed + t.queued(dir) as u64
                );
                proptest::prop_assert_eq!(sent[dir.index()], c.tx_packets);
            }
        }
    }
}

#[test]
fn a_late_mfm_channel_learns_who_is_present() {
    let mut t = Tile::new(TileConfig {
        mfm_window: 1,
        ..TileConfig::default()
    });
    t.handle_link_up(Dir::West);
    t.handle_link_up(Dir::North);
    drain(&mut t);
    t.open_mfm().unwrap();
    assert_eq!(
        drain(&mut t),
        vec![
            Event::Mfm {
                dir: Dir::North,
                packet: vec![0xc4, 0x01]
            },
            Event::Mfm {
                dir: Dir::West,
                packet: vec![0xc4, 0x01]
            },
            Event::MfmCredit {
                dir: Dir::North,
                grant: 1
            },
            Event::MfmCredit {
                dir: Dir::West,
                grant: 1
            },
        ]
    );
    // Reopened after a close: told again.
    t.close_mfm();
    t.open_mfm().unwrap();
    assert_eq!(drain(&mut t).len(), 4);
}
