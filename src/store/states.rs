//! The typed states the store writes: a plan's status and the kinds of event on its
//! timeline. Each is stored as text (its `as_str`); SQL that must name one binds it.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use sqlx::{
    Postgres,
    encode::IsNull,
    error::BoxDynError,
    postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef},
};

/// An enum stored as one of a fixed set of texts: its serde, `Display`, `FromStr` and
/// sqlx text mapping all use the same names.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        // Written by hand: utoipa's derive does not see a `serde(rename)` made by this macro.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some($name::ALL.iter().map(|s| s.as_str())))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(raw: &str) -> Result<Self, String> {
                match raw {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "{other:?} is not one of {}",
                        $name::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                }
            }
        }

        impl sqlx::Type<Postgres> for $name {
            fn type_info() -> PgTypeInfo {
                <&str as sqlx::Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as sqlx::Type<Postgres>>::compatible(ty)
            }
        }

        impl PgHasArrayType for $name {
            fn array_type_info() -> PgTypeInfo {
                <&str as PgHasArrayType>::array_type_info()
            }
        }

        impl sqlx::Encode<'_, Postgres> for $name {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as sqlx::Encode<Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl sqlx::Decode<'_, Postgres> for $name {
            fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
                let text = <&str as sqlx::Decode<Postgres>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}

text_enum! {
    /// Where a plan is in its life: `queued → running → (awaiting_approval →) succeeded |
    /// failed | cancelled | rejected`, and `running → queued` on a retry, a wait for an
    /// upstream, a hand-back or a lost worker.
    PlanStatus {
        Queued => "queued",
        Running => "running",
        AwaitingApproval => "awaiting_approval",
        Succeeded => "succeeded",
        Failed => "failed",
        Cancelled => "cancelled",
        Rejected => "rejected",
    }
}

impl PlanStatus {
    /// Statuses a plan never leaves.
    pub const TERMINAL: [PlanStatus; 4] = [
        PlanStatus::Succeeded,
        PlanStatus::Failed,
        PlanStatus::Cancelled,
        PlanStatus::Rejected,
    ];
    /// Statuses of plans still to be finished: the queue's depth.
    pub const OPEN: [PlanStatus; 3] = [PlanStatus::Queued, PlanStatus::Running, PlanStatus::AwaitingApproval];

    pub fn is_terminal(self) -> bool {
        Self::TERMINAL.contains(&self)
    }
}

text_enum! {
    /// What happened to a plan, one row of its timeline (`plan_events.kind`).
    EventKind {
        /// Submitted, with its job.
        Queued => "queued",
        /// An attempt claimed the plan.
        Started => "started",
        /// An attempt claimed a plan whose worker was lost mid-run.
        Rescued => "rescued",
        /// The maintenance rescuer gave a stuck plan a new job.
        RescuedStuck => "rescued_stuck",
        NodeStarted => "node_started",
        NodeFinished => "node_finished",
        /// A node or the whole run took longer than its timeout.
        Timeout => "timeout",
        RetryScheduled => "retry_scheduled",
        WaitingForUpstream => "waiting_for_upstream",
        /// A worker shutting down gave the plan back to the queue.
        HandedBack => "handed_back",
        AwaitingApproval => "awaiting_approval",
        Approved => "approved",
        Rejected => "rejected",
        Succeeded => "succeeded",
        Failed => "failed",
        Cancelled => "cancelled",
        CancelRequested => "cancel_requested",
        /// A client asked to run a failed plan again.
        RetryRequested => "retry_requested",
    }
}

impl EventKind {
    /// The event that records a plan reaching `status`.
    pub fn reached(status: PlanStatus) -> Self {
        match status {
            PlanStatus::Queued => EventKind::Queued,
            PlanStatus::Running => EventKind::Started,
            PlanStatus::AwaitingApproval => EventKind::AwaitingApproval,
            PlanStatus::Succeeded => EventKind::Succeeded,
            PlanStatus::Failed => EventKind::Failed,
            PlanStatus::Cancelled => EventKind::Cancelled,
            PlanStatus::Rejected => EventKind::Rejected,
        }
    }
}

impl EventKind {
    /// The status a plan has just after this event, when the event says: a node step means
    /// running, a retry or hand-back means queued again; a timeout or a cancel request alone
    /// does not tell.
    pub fn status_after(self) -> Option<PlanStatus> {
        use EventKind::*;
        match self {
            Queued | Rescued | RescuedStuck | RetryScheduled | WaitingForUpstream | HandedBack | Approved
            | RetryRequested => Some(PlanStatus::Queued),
            Started | NodeStarted | NodeFinished => Some(PlanStatus::Running),
            AwaitingApproval => Some(PlanStatus::AwaitingApproval),
            Succeeded => Some(PlanStatus::Succeeded),
            Failed => Some(PlanStatus::Failed),
            Cancelled => Some(PlanStatus::Cancelled),
            Rejected => Some(PlanStatus::Rejected),
            Timeout | CancelRequested => None,
        }
    }
}

text_enum! {
    /// Where a webhook delivery is (`webhook_deliveries.state`): `pending` until the
    /// receiver answers 2xx (`delivered`) or it is given up on (`failed`).
    DeliveryState {
        Pending => "pending",
        Delivered => "delivered",
        Failed => "failed",
    }
}

text_enum! {
    /// Where a finished plan's export to the results store is (`result_exports.state`):
    /// `pending` (tried again after a backoff while the store fails) until both objects are
    /// written (`exported`). Never given up on: retention ends it with the plan.
    ExportState {
        Pending => "pending",
        Exported => "exported",
    }
}

text_enum! {
    /// What an API key may do (`api_keys.role`): a `user` sees and acts on its own plans, an
    /// `admin` on everyone's.
    Role {
        User => "user",
        Admin => "admin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_text() {
        for status in PlanStatus::ALL {
            assert_eq!(status.as_str().parse::<PlanStatus>(), Ok(*status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(*kind));
        }
        for state in ExportState::ALL {
            assert_eq!(state.as_str().parse::<ExportState>(), Ok(*state));
        }
        for state in DeliveryState::ALL {
            assert_eq!(state.as_str().parse::<DeliveryState>(), Ok(*state));
        }
        assert!("done".parse::<PlanStatus>().unwrap_err().contains("awaiting_approval"));
        // A rescued plan is back in the queue; a node step means it runs.
        assert_eq!(EventKind::Rescued.status_after(), Some(PlanStatus::Queued));
        assert_eq!(EventKind::NodeStarted.status_after(), Some(PlanStatus::Running));
        assert_eq!(EventKind::Timeout.status_after(), None);
    }
}
