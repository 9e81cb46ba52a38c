//! The finished plan as Markdown, for people: `GET /v1/plans/{id}/itinerary.md` and the CLI.

use std::fmt::Write;

use crate::travel::itinerary::{ItemKind, Itinerary};

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
        let w = &day.weather;
        let _ = writeln!(
            md,
            "## 第 {} 天 · {} · {} {:.0}–{:.0}°C\n",
            i + 1,
            day.date,
            w.condition,
            w.temp_min,
            w.temp_max
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
    if !plan.tips.is_empty() {
        let _ = writeln!(md, "## 小贴士\n");
        for tip in &plan.tips {
            let _ = writeln!(md, "- {tip}");
        }
        md.push('\n');
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(md, "## 注意\n");
        for w in &plan.warnings {
            let _ = writeln!(md, "- ⚠️ {w}");
        }
        md.push('\n');
    }
    let sources: Vec<String> = plan
        .sources
        .iter()
        .map(|s| format!("{}: {}", s.kind, s.provider))
        .collect();
    let _ = writeln!(md, "_数据来源：{}_", sources.join(" · "));
    md
}
