//! The job lifecycle, River-style, one file per concern. The plans table is the queue
//! (`store::queue`): a worker (`worker`) runs an apalis worker on our backend (`backend`),
//! whose slots take plans claimed in batches in the background (`claims`), woken by
//! LISTEN/NOTIFY or the poll tick (`wake`); the attempt executor (`executor`) runs the planning graph and records
//! how the attempt ended (`outcome`): a retry after the backoff of `retry`, a wait for an
//! upstream, a hand-back, approval, success or failure — each write waiting out a database
//! outage (`store::durable`); a success's write lands off the worker slot (`finishing`). Maintenance services (`maintenance`) rescue stuck plans and clean up
//! old ones.

pub mod backend;
pub mod claims;
pub mod consumer;
pub mod executor;
pub mod finishing;
pub mod maintenance;
pub mod outcome;
pub mod retry;
pub mod wake;
pub mod worker;
