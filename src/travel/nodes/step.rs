//! The planning graph's nodes by name. Each is a `Step`; the graph is built from `Step::ALL`,
//! so that list is the graph's node set and its length the steps of a run.

use std::fmt;

macro_rules! steps {
    ($($variant:ident => $name:literal,)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Step {
            $($variant,)+
        }

        impl Step {
            /// Every node of the planning graph, in the order a run reaches them.
            pub const ALL: &'static [Step] = &[$(Step::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Step::$variant => $name,)+
                }
            }
        }
    };
}

steps! {
    Understand => "understand",
    Weather => "weather",
    Places => "places",
    Lodging => "lodging",
    Routes => "routes",
    Draft => "draft",
    Check => "check",
    Approval => "approval",
    Finalize => "finalize",
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The nodes of one straight run of the planning graph, for progress percentages.
pub const STEPS: usize = Step::ALL.len();
