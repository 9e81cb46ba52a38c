//! Money: no negative cost, every visit priced for the whole party, every day and the
//! totals the sum of their parts, and the total within the budget.

use crate::{
    domain::money,
    travel::{
        check::{
            subject::Subject,
            violation::{TOLERANCE, Violation, ViolationCode},
        },
        rules,
    },
};

pub fn no_negative_costs(s: &Subject) -> Vec<Violation> {
    let mut out = Vec::new();
    for d in &s.days {
        for (v, _, _) in d.timed().filter(|(v, _, _)| v.item.cost < 0.0) {
            let message = format!("{} has a negative cost", v.item.name);
            out.push(Violation::new(ViolationCode::Cost, Some(d.number), message));
        }
    }
    out
}

pub fn items_cost_the_party_price(s: &Subject) -> Vec<Violation> {
    let request = s.request;
    let mut out = Vec::new();
    for d in &s.days {
        for (v, place, _, _) in d.at_places() {
            let unit_cost = money::from_cny(place.price * request.travelers as f64, &request.currency);
            if (v.item.cost - unit_cost).abs() > TOLERANCE {
                let message = format!(
                    "{} costs {} but its price for the party is {unit_cost}",
                    place.name, v.item.cost
                );
                out.push(Violation::new(ViolationCode::Cost, Some(d.number), message));
            }
        }
    }
    out
}

pub fn day_costs_add_up(s: &Subject) -> Vec<Violation> {
    let mut out = Vec::new();
    for d in &s.days {
        let day = d.day;
        let sum = day.items.iter().map(|i| i.cost).sum::<f64>() + day.lodging.as_ref().map_or(0.0, |l| l.cost);
        if (day.cost - sum).abs() > TOLERANCE * (day.items.len() + 1) as f64 {
            let message = format!("day cost {} is not the sum of its items {sum:.2}", day.cost);
            out.push(Violation::new(ViolationCode::Cost, Some(d.number), message));
        }
    }
    out
}

pub fn totals_add_up(s: &Subject) -> Vec<Violation> {
    let (costs, stated) = (rules::costs(&s.plan.days), &s.plan.costs);
    let slack = TOLERANCE * 4.0;
    let off = |ours: f64, theirs: f64| (ours - theirs).abs() > slack;
    if off(costs.total, stated.total)
        || off(costs.food, stated.food)
        || off(costs.lodging, stated.lodging)
        || off(costs.tickets, stated.tickets)
        || off(costs.transport, stated.transport)
    {
        let message = format!("totals {stated:?} do not add up to the items {costs:?}");
        return vec![Violation::new(ViolationCode::Cost, None, message)];
    }
    Vec::new()
}

pub fn within_budget(s: &Subject) -> Vec<Violation> {
    let (plan, request) = (s.plan, s.request);
    match request.budget {
        Some(budget) if plan.costs.total > budget + TOLERANCE => {
            let message = format!(
                "total {:.2} {} is over the budget of {budget}",
                plan.costs.total, request.currency
            );
            vec![Violation::new(ViolationCode::Budget, None, message)]
        }
        _ => Vec::new(),
    }
}
