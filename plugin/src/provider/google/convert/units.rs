//! Unit systems: the legacy `system` setting or the user's Google settings.
//! Google Health answers in SI units (grams, millimetres, kcal); the legacy
//! API answered in the unit system of `Accept-Language`:
//!
//! | | `en_US` | `en_GB` | anything else |
//! |---|---|---|---|
//! | weight | pounds | stone | kilograms |
//! | distance | miles | kilometres | kilometres |
//! | elevation | feet | metres | metres |
//! | height, stride | inches | centimetres | centimetres |
//! | liquids | fluid ounces | millilitres | millilitres |
//! | blood glucose | mg/dL | mmol/L | mmol/L |

use super::super::shape::Settings;

pub const LB_PER_KG: f64 = 2.204_622_62;
pub const KG_PER_STONE: f64 = 6.350_293_18;
pub const KM_PER_MILE: f64 = 1.609_344;
pub const MM_PER_FOOT: f64 = 304.8;
pub const MM_PER_INCH: f64 = 25.4;
pub const ML_PER_FL_OZ: f64 = 29.573_529_562_5;
/// mg/dL per mmol/L of glucose (180.156 g/mol).
pub const MG_DL_PER_MMOL_L: f64 = 18.0156;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightUnit {
    Kilogram,
    Pound,
    Stone,
}

impl WeightUnit {
    /// The unit's label on pages and in the latest values.
    pub const fn label(self) -> &'static str {
        match self {
            WeightUnit::Kilogram => "kg",
            WeightUnit::Pound => "lb",
            WeightUnit::Stone => "st",
        }
    }
}

