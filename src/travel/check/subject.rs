//! What the rules look at: the plan, the request, the candidates by id, and each day read
//! once by `walk`.

use std::collections::HashMap;

use crate::{
    domain::Place,
    travel::{candidates::Candidates, check::walk::DayWalk, itinerary::Itinerary, request::TripRequest},
};

/// What the rules look at: the plan, the request, the candidates by id, and each day read.
pub struct Subject<'a> {
    pub plan: &'a Itinerary,
    pub request: &'a TripRequest,
    pub candidates: &'a Candidates<'a>,
    pub by_id: HashMap<&'a str, &'a Place>,
    pub days: Vec<DayWalk<'a>>,
}
