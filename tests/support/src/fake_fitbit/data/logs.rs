//! Food, water, glucose and blood pressure logs of a day, the health
//! metrics (SpO2, HRV, breathing rate, skin temperature, cardio fitness),
//! and the endpoints of data the user has none of in this fake (catalogue,
//! social, goals, alarms, subscriptions) in their documented shapes.

use super::*;

const ML_PER_FL_OZ: f64 = 29.5735295625;
const MG_DL_PER_MMOL_L: f64 = 18.0156;

fn liquid(c: &Ctx, ml: f64) -> Value {
    num(round2(if c.units == Units::Us {
        ml / ML_PER_FL_OZ
    } else {
        ml
    }))
}

pub(super) fn foods_log(c: &Ctx, u: &UserData, d: &str) -> Reply {
    c.need("nutrition")?;
    let day = c.day(d)?.to_string();
    let foods: Vec<&FoodLog> = u.foods.iter().filter(|f| f.date == day).collect();
    let sum = |f: fn(&FoodLog) -> f64| num(round2(foods.iter().map(|x| f(x)).sum()));
    let list: Vec<Value> = foods
        .iter()
        .map(|f| {
            json!({
                "isFavorite": false,
                "logDate": f.date,
                "logId": f.log_id,
                "loggedFood": {"accessLevel": "PUBLIC", "amount": num(f.amount), "brand": "",
                    "calories": num(f.calories), "foodId": 80_000 + f.log_id, "locale": "en_US",
                    "mealTypeId": f.meal_type_id, "name": f.name,
                    "unit": {"id": 304, "name": f.unit, "plural": format!("{}s", f.unit)},
                    "units": [304]},
                "nutritionalValues": {"calories": num(f.calories), "carbs": num(f.carbs),
                    "fat": num(f.fat), "fiber": 0, "protein": num(f.protein), "sodium": 0},
            })
        })
        .collect();
    let water: f64 = day_logs(u, "water", &day).map(|l| l.values[0]).sum();
    Ok(json!({
        "foods": list,
        "goals": {"calories": 2000},
        "summary": {"calories": sum(|f| f.calories), "carbs": sum(|f| f.carbs),
            "fat": sum(|f| f.fat), "fiber": 0, "protein": sum(|f| f.protein), "sodium": 0,
            "water": liquid(c, water)},
    }))
}

fn day_logs<'u>(u: &'u UserData, kind: &str, day: &str) -> impl Iterator<Item = &'u DayLog> {
    let day = day.to_string();
    u.day_logs
        .get(kind)
        .into_iter()
        .flatten()
        .filter(move |l| l.date == day)
}

pub(super) fn water_log(c: &Ctx, u: &UserData, d: &str) -> Reply {
    c.need("nutrition")?;
    let day = c.day(d)?.to_string();
    let logs: Vec<&DayLog> = day_logs(u, "water", &day).collect();
    let total: f64 = logs.iter().map(|l| l.values[0]).sum();
    Ok(json!({
        "summary": {"water": liquid(c, total)},
        "water": logs.iter().map(|l| json!({"amount": liquid(c, l.values[0]), "logId": l.log_id})).collect::<Vec<_>>(),
    }))
}

pub(super) fn glucose(c: &Ctx, u: &UserData, d: &str) -> Reply {
    c.need("blood_glucose")?;
    let day = c.day(d)?.to_string();
    let value = |mg: f64| {
        num(round2(if c.units == Units::Us {
            mg
        } else {
            mg / MG_DL_PER_MMOL_L
        }))
    };
    let list: Vec<Value> = day_logs(u, "glucose", &day)
        .map(|l| json!({"glucose": value(l.values[0]), "logId": l.log_id, "time": l.time}))
        .collect();
    Ok(json!({"glucose": list, "hba1c": 0}))
}