/// Miles go with feet for elevation, kilometres with metres.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistanceUnit {
    Kilometre,
    Mile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeightUnit {
    Centimetre,
    Inch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiquidUnit {
    Millilitre,
    FluidOunce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlucoseUnit {
    MmolPerLitre,
    MgPerDecilitre,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemperatureUnit {
    Celsius,
    Fahrenheit,
}

/// The units results are given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    pub weight: WeightUnit,
    pub distance: DistanceUnit,
    pub height: HeightUnit,
    pub liquid: LiquidUnit,
    pub glucose: GlucoseUnit,
    pub temperature: TemperatureUnit,
}

impl Units {
    pub const METRIC: Units = Units {
        weight: WeightUnit::Kilogram,
        distance: DistanceUnit::Kilometre,
        height: HeightUnit::Centimetre,
        liquid: LiquidUnit::Millilitre,
        glucose: GlucoseUnit::MmolPerLitre,
        temperature: TemperatureUnit::Celsius,
    };

    /// The legacy `system` setting: `en_US` pounds, miles and inches,
    /// `en_GB` stone, kilometres and centimetres, anything else metric (as
    /// the Fitbit API did).
    pub fn from_system(system: &str) -> Self {
        match system.trim() {
            "en_US" => Units {
                weight: WeightUnit::Pound,
                distance: DistanceUnit::Mile,
                height: HeightUnit::Inch,
                liquid: LiquidUnit::FluidOunce,
                glucose: GlucoseUnit::MgPerDecilitre,
                temperature: TemperatureUnit::Fahrenheit,
            },
            "en_GB" => Units {
                weight: WeightUnit::Stone,
                ..Self::METRIC
            },
            _ => Self::METRIC,
        }
    }

    /// The user's display units from `GET /v4/users/me/settings`
    /// (`WEIGHT_UNIT_POUNDS|STONE|KILOGRAMS`, `DISTANCE_UNIT_MILES|KILOMETERS`,
    /// `HEIGHT_UNIT_INCHES|CENTIMETERS`; unspecified is metric).
    pub fn from_settings(settings: &Settings) -> Self {
        let is = |value: &Option<String>, unit: &str| {
            value.as_deref().is_some_and(|v| v.ends_with(unit))
        };
        Units {
            weight: if is(&settings.weight_unit, "_POUNDS") {
                WeightUnit::Pound
            } else if is(&settings.weight_unit, "_STONE") {
                WeightUnit::Stone
            } else {
                WeightUnit::Kilogram
            },
            distance: if is(&settings.distance_unit, "_MILES") {
                DistanceUnit::Mile
            } else {
                DistanceUnit::Kilometre
            },
            height: if is(&settings.height_unit, "_INCHES") {
                HeightUnit::Inch
            } else {
                HeightUnit::Centimetre
            },
            // The legacy API had no cups: they are given in fluid ounces.
            liquid: if is(&settings.water_unit, "_FL_OZ") || is(&settings.water_unit, "_CUP") {
                LiquidUnit::FluidOunce
            } else {
                LiquidUnit::Millilitre
            },
            glucose: if is(&settings.glucose_unit, "_MG_DL") {
                GlucoseUnit::MgPerDecilitre
            } else {
                GlucoseUnit::MmolPerLitre
            },
            temperature: if is(&settings.temperature_unit, "_FAHRENHEIT") {
                TemperatureUnit::Fahrenheit
            } else {
                TemperatureUnit::Celsius
            },
        }
    }

    /// For the bookkeeping: `kg/km/cm`, `lb/mi/in`, `st/km/cm`...
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
        let h = match self.height {
            HeightUnit::Centimetre => "cm",
            HeightUnit::Inch => "in",
        };
        let l = match self.liquid {
            LiquidUnit::Millilitre => "ml",
            LiquidUnit::FluidOunce => "floz",
        };
        let g = match self.glucose {
            GlucoseUnit::MmolPerLitre => "mmol",
            GlucoseUnit::MgPerDecilitre => "mgdl",
        };
        let t = match self.temperature {
            TemperatureUnit::Celsius => "c",
            TemperatureUnit::Fahrenheit => "f",
        };
        format!("{w}/{d}/{h}/{l}/{g}/{t}")
    }

    pub fn from_label(label: &str) -> Option<Self> {
        let mut parts = label.split('/');
        let units = Units {
            weight: match parts.next()? {
                "kg" => WeightUnit::Kilogram,
                "lb" => WeightUnit::Pound,
                "st" => WeightUnit::Stone,
                _ => return None,
            },
            distance: match parts.next()? {
                "km" => DistanceUnit::Kilometre,
                "mi" => DistanceUnit::Mile,
                _ => return None,
            },
            height: match parts.next()? {
                "cm" => HeightUnit::Centimetre,
                "in" => HeightUnit::Inch,
                _ => return None,
            },
            liquid: match parts.next()? {
                "ml" => LiquidUnit::Millilitre,
                "floz" => LiquidUnit::FluidOunce,
                _ => return None,
            },
            glucose: match parts.next()? {
                "mmol" => GlucoseUnit::MmolPerLitre,
                "mgdl" => GlucoseUnit::MgPerDecilitre,
                _ => return None,
            },
            temperature: match parts.next()? {
                "c" => TemperatureUnit::Celsius,
                "f" => TemperatureUnit::Fahrenheit,
                _ => return None,
            },
        };
        parts.next().is_none().then_some(units)
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

    /// Millimetres of elevation in metres or feet, rounded to 2 decimals.
    pub fn elevation(self, millimeters: f64) -> f64 {
        round2(match self.distance {
            DistanceUnit::Kilometre => millimeters / 1000.0,
            DistanceUnit::Mile => millimeters / MM_PER_FOOT,
        })
    }

    /// Millilitres in the liquid unit, rounded to 2 decimals.
    pub fn liquid(self, millilitres: f64) -> f64 {
        round2(match self.liquid {
            LiquidUnit::Millilitre => millilitres,
            LiquidUnit::FluidOunce => millilitres / ML_PER_FL_OZ,
        })
    }

    /// Blood glucose (mg/dL) in the glucose unit, rounded to 2 decimals.
    pub fn glucose(self, mg_per_dl: f64) -> f64 {
        round2(match self.glucose {
            GlucoseUnit::MgPerDecilitre => mg_per_dl,
            GlucoseUnit::MmolPerLitre => mg_per_dl / MG_DL_PER_MMOL_L,
        })
    }

    /// A temperature difference (°C) in the temperature unit, 2 decimals.
    pub fn temperature_difference(self, celsius: f64) -> f64 {
        round2(match self.temperature {
            TemperatureUnit::Celsius => celsius,
            TemperatureUnit::Fahrenheit => celsius * 1.8,
        })
    }

    /// Millimetres of height or stride in centimetres or inches, rounded to
    /// 2 decimals.
    pub fn height(self, millimeters: f64) -> f64 {
        round2(match self.height {
            HeightUnit::Centimetre => millimeters / 10.0,
            HeightUnit::Inch => millimeters / MM_PER_INCH,
        })
    }
}

/// A Google settings unit (`WEIGHT_UNIT_STONE`, `WATER_UNIT_FL_OZ`, ...) as
/// the legacy profile's unit system (`en_US`, `en_GB`, `METRIC`); none for
/// units the legacy profile had no name for (cups, unspecified).
pub fn legacy_unit_system(unit: &str) -> Option<&'static str> {
    const US: &[&str] = &[
        "_POUNDS",
        "_MILES",
        "_INCHES",
        "_FL_OZ",
        "_MG_DL",
        "_YARDS",
        "_FAHRENHEIT",
    ];
    const METRIC: &[&str] = &[
        "_KILOGRAMS",
        "_KILOMETERS",
        "_CENTIMETERS",
        "_ML",
        "_MMOL_L",
        "_METERS",
        "_CELSIUS",
    ];
    if unit.ends_with("_STONE") {
        Some("en_GB")
    } else if US.iter().any(|s| unit.ends_with(s)) {
        Some("en_US")
    } else if METRIC.iter().any(|s| unit.ends_with(s)) {
        Some("METRIC")
    } else {
        None
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

/// A JSON number without a spurious `.0` for whole values, as the legacy
/// answers wrote them (`8012`, not `8012.0`).
pub fn num(v: f64) -> serde_json::Value {
    let v = round2(v);
    if v.fract() == 0.0 && v.abs() < 1e15 {
        serde_json::json!(v as i64)
    } else {
        serde_json::json!(v)
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::shape::decode;
    use super::*;
    use serde_json::json;

    #[test]
    fn units_convert_grams_and_millimetres() {
        let g = 81_234.5;
        assert_eq!(Units::METRIC.weight(g), 81.23);
        assert_eq!(Units::from_system("en_US").weight(g), 179.09);
        assert_eq!(Units::from_system("en_GB").weight(g), 12.79);
        assert_eq!(Units::from_system("de_DE"), Units::METRIC);
        assert_eq!(Units::from_system("en_US").distance(8_046_720.0), 5.0);
        assert_eq!(Units::from_system("en_US").elevation(3048.0), 10.0);
        assert_eq!(Units::from_system("en_GB").elevation(3048.0), 3.05);
        assert_eq!(Units::from_system("en_US").height(1800.0), 70.87);
        assert_eq!(Units::METRIC.height(1800.0), 180.0);
        assert_eq!(num_string(81.2), "81.2");
        assert_eq!(num_string(8012.0), "8012");
        assert_eq!(num(8012.0), json!(8012));
        assert_eq!(num(3.456), json!(3.46));
    }

    #[test]
    fn settings_give_units_and_labels() {
        let us: Settings = decode(&json!({"weightUnit": "WEIGHT_UNIT_POUNDS",
            "distanceUnit": "DISTANCE_UNIT_MILES", "heightUnit": "HEIGHT_UNIT_INCHES",
            "waterUnit": "WATER_UNIT_FL_OZ", "glucoseUnit": "GLUCOSE_UNIT_MG_DL",
            "temperatureUnit": "TEMPERATURE_UNIT_FAHRENHEIT"}))
        .unwrap();
        let pounds = Units::from_settings(&us);
        assert_eq!(pounds, Units::from_system("en_US"));
        assert_eq!(Units::from_label(&pounds.label()), Some(pounds));
        assert_eq!(
            Units::from_label("kg/km/cm"),
            None,
            "an older label is read again"
        );
        assert_eq!(Units::from_system("en_US").liquid(236.59), 8.0);
        assert_eq!(Units::METRIC.glucose(99.0), 5.5);
        assert_eq!(Units::from_settings(&Settings::default()), Units::METRIC);
        assert_eq!(legacy_unit_system("WEIGHT_UNIT_STONE"), Some("en_GB"));
        assert_eq!(legacy_unit_system("WATER_UNIT_FL_OZ"), Some("en_US"));
        assert_eq!(legacy_unit_system("GLUCOSE_UNIT_MMOL_L"), Some("METRIC"));
        assert_eq!(legacy_unit_system("WATER_UNIT_CUP"), None);
    }
}
