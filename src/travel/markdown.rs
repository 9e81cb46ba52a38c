//! The finished plan as Markdown, for people: `GET /v1/plans/{id}/itinerary.md` and the CLI.

use std::fmt::Write;

use crate::travel::itinerary::{Day, ItemKind, Itinerary};

pub fn render(plan: &Itinerary) -> String {
    let c = &plan.currency;
    let mut md = String::new();
    let _ = writeln!(md, "# {} · {} → {}\n", plan.destination, plan.start_date, plan.end_date);
    let budget = plan.budget.map_or("无".to_string(), |b| format!("{b:.0} {c}"));
    let _ = writeln!(
        md,
        "{} 人 · {} 天 · 预算 {budget} · 预计花费 **{:.0} {c}**\n",
        plan.travelers,
        plan.days.len(),
        plan.costs.total
    );
    for (i, day) in plan.days.iter().enumerate() {
        render_day(&mut md, i + 1, day, c);
    }
    let k = &plan.costs;
    let _ = writeln!(
        md,
        "## 费用\n\n| 住宿 | 餐饮 | 门票 | 交通 | 合计 |\n|---|---|---|---|---|"
    );
    let _ = writeln!(
        md,
        "| {:.0} | {:.0} | {:.0} | {:.0} | **{:.0} {c}** |\n",
        k.lodging, k.food, k.tickets, k.transport, k.total
    );
    render_list(&mut md, "## 小贴士", "", &plan.tips);
    render_list(&mut md, "## 注意", "⚠️ ", &plan.warnings);
    let sources: Vec<String> = plan
        .sources
        .iter()
        .map(|s| format!("{}: {}", s.kind, s.provider))
        .collect();
    let _ = writeln!(md, "_数据来源：{}_", sources.join(" · "));
    md
}

fn render_day(md: &mut String, number: usize, day: &Day, c: &str) {
    let w = &day.weather;
    let _ = writeln!(
        md,
        "## 第 {} 天 · {} · {} {:.0}–{:.0}°C\n",
        number, day.date, w.condition, w.temp_min, w.temp_max
    );
    for item in &day.items {
        let icon = match item.kind {
            ItemKind::Attraction => "📍",
            ItemKind::Meal => "🍽️",
            ItemKind::Transfer => "🚕",
            ItemKind::Free => "🚶",
        };
        let walk = if item.travel_minutes > 0 {
            format!("（步行 {} 分钟）", item.travel_minutes)
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
        let _ = writeln!(md, "- 🏨 住宿：**{}** · {:.0} {c}", l.name, l.cost);
    }
    let _ = writeln!(md, "\n当日花费：{:.0} {c}\n", day.cost);
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
