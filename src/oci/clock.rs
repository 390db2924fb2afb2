//! Time and sleeping behind traits, so retries, token expiry and waits are tested without
//! waiting on real time.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// A boxed future, for the object-safe traits of this module and `transport`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

pub trait Sleeper: Send + Sync {
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()>;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The real sleeper (tokio).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock and sleeper for tests: sleeping advances the clock instantly and records the sleep.
#[derive(Debug)]
pub struct FakeTime {
    state: std::sync::Mutex<(SystemTime, Vec<Duration>)>,
}

impl FakeTime {
    pub fn new(start: SystemTime) -> Self {
        FakeTime {
            state: std::sync::Mutex::new((start, Vec::new())),
        }
    }

    /// The sleeps requested so far.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state.lock().unwrap().1.clone()
    }

    pub fn advance(&self, d: Duration) {
        self.state.lock().unwrap().0 += d;
    }
}

impl Clock for FakeTime {
    fn now(&self) -> SystemTime {
        self.state.lock().unwrap().0
    }
}

impl Sleeper for FakeTime {
    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        let mut s = self.state.lock().unwrap();
        s.0 += duration;
        s.1.push(duration);
        Box::pin(std::future::ready(()))
    }
}