pub(super) fn blood_pressure(c: &Ctx, u: &UserData, d: &str) -> Reply {
    c.need("weight")?;
    let day = c.day(d)?.to_string();
    let logs: Vec<&DayLog> = day_logs(u, "bp", &day).collect();
    let list: Vec<Value> = logs
        .iter()
        .map(|l| {
            json!({"diastolic": num(l.values[1]), "logId": l.log_id,
                         "systolic": num(l.values[0]), "time": l.time})
        })
        .collect();
    let mut answer = json!({"bp": list});
    if !logs.is_empty() {
        let avg =
            |i: usize| (logs.iter().map(|l| l.values[i]).sum::<f64>() / logs.len() as f64).round();
        answer["average"] =
            json!({"condition": "Normal", "diastolic": num(avg(1)), "systolic": num(avg(0))});
    }
    Ok(answer)
}

/// The scope and answer key of a health metric resource.
fn metric_of(resource: &str) -> Option<(&'static str, &'static str)> {
    match resource {
        "spo2" => Some(("oxygen_saturation", "spo2")),
        "hrv" => Some(("heartrate", "hrv")),
        "br" => Some(("respiratory_rate", "br")),
        "temp/skin" => Some(("temperature", "tempSkin")),
        "cardioscore" => Some(("cardio_fitness", "cardioScore")),
        _ => None,
    }
}

/// `GET /1/user/-/{metric}/date/D[/E].json`: by date or by a range of at
/// most 30 days; periods are not supported.
pub(super) fn metric(c: &Ctx, u: &UserData, resource: &str, d: &str, e: Option<&str>) -> Reply {
    let (scope, key) = metric_of(resource).ok_or_else(not_found)?;
    c.need(scope)?;
    let (start, end) = match e {
        None => (c.day(d)?, c.day(d)?),
        Some(e) => c.range(d, e, &[], 30, None)?,
    };
    let entries: Vec<Value> = days(start, end)
        .filter_map(|day| {
            let mut value = u.metrics.get(&(resource.to_string(), day))?.clone();
            if resource == "temp/skin"
                && c.units == Units::Us
                && let Some(t) = value["nightlyRelative"].as_f64()
            {
                value["nightlyRelative"] = num(round2(t * 1.8));
            }
            let mut entry = json!({"dateTime": day.to_string(), "value": value});
            if resource == "temp/skin" {
                entry["logType"] = json!("dedicated_temp_sensor");
            }
            Some(entry)
        })
        .collect();
    // SpO2: one date is one object, a range a bare list (as documented).
    Ok(match (resource, e) {
        ("spo2", None) => entries.into_iter().next().unwrap_or_else(|| json!({})),
        ("spo2", Some(_)) => Value::Array(entries),
        _ => json!({ key: entries }),
    })
}

pub(super) fn is_metric(resource: &str) -> bool {
    metric_of(resource).is_some()
}

const ACTIVITY: &str = "activity";

/// Lifetime totals and best days (`GET /1/user/-/activities.json`).
pub(super) fn lifetime(c: &Ctx, u: &UserData) -> Reply {
    c.need(ACTIVITY)?;
    let steps: f64 = u
        .activities
        .iter()
        .filter(|((r, _), _)| r == "steps")
        .map(|(_, v)| v)
        .sum();
    let best = u
        .activities
        .iter()
        .filter(|((r, _), _)| r == "steps")
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|((_, d), v)| json!({"date": d.to_string(), "value": num(*v)}));
    Ok(json!({
        "best": {"total": {"steps": best}, "tracker": {"steps": best}},
        "lifetime": {"total": {"activeScore": -1, "caloriesOut": -1, "distance": 0, "floors": 0, "steps": num(steps)},
                     "tracker": {"activeScore": -1, "caloriesOut": -1, "distance": 0, "floors": 0, "steps": num(steps)}},
    }))
}

/// `activities/recent|favorite|frequent`: bare lists of activity types.
pub(super) fn activity_list(c: &Ctx, qualifier: &str) -> Reply {
    c.need(ACTIVITY)?;
    let walk = json!({"activityId": 90013, "calories": 0, "description": "Walking less than 2 mph, strolling very slowly",
                      "distance": 0, "duration": 1_800_000, "name": "Walk"});
    Ok(match qualifier {
        "favorite" => {
            json!([{"activityId": 90013, "description": walk["description"], "mets": 2, "name": "Walk"}])
        }
        _ => json!([walk]),
    })
}

