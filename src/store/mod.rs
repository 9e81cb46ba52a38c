//! Everything the service keeps in PostgreSQL, one file per table's concern: plans as
//! clients create them (`submissions`), change them (`plans`), read them (`plan_reads`) and as
//! workers run them (`runs`), their timeline
//! (`events`, read live by `timeline`), their checkpoints and the run's writes (`progress`; it, submissions and reads share statements through `batch`; writes wait out an outage with `durable`),
//! the queue the plans table also is (`queue`), the provider cache, the webhook outbox
//! (`webhooks`), the results export outbox (`exports`), and the typed states all of these
//! write (`states`). Nothing here decides
//! policy: callers say what happened, the store records it atomically.

pub mod approval;
pub mod batch;
pub mod cache;
pub mod checkpoints;
pub mod durable;
pub mod events;
pub mod exports;
pub mod keys;
pub mod plan_error;
pub mod plan_reads;
pub mod plans;
pub mod progress;
pub mod queue;
pub mod runs;
pub mod states;
pub mod submissions;
pub mod timeline;
pub mod webhooks;
