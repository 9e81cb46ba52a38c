//! Lodging: a candidate hotel every night, none on the last day, priced for the rooms the
//! party needs (two to a room).

use crate::{
    domain::{PlaceKind, money},
    travel::check::{
        subject::Subject,
        violation::{TOLERANCE, Violation, ViolationCode},
    },
};

pub fn nights_have_lodging(s: &Subject) -> Vec<Violation> {
    let rooms = s.request.travelers.div_ceil(2) as f64;
    let mut out = Vec::new();
    for d in &s.days {
        let n = Some(d.number);
        let last = d.number == s.plan.days.len();
        match (&d.day.lodging, last) {
            (Some(_), true) => out.push(Violation::new(
                ViolationCode::Lodging,
                n,
                "the last day has lodging".into(),
            )),
            (None, false) => {
                let message = format!("night {} has no lodging", d.number);
                out.push(Violation::new(ViolationCode::Lodging, n, message));
            }
            (Some(l), false) => match s.by_id.get(l.place_id.as_str()) {
                Some(h) if h.kind == PlaceKind::Hotel => {
                    let cost = money::from_cny(h.price * rooms, &s.request.currency);
                    if (l.cost - cost).abs() > TOLERANCE {
                        let message = format!("{} costs {} but {rooms} room(s) cost {cost}", h.name, l.cost);
                        out.push(Violation::new(ViolationCode::Cost, n, message));
                    }
                }
                _ => {
                    let message = format!("{} is not a candidate hotel", l.name);
                    out.push(Violation::new(ViolationCode::Lodging, n, message));
                }
            },
            (None, true) => {}
        }
    }
    out
}
