//! Running the hosts of a lookahead window on several threads.
//!
//! Every hop a datagram takes crosses a link, and no link is faster than
//! the world's shortest latency `L`. So whatever happens in the window
//! `[t0, t0 + L)`, where `t0` is the earliest pending event, cannot make a
//! datagram reach anything before the window ends: the window's host events
//! are all in the queue when it starts, except the wakeups that hosts'
//! steps queue for themselves. A host's step depends only on the host and
//! its input (`host_step.rs`), so each host can run its steps of the window
//! ahead, in its own event order and with its own wakeups, on any thread.
//!
//! The event loop then runs the window's events in the usual order, and for
//! each host event applies the effects that the step recorded instead of
//! running it. Datagram fates, NATs, the digest and the ledger all see the
//! same sequence as with one thread, so a run is the same event for event
//! whatever the number of threads.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tessel_overlay::limits::MAX_DATAGRAM;

use super::host_step::{Effect, Input, Step};
use super::run::{Event, Hop};
use super::World;
use crate::host::Host;
use crate::ids::HostId;
use crate::time::SimTime;

/// Fewest host events in a window for which threads are worth starting.
const MIN_PARALLEL_EVENTS: usize = 4;

/// The steps of one host in the current window, run ahead.
#[derive(Debug, Default)]
struct HostLog {
    /// The effects of all its steps, in order.
    effects: VecDeque<Effect>,
    /// Per step, in order: its time and how many effects it had.
    steps: VecDeque<(SimTime, usize)>,
}

/// The current window, its host steps run ahead.
#[derive(Debug)]
pub(super) struct Ahead {
    /// The window's last instant.
    end: SimTime,
    /// Host index → its log, for the hosts with events in the window.
    logs: Vec<(HostId, HostLog)>,
}

impl Ahead {
    /// Whether the window covers time `t`.
    pub(super) fn covers(&self, t: SimTime) -> bool {
        t <= self.end
    }

    /// Moves the effects of host `h`'s next step, which must run at `now`,
    /// into `out`.
    ///
    /// # Panics
    /// Panics if no such step ran ahead: the window's premise broke (a bug
    /// in the simulator).
    pub(super) fn take(&mut self, h: HostId, now: SimTime, out: &mut Vec<Effect>) {
        let i = self
            .logs
            .binary_search_by_key(&h, |(id, _)| *id)
            .unwrap_or_else(|_| panic!("{h} has an event at {now} that did not run ahead"));
        let log = &mut self.logs[i].1;
        let (at, n) = log
            .steps
            .pop_front()
            .unwrap_or_else(|| panic!("{h} has more events at {now} than ran ahead"));
        assert_eq!(at, now, "{h}'s steps ran ahead in another order");
        out.extend(log.effects.drain(..n));
    }

    /// Whether every step that ran ahead was used.
    fn used_up(&self) -> bool {
        self.logs.iter().all(|(_, l)| l.steps.is_empty())
    }
}

/// One host's share of a window.
struct Job<'a> {
    h: HostId,
    host: &'a mut Host,
    /// Its inputs in the window, in event order.
    inputs: Vec<(SimTime, Input<'a>)>,
    log: HostLog,
}

impl Job<'_> {
    /// Runs the host's steps of the window, up to `end`, recording their
    /// effects.
    fn run(&mut self, base: Instant, end: SimTime, scratch: &mut [u8], out: &mut Vec<Effect>) {
        // Wakeups that its steps queue within the window: they run after
        // the window's events at the same instant (they were queued later),
        // in the order they were queued.
        let mut wakes: BinaryHeap<Reverse<(SimTime, u64, u64)>> = BinaryHeap::new();
        let mut queued = 0u64;
        let mut next = 0;
        loop {
            let from_window = self.inputs.get(next).map(|&(at, _)| at);
            let from_wakes = wakes.peek().map(|Reverse((at, _, _))| *at);
            let window_first = match (from_window, from_wakes) {
                (Some(a), Some(w)) => a <= w,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let (now, input) = if window_first {
                next += 1;
                self.inputs[next - 1]
            } else {
                let Reverse((at, _, gen)) = wakes.pop().expect("peeked");
                (at, Input::Wake { gen })
            };
            Step {
                h: self.h,
                host: &mut *self.host,
                now,
                base,
                scratch: &mut *scratch,
                out: &mut *out,
            }
            .run(input);
            for effect in out.iter() {
                if let Effect::Wake { at, gen } = *effect {
                    if at <= end {
                        wakes.push(Reverse((at, queued, gen)));
                        queued += 1;
                    }
                }
            }
            self.log.steps.push_back((now, out.len()));
            self.log.effects.extend(out.drain(..));
        }
    }
}

