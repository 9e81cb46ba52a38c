//! Everything the service keeps in PostgreSQL about plans, one file per table's concern.

pub mod cache;
pub mod checkpoints;
pub mod plans;
pub mod rescue;
pub mod retention;
