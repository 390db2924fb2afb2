//! The OCI SDKs' default retry policy as a pure function of the attempt's outcome; sleeping and
//! randomness are the caller's (jitter is a parameter), so tests never wait.

use std::time::Duration;

/// What one attempt ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// An HTTP answer with its OCI error code (empty when none).
    Response {
        status: u16,
        code: &'a str,
    },
    /// No answer: connection refused/reset/dropped.
    ConnectionError,
    Timeout,
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    RetryAfter(Duration),
    GiveUp,
}

/// Attempts and backoff. The default is the SDKs' (py `DEFAULT_RETRY_STRATEGY`, go
/// `DefaultRetryPolicy`): 8 attempts, at most 600 s in total, sleep min(1 s·2^(n-1) + U(0,1 s), 30 s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub max_jitter: Duration,
    pub max_elapsed: Duration,
    /// Until an endpoint has answered once, connection failures and timeouts are retried for
    /// at most this long: a wrong URL or no network is reported in seconds, not after the
    /// SDKs' 600 s, while a blip in the middle of a run still gets the full policy. (vipsetup's
    /// own choice, not an SDK rule.)
    pub first_contact_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_jitter: Duration::from_secs(1),
            max_elapsed: Duration::from_secs(600),
            first_contact_budget: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// One attempt only.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Whether the outcome is one the SDKs retry: 429, 5xx except 501, 409 IncorrectState or
    /// LockConflict, connection errors and timeouts.
    pub fn is_retryable(outcome: Outcome<'_>) -> bool {
        match outcome {
            Outcome::ConnectionError | Outcome::Timeout => true,
            Outcome::Response { status, code } => match status {
                429 => true,
                409 => code == "IncorrectState" || code == "LockConflict",
                501 => false,
                s => (500..600).contains(&s),
            },
        }
    }

    /// The sleep before attempt `attempt + 1`, after attempt `attempt` (1-based) failed;
    /// `jitter` in [0, 1) scales `max_jitter`.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let jitter = self.max_jitter.mul_f64(jitter.clamp(0.0, 1.0));
        exp.saturating_add(jitter).min(self.max_delay)
    }

    /// [`RetryPolicy::decide`] before the endpoint has ever answered: no-answer outcomes stop
    /// once `first_contact_budget` would be passed.
    pub fn decide_first_contact(
        &self,
        attempt: u32,
        elapsed: Duration,
        outcome: Outcome<'_>,
        jitter: f64,
    ) -> Decision {
        let no_answer = matches!(outcome, Outcome::ConnectionError | Outcome::Timeout);
        let decision = self.decide(attempt, elapsed, outcome, jitter);
        match decision {
            Decision::RetryAfter(d)
                if no_answer && elapsed.saturating_add(d) > self.first_contact_budget =>
            {
                Decision::GiveUp
            }
            d => d,
        }
    }

    /// The decision after attempt `attempt` (1-based) ended with `outcome`, `elapsed` after the
    /// first attempt started.
    pub fn decide(
        &self,
        attempt: u32,
        elapsed: Duration,
        outcome: Outcome<'_>,
        jitter: f64,
    ) -> Decision {
        if !Self::is_retryable(outcome) || attempt >= self.max_attempts {
            return Decision::GiveUp;
        }
        let delay = self.delay(attempt, jitter);
        if elapsed.saturating_add(delay) > self.max_elapsed {
            return Decision::GiveUp;
        }
        Decision::RetryAfter(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, code: &str) -> Outcome<'_> {
        Outcome::Response { status, code }
    }

    #[test]
    fn an_endpoint_never_reached_is_given_up_on_within_the_first_contact_budget() {
        let p = RetryPolicy::default();
        let s = Duration::from_secs;
        let refused = Outcome::ConnectionError;
        assert_eq!(
            p.decide_first_contact(1, s(0), refused, 0.0),
            Decision::RetryAfter(s(1))
        );
        assert_eq!(
            p.decide_first_contact(3, s(3), refused, 0.0),
            Decision::RetryAfter(s(4))
        );
        // 7 s + 8 s would pass the 10 s budget.
        assert_eq!(
            p.decide_first_contact(4, s(7), refused, 0.0),
            Decision::GiveUp
        );
        assert_eq!(
            p.decide_first_contact(1, s(10), Outcome::Timeout, 0.0),
            Decision::GiveUp
        );
        // Answers (a 503) keep the SDKs' policy; so does any outcome once an answer came.
        assert_eq!(
            p.decide_first_contact(4, s(7), resp(503, ""), 0.0),
            Decision::RetryAfter(s(8))
        );
        assert_eq!(p.decide(4, s(7), refused, 0.0), Decision::RetryAfter(s(8)));
    }

    #[test]
    fn retryable_outcomes_table() {
        let table: &[(Outcome<'_>, bool)] = &[
            (resp(429, "TooManyRequests"), true),
            (resp(500, "InternalServerError"), true),
            (resp(502, ""), true),
            (resp(503, "ServiceUnavailable"), true),
            (resp(504, ""), true),
            (resp(501, "MethodNotImplemented"), false),
            (resp(409, "IncorrectState"), true),
            (resp(409, "LockConflict"), true),
            (resp(409, "Conflict"), false),
            (resp(409, "NotAuthorizedOrResourceAlreadyExists"), false),
            (resp(409, "InvalidatedRetryToken"), false),
            (resp(400, "InvalidParameter"), false),
            (resp(401, "NotAuthenticated"), false),
            (resp(403, "NotAllowed"), false),
            (resp(404, "NotAuthorizedOrNotFound"), false),
            (resp(412, "NoEtagMatch"), false),
            (Outcome::ConnectionError, true),
            (Outcome::Timeout, true),
        ];
        for (outcome, expected) in table {
            assert_eq!(
                RetryPolicy::is_retryable(*outcome),
                *expected,
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn backoff_doubles_adds_jitter_and_caps() {
        let p = RetryPolicy::default();
        let secs = |a, j| p.delay(a, j).as_secs_f64();
        assert_eq!(secs(1, 0.0), 1.0);
        assert_eq!(secs(2, 0.0), 2.0);
        assert_eq!(secs(3, 0.5), 4.5);
        assert_eq!(secs(5, 0.0), 16.0);
        assert_eq!(secs(6, 0.0), 30.0);
        assert_eq!(secs(7, 0.99), 30.0);
        assert_eq!(secs(40, 0.0), 30.0);
    }

    #[test]
    fn eight_attempts_then_give_up() {
        let p = RetryPolicy::default();
        let o = resp(503, "");
        for attempt in 1..8 {
            assert!(matches!(
                p.decide(attempt, Duration::ZERO, o, 0.0),
                Decision::RetryAfter(_)
            ));
        }
        assert_eq!(p.decide(8, Duration::ZERO, o, 0.0), Decision::GiveUp);
        assert_eq!(
            p.decide(1, Duration::ZERO, resp(404, "NotAuthorizedOrNotFound"), 0.0),
            Decision::GiveUp
        );
        assert_eq!(
            RetryPolicy::none().decide(1, Duration::ZERO, o, 0.0),
            Decision::GiveUp
        );
    }

    #[test]
    fn total_time_budget_stops_retries() {
        let p = RetryPolicy::default();
        let o = Outcome::Timeout;
        assert_eq!(
            p.decide(2, Duration::from_secs(590), o, 0.0),
            Decision::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            p.decide(3, Duration::from_secs(598), o, 0.0),
            Decision::GiveUp
        );
    }
}
