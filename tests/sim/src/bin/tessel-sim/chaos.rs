//! `tessel-sim chaos`: how the binary measures a chaosnet (see
//! [`tessel_sim::chaos`]).

use std::time::Duration;

use tessel_sim::chaos::{Chaos, Phase, Report};
use tessel_sim::world::World;

use super::measure::Measured;

impl Measured for Chaos {
    type Report = Report;

    fn done(&self) -> bool {
        self.phase() == Phase::Done
    }

    fn advance(&mut self, d: Duration) {
        Chaos::advance(self, d);
    }

    fn world(&self) -> &World {
        Chaos::world(self)
    }

    fn world_mut(&mut self) -> &mut World {
        Chaos::world_mut(self)
    }

    fn report(&self) -> Report {
        Chaos::report(self)
    }

    fn nodes(report: &Report) -> usize {
        report.live
    }

    fn progress(&self) -> String {
        let w = self.world();
        format!(
            "up {:>5}  sessions {:>8}  inits {:>8}",
            w.hosts().filter(|&h| w.is_up(h)).count(),
            w.stats().sessions,
            w.total_sent().initiations()
        )
    }
}
