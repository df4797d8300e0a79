//! The engine's clock: the protocol core counts time from an origin, tokio's timers want
//! instants.

use engineio_proto::Timestamp;
use tokio::time::Instant;

/// Converts between the core's timestamps and tokio instants (tokio's, so that tests can
/// pause and advance time).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    origin: Instant,
}

impl Clock {
    pub(crate) fn start() -> Self {
        Clock {
            origin: Instant::now(),
        }
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::from_duration(self.origin.elapsed())
    }

    pub(crate) fn instant(&self, timestamp: Timestamp) -> Instant {
        self.origin + timestamp.as_duration()
    }
}
