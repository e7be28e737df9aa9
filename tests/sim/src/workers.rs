//! A few worker threads that, with the calling thread, run the jobs of one
//! batch at a time: [`Workers::run`]`(n, f)` calls `f(0)` to `f(n - 1)`,
//! each once, spread over the threads, and returns when all are done.
//!
//! The simulator runs a batch every few virtual milliseconds, thousands of
//! times a second, each worth about a millisecond of work; so between
//! batches the workers spin for a while before they sleep, and a batch
//! starts without waking anyone up.
//!
//! Threads pay off only when they get cores: on a machine busy with other
//! work, batches can take longer on several threads than on one. So `run`
//! now and then times a few batches each way (jobs per second with the
//! workers, and on the calling thread alone), then runs the next many
//! batches the faster way. Which thread runs a job never changes what the
//! job does, so this changes how long a run takes, never what it does.

// Scheduling of the host threads, not of the simulated nodes: how long a
// worker spins and which way a batch runs faster are wall-clock matters.
#![allow(clippy::disallowed_methods)]
// The pool hands a borrowed job to its threads by erasing its lifetime;
// the block that does so says why it is sound.
#![allow(unsafe_code)]

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it sleeps.
const SPIN: Duration = Duration::from_micros(100);
/// Batches timed each way in a trial.
const TRIAL: u32 = 24;
/// Batches run the faster way after a trial.
const STINT: u32 = 1000;
/// The workers must be this much faster to be used.
const MARGIN: f64 = 1.1;

/// A batch's job function.
type Job<'a> = dyn Fn(usize) + Sync + 'a;

/// The state the threads share.
#[derive(Default)]
struct Shared {
    /// The current batch's job function (null: no batch). Points to a
    /// `&Job` on the stack of [`Workers::run`], which does not return
    /// before no worker can use it any more.
    job: AtomicPtr<&'static Job<'static>>,
    /// Batches started so far (a worker helps with each batch once).
    batch: AtomicU64,
    /// Jobs in the current batch.
    len: AtomicUsize,
    /// The next job to claim.
    next: AtomicUsize,
    /// Jobs of the current batch that are done.
    done: AtomicUsize,
    /// Workers that may be using the job function.
    active: AtomicUsize,
    /// Workers asleep.
    sleeping: AtomicUsize,
    shutdown: AtomicBool,
    /// The first panic of a job in the current batch.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// For sleeping workers.
    lock: Mutex<()>,
    wake: Condvar,
}

impl Shared {
    /// Claims and runs jobs of the current batch until none is left.
    fn help(&self, job: &Job<'_>) {
        let len = self.len.load(SeqCst);
        loop {
            let i = self.next.fetch_add(1, SeqCst);
            if i >= len {
                return;
            }
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| job(i))) {
                let mut first = self.panic.lock().unwrap_or_else(|e| e.into_inner());
                first.get_or_insert(p);
            }
            self.done.fetch_add(1, SeqCst);
        }
    }

    /// A worker's life: wait for a batch, help with it, again.
    fn work(&self) {
        let mut helped = 0;
        let mut idle_since = Instant::now();
        while !self.shutdown.load(SeqCst) {
            // Count ourselves active before looking, so that `run` waits
            // for us if we see its batch.
            self.active.fetch_add(1, SeqCst);
            let job = self.job.load(SeqCst);
            let batch = self.batch.load(SeqCst);
            if !job.is_null() && batch != helped {
                helped = batch;
                // SAFETY: `run` stores a pointer to a live `&Job` and keeps
                // it alive until it has taken the pointer back and seen no
                // active worker; we counted ourselves active before loading it.
                self.help(unsafe { *job });
                self.active.fetch_sub(1, SeqCst);
                idle_since = Instant::now();
                continue;
            }
            self.active.fetch_sub(1, SeqCst);
            if idle_since.elapsed() < SPIN {
                std::hint::spin_loop();
                continue;
            }
            let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.sleeping.fetch_add(1, SeqCst);
            if self.batch.load(SeqCst) == helped && !self.shutdown.load(SeqCst) {
                drop(self.wake.wait(guard).unwrap_or_else(|e| e.into_inner()));
            }
            self.sleeping.fetch_sub(1, SeqCst);
            idle_since = Instant::now();
        }
    }
}

/// Worker threads. See the module documentation.
pub struct Workers {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// Which way batches run, and how they fared.
    choice: Cell<Choice>,
}

/// Which way batches run, with or without the workers.
#[derive(Debug, Clone, Copy)]
enum Choice {
    /// Timing both ways: so far, with the workers and alone, the batches
    /// done, their jobs and their time (ns).
    Trial {
        with: (u32, u64, u64),
        alone: (u32, u64, u64),
    },
    /// Running `left` more batches one way.
    Stint { workers: bool, left: u32 },
}

impl Choice {
    const START: Self = Self::Trial {
        with: (0, 0, 0),
        alone: (0, 0, 0),
    };

    /// Whether the next batch uses the workers.
    fn workers(self) -> bool {
        match self {
            Self::Trial { with, .. } => with.0 < TRIAL,
            Self::Stint { workers, .. } => workers,
        }
    }

