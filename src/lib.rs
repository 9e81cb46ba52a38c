//! travel-planner: an AI travel-planning agent run as a durable service.
//! See the README for the design; each module's header says what it owns. Imports run down
//! the layers (`tests/layering.rs` holds the list and checks it):
//! cli → api, queue → travel, weather_mcp → llm → providers → store, catalog, telemetry,
//! results → graph, config → resilience → domain, db, metrics, webhook.

pub mod api;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod graph;
pub mod llm;
pub mod metrics;
pub mod providers;
pub mod queue;
pub mod resilience;
pub mod results;
pub mod store;
pub mod telemetry;
pub mod travel;
pub mod weather_mcp;
pub mod webhook;
