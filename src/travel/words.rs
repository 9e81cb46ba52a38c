//! Every sentence a plan says, in Chinese and in English: item names and notes, tips,
//! warnings, failure messages, the Markdown's headings, weather conditions. The plan speaks
//! the request's language; place names stay as the data gives them.

use chrono::{Datelike, NaiveDate};

use crate::{domain::DayWeather, travel::language::Language};

#[derive(Debug, Clone, Copy)]
pub struct Words(pub Language);

impl Words {
    fn pick(self, zh: impl Into<String>, en: impl Into<String>) -> String {
        match self.0 {
            Language::Zh => zh.into(),
            Language::En => en.into(),
        }
    }

    pub fn taxi_to(self, place: &str) -> String {
        self.pick(format!("打车前往 {place}"), format!("Taxi to {place}"))
    }

    pub fn metro_to(self, place: &str) -> String {
        self.pick(format!("地铁前往 {place}"), format!("Metro to {place}"))
    }

    pub fn about_km(self, km: f64) -> String {
        self.pick(format!("约 {km:.1} 公里"), format!("about {km:.1} km"))
    }

    pub fn meal_price(self, cny: f64) -> String {
        self.pick(format!("人均约 {cny:.0} 元"), format!("about {cny:.0} CNY a person"))
    }

    pub fn ticket_price(self, cny: f64) -> String {
        self.pick(
            format!("门票约 {cny:.0} 元/人"),
            format!("ticket about {cny:.0} CNY a person"),
        )
    }

    pub fn free_entry(self) -> String {
        self.pick("免费", "free entry")
    }

    pub fn free_time(self) -> String {
        self.pick("自由活动", "Free time")
    }

    pub fn free_time_note(self) -> String {
        self.pick(
            "附近街区随意逛逛，或回酒店休息",
            "stroll the streets nearby, or rest at the hotel",
        )
    }

    pub fn evening_free(self) -> String {
        self.pick("晚间自由活动", "Evening at leisure")
    }

    pub fn evening_note(self) -> String {
        self.pick(
            "夜游、散步或早点休息",
            "a walk after dinner, the night views, or an early night",
        )
    }

    pub fn rain_tip(self, date: &str, condition: &str) -> String {
        self.pick(
            format!("{date}：{condition}，行程已优先安排室内景点，记得带伞。"),
            format!("{date}: {condition} — indoor sights come first that day; bring an umbrella."),
        )
    }

    pub fn budget_tip(self, total: f64, budget: f64, currency: &str) -> String {
        let left = budget - total;
        self.pick(
            format!("预计花费 {total:.0} {currency}，预算 {budget:.0} {currency}，余 {left:.0} {currency}。"),
            format!("Estimated cost {total:.0} {currency} of a {budget:.0} {currency} budget: {left:.0} {currency} to spare."),
        )
    }

    pub fn free_days_tip(self, dates: &[String]) -> String {
        self.pick(
            format!("内置景点已全部安排，{} 为自由活动日。", dates.join("、")),
            format!(
                "Every listed sight is already in the plan: {} left free.",
                dates.join(", ")
            ),
        )
    }

    pub fn cold_tip(self) -> String {
        self.pick("天气寒冷，注意保暖。", "It will be cold: dress warmly.")
    }

    pub fn hot_tip(self) -> String {
        self.pick("天气炎热，注意防晒补水。", "It will be hot: sunscreen and water.")
    }

    pub fn thrift_tip(self) -> String {
        self.pick(
            "为控制预算，较远路段安排地铁出行，餐厅以平价为主。",
            "To keep to the budget, longer legs go by metro and meals are at good-value places.",
        )
    }

    pub fn unknown_weather(self) -> String {
        self.pick("未知", "unknown")
    }

