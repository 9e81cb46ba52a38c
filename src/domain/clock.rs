//! Times of day as minutes after midnight, written `HH:MM`.

/// `09:30` → 570 minutes after midnight; `24:00` is allowed as a closing time.
pub fn parse_clock(raw: &str) -> Result<u32, String> {
    let (h, m) = raw
        .trim()
        .split_once(':')
        .ok_or_else(|| format!("{raw:?} is not HH:MM"))?;
    let h: u32 = h.parse().map_err(|_| format!("{raw:?} is not HH:MM"))?;
    let m: u32 = m.parse().map_err(|_| format!("{raw:?} is not HH:MM"))?;
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        return Err(format!("{raw:?} is not a time of day"));
    }
    Ok(h * 60 + m)
}

pub fn format_clock(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `09:00-18:00` → (540, 1080); the place must close after it opens.
pub fn parse_hours(raw: &str) -> Result<(u32, u32), String> {
    let (a, b) = raw
        .split_once('-')
        .ok_or_else(|| format!("hours {raw:?} are not HH:MM-HH:MM"))?;
    let (a, b) = (parse_clock(a)?, parse_clock(b)?);
    if a >= b {
        return Err(format!("hours {raw:?} close before they open"));
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_round_trip_and_reject_garbage() {
        assert_eq!(parse_clock("09:30"), Ok(570));
        assert_eq!(format_clock(570), "09:30");
        assert!(parse_clock("25:00").is_err());
        assert!(parse_hours("18:00-09:00").is_err());
    }
}
