//! Where finished plans are copied for people and tools outside the service: a folder or an
//! S3-compatible bucket (`RESULTS_STORE`), as `{prefix}/{plan_id}.json` and `.md`. Knows no
//! plans beyond their id and bytes; the exporter (`queue::maintenance::result_exporter`)
//! decides when to write and delete.

pub mod store;
