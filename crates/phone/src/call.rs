//! A call's life, apart from SIP and media: where a call is, which moves are allowed, what each move
//! tells the app, and how a SIP answer or event ends a call. The dialog layer feeds it; the app turns its
//! [`CallEvent`]s into the call's draft in the store (`leadline_store::CallDraft`) and the on-screen call.

use std::fmt;

use leadline_model::{CallDirection, CallEnd, Timestamp};

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// Outgoing: the INVITE is out, nothing has rung yet.
    Dialing,
    /// Outgoing: the far end rings (180) or plays early media (183). Incoming: ringing here.
    Ringing,
    /// Talking.
    Connected,
    /// Connected, with the audio held by one side or both.
    OnHold { here: bool, there: bool },
    /// Over, for this reason.
    Ended(CallEnd),
}

/// What happened to a call, as the dialog layer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallInput {
    /// A provisional answer to our INVITE: 180 Ringing, 183 Session Progress.
    Provisional(u16),
    /// The call was answered: a 2xx to our INVITE, or our 200 to theirs.
    Answered,
    /// A final error answer to our INVITE.
    Refused(u16),
    /// The telecaller hung up (BYE), gave up before an answer (CANCEL), or declined an incoming call.
    HangUp,
    /// The far end hung up (BYE) or, for an incoming call, gave up before it was answered (CANCEL).
    RemoteHangUp,
    /// Audio held (`here`: by us) or resumed.
    Hold { here: bool, held: bool },
    /// The media or the connection failed for good (no RTP, ICE failed, transport lost).
    Failed(String),
}

/// What a move tells the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    Ringing,
    Answered {
        at: Timestamp,
    },
    HoldChanged {
        here: bool,
        there: bool,
    },
    Ended {
        at: Timestamp,
        reason: CallEnd,
        /// Why an outgoing call was refused, when it was.
        refusal: Option<CallRefusal>,
    },
}

/// Why the far end or the network refused an outgoing call: the usual SIP answers, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallRefusal {
    #[error("the number is busy")]
    Busy,
    #[error("no such number or user")]
    NotFound,
    #[error("the callee is unavailable or did not answer")]
    Unavailable,
    #[error("the call was declined")]
    Declined,
    #[error("the provider refused our credentials for this call")]
    AuthFailed,
    #[error("no answer from the provider in time")]
    Timeout,
    #[error("the call was cancelled")]
    Cancelled,
    #[error("refused by the provider ({0})")]
    Other(u16),
}

impl CallRefusal {
    /// The refusal a final SIP status means, and how the call ended.
    pub fn from_status(code: u16) -> (Self, CallEnd) {
        match code {
            486 | 600 => (Self::Busy, CallEnd::Busy),
            404 | 484 | 604 => (Self::NotFound, CallEnd::Failed),
            480 | 410 => (Self::Unavailable, CallEnd::NoAnswer),
            603 => (Self::Declined, CallEnd::Rejected),
            401 | 403 | 407 => (Self::AuthFailed, CallEnd::Failed),
            408 | 504 => (Self::Timeout, CallEnd::NoAnswer),
            487 => (Self::Cancelled, CallEnd::Cancelled),
            other => (Self::Other(other), CallEnd::Failed),
        }
    }
}

/// A move the call's state does not allow (an answer after the end, a hold before the answer…): a bug
/// or a confused far end, reported and otherwise ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} does not apply to a call that is {state}")]
pub struct InvalidMove {
    pub state: CallState,
    pub input: CallInput,
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dialing => f.write_str("dialling"),
            Self::Ringing => f.write_str("ringing"),
            Self::Connected => f.write_str("connected"),
            Self::OnHold { .. } => f.write_str("on hold"),
            Self::Ended(reason) => write!(f, "ended ({})", reason.as_str()),
        }
    }
}

/// One call's state and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub direction: CallDirection,
    pub state: CallState,
    pub started_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

impl Call {
    /// An outgoing call whose INVITE left at `at`, or an incoming one that started ringing at `at`.
    pub fn new(direction: CallDirection, at: Timestamp) -> Self {
        let state = match direction {
            CallDirection::Outbound => CallState::Dialing,
            CallDirection::Inbound => CallState::Ringing,
        };
        Self {
            direction,
            state,
            started_at: at,
            answered_at: None,
            ended_at: None,
        }
    }