    /// What the climate normals say of a day: typical weather, not a forecast.
    pub fn typical_for(self, date: NaiveDate) -> String {
        let part = match date.day() {
            1..=10 => 0,
            11..=20 => 1,
            _ => 2,
        };
        self.pick(
            format!("{}月{}常年天气", date.month(), ["上旬", "中旬", "下旬"][part]),
            format!(
                "typical for {} {}",
                ["early", "mid", "late"][part],
                MONTHS[date.month0() as usize]
            ),
        )
    }

    /// A day's weather as the plan shows it: normals say they are typical; English plans
    /// translate the conditions the sources give in Chinese.
    pub fn weather(self, weather: &DayWeather, date: NaiveDate) -> DayWeather {
        let condition = if is_normals(&weather.source) {
            let rain = if weather.rainy {
                self.pick("，多雨", ", often rainy")
            } else {
                String::new()
            };
            format!("{}{rain}", self.typical_for(date))
        } else if self.0.is_english() {
            english_condition(&weather.condition)
        } else {
            weather.condition.clone()
        };
        DayWeather {
            condition,
            temp_min: whole(weather.temp_min),
            temp_max: whole(weather.temp_max),
            ..weather.clone()
        }
    }

    pub fn budget_too_low(
        self,
        budget: f64,
        currency: &str,
        days: u32,
        city: &str,
        travelers: u32,
        cheapest: &Cheapest,
    ) -> String {
        let Cheapest {
            total,
            lodging,
            food,
            tickets,
            transport,
        } = *cheapest;
        let c = currency;
        self.pick(
            format!(
                "预算 {budget} {c} 不够 {city} {days} 天 {travelers} 人：能通过全部检查的最便宜方案需要 {total:.0} {c}（住宿 {lodging:.0}，餐饮 {food:.0}，门票 {tickets:.0}，交通 {transport:.0}）；预算至少 {:.0} {c} 可行，或减少天数",
                total.ceil()
            ),
            format!(
                "a budget of {budget} {c} cannot cover {days} day(s) in {city} for {travelers} traveler(s): the cheapest plan that passes every check costs {total:.0} {c} (lodging {lodging:.0}, food {food:.0}, tickets {tickets:.0}, transport {transport:.0}); a budget of at least {:.0} {c} would work, or plan fewer days",
                total.ceil()
            ),
        )
    }

    pub fn constraints_violated(self, revisions: u32, problems: &[String]) -> String {
        self.pick(
            format!("修订 {revisions} 次后仍没有草案通过检查：{}", problems.join("；")),
            format!(
                "no draft passed the checker after {revisions} revisions: {}",
                problems.join("; ")
            ),
        )
    }

    pub fn degraded(self, kind: &str, why: &str) -> String {
        self.pick(
            format!("{kind}：{why}；已改用内置数据"),
            format!("{kind}: {why}; used embedded data instead"),
        )
    }

    pub fn roads_estimated(self, failed: usize, total: usize, first: &str) -> String {
        self.pick(
            format!("路线距离：{total} 次查询中 {failed} 次失败（{first}），相应路段按坐标估算"),
            format!(
                "road distances: {failed} of {total} lookups failed ({first}); those legs are estimated from coordinates"
            ),
        )
    }

    pub fn llm_fallback(self, why: &str) -> String {
        self.pick(
            format!("{why}；已改用内置规划"),
            format!("{why}; used the embedded planner instead"),
        )
    }

    /// The live places could not make a valid plan; the curated catalog helped (`mixed`) or
    /// made it alone.
    pub fn curated_fallback(self, mixed: bool, city: &str) -> String {
        match mixed {
            true => self.pick(
                format!("{city}的实时地点数据无法排出通过全部检查的行程：已混入内置精选地点"),
                format!("the live places for {city} could not make a plan that passes every check: the curated catalog was mixed in"),
            ),
            false => self.pick(
                format!("{city}的实时地点数据无法排出通过全部检查的行程：已改用内置精选地点"),
                format!("the live places for {city} could not make a plan that passes every check: planned from the curated catalog"),
            ),
        }
    }

