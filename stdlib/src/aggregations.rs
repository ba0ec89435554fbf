//! Aggregations: `@m[k] = count()` and friends. Each makes the map's values
//! an aggregate (`count_t`, `hist_t`, …) instead of a plain value. Like
//! bpftrace, count/sum/min/max/avg maps can be read back as integers
//! (`if (@c[pid] > 10)`); hist/lhist/stats maps can only be printed.

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

macro_rules! agg {
    ($variant:ident, $name:literal, $min:literal, $max:literal, $sig:literal, $doc:literal) => {
        FuncInfo::of(Func::$variant, $name, ($min, $max), FuncRole::Aggregation, $sig, $doc, None)
    };
}

pub(crate) const FUNCS: &[FuncInfo] = &[
    agg!(Count, "count", 0, 0, "count()", "count how often this runs"),
    agg!(Sum, "sum", 1, 1, "sum(int value)", "sum of the values"),
    agg!(Min, "min", 1, 1, "min(int value)", "smallest value"),
    agg!(Max, "max", 1, 1, "max(int value)", "largest value"),
    agg!(Avg, "avg", 1, 1, "avg(int value)", "average of the values"),
    agg!(Stats, "stats", 1, 1, "stats(int value)", "count, average and total of the values"),
    agg!(Hist, "hist", 1, 1, "hist(int value)", "power-of-two histogram of the values"),
    agg!(
        Lhist,
        "lhist",
        4,
        4,
        "lhist(int value, int min, int max, int step)",
        "linear histogram: buckets of `step` from `min` to `max` (constants)"
    ),
    FuncInfo::of(
        Func::Tseries,
        "tseries",
        (3, 4),
        FuncRole::Aggregation,
        "tseries(int value, duration interval, int intervals [, string agg])",
        "time series: the last (or avg/max/min/sum) value in each of the latest `intervals` intervals (at most 1000)",
        None,
    ),
];

impl Func {
    /// Whether this is an aggregation (only valid as `@m[k] = f(…)`).
    pub fn is_aggregation(self) -> bool {
        self.info().role == FuncRole::Aggregation
    }
}
