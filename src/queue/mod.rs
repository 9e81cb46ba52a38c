//! The job lifecycle, River-style, one file per concern. A plan's job (`store::jobs`, pushed
//! in the same transaction as the plan) is taken by a worker (`worker`, polling with `poll`
//! besides LISTEN/NOTIFY); the attempt executor (`executor`) claims the attempt, runs the
//! planning graph and records how the attempt ended (`outcome`): a retry after the backoff
//! of `retry`, a wait for an upstream, a hand-back, approval, success or failure — each
//! write waiting out a database outage (`durable`). Maintenance services (`maintenance`)
//! rescue stuck plans and clean up old ones.

pub mod durable;
pub mod executor;
pub mod maintenance;
pub mod outcome;
pub mod poll;
pub mod retry;
pub mod worker;
