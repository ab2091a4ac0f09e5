//! What a hook decides.

use alloc::string::String;
use alloc::vec::Vec;

use crate::bindings::centrale::plugin::types as wit;
use crate::types::DiversionReason;

/// What a hook decides. The host applies the first decision that is not
/// [`Decision::Proceed`], in hook priority order.
///
/// Build one with the constructors:
///
/// ```
/// use centrale_sdk::prelude::*;
///
/// let d = Decision::reject(433, "Anonymity Disallowed").announce("anonymous-not-accepted");
/// assert!(d.is_reject());
/// let d = Decision::redirect("+31612345678", DiversionReason::Unconditional);
/// let d = Decision::add_targets(["+31612345678", "305"]);
/// let d = Decision::treat_as_busy();
/// assert_eq!(Decision::proceed(), Decision::Proceed);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Decision {
    /// No opinion: the next hook, then the default treatment, runs.
    #[default]
    Proceed,
    /// End the call with this status (and optional announcement).
    Reject {
        /// SIP status sent to the caller (400-699), e.g. 433, 486, 603.
        code: u16,
        /// Reason phrase; empty for the standard phrase of `code`.
        reason: String,
        /// Prompt played to the caller as early media before the rejection.
        announcement: Option<String>,
    },
    /// Send the call elsewhere (forwarding).
    Redirect {
        /// An extension, a number of the tenant or an outside number.
        destination: String,
        /// Recorded in the diversion history (Diversion / History-Info).
        reason: DiversionReason,
    },
    /// Ring these destinations too, alongside the subject's devices
    /// (simultaneous ring).
    AddTargets(Vec<String>),
    /// Busy treatment: behave as if every device were busy, so the busy
    /// hooks (busy forwarding, voicemail) run next. Do-not-disturb.
    TreatAsBusy,
    /// The plugin takes the call over: the host runs
    /// [`Plugin::run_session`](crate::Plugin::run_session) for it.
    TakeOver,
}

impl Decision {
    /// No opinion: the next hook, then the default treatment, runs.
    pub fn proceed() -> Decision {
        Decision::Proceed
    }

    /// Ends the call with SIP status `code` (400-699; the host refuses others
    /// and treats the decision as `Proceed`) and reason phrase `reason`
    /// (empty for the standard phrase). Chain [`Decision::announce`] to play a
    /// prompt first.
    pub fn reject(code: u16, reason: impl Into<String>) -> Decision {
        Decision::Reject {
            code,
            reason: reason.into(),
            announcement: None,
        }
    }

    /// Plays prompt `name` to the caller as early media before a rejection.
    /// Has no effect on other decisions.
    #[must_use]
    pub fn announce(self, name: impl Into<String>) -> Decision {
        match self {
            Decision::Reject { code, reason, .. } => Decision::Reject {
                code,
                reason,
                announcement: Some(name.into()),
            },
            other => other,
        }
    }

    /// Sends the call to `destination` (an extension, a number of the
    /// tenant or an outside number), recording `reason` in the diversion
    /// history.
    pub fn redirect(destination: impl Into<String>, reason: DiversionReason) -> Decision {
        Decision::Redirect {
            destination: destination.into(),
            reason,
        }
    }

    /// Rings `destinations` too, alongside the subject's devices.
    pub fn add_targets<I, S>(destinations: I) -> Decision
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Decision::AddTargets(destinations.into_iter().map(Into::into).collect())
    }

    /// Busy treatment (do-not-disturb): the busy hooks run next.
    pub fn treat_as_busy() -> Decision {
        Decision::TreatAsBusy
    }

    /// Takes the call over with this plugin's session (voicemail, IVR).
    pub fn take_over() -> Decision {
        Decision::TakeOver
    }

    /// Whether this is [`Decision::Proceed`].
    pub fn is_proceed(&self) -> bool {
        matches!(self, Decision::Proceed)
    }

    /// Whether this is a [`Decision::Reject`].
    pub fn is_reject(&self) -> bool {
        matches!(self, Decision::Reject { .. })
    }

    /// Whether this is a [`Decision::Redirect`].
    pub fn is_redirect(&self) -> bool {
        matches!(self, Decision::Redirect { .. })
    }

    /// The redirect destination, when this is a redirect.
    pub fn redirect_destination(&self) -> Option<&str> {
        match self {
            Decision::Redirect { destination, .. } => Some(destination),
            _ => None,
        }
    }
}

impl From<Decision> for wit::Decision {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Proceed => wit::Decision::Proceed,
            Decision::Reject {
                code,
                reason,
                announcement,
            } => wit::Decision::Reject(wit::Rejection {
                code,
                reason,
                announcement,
            }),
            Decision::Redirect {
                destination,
                reason,
            } => wit::Decision::Redirect(wit::Redirection {
                destination,
                reason: reason.into(),
            }),
            Decision::AddTargets(targets) => wit::Decision::AddTargets(targets),
            Decision::TreatAsBusy => wit::Decision::TreatAsBusy,
            Decision::TakeOver => wit::Decision::TakeOver,
        }
    }
}
