//! Scenarios scripted on an agenda: timed actions interleaved with the
//! world's own events. The world runs up to each action's time, the
//! scenario acts (and may schedule more), until it says it is done.
//! [`crate::chaos::Chaos`] and [`crate::mesh::Mesh`] are run this way.

use std::time::Duration;

use crate::event::Queue;
use crate::world::World;

/// A scenario driven by an agenda of its own actions.
pub(crate) trait Script {
    /// What the scenario schedules for itself.
    type Action;

    /// The world being run.
    fn world_mut(&mut self) -> &mut World;
    /// The scenario's pending actions.
    fn agenda_mut(&mut self) -> &mut Queue<Self::Action>;
    /// Whether the run is over.
    fn done(&self) -> bool;
    /// Carries out one action, due now.
    fn act(&mut self, action: Self::Action);
}

/// Runs the world and the scenario for `d` of virtual time, or until the
/// scenario is done.
pub(crate) fn advance<S: Script>(script: &mut S, d: Duration) {
    let until = script.world_mut().now() + d;
    while !script.done() {
        let Some(at) = script.agenda_mut().peek_time() else {
            break;
        };
        if at > until {
            break;
        }
        let (at, action) = script.agenda_mut().pop().expect("peeked");
        script.world_mut().run_until(at);
        script.act(action);
    }
    if !script.done() {
        script.world_mut().run_until(until);
    }
}

/// Runs the scenario to its end, a virtual minute at a time.
pub(crate) fn finish<S: Script>(script: &mut S) {
    while !script.done() {
        advance(script, Duration::from_secs(60));
    }
}

/// Implements [`Script`] for a scenario type with fields `world: World`,
/// `agenda: Queue<Action>` and `phase: Phase` (done at `Phase::Done`), and
/// a method `act(&mut self, Action)`, all in the scope of the call.
macro_rules! scripted {
    ($ty:ty) => {
        impl $crate::script::Script for $ty {
            type Action = Action;

            fn world_mut(&mut self) -> &mut World {
                &mut self.world
            }

            fn agenda_mut(&mut self) -> &mut Queue<Action> {
                &mut self.agenda
            }

            fn done(&self) -> bool {
                self.phase == Phase::Done
            }

            fn act(&mut self, action: Action) {
                <$ty>::act(self, action);
            }
        }
    };
}
pub(crate) use scripted;