/// `foods/log/recent|favorite|frequent`: bare lists of foods.
pub(super) fn food_list(c: &Ctx, u: &UserData) -> Reply {
    c.need("nutrition")?;
    let list: Vec<Value> = u
        .foods
        .iter()
        .rev()
        .map(|f| {
            json!({"amount": num(f.amount), "brand": "", "calories": num(f.calories),
            "dateLastEaten": f.date, "foodId": 80_000 + f.log_id, "mealTypeId": f.meal_type_id,
            "name": f.name, "unit": {"id": 304, "name": f.unit, "plural": format!("{}s", f.unit)},
            "units": [304]})
        })
        .collect();
    Ok(Value::Array(list))
}

/// The catalogue, social, goal and device endpoints (`None`: not one).
pub(super) fn other(c: &Ctx, path: &[&str]) -> Option<Reply> {
    let walk =
        json!({"accessLevel": "PUBLIC", "hasSpeed": false, "id": 90013, "mets": 2, "name": "Walk"});
    let rice = json!({"accessLevel": "PUBLIC", "brand": "", "calories": 35, "defaultServingSize": 1,
        "defaultUnit": {"id": 226, "name": "cake", "plural": "cakes"}, "foodId": 18, "locale": "en_US",
        "name": "Rice Cake", "units": [226]});
    let need = |scope: &str, answer: Value| Some(c.need(scope).map(|_| answer));
    match path {
        ["1", "activities"] => need(
            ACTIVITY,
            json!({"categories": [{"activities": [walk], "id": 9, "name": "Walking"}]}),
        ),
        ["1", "activities", id] => need(
            ACTIVITY,
            json!({"activity": {"activityLevels": [], "id": id.parse::<u64>().unwrap_or(0), "name": "Walk"}}),
        ),
        ["1", "foods", "units"] => need(
            "nutrition",
            json!([{"id": 226, "name": "cake", "plural": "cakes"},
            {"id": 304, "name": "serving", "plural": "servings"}]),
        ),
        ["1", "foods", "search"] => need("nutrition", json!({"foods": [rice]})),
        ["1", "foods", id] => need(
            "nutrition",
            json!({"food": {"foodId": id.parse::<u64>().unwrap_or(0), "name": "Rice Cake", "calories": 35}}),
        ),
        ["1", "user", "-", "body", "log", "weight", "goal"] => need(
            "weight",
            json!({"goal": {"goalType": "LOSE", "startDate": "2026-01-01", "startWeight": 85, "weight": 80}}),
        ),
        ["1", "user", "-", "body", "log", "fat", "goal"] => {
            need("weight", json!({"goal": {"fat": 20}}))
        }
        ["1", "user", "-", "activities", "goals", "daily"] => need(
            ACTIVITY,
            json!({"goals": {"activeMinutes": 30, "caloriesOut": 2500, "distance": 8.05, "floors": 10, "steps": 10000}}),
        ),
        ["1", "user", "-", "activities", "goals", "weekly"] => need(
            ACTIVITY,
            json!({"goals": {"distance": 56.33, "floors": 70, "steps": 70000}}),
        ),
        ["1", "user", "-", "foods", "log", "goal"] => {
            need("nutrition", json!({"goals": {"calories": 2000}}))
        }
        ["1", "user", "-", "foods", "log", "water", "goal"] => need(
            "nutrition",
            json!({"goal": {"goal": 2000, "startDate": "2026-01-01"}}),
        ),
        ["1", "user", "-", "meals"] => need("nutrition", json!({"meals": []})),
        ["1", "user", "-", "devices", "tracker", _, "alarms"] => {
            need("settings", json!({"trackerAlarms": []}))
        }
        ["1", "user", _, "badges"] => need("profile", json!({"badges": []})),
        ["1", "user", _, "friends"] => need("social", json!({"friends": []})),
        ["1", "user", "-", "friends", "leaders", "7d" | "30d"] => need(
            "social",
            json!({"friends": [], "hideMeFromLeaderboard": false}),
        ),
        ["1", "user", "-", "apiSubscriptions"] | ["1", "user", "-", _, "apiSubscriptions"] => {
            Some(Ok(json!({"apiSubscriptions": []})))
        }
        _ => None,
    }
}
