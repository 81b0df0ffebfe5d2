//! The fine-grained data: intraday series (with their detail levels and
//! time windows) and sleep logs.

use super::*;

fn hm(s: &str) -> Option<u32> {
    let t = chrono::NaiveTime::parse_from_str(s, "%H:%M").ok()?;
    Some(chrono::Timelike::num_seconds_from_midnight(&t))
}

pub(super) fn intraday(
    c: &Ctx,
    u: &UserData,
    res: &str,
    d: &str,
    detail: &str,
    window: Option<(&&str, &&str)>,
) -> Reply {
    let heart = res == "heart";
    c.need(if heart { "heartrate" } else { "activity" })?;
    if !c.intraday_ok {
        return Err(fitbit_error(
            StatusCode::FORBIDDEN,
            "insufficient_permissions",
            "API client is not authorized by Fitbit to access the resource requested.",
        ));
    }
    let (step, kind) = match detail {
        "1sec" if heart => (1, "second"),
        "1min" => (60, "minute"),
        "5min" => (300, "minute"),
        "15min" => (900, "minute"),
        _ => {
            return Err(validation(
                "detailLevel",
                format!("Invalid detail level: {detail}"),
            ));
        }
    };
    let day = c.day(d)?;
    let (from, to) = match window {
        None => (0, 86399),
        Some((a, b)) => {
            let bad = || validation("time", format!("Invalid time range: {a}-{b}"));
            let (a, b) = (hm(a).ok_or_else(bad)?, hm(b).ok_or_else(bad)?);
            (a, b + 59)
        }
    };
    let samples = u
        .intraday
        .get(&(res.to_string(), day))
        .cloned()
        .unwrap_or_default();
    let mut dataset = Vec::new();
    let mut bucket = from - from % step;
    while bucket <= to {
        let vals: Vec<f64> = samples
            .iter()
            .filter(|(t, _)| *t >= bucket && *t < bucket + step)
            .map(|(_, v)| *v)
            .collect();
        let time = format!(
            "{:02}:{:02}:{:02}",
            bucket / 3600,
            bucket / 60 % 60,
            bucket % 60
        );
        if heart {
            if !vals.is_empty() {
                let mean = (vals.iter().sum::<f64>() / vals.len() as f64).round();
                dataset.push(json!({"time": time, "value": num(mean)}));
            }
        } else {
            let sum = c.units.activity(res, vals.iter().sum());
            dataset.push(json!({"time": time, "value": num(sum)}));
        }
        bucket += step;
    }
    let summary = if heart {
        heart_day(u, day)
    } else {
        json!({"dateTime": day.to_string(), "value": num_string(activity_value(c, u, res, day))})
    };
    Ok(json!({
        format!("activities-{res}"): [summary],
        format!("activities-{res}-intraday"): {"dataset": dataset, "datasetInterval": step / 60, "datasetType": kind},
    }))
}

pub(super) fn sleep(c: &Ctx, u: &UserData, d: &str, e: &str) -> Reply {
    c.need("sleep")?;
    let (start, end) = if d == e {
        (c.day(d)?, c.day(d)?)
    } else {
        c.range(d, e, &[], 100, None)?
    };
    let mut logs: Vec<_> = u
        .sleeps
        .iter()
        .filter(|s| in_range(&s.date_of_sleep, start, end))
        .collect();
    logs.sort_by(|a, b| b.start_time.cmp(&a.start_time));
    let (mut asleep, mut in_bed) = (0, 0);
    let (mut deep, mut light, mut rem, mut wake) = (0, 0, 0, 0);
    let list: Vec<Value> = logs
        .iter()
        .map(|s| {
            let awake = s.time_in_bed_minutes.saturating_sub(s.minutes_asleep);
            let (sd, sl, sr) = if s.deep + s.light + s.rem == 0 { (0, s.minutes_asleep, 0) } else { (s.deep, s.light, s.rem) };
            if s.is_main_sleep {
                asleep += s.minutes_asleep;
                in_bed += s.time_in_bed_minutes;
                (deep, light, rem, wake) = (deep + sd, light + sl, rem + sr, wake + awake);
            }
            let start = chrono::NaiveDateTime::parse_from_str(&s.start_time, "%Y-%m-%dT%H:%M:%S").expect("sleep start_time as yyyy-MM-ddTHH:mm:ss");
            let end = start + Duration::minutes(i64::from(s.time_in_bed_minutes));
            let fmt = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string();
            let stage = |m: u32| json!({"count": u32::from(m > 0), "minutes": m, "thirtyDayAvgMinutes": 0});
            json!({
                "dateOfSleep": s.date_of_sleep,
                "duration": u64::from(s.time_in_bed_minutes) * 60_000,
                "efficiency": (s.minutes_asleep * 100).checked_div(s.time_in_bed_minutes).unwrap_or(0),
                "endTime": fmt(end),
                "infoCode": 0,
                "isMainSleep": s.is_main_sleep,
                "levels": {
                    "data": [],
                    "shortData": [],
                    "summary": {"deep": stage(sd), "light": stage(sl), "rem": stage(sr), "wake": stage(awake)},
                },
                "logId": s.log_id.unwrap_or_else(|| start.and_utc().timestamp_millis() as u64),
                "logType": "auto_detected",
                "minutesAfterWakeup": 0,
                "minutesAsleep": s.minutes_asleep,
                "minutesAwake": awake,
                "minutesToFallAsleep": 0,
                "startTime": fmt(start),
                "timeInBed": s.time_in_bed_minutes,
                "type": "stages",
            })
        })
        .collect();
    Ok(json!({
        "sleep": list,
        "summary": {
            "stages": {"deep": deep, "light": light, "rem": rem, "wake": wake},
            "totalMinutesAsleep": asleep,
            "totalSleepRecords": logs.len(),
            "totalTimeInBed": in_bed,
        }
    }))
}