thread_local! {
    /// A worker's output buffer for the node and its effects buffer.
    static WORKER: RefCell<(Vec<u8>, Vec<Effect>)> =
        RefCell::new((vec![0u8; MAX_DATAGRAM + 64], Vec::new()));
}

impl World {
    /// The shortest latency of any link: no datagram reaches anything
    /// sooner after it was sent.
    pub(super) fn min_latency(&self) -> Duration {
        self.hosts
            .iter()
            .map(|h| h.link.latency)
            .chain(self.nats.iter().map(|n| n.uplink.latency))
            .min()
            .unwrap_or(Duration::ZERO)
    }

    /// Ends the current window, if any.
    ///
    /// # Panics
    /// Panics if a step ran ahead that no event used (a bug in the simulator).
    pub(super) fn end_window(&mut self) {
        if let Some(ahead) = self.ahead.take() {
            assert!(ahead.used_up(), "steps ran ahead that no event used");
        }
    }

    /// Starts the window at `t0`, the earliest pending event, ending no
    /// later than `limit`: runs its host steps ahead on the world's threads,
    /// if there are several and the window has enough host events.
    pub(super) fn start_window(&mut self, t0: SimTime, limit: SimTime, lookahead: Duration) {
        self.end_window();
        if self.workers.is_none() || lookahead.is_zero() {
            return;
        }
        let end = limit.min(t0 + (lookahead - Duration::from_nanos(1)));
        let mut due: Vec<(SimTime, u64, HostId, Input<'_>)> = self
            .queue
            .due_until(end)
            .into_iter()
            .filter_map(|(at, seq, event)| match event {
                Event::Wake { host, gen } => Some((at, seq, *host, Input::Wake { gen: *gen })),
                Event::Arrive {
                    at: Hop::Host(h),
                    datagram,
                } => Some((
                    at,
                    seq,
                    *h,
                    Input::Datagram {
                        d: datagram,
                        verdict: self.verdict(*h, datagram),
                    },
                )),
                Event::Arrive { .. } => None,
            })
            .collect();
        if due.len() < MIN_PARALLEL_EVENTS {
            return;
        }
        // By host, then in event order.
        due.sort_unstable_by_key(|&(at, seq, h, _)| (h, at, seq));
        let mut jobs: Vec<Job<'_>> = Vec::new();
        let mut wanted = due.into_iter().peekable();
        for (i, host) in self.hosts.iter_mut().enumerate() {
            let h = HostId(i as u32);
            if wanted.peek().is_none_or(|w| w.2 != h) {
                continue;
            }
            let mut inputs = Vec::new();
            while let Some(&(at, _, _, input)) = wanted.peek().filter(|w| w.2 == h) {
                inputs.push((at, input));
                wanted.next();
            }
            jobs.push(Job {
                h,
                host,
                inputs,
                log: HostLog::default(),
            });
        }
        let Some(workers) = self.workers.as_ref() else {
            return;
        };
        let base = self.base;
        let jobs: Vec<Mutex<Job<'_>>> = jobs.into_iter().map(Mutex::new).collect();
        workers.run(jobs.len(), &|i| {
            let mut job = jobs[i].lock().unwrap_or_else(|e| e.into_inner());
            WORKER.with(|w| {
                let (scratch, out) = &mut *w.borrow_mut();
                job.run(base, end, scratch, out);
            });
        });
        let jobs: Vec<Job<'_>> = jobs
            .into_iter()
            .map(|j| j.into_inner().unwrap_or_else(|e| e.into_inner()))
            .collect();
        self.stats.windows_ahead += 1;
        self.stats.steps_ahead += jobs.iter().map(|j| j.log.steps.len() as u64).sum::<u64>();
        let logs = jobs.into_iter().map(|j| (j.h, j.log)).collect();
        self.ahead = Some(Ahead { end, logs });
    }
}
