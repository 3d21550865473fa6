#![forbid(unsafe_code)]
//! Sizes and durations as Docker prints and parses them (its go-units
//! package): one copy, for the API's `Status` strings and the CLI's columns
//! alike (two copies once disagreed: "Up About an hour" at 100 minutes).

use std::time::Duration;

/// go-units' HumanDuration: "Less than a second", "About a minute",
/// "2 hours", "3 weeks".
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let hours_f = d.as_secs_f64() / 3600.0;
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if secs / 60 == 1 {
        "About a minute".into()
    } else if secs / 60 < 60 {
        format!("{} minutes", secs / 60)
    } else {
        // Go rounds the hours (int(d.Hours() + 0.5)).
        let hours = (hours_f + 0.5) as u64;
        if hours == 1 {
            "About an hour".into()
        } else if hours < 48 {
            format!("{hours} hours")
        } else if hours < 24 * 7 * 2 {
            format!("{} days", hours / 24)
        } else if hours < 24 * 30 * 2 {
            format!("{} weeks", hours / 24 / 7)
        } else if hours < 24 * 365 * 2 {
            format!("{} months", hours / 24 / 30)
        } else {
            format!("{} years", hours_f as u64 / 24 / 365)
        }
    }
}

/// go-units' HumanSizeWithPrecision (decimal units): `prec` significant
/// digits, "4.26MB" at 3.
pub fn human_size(n: f64, prec: i32) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = n;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(v, prec), units[i])
}

/// go-units' BytesSize (binary units, 4 significant digits): "1.5MiB".
pub fn bytes_size(n: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = n;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(v, 4), units[i])
}

/// Go's `%.<prec>g` for the magnitudes sizes take (below 1e21, no exponent).
fn go_g(v: f64, prec: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = (v.abs().log10().floor() as i32 + 1).max(1);
    let decimals = (prec - digits).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// go-units' RAMInBytes: `512`, `32m`, `1.5g`, `64MB`, `2GiB` (binary
/// units); the error is docker's wording.
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    parse(s, 1024.0)
}

/// go-units' FromHumanSize: the same forms in decimal units (`10m` is ten
/// million bytes), as the json-file log's `max-size` takes them.
pub fn from_human_size(s: &str) -> Result<i64, String> {
    parse(s, 1000.0)
}

fn parse(s: &str, base: f64) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_end);
    let invalid = || format!("invalid size: '{s}'");
    let n: f64 = num.parse().map_err(|_| invalid())?;
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mul: f64 = match unit {
        "" => 1.0,
        "k" => base,
        "m" => base.powi(2),
        "g" => base.powi(3),
        "t" => base.powi(4),
        "p" => base.powi(5),
        _ => return Err(invalid()),
    };
    if n < 0.0 {
        return Err(invalid());
    }
    Ok((n * mul) as i64)
}

/// Go's `time.ParseDuration` (`1m30s`, `500ms`, `1.5h`, `-2s`), in
/// nanoseconds, with Go's error texts.
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        let (num, tail) = rest.split_at(n);
        if num.is_empty() || num == "." {
            return Err(invalid());
        }
        let unit_len = tail
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(tail.len(), |(i, _)| i);
        let (unit, tail) = tail.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "µs" | "us" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        let (int, fr) = num.split_once('.').unwrap_or((num, ""));
        let int: i128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        total += int * scale;
        if !fr.is_empty() {
            let fr_digits = fr.len().min(18) as u32;
            let fr: i128 = fr[..fr_digits as usize].parse().map_err(|_| invalid())?;
            total += fr * scale / 10i128.pow(fr_digits);
        }
        rest = tail;
    }
    let total = i64::try_from(total).map_err(|_| invalid())?;
    Ok(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_go_parses_them() {
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("-2s"), Ok(-2_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_go_duration("2us"), Ok(2_000));
        assert_eq!(
            parse_go_duration("5"),
            Err("time: missing unit in duration \"5\"".into())
        );
        assert!(parse_go_duration("3x").is_err());
        assert!(parse_go_duration("").is_err());
    }

    #[test]
    fn durations_as_go_units_words_them() {
        let d = |s| human_duration(Duration::from_secs(s));
        assert_eq!(d(0), "Less than a second");
        assert_eq!(d(1), "1 second");
        assert_eq!(d(59), "59 seconds");
        assert_eq!(d(60), "About a minute");
        assert_eq!(d(59 * 60), "59 minutes");
        assert_eq!(d(3600), "About an hour");
        // Rounded, as Go does: 100 minutes are "2 hours", not "About an hour".
        assert_eq!(d(100 * 60), "2 hours");
        assert_eq!(d(47 * 3600), "47 hours");
        assert_eq!(d(3 * 86400), "3 days");
        assert_eq!(d(21 * 86400), "3 weeks");
        assert_eq!(d(90 * 86400), "3 months");
        assert_eq!(d(800 * 86400), "2 years");
    }

    #[test]
    fn sizes_both_ways() {
        assert_eq!(human_size(4_261_000.0, 3), "4.26MB");
        assert_eq!(human_size(999.0, 3), "999B");
        assert_eq!(human_size(1_234_567.0, 4), "1.235MB");
        assert_eq!(bytes_size(1536.0 * 1024.0), "1.5MiB");
        assert_eq!(ram_in_bytes("32m"), Ok(32 << 20));
        assert_eq!(ram_in_bytes("1.5g"), Ok(3 << 29));
        assert_eq!(ram_in_bytes("64MB"), Ok(64 << 20));
        assert_eq!(ram_in_bytes("2GiB"), Ok(2 << 30));
        assert_eq!(ram_in_bytes("512"), Ok(512));
        assert_eq!(ram_in_bytes("12x"), Err("invalid size: '12x'".into()));
        assert_eq!(from_human_size("10m"), Ok(10_000_000));
        assert_eq!(from_human_size("1kb"), Ok(1000));
    }
}
