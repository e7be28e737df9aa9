//! Ctrl-C and SIGTERM: instead of ending the process at once, they raise a
//! flag that the demo checks between steps (at least four times a second),
//! so that it stops and removes everything it made.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tessel_overlay::driver::clock;

use anyhow::{bail, Context, Result};
use tokio::signal::unix::{signal, SignalKind};

/// Longest sleep between two looks at the flag.
const TICK: Duration = Duration::from_millis(100);

/// The flag that SIGINT and SIGTERM raise.
#[derive(Debug, Clone)]
pub(crate) struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Catches SIGINT and SIGTERM from now on (on a thread of their own).
    pub(crate) fn install() -> Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        let raised = Arc::clone(&flag);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("demo-signals".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let streams = signal(SignalKind::interrupt())
                        .and_then(|i| Ok((i, signal(SignalKind::terminate())?)));
                    let (mut int, mut term) = match streams {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    loop {
                        tokio::select! {
                            _ = int.recv() => {}
                            _ = term.recv() => {}
                        }
                        raised.store(true, Ordering::SeqCst);
                    }
                });
            })
            .context("starting the signal thread")?;
        ready_rx
            .recv()
            .context("the signal thread ended")?
            .context("catching SIGINT and SIGTERM")?;
        Ok(Self(flag))
    }

    /// True once SIGINT or SIGTERM came.
    pub(crate) fn raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Fails once SIGINT or SIGTERM came.
    pub(crate) fn check(&self) -> Result<()> {
        if self.raised() {
            bail!("interrupted");
        }
        Ok(())
    }

    /// Sleeps for `d`, failing early if interrupted.
    pub(crate) fn sleep(&self, d: Duration) -> Result<()> {
        let end = clock::now() + d;
        loop {
            self.check()?;
            let now = clock::now();
            if now >= end {
                return Ok(());
            }
            std::thread::sleep(TICK.min(end - now));
        }
    }
}