    /// A stated interest no place of the plan answers, and why.
    pub fn unmet_interest(self, interest: &str, none_known: bool) -> String {
        let zh_name = match interest {
            "food" => "美食",
            "nature" => "自然风光",
            "history" => "历史",
            "culture" => "文化",
            "art" => "艺术",
            "shopping" => "购物",
            "nightlife" => "夜生活",
            "family" => "亲子",
            "photography" => "摄影",
            other => other,
        };
        match none_known {
            true => self.pick(
                format!("行程中没有与“{zh_name}”相关的地点：已知地点中没有这一类"),
                format!("nothing in the plan answers your interest in {interest}: none of the places known here does"),
            ),
            false => self.pick(
                format!("行程中没有与“{zh_name}”相关的地点：这几天排不下"),
                format!("nothing in the plan answers your interest in {interest}: these days had no room for one"),
            ),
        }
    }

    pub fn over_budget_accepted(self, over: f64, currency: &str) -> String {
        self.pick(
            format!("超出预算 {over:.0} {currency}：已在审批时接受"),
            format!("over budget by {over:.0} {currency}: accepted at approval"),
        )
    }

    pub fn approval_requested(self) -> String {
        self.pick("行程按您的要求在定稿前等待确认", "the request asks for approval")
    }

    pub fn approval_over_budget(self, over: f64, currency: &str) -> String {
        self.pick(
            format!("超出预算 {over:.0} {currency}"),
            format!("over budget by {over:.0} {currency}"),
        )
    }

    pub fn approval_degraded(self, why: &str) -> String {
        self.pick(format!("数据降级：{why}"), format!("degraded data: {why}"))
    }

    /// Preferences the planner cannot act on, as (field, value): kept with the request.
    pub fn unhonoured(self, items: &[(String, String)]) -> String {
        let zh: Vec<String> = items.iter().map(|(f, v)| format!("{f}（{v}）")).collect();
        let en: Vec<String> = items.iter().map(|(f, v)| format!("{f} ({v})")).collect();
        self.pick(
            format!("以下偏好暂无法在行程中体现，已随请求保存：{}", zh.join("；")),
            format!("not planned for, kept with the request: {}", en.join("; ")),
        )
    }

    /// A request field by name: `destination`, `days`, `travelers`, `budget`, `start_date`.
    fn field(self, field: &str) -> String {
        let zh = match field {
            "destination" => "目的地",
            "days" => "天数",
            "travelers" => "人数",
            "budget" => "预算",
            "start_date" => "出发日期",
            other => other,
        };
        self.pick(zh, field.replace('_', " "))
    }

    /// The LLM contradicted what the text states plainly; the text's reading was kept.
    pub fn llm_overruled(self, field: &str, said: &str, stated: &str) -> String {
        let name = self.field(field);
        self.pick(
            format!("LLM 把{name}读作 {said}，但请求写的是 {stated}：以请求为准"),
            format!("the LLM read the {name} as {said} but the request says {stated}: kept the request's"),
        )
    }

    /// The LLM gave a value the text does not state; it was not used.
    pub fn llm_ungrounded(self, field: &str, said: &str) -> String {
        let name = self.field(field);
        self.pick(
            format!("LLM 给出的{name} {said} 在请求中没有依据：未采用"),
            format!("the LLM gave the {name} as {said}, which the request does not state: not used"),
        )
    }

    pub fn markdown(self) -> Markdown {
        match self.0 {
            Language::Zh => Markdown {
                travelers: "人",
                days: "天",
                budget: "预算",
                no_budget: "无",
                estimated: "预计花费",
                day: "第 {} 天",
                walk: "（步行 {} 分钟）",
                stay: "住宿",
                day_cost: "当日花费",
                costs: "## 费用\n\n| 住宿 | 餐饮 | 门票 | 交通 | 合计 |",
                tips: "## 小贴士",
                warnings: "## 注意",
                sources: "数据来源",
                colon: "：",
            },
            Language::En => Markdown {
                travelers: "traveler(s)",
                days: "day(s)",
                budget: "budget",
                no_budget: "none",
                estimated: "estimated",
                day: "Day {}",
                walk: " (walk {} min)",
                stay: "Stay",
                day_cost: "Day total",
                costs: "## Costs\n\n| Lodging | Food | Tickets | Transport | Total |",
                tips: "## Tips",
                warnings: "## Heads-up",
                sources: "Sources",
                colon: ": ",
            },
        }
    }
}

