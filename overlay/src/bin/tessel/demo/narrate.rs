//! The running story: one line per event, stamped with the time since the
//! demo started. On stdout, or on stderr when stdout carries `--json`; with
//! `--map`, each line also goes to the map's page.

use std::io::Write;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};
use tessel_overlay::driver::clock;

/// Prints the story as it happens.
#[derive(Debug)]
pub(crate) struct Narrator {
    start: Instant,
    to_stderr: bool,
    /// Where each event also goes (the map's story), if anywhere.
    story: Option<Sender<String>>,
}

impl Narrator {
    /// Starts the clock; `to_stderr` when stdout is kept for JSON.
    pub(crate) fn new(to_stderr: bool) -> Self {
        Self {
            start: clock::now(),
            to_stderr,
            story: None,
        }
    }

    /// Also hands every event to `story`.
    pub(crate) fn tell(&mut self, story: Sender<String>) {
        self.story = Some(story);
    }

    /// Time since the demo started.
    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// One event.
    pub(crate) fn say(&self, text: impl AsRef<str>) {
        let line = format!("[{:>5.1}s] {}", self.elapsed().as_secs_f64(), text.as_ref());
        self.print(&line);
        if let Some(story) = &self.story {
            // The map may be gone; the story goes on.
            let _ = story.send(line);
        }
    }

    /// Text without a time stamp (headings, the table).
    pub(crate) fn print(&self, text: &str) {
        // A closed terminal is no reason to stop cleaning up.
        if self.to_stderr {
            let _ = writeln!(std::io::stderr(), "{text}");
        } else {
            let _ = writeln!(std::io::stdout(), "{text}");
        }
    }
}
