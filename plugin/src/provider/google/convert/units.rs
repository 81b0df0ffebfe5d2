//! Unit systems: the legacy `system` setting or the user's Google settings.

use serde_json::Value;

pub const LB_PER_KG: f64 = 2.204_622_62;
pub const KG_PER_STONE: f64 = 6.350_293_18;
pub const KM_PER_MILE: f64 = 1.609_344;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightUnit {
    Kilogram,
    Pound,
    Stone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistanceUnit {
    Kilometre,
    Mile,
}

/// The units results are given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    pub weight: WeightUnit,
    pub distance: DistanceUnit,
}

impl Units {
    pub const METRIC: Units = Units {
        weight: WeightUnit::Kilogram,
        distance: DistanceUnit::Kilometre,
    };

    /// The legacy `system` setting: `en_US` pounds and miles, `en_GB` stone
    /// and kilometres, anything else metric (as the Fitbit API did).
    pub fn from_system(system: &str) -> Self {
        match system.trim() {
            "en_US" => Units {
                weight: WeightUnit::Pound,
                distance: DistanceUnit::Mile,
            },
            "en_GB" => Units {
                weight: WeightUnit::Stone,
                distance: DistanceUnit::Kilometre,
            },
            _ => Self::METRIC,
        }
    }

    /// The user's display units from `GET /v4/users/me/settings`
    /// (`weightUnit` `WEIGHT_UNIT_POUNDS|STONE|KILOGRAMS`, `distanceUnit`
    /// `DISTANCE_UNIT_MILES|KILOMETERS`).
    pub fn from_settings(settings: &Value) -> Self {
        let text = |k: &str| {
            settings
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_uppercase()
        };
        let weight = text("weightUnit");
        let distance = text("distanceUnit");
        Units {
            weight: if weight.contains("POUND") {
                WeightUnit::Pound
            } else if weight.contains("STONE") {
                WeightUnit::Stone
            } else {
                WeightUnit::Kilogram
            },
            distance: if distance.contains("MILE") {
                DistanceUnit::Mile
            } else {
                DistanceUnit::Kilometre
            },
        }
    }

    /// For the bookkeeping: `kg/km`, `lb/mi`, `st/km`...
    pub fn label(self) -> String {
        let w = match self.weight {
            WeightUnit::Kilogram => "kg",
            WeightUnit::Pound => "lb",
            WeightUnit::Stone => "st",
        };
        let d = match self.distance {
            DistanceUnit::Kilometre => "km",
            DistanceUnit::Mile => "mi",
        };
        format!("{w}/{d}")
    }

    pub fn from_label(label: &str) -> Option<Self> {
        let (w, d) = label.split_once('/')?;
        Some(Units {
            weight: match w {
                "kg" => WeightUnit::Kilogram,
                "lb" => WeightUnit::Pound,
                "st" => WeightUnit::Stone,
                _ => return None,
            },
            distance: match d {
                "km" => DistanceUnit::Kilometre,
                "mi" => DistanceUnit::Mile,
                _ => return None,
            },
        })
    }

    /// Grams in the weight unit, rounded to 2 decimals.
    pub fn weight(self, grams: f64) -> f64 {
        let kg = grams / 1000.0;
        round2(match self.weight {
            WeightUnit::Kilogram => kg,
            WeightUnit::Pound => kg * LB_PER_KG,
            WeightUnit::Stone => kg / KG_PER_STONE,
        })
    }

    /// Millimetres in the distance unit, rounded to 2 decimals.
    pub fn distance(self, millimeters: f64) -> f64 {
        let km = millimeters / 1_000_000.0;
        round2(match self.distance {
            DistanceUnit::Kilometre => km,
            DistanceUnit::Mile => km / KM_PER_MILE,
        })
    }
}

pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// A number as the legacy series' `value` text: at most 2 decimals, no
/// trailing zeros (`"81.2"`, `"8012"`).
pub fn num_string(v: f64) -> String {
    let s = format!("{:.2}", round2(v));
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn units_convert_grams() {
        let g = 81_234.5;
        assert_eq!(Units::METRIC.weight(g), 81.23);
        assert_eq!(Units::from_system("en_US").weight(g), 179.09);
        assert_eq!(Units::from_system("en_GB").weight(g), 12.79);
        assert_eq!(Units::from_system("de_DE"), Units::METRIC);
        assert_eq!(Units::from_system("en_US").distance(8_046_720.0), 5.0);
        let pounds = Units::from_settings(
            &json!({"weightUnit": "WEIGHT_UNIT_POUNDS", "distanceUnit": "DISTANCE_UNIT_MILES"}),
        );
        assert_eq!(pounds, Units::from_system("en_US"));
        assert_eq!(Units::from_label(&pounds.label()), Some(pounds));
        assert_eq!(num_string(81.2), "81.2");
        assert_eq!(num_string(8012.0), "8012");
    }
}
