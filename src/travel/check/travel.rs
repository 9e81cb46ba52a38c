//! Travel between places: a transfer long enough for its mode, or, without one, a walk
//! short enough to walk and the minutes to walk it.

use crate::travel::{
    check::{
        subject::Subject,
        violation::{Violation, ViolationCode},
    },
    geo::{self, Mode},
};

pub fn legs_leave_time_to_travel(s: &Subject) -> Vec<Violation> {
    let (roads, travelers) = (s.candidates.roads, s.request.travelers);
    let mut out = Vec::new();
    for d in &s.days {
        for (v, place, start, _) in d.at_places() {
            let Some(from) = v.from else {
                continue;
            };
            let mut problem =
                |message: String| out.push(Violation::new(ViolationCode::Travel, Some(d.number), message));
            if let Some((minutes, mode)) = v.transfer {
                let need = roads.leg(from, place, mode, travelers).minutes;
                if minutes < need {
                    problem(format!(
                        "transfer to {} takes {minutes} minutes, needs {need}",
                        place.name
                    ));
                }
                continue;
            }
            let km = roads.km(from, place);
            if km > geo::WALK_MAX_KM {
                problem(format!(
                    "{} is {km:.1} km from {} with no transfer",
                    place.name, from.name
                ));
            }
            let need = roads.leg(from, place, Mode::Walk, travelers).minutes;
            let walked = v.item.travel_minutes;
            if walked < need || start < v.prev_end + walked {
                problem(format!(
                    "{} leaves {} minutes to walk from {}, needs {need}",
                    place.name,
                    start.saturating_sub(v.prev_end),
                    from.name
                ));
            }
        }
    }
    out
}
