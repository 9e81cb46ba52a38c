//! travel-planner: an AI travel-planning agent run as a durable service.
//! See the README for the design; each module's header says what it owns.

pub mod api;
pub mod bench;
pub mod cli;
pub mod config;
pub mod db;
pub mod graph;
pub mod llm;
pub mod metrics;
pub mod planner;
pub mod providers;
pub mod queue;
pub mod resilience;
pub mod store;
pub mod telemetry;
pub mod weather_mcp;
