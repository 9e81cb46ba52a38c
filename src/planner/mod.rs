//! Travel planning: the request, the embedded knowledge, the composer and checker, the
//! graph nodes, and running one attempt of a plan.

pub mod catalog;
pub mod check;
pub mod compose;
pub mod currency;
pub mod geo;
pub mod itinerary;
pub mod markdown;
pub mod nodes;
pub mod parse;
pub mod realize;
pub mod request;
pub mod routes;
pub mod rules;
pub mod run;
