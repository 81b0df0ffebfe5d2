//! The AIP-160 subset `dataPoints.list` accepts (discovery doc rev 20261002):
//! `<member> >= "<literal>"` / `<`, joined with `AND` (sleep also `OR`; as in
//! AIP-160, `OR` binds tighter than `AND`). No parentheses, no other operators.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::points::DataPoint;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Field {
    /// sample_time.physical_time / interval.start_time
    Physical,
    /// sample_time.civil_time / interval.civil_start_time
    Civil,
    /// `<daily type>.date`
    Date,
    /// sleep.interval.end_time
    EndPhysical,
    /// sleep.interval.civil_end_time
    EndCivil,
}

#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub(crate) enum Bound {
    Physical(DateTime<Utc>),
    Civil(NaiveDateTime),
}

#[derive(Debug)]
struct Cmp {
    field: Field,
    ge: bool,
    bound: Bound,
}

/// Conjunction of disjunctions.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    groups: Vec<Vec<Cmp>>,
}

#[derive(Debug, PartialEq)]
pub(crate) enum FilterError {
    /// Syntax error or bad literal → INVALID_ARGUMENT.
    Malformed(String),
    /// Member not filterable for this type → INVALID_ARGUMENT with reason
    /// INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER.
    UnsupportedMember(String),
}

/// snake_case filter prefix of a kebab-case data type.
pub(crate) fn snake(data_type: &str) -> String {
    data_type.replace('-', "_")
}

fn members(data_type: &str) -> &'static [(&'static str, Field)] {
    match data_type {
        "weight" | "body-fat" | "height" | "heart-rate" | "blood-glucose" => &[
            ("sample_time.physical_time", Field::Physical),
            ("sample_time.civil_time", Field::Civil),
        ],
        "steps"
        | "distance"
        | "floors"
        | "altitude"
        | "active-minutes"
        | "time-in-heart-rate-zone" => &[
            ("interval.start_time", Field::Physical),
            ("interval.civil_start_time", Field::Civil),
        ],
        "daily-resting-heart-rate"
        | "daily-heart-rate-zones"
        | "daily-oxygen-saturation"
        | "daily-heart-rate-variability"
        | "daily-respiratory-rate"
        | "daily-sleep-temperature-derivations"
        | "daily-vo2-max" => &[("date", Field::Date)],
        // Sessions other than sleep and ECG: their civil start only.
        "exercise" | "nutrition-log" | "hydration-log" => {
            &[("interval.civil_start_time", Field::Civil)]
        }
        "sleep" => &[
            ("interval.end_time", Field::EndPhysical),
            ("interval.civil_end_time", Field::EndCivil),
        ],
        _ => &[],
    }
}

#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Op(String),
    Str(String),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, FilterError> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or_else(|| FilterError::Malformed("unterminated string literal".into()))?;
            out.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if "<>=!:".contains(c) {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = if [">=", "<=", "!="].contains(&two.as_str()) {
                two
            } else {
                c.to_string()
            };
            i += op.len();
            out.push(Tok::Op(op));
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            return Err(FilterError::Malformed(format!(
                "unexpected character '{c}'"
            )));
        }
    }
    Ok(out)
}

fn literal(field: Field, s: &str) -> Result<Bound, FilterError> {
    let bad = || FilterError::Malformed(format!("invalid literal \"{s}\" for this field"));
    match field {
        Field::Physical | Field::EndPhysical => DateTime::parse_from_rfc3339(s)
            .map(|t| Bound::Physical(t.with_timezone(&Utc)))
            .map_err(|_| bad()),
        Field::Date => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(|d| Bound::Civil(d.and_hms_opt(0, 0, 0).expect("midnight")))
            .map_err(|_| bad()),
        Field::Civil | Field::EndCivil => NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
            .or_else(|_| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
            })
            .map(Bound::Civil)
            .map_err(|_| bad()),
    }
}

pub(crate) fn parse(data_type: &str, text: &str) -> Result<Filter, FilterError> {
    let mut filter = Filter::default();
    if text.trim().is_empty() {
        return Ok(filter);
    }
    let toks = tokenize(text)?;
    let allowed = members(data_type);
    let prefix = format!("{}.", snake(data_type));
    let mut group: Vec<Cmp> = Vec::new();
    let mut i = 0;
    loop {
        let (Some(Tok::Ident(member)), Some(Tok::Op(op)), Some(Tok::Str(lit))) =
            (toks.get(i), toks.get(i + 1), toks.get(i + 2))
        else {
            return Err(FilterError::Malformed(
                "expected <field> <operator> \"<literal>\"".into(),
            ));
        };
        let field = member
            .strip_prefix(&prefix)
            .and_then(|m| allowed.iter().find(|(name, _)| *name == m))
            .map(|(_, f)| *f)
            .ok_or_else(|| FilterError::UnsupportedMember(member.clone()))?;
        let ge = match op.as_str() {
            ">=" => true,
            "<" => false,
            other => {
                return Err(FilterError::Malformed(format!(
                    "unsupported comparison operator '{other}'"
                )));
            }
        };
        group.push(Cmp {
            field,
            ge,
            bound: literal(field, lit)?,
        });
        i += 3;
        match toks.get(i) {
            None => break,
            Some(Tok::Ident(k)) if k == "AND" => filter.groups.push(std::mem::take(&mut group)),
            Some(Tok::Ident(k)) if k == "OR" && data_type == "sleep" => {}
            Some(Tok::Ident(k)) if k == "OR" => {
                return Err(FilterError::Malformed(format!(
                    "logical operator OR is not supported for {data_type}"
                )));
            }
            Some(_) => return Err(FilterError::Malformed("expected AND".into())),
        }
        i += 1;
    }
    filter.groups.push(group);
    Ok(filter)
}

impl Filter {
    pub(crate) fn matches(&self, p: &DataPoint) -> bool {
        self.groups.iter().all(|g| {
            g.iter().any(|c| {
                let v = p.field(c.field);
                if c.ge { v >= c.bound } else { v < c.bound }
            })
        })
    }
}
