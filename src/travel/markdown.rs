//! The finished plan as Markdown, for people, in the plan's language:
//! `GET /v1/plans/{id}/itinerary.md` and the CLI.

use std::fmt::Write;

use crate::travel::{
    itinerary::{Day, ItemKind, Itinerary},
    words::{Markdown, Words, whole},
};

pub fn render(plan: &Itinerary) -> String {
    let words = Words(plan.language).markdown();
    let c = &plan.currency;
    let mut md = String::new();
    let _ = writeln!(md, "# {} · {} → {}\n", plan.destination, plan.start_date, plan.end_date);
    let budget = plan
        .budget
        .map_or(words.no_budget.to_string(), |b| format!("{b:.0} {c}"));
    let _ = writeln!(
        md,
        "{} {} · {} {} · {} {budget} · {} **{:.0} {c}**\n",
        plan.travelers,
        words.travelers,
        plan.days.len(),
        words.days,
        words.budget,
        words.estimated,
        plan.costs.total
    );
    for (i, day) in plan.days.iter().enumerate() {
        render_day(&mut md, &words, i + 1, day, c);
    }
    let k = &plan.costs;
    let _ = writeln!(md, "{}\n|---|---|---|---|---|", words.costs);
    let _ = writeln!(
        md,
        "| {:.0} | {:.0} | {:.0} | {:.0} | **{:.0} {c}** |\n",
        k.lodging, k.food, k.tickets, k.transport, k.total
    );
    render_list(&mut md, words.tips, "", &plan.tips);
    render_list(&mut md, words.warnings, "⚠️ ", &plan.warnings);
    let sources: Vec<String> = plan
        .sources
        .iter()
        .map(|s| format!("{}: {}", s.kind, s.provider))
        .collect();
    let _ = writeln!(md, "_{}{}{}_", words.sources, words.colon, sources.join(" · "));
    md
}

fn render_day(md: &mut String, words: &Markdown, number: usize, day: &Day, c: &str) {
    let w = &day.weather;
    let _ = writeln!(
        md,
        "## {} · {} · {} {}–{}°C\n",
        words.day.replace("{}", &number.to_string()),
        day.date,
        w.condition,
        whole(w.temp_min),
        whole(w.temp_max)
    );
    for item in &day.items {
        let icon = match item.kind {
            ItemKind::Attraction => "📍",
            ItemKind::Meal => "🍽️",
            ItemKind::Transfer => "🚕",
            ItemKind::Free => "🚶",
        };
        let walk = if item.travel_minutes > 0 {
            words.walk.replace("{}", &item.travel_minutes.to_string())
        } else {
            String::new()
        };
        let cost = if item.cost > 0.0 {
            format!(" · {:.0} {c}", item.cost)
        } else {
            String::new()
        };
        let _ = writeln!(
            md,
            "- {}–{} {icon} **{}**{walk}{cost} — {}",
            item.start, item.end, item.name, item.note
        );
    }
    if let Some(l) = &day.lodging {
        let _ = writeln!(
            md,
            "- 🏨 {}{}**{}** · {:.0} {c}",
            words.stay, words.colon, l.name, l.cost
        );
    }
    let _ = writeln!(md, "\n{}{}{:.0} {c}\n", words.day_cost, words.colon, day.cost);
}

/// A section of bullet points, left out when there are none.
fn render_list(md: &mut String, heading: &str, marker: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(md, "{heading}\n");
    for line in lines {
        let _ = writeln!(md, "- {marker}{line}");
    }
    md.push('\n');
}
