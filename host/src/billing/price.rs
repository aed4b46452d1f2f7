//! The operator's price model, and what a run costs under it.

use serde::{Deserialize, Serialize};

/// Seconds in the month storage is priced by (30 days).
pub const MONTH_SECONDS: f64 = 30.0 * 86_400.0;

/// Prices and quotation policy (`[billing]` in the configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BillingConfig {
    /// ISO 4217 code of every price, e.g. `"EUR"`.
    pub currency: String,
    /// Price of 10^9 fuel units (about 10^9 wasm instructions).
    pub per_billion_fuel: f64,
    /// Price of one GB (10^9 bytes) of peak linear memory held for one
    /// second of wall-clock time.
    pub per_gb_second: f64,
    /// Price of one MB (10^6 bytes) of results stored for a month of 30
    /// days; results are charged for the retention period (a month when
    /// they are kept forever).
    pub per_mb_month: f64,
    /// Price of one CPU-second of a container step (CWL jobs).
    pub per_container_cpu_second: f64,
    /// How far above its quoted price a job may go: its fuel budget is the
    /// estimate times `1 + margin`, and its bill never exceeds the quoted
    /// price times `1 + margin`.
    pub margin: f64,
    /// How long a quotation may be executed after it is made.
    pub quote_validity_seconds: u64,
    /// Most fuel a dry run may burn; a process that needs more cannot be
    /// quoted by a dry run.
    pub dry_run_fuel: u64,
}

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig {
            currency: "EUR".into(),
            per_billion_fuel: 0.002,
            per_gb_second: 0.000_02,
            per_mb_month: 0.000_1,
            per_container_cpu_second: 0.000_05,
            margin: 0.1,
            quote_validity_seconds: 3600,
            dry_run_fuel: 10_000_000_000,
        }
    }
}

impl BillingConfig {
    /// Refuses a model that could bill negative amounts or never expire.
    pub fn check(&self) -> Result<(), String> {
        let prices = [
            ("per_billion_fuel", self.per_billion_fuel),
            ("per_gb_second", self.per_gb_second),
            ("per_mb_month", self.per_mb_month),
            ("per_container_cpu_second", self.per_container_cpu_second),
            ("margin", self.margin),
        ];
        for (name, v) in prices {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("billing.{name} must be a number >= 0, not {v}"));
            }
        }
        if self.currency.trim().is_empty() {
            return Err("billing.currency must not be empty".into());
        }
        if self.quote_validity_seconds == 0 || self.dry_run_fuel == 0 {
            return Err(
                "billing.quote_validity_seconds and billing.dry_run_fuel must be > 0".into(),
            );
        }
        Ok(())
    }

    /// What `c` costs, charge by charge; results are stored for
    /// `storage_seconds`.
    pub fn charges(&self, c: &Consumption, storage_seconds: f64) -> Charges {
        let seconds = c.wall_micros as f64 / 1e6;
        Charges {
            fuel: c.fuel as f64 / 1e9 * self.per_billion_fuel,
            memory: c.memory_peak_bytes as f64 / 1e9 * seconds * self.per_gb_second,
            storage: c.stored_bytes as f64 / 1e6
                * (storage_seconds / MONTH_SECONDS)
                * self.per_mb_month,
            containers: c.container_seconds * self.per_container_cpu_second,
        }
    }

    /// `amount` raised by the margin: the most a quoted job may cost.
    pub fn with_margin(&self, amount: f64) -> f64 {
        amount * (1.0 + self.margin)
    }

    /// The fuel budget of a job estimated to burn `fuel`.
    pub fn fuel_budget(&self, fuel: u64) -> u64 {
        // In integers: 1000 * 1.1 is 1100.0000000000002 in floating point.
        let ppm = (self.margin * 1e6).round() as u128;
        let extra = (u128::from(fuel) * ppm).div_ceil(1_000_000);
        u64::try_from(u128::from(fuel) + extra).unwrap_or(u64::MAX)
    }
}

/// What a run used (or is estimated to use), in the units prices are in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Consumption {
    /// Fuel burnt.
    pub fuel: u64,
    /// Most linear memory held, in bytes.
    pub memory_peak_bytes: u64,
    /// Wall-clock time of the run, in microseconds.
    pub wall_micros: u64,
    /// CPU-seconds of container steps.
    pub container_seconds: f64,
    /// Bytes of results stored.
    pub stored_bytes: u64,
}

/// A price, broken down by what it is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Charges {
    /// For fuel.
    pub fuel: f64,
    /// For memory over time.
    pub memory: f64,
    /// For stored results.
    pub storage: f64,
    /// For container CPU time.
    pub containers: f64,
}

impl Charges {
    /// The sum.
    pub fn total(&self) -> f64 {
        self.fuel + self.memory + self.storage + self.containers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_add_up_by_unit() {
        let model = BillingConfig {
            per_billion_fuel: 2.0,
            per_gb_second: 3.0,
            per_mb_month: 5.0,
            per_container_cpu_second: 7.0,
            ..BillingConfig::default()
        };
        let used = Consumption {
            fuel: 500_000_000,
            memory_peak_bytes: 2_000_000_000,
            wall_micros: 250_000,
            container_seconds: 2.0,
            stored_bytes: 3_000_000,
        };
        let c = model.charges(&used, MONTH_SECONDS * 2.0);
        assert_eq!(c.fuel, 1.0);
        assert_eq!(c.memory, 1.5);
        assert_eq!(c.storage, 30.0);
        assert_eq!(c.containers, 14.0);
        assert_eq!(c.total(), 46.5);
    }

    #[test]
    fn budgets_round_up_and_bad_models_are_refused() {
        let model = BillingConfig::default();
        assert_eq!(model.fuel_budget(1_000), 1_100);
        assert_eq!(model.fuel_budget(1), 2);
        assert!(model.check().is_ok());
        let negative = BillingConfig {
            per_gb_second: -1.0,
            ..BillingConfig::default()
        };
        assert!(negative.check().unwrap_err().contains("per_gb_second"));
    }
}