/// The cheapest plan's costs, for the message that says the budget is too low.
#[derive(Debug, Clone, Copy)]
pub struct Cheapest {
    pub total: f64,
    pub lodging: f64,
    pub food: f64,
    pub tickets: f64,
    pub transport: f64,
}

/// The Markdown's fixed words; `{}` stands for a number.
pub struct Markdown {
    pub travelers: &'static str,
    pub days: &'static str,
    pub budget: &'static str,
    pub no_budget: &'static str,
    pub estimated: &'static str,
    pub day: &'static str,
    pub walk: &'static str,
    pub stay: &'static str,
    pub day_cost: &'static str,
    pub costs: &'static str,
    pub tips: &'static str,
    pub warnings: &'static str,
    pub sources: &'static str,
    pub colon: &'static str,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Days the climate normals gave (`normals`, `mcp:normals`).
pub fn is_normals(source: &str) -> bool {
    source == "normals" || source.ends_with(":normals")
}

/// A temperature to show: whole degrees, never `-0`.
pub fn whole(t: f64) -> f64 {
    let t = t.round();
    if t == 0.0 { 0.0 } else { t }
}

/// QWeather's Chinese conditions in English (the common ones; others stay as given).
fn english_condition(zh: &str) -> String {
    const CONDITIONS: [(&str, &str); 24] = [
        ("晴", "Sunny"),
        ("多云", "Cloudy"),
        ("少云", "Partly cloudy"),
        ("晴间多云", "Partly cloudy"),
        ("阴", "Overcast"),
        ("阵雨", "Showers"),
        ("强阵雨", "Heavy showers"),
        ("雷阵雨", "Thunderstorms"),
        ("毛毛雨/细雨", "Drizzle"),
        ("小雨", "Light rain"),
        ("中雨", "Moderate rain"),
        ("大雨", "Heavy rain"),
        ("暴雨", "Rainstorm"),
        ("小到中雨", "Light to moderate rain"),
        ("中到大雨", "Moderate to heavy rain"),
        ("雨夹雪", "Sleet"),
        ("小雪", "Light snow"),
        ("中雪", "Moderate snow"),
        ("大雪", "Heavy snow"),
        ("阵雪", "Snow showers"),
        ("雾", "Fog"),
        ("霾", "Haze"),
        ("扬沙", "Blowing sand"),
        ("未知", "unknown"),
    ];
    CONDITIONS
        .iter()
        .find(|(z, _)| *z == zh)
        .map_or_else(|| zh.to_string(), |(_, en)| en.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normals_say_they_are_typical_and_never_minus_zero() {
        let normal = DayWeather {
            date: "2026-12-03".into(),
            condition: "小雨".into(),
            temp_min: -0.3,
            temp_max: 9.6,
            precip_mm: 1.0,
            rainy: false,
            wind: None,
            source: "normals".into(),
        };
        let date = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let en = Words(Language::En).weather(&normal, date);
        assert_eq!(en.condition, "typical for early December");
        assert_eq!((en.temp_min.to_string(), en.temp_max), ("0".to_string(), 10.0));
        assert_eq!(Words(Language::Zh).weather(&normal, date).condition, "12月上旬常年天气");
        let forecast = DayWeather {
            source: "qweather".into(),
            ..normal
        };
        assert_eq!(Words(Language::En).weather(&forecast, date).condition, "Light rain");
        assert_eq!(Words(Language::Zh).weather(&forecast, date).condition, "小雨");
    }
}