    /// After a batch of `jobs` jobs that took `ns` (`workers`: with them).
    fn after(self, workers: bool, jobs: usize, ns: u64) -> Self {
        let add = |(b, j, t): (u32, u64, u64)| (b + 1, j + jobs as u64, t.saturating_add(ns));
        match self {
            Self::Trial { with, alone } => {
                let (with, alone) = if workers {
                    (add(with), alone)
                } else {
                    (with, add(alone))
                };
                if alone.0 < TRIAL {
                    return Self::Trial { with, alone };
                }
                // Jobs per nanosecond each way.
                let rate = |(_, j, t): (u32, u64, u64)| j as f64 / t.max(1) as f64;
                Self::Stint {
                    workers: rate(with) >= MARGIN * rate(alone),
                    left: STINT,
                }
            }
            Self::Stint { left: 0, .. } => Self::START,
            Self::Stint { workers, left } => Self::Stint {
                workers,
                left: left - 1,
            },
        }
    }
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Workers({})", self.threads.len())
    }
}

impl Workers {
    /// `extra` threads besides the caller's.
    ///
    /// # Errors
    /// Fails if a thread cannot be started.
    pub fn new(extra: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let mut threads = Vec::new();
        for i in 0..extra {
            let s = Arc::clone(&shared);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("sim-worker-{i}"))
                    .spawn(move || s.work())?,
            );
        }
        Ok(Self {
            shared,
            threads,
            choice: Cell::new(Choice::START),
        })
    }

    /// Calls `job(i)` for every `i` in `0..n`, on this thread and the
    /// workers, and returns when all calls returned. If a call panicked,
    /// the panic continues here once all are done.
    pub fn run(&self, n: usize, job: &Job<'_>) {
        let batch = Instant::now();
        let choice = self.choice.get();
        if !choice.workers() {
            (0..n).for_each(job);
            let ns = u64::try_from(batch.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.choice.set(choice.after(false, n, ns));
            return;
        }
        let s = &*self.shared;
        s.len.store(n, SeqCst);
        s.next.store(0, SeqCst);
        s.done.store(0, SeqCst);
        s.batch.fetch_add(1, SeqCst);
        // SAFETY: only the lifetime is erased. The pointer is taken back
        // below, and this function returns (or unwinds: jobs' panics are
        // caught) only once no worker is active, so no worker uses it after
        // `job` and `erased` are gone.
        let erased: &'static Job<'static> = unsafe { std::mem::transmute(job) };
        s.job.store(&erased as *const _ as *mut _, SeqCst);
        if s.sleeping.load(SeqCst) > 0 {
            let _guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        s.help(job);
        wait_until(|| s.done.load(SeqCst) >= n);
        s.job.store(std::ptr::null_mut(), SeqCst);
        wait_until(|| s.active.load(SeqCst) == 0);
        let panic = s.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(p) = panic {
            resume_unwind(p);
        }
        let ns = u64::try_from(batch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.choice.set(choice.after(true, n, ns));
    }

    /// Whether the next batch will use the workers.
    pub fn in_use(&self) -> bool {
        self.choice.get().workers()
    }
}

/// Spins until `ready`, letting other threads run now and then (a worker
/// may have lost its core to another process).
fn wait_until(ready: impl Fn() -> bool) {
    let mut spins = 0u32;
    while !ready() {
        spins += 1;
        if spins.is_multiple_of(1024) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, SeqCst);
        {
            let _guard = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_runs_once_in_every_batch() {
        let workers = Workers::new(2).unwrap();
        for n in [0, 1, 2, 7, 100, 1000] {
            let counts: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            workers.run(n, &|i| {
                counts[i].fetch_add(1, SeqCst);
            });
            assert!(counts.iter().all(|c| c.load(SeqCst) == 1), "batch of {n}");
        }
    }

    #[test]
    fn workers_that_slept_wake_up_for_a_batch() {
        let workers = Workers::new(1).unwrap();
        std::thread::sleep(SPIN * 10);
        let seen: Mutex<Vec<std::thread::ThreadId>> = Mutex::new(Vec::new());
        // Jobs long enough that the woken worker takes some.
        workers.run(200, &|_| {
            std::thread::sleep(Duration::from_millis(1));
            seen.lock().unwrap().push(std::thread::current().id());
        });
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), 200);
        let me = std::thread::current().id();
        assert!(seen.iter().any(|&t| t != me), "the worker helped");
    }

    #[test]
    fn batches_run_the_way_that_was_faster() {
        // Each way, `TRIAL` batches of 10 jobs; with the workers they take
        // `with_ns`, alone `alone_ns`.
        let trial = |with_ns: u64, alone_ns: u64| {
            let mut c = Choice::START;
            while let Choice::Trial { .. } = c {
                let workers = c.workers();
                c = c.after(workers, 10, if workers { with_ns } else { alone_ns });
            }
            c
        };
        assert!(matches!(
            trial(100, 190),
            Choice::Stint { workers: true, .. }
        ));
        assert!(matches!(
            trial(100, 105),
            Choice::Stint { workers: false, .. }
        ));
        assert!(matches!(
            trial(200, 100),
            Choice::Stint { workers: false, .. }
        ));
        // A stint ends in a new trial.
        let mut c = trial(100, 190);
        for _ in 0..=STINT {
            assert!(c.workers());
            c = c.after(true, 10, 100);
        }
        assert!(matches!(c, Choice::Trial { .. }));
    }

    #[test]
    fn a_panicking_job_panics_the_caller_after_the_batch() {
        let workers = Workers::new(1).unwrap();
        let ran = AtomicUsize::new(0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            workers.run(50, &|i| {
                ran.fetch_add(1, SeqCst);
                assert_ne!(i, 17, "job 17 fails");
            });
        }));
        assert!(r.is_err());
        assert_eq!(ran.load(SeqCst), 50, "the other jobs ran");
        // The workers still work.
        let count = AtomicUsize::new(0);
        workers.run(10, &|_| {
            count.fetch_add(1, SeqCst);
        });
        assert_eq!(count.load(SeqCst), 10);
    }
}
