//! The rhythm of the server's periodic tasks: at once, then every interval, until the server
//! stops. A run in progress is never cut: the stop is seen between runs.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

pub struct Ticker {
    ticks: Interval,
    stop: watch::Receiver<bool>,
}

impl Ticker {
    pub fn new(every: Duration, stop: watch::Receiver<bool>) -> Self {
        let mut ticks = tokio::time::interval(every);
        // A run longer than the interval delays the next one instead of making up for it.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Ticker { ticks, stop }
    }

    /// Waits for the next run: true when it is due, false once `stop` turned true.
    pub async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.ticks.tick() => {}
            _ = self.stop.changed() => {}
        }
        !*self.stop.borrow()
    }
}