    /// Applies `input` at `at`; answers what the app should be told (nothing for a repeat, such as a
    /// second 180).
    pub fn apply(&mut self, input: CallInput, at: Timestamp) -> Result<Option<CallEvent>, InvalidMove> {
        use CallState::*;
        let invalid = |state: CallState, input: CallInput| Err(InvalidMove { state, input });
        let outgoing = self.direction == CallDirection::Outbound;
        match (self.state, &input) {
            (Ended(_), _) => invalid(self.state, input),
            (Dialing, CallInput::Provisional(_)) if outgoing => {
                self.state = Ringing;
                Ok(Some(CallEvent::Ringing))
            }
            (Ringing, CallInput::Provisional(_)) => Ok(None),
            (Dialing | Ringing, CallInput::Answered) => {
                self.state = Connected;
                self.answered_at = Some(at);
                Ok(Some(CallEvent::Answered { at }))
            }
            (Dialing | Ringing, CallInput::Refused(code)) if outgoing => {
                let (refusal, reason) = CallRefusal::from_status(*code);
                Ok(Some(self.end(at, reason, Some(refusal))))
            }
            (Dialing | Ringing, CallInput::HangUp) => {
                // Giving up on our own call is a cancel; turning down an incoming one, a rejection.
                let reason = if outgoing {
                    CallEnd::Cancelled
                } else {
                    CallEnd::Rejected
                };
                Ok(Some(self.end(at, reason, None)))
            }
            (Ringing, CallInput::RemoteHangUp) if !outgoing => {
                // The caller gave up before we answered: a missed call.
                Ok(Some(self.end(at, CallEnd::NoAnswer, None)))
            }
            (Connected | OnHold { .. }, CallInput::HangUp) => {
                Ok(Some(self.end(at, CallEnd::HungUpHere, None)))
            }
            (Connected | OnHold { .. }, CallInput::RemoteHangUp) => {
                Ok(Some(self.end(at, CallEnd::HungUpThere, None)))
            }
            (_, CallInput::Failed(_)) => Ok(Some(self.end(at, CallEnd::Failed, None))),
            (Connected | OnHold { .. }, CallInput::Hold { here, held }) => {
                let (mut h, mut t) = match self.state {
                    OnHold { here, there } => (here, there),
                    _ => (false, false),
                };
                if *here {
                    h = *held;
                } else {
                    t = *held;
                }
                let next = if h || t {
                    OnHold { here: h, there: t }
                } else {
                    Connected
                };
                if next == self.state {
                    return Ok(None);
                }
                self.state = next;
                Ok(Some(CallEvent::HoldChanged { here: h, there: t }))
            }
            _ => invalid(self.state, input),
        }
    }

    fn end(&mut self, at: Timestamp, reason: CallEnd, refusal: Option<CallRefusal>) -> CallEvent {
        // A clock step backwards must not give a call a negative length.
        let at = at.max(self.answered_at.unwrap_or(self.started_at));
        self.state = CallState::Ended(reason);
        self.ended_at = Some(at);
        CallEvent::Ended { at, reason, refusal }
    }

    /// Talk time in whole seconds (zero for a call never answered).
    pub fn talk_seconds(&self) -> i64 {
        leadline_model::talk_seconds(self.answered_at, self.ended_at)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone as _, Utc};

    use super::*;

    fn t(s: i64) -> Timestamp {
        Utc.timestamp_opt(1_790_000_000, 0).single().expect("time") + Duration::seconds(s)
    }

    #[test]
    fn an_outgoing_call_rings_is_answered_held_and_hung_up_here() {
        let mut c = Call::new(CallDirection::Outbound, t(0));
        assert_eq!(
            c.apply(CallInput::Provisional(180), t(1)),
            Ok(Some(CallEvent::Ringing))
        );
        assert_eq!(
            c.apply(CallInput::Provisional(183), t(2)),
            Ok(None),
            "a second ring says nothing"
        );
        assert_eq!(
            c.apply(CallInput::Answered, t(5)),
            Ok(Some(CallEvent::Answered { at: t(5) }))
        );
        assert_eq!(
            c.apply(
                CallInput::Hold {
                    here: true,
                    held: true
                },
                t(10)
            ),
            Ok(Some(CallEvent::HoldChanged {
                here: true,
                there: false
            }))
        );
        assert_eq!(
            c.apply(
                CallInput::Hold {
                    here: false,
                    held: true
                },
                t(11)
            ),
            Ok(Some(CallEvent::HoldChanged {
                here: true,
                there: true
            }))
        );
        assert_eq!(
            c.apply(
                CallInput::Hold {
                    here: false,
                    held: true
                },
                t(12)
            ),
            Ok(None)
        );
        c.apply(
            CallInput::Hold {
                here: true,
                held: false,
            },
            t(13),
        )
        .expect("resume");
        c.apply(
            CallInput::Hold {
                here: false,
                held: false,
            },
            t(14),
        )
        .expect("resume");
        assert_eq!(c.state, CallState::Connected);
        assert_eq!(
            c.apply(CallInput::HangUp, t(65)),
            Ok(Some(CallEvent::Ended {
                at: t(65),
                reason: CallEnd::HungUpHere,
                refusal: None
            }))
        );
        assert_eq!(c.talk_seconds(), 60);
        // Nothing moves an ended call.
        let late = c.apply(CallInput::RemoteHangUp, t(66));
        assert!(late.is_err(), "{late:?}");
        assert_eq!(c.state, CallState::Ended(CallEnd::HungUpHere));
    }

    #[test]
    fn refusals_are_typed_and_end_the_call() {
        for (code, refusal, reason) in [
            (486, CallRefusal::Busy, CallEnd::Busy),
            (404, CallRefusal::NotFound, CallEnd::Failed),
            (480, CallRefusal::Unavailable, CallEnd::NoAnswer),
            (603, CallRefusal::Declined, CallEnd::Rejected),
            (407, CallRefusal::AuthFailed, CallEnd::Failed),
            (408, CallRefusal::Timeout, CallEnd::NoAnswer),
            (487, CallRefusal::Cancelled, CallEnd::Cancelled),
            (503, CallRefusal::Other(503), CallEnd::Failed),
        ] {
            let mut c = Call::new(CallDirection::Outbound, t(0));
            c.apply(CallInput::Provisional(180), t(1)).expect("rings");
            assert_eq!(
                c.apply(CallInput::Refused(code), t(9)),
                Ok(Some(CallEvent::Ended {
                    at: t(9),
                    reason,
                    refusal: Some(refusal)
                })),
                "{code}"
            );
            assert_eq!((c.answered_at, c.talk_seconds()), (None, 0));
        }
    }

    #[test]
    fn incoming_calls_are_answered_rejected_or_missed() {
        let mut answered = Call::new(CallDirection::Inbound, t(0));
        assert!(
            answered
                .apply(CallInput::Provisional(180), t(1))
                .is_ok_and(|e| e.is_none())
        );
        answered.apply(CallInput::Answered, t(4)).expect("answer");
        assert_eq!(
            answered.apply(CallInput::RemoteHangUp, t(34)),
            Ok(Some(CallEvent::Ended {
                at: t(34),
                reason: CallEnd::HungUpThere,
                refusal: None
            }))
        );
        assert_eq!(answered.talk_seconds(), 30);

        let mut rejected = Call::new(CallDirection::Inbound, t(0));
        assert!(matches!(
            rejected.apply(CallInput::HangUp, t(3)),
            Ok(Some(CallEvent::Ended {
                reason: CallEnd::Rejected,
                ..
            }))
        ));
        let mut missed = Call::new(CallDirection::Inbound, t(0));
        assert!(matches!(
            missed.apply(CallInput::RemoteHangUp, t(20)),
            Ok(Some(CallEvent::Ended {
                reason: CallEnd::NoAnswer,
                ..
            }))
        ));
        // An incoming call is never "refused" by a SIP answer, and a hold needs a connected call.
        let mut ringing = Call::new(CallDirection::Inbound, t(0));
        assert!(ringing.apply(CallInput::Refused(486), t(1)).is_err());
        assert!(
            ringing
                .apply(
                    CallInput::Hold {
                        here: true,
                        held: true
                    },
                    t(1)
                )
                .is_err()
        );
        assert_eq!(ringing.state, CallState::Ringing);
    }

    #[test]
    fn cancelling_and_failing_end_the_call_without_negative_time() {
        let mut c = Call::new(CallDirection::Outbound, t(10));
        assert!(matches!(
            c.apply(CallInput::HangUp, t(12)),
            Ok(Some(CallEvent::Ended {
                reason: CallEnd::Cancelled,
                ..
            }))
        ));
        let mut f = Call::new(CallDirection::Outbound, t(10));
        f.apply(CallInput::Answered, t(15)).expect("answer");
        // The clock stepped back: the call still ends no earlier than its answer.
        assert_eq!(
            f.apply(CallInput::Failed("ICE failed".into()), t(5)),
            Ok(Some(CallEvent::Ended {
                at: t(15),
                reason: CallEnd::Failed,
                refusal: None
            }))
        );
        assert_eq!(f.talk_seconds(), 0);
    }
}
