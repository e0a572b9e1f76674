//! The table contracts: Frictionless Table Schemas from `data-schemas/`, embedded at compile time.
//!
//! Every table homeseason reads or writes has one JSON file in `data-schemas/` (listed in
//! `data-schemas/datapackage.json`). This module embeds those files with `include_str!`, parses them once
//! and exposes them as [`TableContract`]s, so the column names, types, constraints and header aliases the
//! code enforces are the same ones liaisons and dashboard builders read.
//!
//! Besides the standard Table Schema properties (`name`, `title`, `description`, `primaryKey`, `fields`,
//! and per field `name`, `type`, `format`, `title`, `description`, `constraints`, `trueValues`,
//! `falseValues`), the files use these custom properties:
//!
//! | property | where | meaning |
//! |---|---|---|
//! | `title_zh` | table, field | Chinese title |
//! | `kind` | table | `input`, `lake`, `output` or `dashboard` ([`TableKind`]) |
//! | `aliases` | field | header spellings liaisons and institutions use ([`TableContract::resolve_header`]) |
//! | `derived` | field | homeseason computes the value; an input file need not (and should not) supply it |
//! | `enum_aliases` | field | spellings of each allowed value, e.g. `线上` → `online` ([`Field::resolve_enum`]) |
//! | `unit` | field | unit of a money or percent column: `yuan`, `yuan/day`, `100m_yuan` or `percent` ([`UNITS`]) |
//!
//! In `input` tables a derived field is never `required`, so ingest demands exactly
//! [`TableContract::required_fields`] that are not derived. In `lake` and `output` tables every field is
//! derived. Regular-expression patterns are kept as text here (this crate has no regex dependency); the
//! ingest crate compiles them.
//!
//! ```
//! use homeseason_schema::contract::{self, tables};
//!
//! let sales = contract::get(tables::ENTERPRISE_SALES).expect("embedded");
//! assert_eq!(sales.resolve_header(" 销售额（万元） ").map(|f| f.name.as_str()), Some("sales_amount_yuan"));
//! assert_eq!(contract::header_unit("销售额（万元）").as_deref(), Some("万元"));
//! assert_eq!(sales.field("sales_amount_yuan").and_then(|f| f.unit.as_deref()), Some("yuan"));
//! let unit = sales.field("source_unit").expect("source_unit field");
//! assert_eq!(unit.resolve_enum("万"), Some("万元"));
//! assert!(sales.resolve_header("备注").is_none());
//! ```

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// Table names as constants, so code never spells them twice.
pub mod tables {
    /// One row per payment transaction, as exported by a payment institution.
    pub const PAYMENT_TRANSACTIONS: &str = "payment_transactions";
    /// Daily payment aggregates: an institution input and the lake's payment table.
    pub const PAYMENT_DAILY: &str = "payment_daily";
    /// The same transactions by county-level area: the finest division each transaction names,
    /// its prefecture-level city and its urban/rural class (城乡).
    pub const PAYMENT_AREA_DAILY: &str = "payment_area_daily";
    /// Key-enterprise sales reports.
    pub const ENTERPRISE_SALES: &str = "enterprise_sales";
    /// NBS-style retail statistics (社零) by category.
    pub const RETAIL_STATS: &str = "retail_stats";
    /// Register of campaign activities (重点活动表).
    pub const ACTIVITIES: &str = "activities";
    /// Subsidies and consumption vouchers paid out (补贴/消费券).
    pub const SUBSIDIES: &str = "subsidies";
    /// Estimated uplift per campaign, region, category, method and source.
    pub const UPLIFT: &str = "uplift";
    /// Backtest of each uplift method on windows with no campaign, and the headline method chosen.
    pub const UPLIFT_BACKTEST: &str = "uplift_backtest";
    /// The daily actual and baseline behind every uplift row.
    pub const BASELINE_DAILY: &str = "baseline_daily";
    /// Week-by-week tracking of the uplift.
    pub const WEEKLY_TRACKING: &str = "weekly_tracking";
    /// Activities per region, week and type.
    pub const ACTIVITY_SUMMARY: &str = "activity_summary";
    /// Which feeds each region delivered per week.
    pub const DATA_COMPLETENESS: &str = "data_completeness";
    /// Rows ingest refused, with reasons.
    pub const REJECTS: &str = "rejects";
    /// The uplift the sample-data generator injected.
    pub const SYNTH_TRUTH: &str = "synth_truth";
    /// Extra effect of each local-station event (synthetic control against regions without one).
    pub const LOCAL_EVENTS: &str = "local_events";
    /// Donor weights of the local-event synthetic controls.
    pub const LOCAL_EVENT_WEIGHTS: &str = "local_event_weights";
    /// Daily observed vs counterfactual of each local event (the impact plot).
    pub const LOCAL_EVENT_SERIES: &str = "local_event_series";
    /// Power and minimum detectable effect of local events per region and duration.
    pub const LOCAL_EVENT_POWER: &str = "local_event_power";
    /// Uplift seen by payments, key enterprises and 社零 side by side, with a disagreement flag.
    pub const TRIANGULATION: &str = "triangulation";
    /// Incremental sales per unit of subsidy (拉动比) and the time-based regression's iROAS.
    pub const LEVERAGE: &str = "leverage";
    /// Uplift by sales channel (online / offline) and the online share's change.
    pub const CHANNEL_UPLIFT: &str = "channel_uplift";
    /// Uplift of urban and rural areas (城乡), the rural share's change and the 下乡 link.
    pub const URBAN_RURAL_UPLIFT: &str = "urban_rural_uplift";
    /// Activities, enterprises, brands and sales by campaign theme and building-materials
    /// subcategory.
    pub const THEME_SUMMARY: &str = "theme_summary";
    /// The dashboard copy of `payment_daily`: small cells, their complements and boxes suppressed.
    pub const DASHBOARD_PAYMENT_DAILY: &str = "dashboard_payment_daily";
    /// The dashboard copy of `baseline_daily`: the daily figures suppression does not publish blanked.
    pub const DASHBOARD_BASELINE_DAILY: &str = "dashboard_baseline_daily";

    /// Every table, in the order of `datapackage.json`.
    pub const ALL: [&str; 26] = [
        PAYMENT_TRANSACTIONS,
        PAYMENT_DAILY,
        PAYMENT_AREA_DAILY,
        ENTERPRISE_SALES,
        RETAIL_STATS,
        ACTIVITIES,
        SUBSIDIES,
        UPLIFT,
        UPLIFT_BACKTEST,
        BASELINE_DAILY,
        WEEKLY_TRACKING,
        ACTIVITY_SUMMARY,
        DATA_COMPLETENESS,
        REJECTS,
        SYNTH_TRUTH,
        LOCAL_EVENTS,
        LOCAL_EVENT_WEIGHTS,
        LOCAL_EVENT_SERIES,
        LOCAL_EVENT_POWER,
        TRIANGULATION,
        LEVERAGE,
        CHANNEL_UPLIFT,
        URBAN_RURAL_UPLIFT,
        THEME_SUMMARY,
        DASHBOARD_PAYMENT_DAILY,
        DASHBOARD_BASELINE_DAILY,
    ];
}

/// One row of the [`tables::REJECTS`] table less the file's columns (`feed`, `file`,
/// `file_sha256`): a row validation rejected, or one a lake commit wrote for a conflict. The
/// server answers with it and the client reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectRow {
    /// Line (CSV) or row (XLSX) in the file, 1-based; the header is line 1. A conflict's held row
    /// carries the line of the received row it conflicts with; 1 when the line is unknown.
    pub line: i64,
    /// The source column at fault, when one is (for a conflict: the first column whose values
    /// differ).
    pub column: Option<String>,
    /// Machine reason code (`missing_value`, `bad_date` …; `conflict` for a received row in
    /// conflict, `conflict_held` for the row the lake held).
    pub reason: String,
    /// Chinese message.
    pub message_zh: String,
    /// English message.
    pub message_en: String,
    /// The row's raw text; for a conflict's held row its values as `column=value; …`.
    pub raw: String,
}

/// Optional columns added to input tables after their first lake files were written (issue 18:
/// `enterprise_sales.subcategory` and `theme_tags`): a lake file without one reads with the
/// column empty (null text), so lakes written before stay readable and mergeable.
pub const ADDED_OPTIONAL: [(&str, &str); 2] = [
    (tables::ENTERPRISE_SALES, "subcategory"),
    (tables::ENTERPRISE_SALES, "theme_tags"),
];

/// The pattern every `region_code` column carries: a 6-digit GB/T 2260 code (`000000` = national) or
/// the project-internal key `XPCC` for the Xinjiang Production and Construction Corps.
pub const REGION_CODE_PATTERN: &str = r"^(\d{6}|XPCC)$";

/// The values the custom field property `unit` takes, each with the suffix a column name in that unit
/// ends with: money in yuan (元), yuan per day (元/日), 亿元 (100 million yuan, as NBS publishes), and
/// percent (5.2 = +5.2 %).
pub const UNITS: [(&str, &str); 4] = [
    ("yuan", "_yuan"),
    ("yuan/day", "_yuan_per_day"),
    ("100m_yuan", "_100m_yuan"),
    ("percent", "_pct"),
];

/// Money columns whose name does not carry their unit: `payment_transactions.amount` is an input
/// column only (never a lake column), written in the unit the institution's profile states
/// (`amount_unit`: yuan or fen) and summed into `payment_daily`'s `*_yuan` columns.
pub const UNIT_NOT_IN_NAME: [(&str, &str); 1] = [(tables::PAYMENT_TRANSACTIONS, "amount")];

/// Columns renamed in contract version 2 (every money column names its unit, one naming of interval
/// bounds per unit): `(table, name in version 1, name now)`. The lake renames them when it reads a file
/// written before, so an old lake keeps reading; re-ingesting and re-running `uplift` rewrites it.
pub const RENAMED_IN_V2: [(&str, &str, &str); 39] = [
    (
        tables::ENTERPRISE_SALES,
        "sales_amount",
        "sales_amount_yuan",
    ),
    (tables::ENTERPRISE_SALES, "unit", "source_unit"),
    (tables::RETAIL_STATS, "value", "value_100m_yuan"),
    (tables::RETAIL_STATS, "cum_value", "cum_value_100m_yuan"),
    (tables::UPLIFT, "actual", "actual_yuan"),
    (tables::UPLIFT, "baseline", "baseline_yuan"),
    (tables::UPLIFT, "uplift_abs", "uplift_abs_yuan"),
    (tables::UPLIFT, "lower", "lower_pct"),
    (tables::UPLIFT, "upper", "upper_pct"),
    (tables::UPLIFT, "uplift_abs_lower", "uplift_abs_lower_yuan"),
    (tables::UPLIFT, "uplift_abs_upper", "uplift_abs_upper_yuan"),
    (tables::BASELINE_DAILY, "actual", "actual_yuan"),
    (tables::BASELINE_DAILY, "baseline", "baseline_yuan"),
    (tables::BASELINE_DAILY, "lower", "lower_yuan"),
    (tables::BASELINE_DAILY, "upper", "upper_yuan"),
    (tables::WEEKLY_TRACKING, "week_actual", "week_actual_yuan"),
    (
        tables::WEEKLY_TRACKING,
        "week_baseline",
        "week_baseline_yuan",
    ),
    (tables::WEEKLY_TRACKING, "cum_actual", "cum_actual_yuan"),
    (tables::WEEKLY_TRACKING, "cum_baseline", "cum_baseline_yuan"),
    (
        tables::WEEKLY_TRACKING,
        "cum_uplift_abs",
        "cum_uplift_abs_yuan",
    ),
    (tables::LOCAL_EVENTS, "actual", "actual_yuan"),
    (
        tables::LOCAL_EVENTS,
        "counterfactual",
        "counterfactual_yuan",
    ),
    (tables::LOCAL_EVENTS, "att", "att_yuan_per_day"),
    (tables::LOCAL_EVENTS, "att_lower", "att_lower_yuan_per_day"),
    (tables::LOCAL_EVENTS, "att_upper", "att_upper_yuan_per_day"),
    (tables::LOCAL_EVENTS, "incremental", "incremental_yuan"),
    (
        tables::LOCAL_EVENTS,
        "incremental_lower",
        "incremental_lower_yuan",
    ),
    (
        tables::LOCAL_EVENTS,
        "incremental_upper",
        "incremental_upper_yuan",
    ),
    (tables::LOCAL_EVENTS, "lift_lower", "lift_lower_pct"),
    (tables::LOCAL_EVENTS, "lift_upper", "lift_upper_pct"),
    (tables::LOCAL_EVENTS, "pre_rmse", "pre_rmse_yuan_per_day"),
    (tables::LOCAL_EVENT_SERIES, "observed", "observed_yuan"),
    (
        tables::LOCAL_EVENT_SERIES,
        "counterfactual",
        "counterfactual_yuan",
    ),
    (
        tables::TRIANGULATION,
        "payments_lower",
        "payments_lower_pct",
    ),
    (
        tables::TRIANGULATION,
        "payments_upper",
        "payments_upper_pct",
    ),
    (
        tables::TRIANGULATION,
        "enterprise_lower",
        "enterprise_lower_pct",
    ),
    (
        tables::TRIANGULATION,
        "enterprise_upper",
        "enterprise_upper_pct",
    ),
    (
        tables::TRIANGULATION,
        "payments_yoy_lower",
        "payments_yoy_lower_pct",
    ),
    (
        tables::TRIANGULATION,
        "payments_yoy_upper",
        "payments_yoy_upper_pct",
    ),
];

/// Columns renamed in contract version 3: `payment_daily`'s money columns name their unit like every
/// other money column (`(table, name in versions 1 and 2, name now)`). Both engines write the new
/// names; the lake renames them when it reads a file written before, and the next commit of a
/// partition writes it under the new names. The old names stay accepted input headers (aliases), so an
/// institution's daily file headed `amount`, `refund_amount` still maps.
pub const RENAMED_IN_V3: [(&str, &str, &str); 3] = [
    (tables::PAYMENT_DAILY, "amount", "amount_yuan"),
    (tables::PAYMENT_DAILY, "refund_amount", "refund_amount_yuan"),
    (tables::PAYMENT_DAILY, "net_amount", "net_amount_yuan"),
];

/// The earlier names of `table`'s renamed columns ([`RENAMED_IN_V2`], [`RENAMED_IN_V3`]), as
/// `(old, new)` pairs; no column was renamed twice, so one pass of renames gives today's names.
pub fn renamed_columns(table: &str) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    RENAMED_IN_V2
        .iter()
        .chain(RENAMED_IN_V3.iter())
        .filter(move |(t, _, _)| *t == table)
        .map(|(_, old, new)| (*old, *new))
}

/// The embedded schema files, by table name.
const EMBEDDED: [(&str, &str); 26] = [
    (
        tables::PAYMENT_TRANSACTIONS,
        include_str!("../../../data-schemas/payment_transactions.json"),
    ),
    (
        tables::PAYMENT_DAILY,
        include_str!("../../../data-schemas/payment_daily.json"),
    ),
    (
        tables::PAYMENT_AREA_DAILY,
        include_str!("../../../data-schemas/payment_area_daily.json"),
    ),
    (
        tables::ENTERPRISE_SALES,
        include_str!("../../../data-schemas/enterprise_sales.json"),
    ),
    (
        tables::RETAIL_STATS,
        include_str!("../../../data-schemas/retail_stats.json"),
    ),
    (
        tables::ACTIVITIES,
        include_str!("../../../data-schemas/activities.json"),
    ),
    (
        tables::SUBSIDIES,
        include_str!("../../../data-schemas/subsidies.json"),
    ),
    (
        tables::UPLIFT,
        include_str!("../../../data-schemas/uplift.json"),
    ),
    (
        tables::UPLIFT_BACKTEST,
        include_str!("../../../data-schemas/uplift_backtest.json"),
    ),
    (
        tables::BASELINE_DAILY,
        include_str!("../../../data-schemas/baseline_daily.json"),
    ),
    (
        tables::WEEKLY_TRACKING,
        include_str!("../../../data-schemas/weekly_tracking.json"),
    ),
    (
        tables::ACTIVITY_SUMMARY,
        include_str!("../../../data-schemas/activity_summary.json"),
    ),
    (
        tables::DATA_COMPLETENESS,
        include_str!("../../../data-schemas/data_completeness.json"),
    ),
    (
        tables::REJECTS,
        include_str!("../../../data-schemas/rejects.json"),
    ),
    (
        tables::SYNTH_TRUTH,
        include_str!("../../../data-schemas/synth_truth.json"),
    ),
    (
        tables::LOCAL_EVENTS,
        include_str!("../../../data-schemas/local_events.json"),
    ),
    (
        tables::LOCAL_EVENT_WEIGHTS,
        include_str!("../../../data-schemas/local_event_weights.json"),
    ),
    (
        tables::LOCAL_EVENT_SERIES,
        include_str!("../../../data-schemas/local_event_series.json"),
    ),
    (
        tables::LOCAL_EVENT_POWER,
        include_str!("../../../data-schemas/local_event_power.json"),
    ),
    (
        tables::TRIANGULATION,
        include_str!("../../../data-schemas/triangulation.json"),
    ),
    (
        tables::LEVERAGE,
        include_str!("../../../data-schemas/leverage.json"),
    ),
    (
        tables::CHANNEL_UPLIFT,
        include_str!("../../../data-schemas/channel_uplift.json"),
    ),
    (
        tables::URBAN_RURAL_UPLIFT,
        include_str!("../../../data-schemas/urban_rural_uplift.json"),
    ),
    (
        tables::THEME_SUMMARY,
        include_str!("../../../data-schemas/theme_summary.json"),
    ),
    (
        tables::DASHBOARD_PAYMENT_DAILY,
        include_str!("../../../data-schemas/dashboard_payment_daily.json"),
    ),
    (
        tables::DASHBOARD_BASELINE_DAILY,
        include_str!("../../../data-schemas/dashboard_baseline_daily.json"),
    ),
];

/// The embedded `data-schemas/datapackage.json`, listing every table.
pub const DATAPACKAGE_JSON: &str = include_str!("../../../data-schemas/datapackage.json");

/// The type of a column (Frictionless `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Text.
    String,
    /// A floating-point number.
    Number,
    /// A whole number.
    Integer,
    /// True or false (see [`Field::parse_bool`]).
    Boolean,
    /// A calendar date; `format` gives its text form.
    Date,
    /// A date and time (Beijing time); `format` gives its text form.
    Datetime,
}

impl FieldType {
    /// The Frictionless spelling, e.g. `"datetime"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
        }
    }
}

/// Where a table sits in the pipeline (custom property `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    /// Received from outside (institutions, enterprises, NBS, liaisons); ingest validates it.
    Input,
    /// Written by homeseason into the lake for its own stages (rejects, completeness).
    Lake,
    /// Published results (uplift, tracking, summaries, the generator's truth).
    Output,
    /// The copies of lake tables for dashboards, with small cells suppressed, in the lake's
    /// `dashboard/` folder (`<lake>/dashboard/<name>/data.parquet`): the only folder dashboards read.
    Dashboard,
}

/// The fields of `dashboard_baseline_daily` blanked where the baseline scales an earlier year's
/// figure that is not published (not required, and their description says so with
/// [`SCALED_GAP`]).
pub const SCALED_BASELINE_FIELDS: [&str; 3] = ["baseline_yuan", "lower_yuan", "upper_yuan"];

/// How the description of a [`SCALED_BASELINE_FIELDS`] field in the dashboard copy ends.
pub const SCALED_GAP: &str = " Empty (null) where a day it scales from (prior-year or two-year reference day) has this figure unpublished by suppression: the baseline would give it away.";

/// The dashboard copies and the lake table each copies: every field of the table, the same
/// description and titles, plus `suppressed`; the fields suppression blanks are not required.
pub const DASHBOARD_COPIES: [(&str, &str, &[&str]); 2] = [
    (
        tables::DASHBOARD_PAYMENT_DAILY,
        tables::PAYMENT_DAILY,
        &[
            "txn_count",
            "amount_yuan",
            "refund_amount_yuan",
            "net_amount_yuan",
            "merchant_count",
        ],
    ),
    (
        tables::DASHBOARD_BASELINE_DAILY,
        tables::BASELINE_DAILY,
        &["actual_yuan"],
    ),
];

/// Where a table's files live, relative to the lake's root: `dashboard/<name>` for the dashboard
/// copies ([`TableKind::Dashboard`]), `<name>` for every other table.
#[must_use]
pub fn lake_dir(table: &str) -> String {
    match get(table) {
        Some(t) if t.kind == TableKind::Dashboard => format!("dashboard/{table}"),
        _ => table.to_owned(),
    }
}

/// The rules a column's values must follow (Frictionless `constraints`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// The value may not be empty (defaults to `false`).
    #[serde(default)]
    pub required: bool,
    /// The only allowed values, when the column is an enumeration.
    #[serde(default)]
    pub r#enum: Option<Vec<String>>,
    /// A regular expression (anchored with `^…$`) the text must match; compiled by ingest.
    #[serde(default)]
    pub pattern: Option<String>,
    /// The smallest allowed value of a number or integer.
    #[serde(default)]
    pub minimum: Option<f64>,
    /// The largest allowed value of a number or integer (an amount above it is a typing error or a
    /// unit mistake, and sums of amounts in fen stay far from `i64` overflow).
    #[serde(default)]
    pub maximum: Option<f64>,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Column name (English `snake_case`): the name homeseason writes.
    pub name: String,
    /// Column type.
    pub r#type: FieldType,
    /// English title.
    pub title: String,
    /// Chinese title (custom property `title_zh`).
    pub title_zh: String,
    /// English description, with the unit where the column has one.
    pub description: String,
    /// Text form of dates and datetimes as a `strftime` pattern, e.g. `%Y-%m-%d`.
    #[serde(default)]
    pub format: Option<String>,
    /// Unit of a money or percent column (custom property `unit`, one of [`UNITS`]); the column's name
    /// ends with the unit's suffix.
    #[serde(default)]
    pub unit: Option<String>,
    /// Value rules.
    #[serde(default)]
    pub constraints: Constraints,
    /// Other header spellings in use (custom property `aliases`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Whether homeseason computes the column rather than receives it (custom property `derived`).
    #[serde(default)]
    pub derived: bool,
    /// Other spellings of each allowed value (custom property `enum_aliases`), e.g. `线上` for `online`.
    #[serde(default)]
    pub enum_aliases: BTreeMap<String, Vec<String>>,
    /// Spellings read as `true` in a boolean column (Frictionless `trueValues`).
    #[serde(default, rename = "trueValues")]
    pub true_values: Vec<String>,
    /// Spellings read as `false` in a boolean column (Frictionless `falseValues`).
    #[serde(default, rename = "falseValues")]
    pub false_values: Vec<String>,
}

/// Frictionless defaults for `trueValues` / `falseValues`, compared after [`normalize_header`].
const DEFAULT_TRUE: [&str; 2] = ["true", "1"];
const DEFAULT_FALSE: [&str; 2] = ["false", "0"];

impl Field {
    /// Whether a value must be present (`constraints.required`).
    #[must_use]
    pub fn is_required(&self) -> bool {
        self.constraints.required
    }

    /// The allowed values, or an empty slice when the column is not an enumeration.
    #[must_use]
    pub fn enum_values(&self) -> &[String] {
        self.constraints.r#enum.as_deref().unwrap_or(&[])
    }

    /// Every spelling a header may take for this field: name, title, Chinese title and aliases.
    pub fn header_spellings(&self) -> impl Iterator<Item = &str> {
        [
            self.name.as_str(),
            self.title.as_str(),
            self.title_zh.as_str(),
        ]
        .into_iter()
        .chain(self.aliases.iter().map(String::as_str))
    }

    /// Whether an already [normalised](normalize_header) header names this field.
    fn matches_key(&self, key: &str) -> bool {
        self.header_spellings().any(|s| normalize_header(s) == key)
    }

    /// Map a raw value to its canonical allowed value: the value itself or one of its `enum_aliases`,
    /// compared with the folding of [`normalize_header`] (case, width, spaces). Columns without an
    /// `enum` constraint but with `enum_aliases` (such as `focus_tags`, a list of tags) resolve one item
    /// against the alias keys. `None` when nothing matches.
    #[must_use]
    pub fn resolve_enum(&self, raw: &str) -> Option<&str> {
        let key = normalize_header(raw);
        if key.is_empty() {
            return None;
        }
        let by_value = self
            .enum_values()
            .iter()
            .chain(self.enum_aliases.keys())
            .find(|v| normalize_header(v) == key);
        if let Some(value) = by_value {
            return Some(value.as_str());
        }
        self.enum_aliases
            .iter()
            .find(|(_, spellings)| spellings.iter().any(|s| normalize_header(s) == key))
            .map(|(value, _)| value.as_str())
    }

    /// Read a boolean as this field spells it (`trueValues` / `falseValues`, or the Frictionless
    /// defaults `true`/`1` and `false`/`0`), with the folding of [`normalize_header`]. `None` when the text
    /// is neither.
    #[must_use]
    pub fn parse_bool(&self, raw: &str) -> Option<bool> {
        let key = normalize_header(raw);
        if key.is_empty() {
            return None;
        }
        let hit = |list: &[String], defaults: &[&str]| {
            if list.is_empty() {
                defaults.iter().any(|s| normalize_header(s) == key)
            } else {
                list.iter().any(|s| normalize_header(s) == key)
            }
        };
        if hit(&self.true_values, &DEFAULT_TRUE) {
            Some(true)
        } else if hit(&self.false_values, &DEFAULT_FALSE) {
            Some(false)
        } else {
            None
        }
    }
}

/// The contract of one table: a parsed Frictionless Table Schema.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableContract {
    /// Table name (`snake_case`), also the file name `data-schemas/<name>.json`.
    pub name: String,
    /// English title.
    pub title: String,
    /// Chinese title (custom property `title_zh`).
    pub title_zh: String,
    /// What the table holds, where it comes from and its units.
    pub description: String,
    /// Input, lake or output.
    pub kind: TableKind,
    /// Columns that identify a row (`primaryKey`); empty when the table has none.
    #[serde(rename = "primaryKey", default)]
    pub primary_key: Vec<String>,
    /// The columns, in the order homeseason writes them.
    pub fields: Vec<Field>,
}

impl TableContract {
    /// The field with exactly this name.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Fields whose value must be present. In input tables these are never derived.
    pub fn required_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.constraints.required)
    }

    /// Fields an input file may supply: every field that is not derived.
    pub fn input_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| !f.derived)
    }

    /// Map a raw header (as a liaison typed it) to a field.
    ///
    /// The header and every spelling of every field (name, title, `title_zh`, aliases) are compared after
    /// [`normalize_header`]: case-insensitive, full-width ASCII and brackets folded to half-width, spaces
    /// (including U+3000), underscores, hyphens and a byte-order mark ignored. If nothing matches and the
    /// header ends in a bracketed part (a unit such as `（万元）` or `(%)`), the bare name before it is tried;
    /// use [`header_unit`] to read that unit. `None` for an unknown header.
    #[must_use]
    pub fn resolve_header(&self, header: &str) -> Option<&Field> {
        let key = normalize_header(header);
        if key.is_empty() {
            return None;
        }
        if let Some(field) = self.fields.iter().find(|f| f.matches_key(&key)) {
            return Some(field);
        }
        let (bare, _) = split_trailing_bracket(&key)?;
        if bare.is_empty() {
            return None;
        }
        self.fields.iter().find(|f| f.matches_key(bare))
    }

    /// Column names in schema order.
    #[must_use]
    pub fn column_names(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.name.as_str()).collect()
    }
}

static CONTRACTS: LazyLock<Vec<TableContract>> = LazyLock::new(|| {
    EMBEDDED
        .iter()
        .map(|(name, json)| {
            serde_json::from_str::<TableContract>(json).unwrap_or_else(|e| {
                panic!(
                    "embedded data-schemas/{name}.json is malformed (a unit test guards this): {e}"
                )
            })
        })
        .collect()
});

/// Every table contract, in the order of `datapackage.json`. Parsed once; panics only if an embedded file
/// is malformed, which the unit tests rule out.
#[must_use]
pub fn all() -> &'static [TableContract] {
    &CONTRACTS
}

/// The contract of the named table (see [`tables`]).
#[must_use]
pub fn get(name: &str) -> Option<&'static TableContract> {
    all().iter().find(|t| t.name == name)
}

/// The canonical value of `field` of the named table that `raw` spells (the value itself or one of
/// its `enum_aliases`, [`Field::resolve_enum`]); `None` when the table or field is unknown or
/// nothing matches.
#[must_use]
pub fn resolve_enum(table: &str, field: &str, raw: &str) -> Option<&'static str> {
    get(table)?.field(field)?.resolve_enum(raw)
}

/// The embedded JSON text of the named table's schema, e.g. to serve it as documentation.
#[must_use]
pub fn raw_json(name: &str) -> Option<&'static str> {
    EMBEDDED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, json)| *json)
}

/// Fold one character: full-width ASCII (U+FF01–U+FF5E) to ASCII, U+3000 to a space, and the CJK
/// brackets 【】〔〕 to `[` `]`.
fn fold_char(c: char) -> char {
    match c {
        '【' | '〔' => '[',
        '】' | '〕' => ']',
        _ => crate::text::half_width(c),
    }
}

/// Characters that are invisible in a spreadsheet but end up in exported headers.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{FEFF}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}'
    )
}

/// The folding [`TableContract::resolve_header`] compares headers with: full-width ASCII and brackets
/// folded to half-width (`（万元）` → `(万元)`, `ＭＣＣ` → `MCC`), lower-cased, and whitespace (including
/// U+3000), `_`, `-` and invisible characters (byte-order mark, zero-width spaces) removed. The result is
/// a matching key, not a display name: `" Sales_Amount "` → `"salesamount"`.
#[must_use]
pub fn normalize_header(s: &str) -> String {
    s.chars()
        .map(fold_char)
        .filter(|&c| !(c.is_whitespace() || c == '_' || c == '-' || is_invisible(c)))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Split `name(unit)` / `name[unit]` into `(name, unit)` (both trimmed), for text already folded to
/// half-width brackets. `None` when the text does not end in a bracketed part.
fn split_trailing_bracket(s: &str) -> Option<(&str, &str)> {
    let s = s.trim();
    let open = match s.chars().last()? {
        ')' => '(',
        ']' => '[',
        _ => return None,
    };
    let start = s.rfind(open)?;
    let inner = &s[start + open.len_utf8()..s.len() - 1];
    Some((s[..start].trim(), inner.trim()))
}

/// The unit a header carries in trailing brackets, e.g. `"销售额（万元）"` → `Some("万元")`,
/// `"yoy (%)"` → `Some("%")`; full-width forms are folded and the case is kept. `None` without one.
#[must_use]
pub fn header_unit(header: &str) -> Option<String> {
    let folded: String = header
        .chars()
        .map(fold_char)
        .filter(|&c| !is_invisible(c))
        .collect();
    let (_, unit) = split_trailing_bracket(&folded)?;
    (!unit.is_empty()).then(|| unit.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::*;

    fn table(name: &str) -> &'static TableContract {
        get(name).unwrap_or_else(|| panic!("no contract {name}"))
    }

    fn resolved(table_name: &str, header: &str) -> Option<&'static str> {
        table(table_name)
            .resolve_header(header)
            .map(|f| f.name.as_str())
    }

    fn datapackage() -> serde_json::Value {
        serde_json::from_str(DATAPACKAGE_JSON).expect("datapackage.json is JSON")
    }

    /// A dashboard copy's contract is its table's, field for field (a column renamed in the table
    /// must be renamed in the copy: this test names the difference), plus `suppressed`.
    #[test]
    fn dashboard_copies_are_their_tables_plus_suppressed() {
        for (copy, of, blanked) in DASHBOARD_COPIES {
            let (copy, of) = (table(copy), table(of));
            assert_eq!(copy.kind, TableKind::Dashboard);
            assert_eq!(lake_dir(&copy.name), format!("dashboard/{}", copy.name));
            assert_eq!(copy.primary_key, of.primary_key, "{}", copy.name);
            let want: Vec<Field> = of
                .fields
                .iter()
                .map(|f| {
                    let mut f = f.clone();
                    f.aliases.clear();
                    f.enum_aliases.clear();
                    f.true_values.clear();
                    f.false_values.clear();
                    f.derived = true;
                    if blanked.contains(&f.name.as_str()) {
                        f.constraints.required = false;
                        f.description
                            .push_str(" Empty (null) where suppressed is true.");
                    }
                    if copy.name == tables::DASHBOARD_BASELINE_DAILY
                        && SCALED_BASELINE_FIELDS.contains(&f.name.as_str())
                    {
                        f.constraints.required = false;
                        f.description.push_str(SCALED_GAP);
                    }
                    f
                })
                .collect();
            let (last, fields) = copy.fields.split_last().expect("fields");
            assert_eq!(
                fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
                of.column_names(),
                "{}: the columns of {}, then suppressed",
                copy.name,
                of.name
            );
            for (got, want) in fields.iter().zip(&want) {
                assert_eq!(got, want, "{}.{}", copy.name, want.name);
            }
            assert_eq!(
                (last.name.as_str(), last.r#type, last.is_required()),
                ("suppressed", FieldType::Boolean, true)
            );
            for b in blanked {
                assert!(of.field(b).is_some(), "{}: {b}", of.name);
            }
        }
        assert_eq!(lake_dir(tables::PAYMENT_DAILY), "payment_daily");
    }

    #[test]
    fn every_embedded_file_parses_and_is_named_like_its_file() {
        for (name, json) in EMBEDDED {
            let parsed: TableContract =
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}.json: {e}"));
            assert_eq!(parsed.name, name);
        }
        assert_eq!(all().len(), EMBEDDED.len());
        for name in tables::ALL {
            assert!(get(name).is_some(), "{name}");
            assert!(raw_json(name).is_some(), "{name}");
        }
        assert!(get("no_such_table").is_none());
    }

    #[test]
    fn datapackage_lists_exactly_the_embedded_contracts() {
        let package = datapackage();
        assert_eq!(package["name"], "homeseason");
        assert_eq!(package["profile"], "data-package");
        assert!(package["title"].as_str().is_some_and(|t| !t.is_empty()));
        let resources = package["resources"].as_array().expect("resources array");
        let mut listed = Vec::new();
        for resource in resources {
            let name = resource["name"].as_str().expect("resource name");
            let schema = resource["schema"].as_str().expect("resource schema");
            assert_eq!(schema, format!("{name}.json"));
            assert!(
                resource["path"].as_str().is_some_and(|p| !p.is_empty()),
                "{name}: path"
            );
            assert!(
                resource["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{name}"
            );
            let contract = get(name).unwrap_or_else(|| panic!("{schema} is not embedded"));
            assert_eq!(
                resource["description"].as_str(),
                Some(contract.description.as_str())
            );
            listed.push(name.to_owned());
        }
        let embedded: Vec<String> = all().iter().map(|t| t.name.clone()).collect();
        assert_eq!(
            listed, embedded,
            "datapackage.json order and content = embedded contracts"
        );
        assert_eq!(listed, tables::ALL.map(str::to_owned).to_vec());
    }

    #[test]
    fn every_table_and_field_is_documented() {
        for t in all() {
            for text in [&t.title, &t.title_zh, &t.description] {
                assert!(!text.trim().is_empty(), "{}: empty table text", t.name);
            }
            assert!(!t.fields.is_empty(), "{}", t.name);
            for f in &t.fields {
                for text in [&f.title, &f.title_zh, &f.description] {
                    assert!(!text.trim().is_empty(), "{}.{}: empty text", t.name, f.name);
                }
                assert!(
                    !f.name.is_empty()
                        && f.name
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{}.{}: not snake_case",
                    t.name,
                    f.name
                );
            }
        }
    }

    #[test]
    fn constraints_are_well_formed() {
        for t in all() {
            for f in &t.fields {
                let at = format!("{}.{}", t.name, f.name);
                if let Some(values) = &f.constraints.r#enum {
                    assert!(!values.is_empty(), "{at}: empty enum");
                    assert!(
                        values.iter().all(|v| !v.trim().is_empty()),
                        "{at}: blank enum value"
                    );
                    assert_eq!(f.r#type, FieldType::String, "{at}: enums are text");
                }
                if let Some(pattern) = &f.constraints.pattern {
                    assert!(!pattern.is_empty(), "{at}: empty pattern");
                    assert!(
                        pattern.starts_with('^') && pattern.ends_with('$'),
                        "{at}: unanchored"
                    );
                }
                if f.constraints.minimum.is_some() {
                    assert!(
                        matches!(f.r#type, FieldType::Number | FieldType::Integer),
                        "{at}: minimum"
                    );
                }
                if let Some(max) = f.constraints.maximum {
                    assert!(
                        matches!(f.r#type, FieldType::Number | FieldType::Integer),
                        "{at}: maximum"
                    );
                    assert!(
                        f.constraints.minimum.is_none_or(|min| min < max),
                        "{at}: minimum ≥ maximum"
                    );
                }
                match f.r#type {
                    FieldType::Date => assert_eq!(f.format.as_deref(), Some("%Y-%m-%d"), "{at}"),
                    FieldType::Datetime => {
                        assert_eq!(f.format.as_deref(), Some("%Y-%m-%d %H:%M:%S"), "{at}");
                    }
                    _ => assert!(f.format.is_none(), "{at}: format on a non-date"),
                }
                if f.name == "region_code" {
                    assert_eq!(
                        f.constraints.pattern.as_deref(),
                        Some(REGION_CODE_PATTERN),
                        "{at}"
                    );
                }
                if f.r#type != FieldType::Boolean {
                    assert!(
                        f.true_values.is_empty() && f.false_values.is_empty(),
                        "{at}"
                    );
                }
                let t_set: BTreeSet<String> =
                    f.true_values.iter().map(|s| normalize_header(s)).collect();
                assert!(
                    f.false_values
                        .iter()
                        .all(|s| !t_set.contains(&normalize_header(s))),
                    "{at}"
                );
            }
        }
    }

    #[test]
    fn enum_aliases_name_allowed_values_and_never_clash() {
        for t in all() {
            for f in &t.fields {
                let at = format!("{}.{}", t.name, f.name);
                let mut owner: HashMap<String, &str> = HashMap::new();
                for value in f.enum_values() {
                    owner.insert(normalize_header(value), value);
                }
                for (value, spellings) in &f.enum_aliases {
                    if f.constraints.r#enum.is_some() {
                        assert!(
                            f.enum_values().contains(value),
                            "{at}: alias key {value} not in enum"
                        );
                    }
                    for s in std::iter::once(value).chain(spellings) {
                        let key = normalize_header(s);
                        assert!(!key.is_empty(), "{at}: blank alias");
                        let prev = owner.insert(key, value);
                        assert!(
                            prev.is_none_or(|p| p == value),
                            "{at}: {s:?} means {prev:?} and {value}"
                        );
                    }
                    assert_eq!(f.resolve_enum(value), Some(value.as_str()), "{at}");
                }
            }
        }
    }

    #[test]
    fn category_columns_use_the_category_ids() {
        let base = [
            "home_appliances",
            "furniture",
            "home_textiles",
            "building_materials",
            "supermarket",
            "restaurant",
            "fuel",
            "other",
        ];
        for t in all() {
            if let Some(f) = t.field("category") {
                let values = f.enum_values();
                assert!(
                    base.iter().all(|b| values.iter().any(|v| v == b)),
                    "{}",
                    t.name
                );
                for v in values {
                    assert!(
                        base.contains(&v.as_str())
                            || matches!(
                                v.as_str(),
                                "total_retail" | "above_quota_total" | "all_targeted"
                            ),
                        "{}: {v}",
                        t.name
                    );
                }
            }
        }
        let retail = table(tables::RETAIL_STATS)
            .field("category")
            .expect("category");
        assert_eq!(retail.enum_values().len(), 10);
        assert_eq!(
            retail.resolve_enum("家用电器和音像器材类"),
            Some("home_appliances")
        );
        assert_eq!(
            retail.resolve_enum("社会消费品零售总额"),
            Some("total_retail")
        );
        assert_eq!(
            retail.resolve_enum("限额以上单位消费品零售额"),
            Some("above_quota_total")
        );
        assert_eq!(
            retail.resolve_enum("建筑及装潢材料类"),
            Some("building_materials")
        );
        let daily = table(tables::PAYMENT_DAILY)
            .field("category")
            .expect("category");
        assert_eq!(daily.enum_values().len(), 8);
        assert_eq!(
            daily.resolve_enum("home_decoration"),
            Some("building_materials")
        );
    }

    #[test]
    fn primary_keys_name_existing_required_fields() {
        for t in all() {
            let mut seen = BTreeSet::new();
            for k in &t.primary_key {
                let f = t
                    .field(k)
                    .unwrap_or_else(|| panic!("{}: key {k} is not a field", t.name));
                assert!(seen.insert(k), "{}: key {k} twice", t.name);
                assert!(
                    f.is_required() || f.derived,
                    "{}: key {k} may be empty",
                    t.name
                );
            }
        }
        assert_eq!(
            table(tables::PAYMENT_DAILY).primary_key,
            ["date", "institution", "region_code", "mcc", "channel"]
        );
        assert_eq!(
            table(tables::UPLIFT).primary_key,
            [
                "campaign_id",
                "region_code",
                "category",
                "method",
                "source",
                "window_kind"
            ]
        );
    }

    #[test]
    fn field_names_are_unique_and_headers_unambiguous() {
        for t in all() {
            let mut names = BTreeSet::new();
            let mut owner: HashMap<String, &str> = HashMap::new();
            for f in &t.fields {
                assert!(names.insert(&f.name), "{}: field {} twice", t.name, f.name);
                for s in f.header_spellings() {
                    let key = normalize_header(s);
                    assert!(!key.is_empty(), "{}.{}: blank spelling", t.name, f.name);
                    let prev = owner.insert(key, &f.name);
                    assert!(
                        prev.is_none_or(|p| p == f.name),
                        "{}: header {s:?} means both {prev:?} and {}",
                        t.name,
                        f.name
                    );
                }
            }
            // Every spelling resolves back to its own field.
            for f in &t.fields {
                for s in f.header_spellings() {
                    assert_eq!(
                        t.resolve_header(s).map(|x| &x.name),
                        Some(&f.name),
                        "{}: {s:?}",
                        t.name
                    );
                }
            }
        }
    }

    #[test]
    fn derived_input_fields_are_never_required_and_outputs_are_derived() {
        for t in all() {
            for f in &t.fields {
                match t.kind {
                    TableKind::Input => {
                        assert!(!(f.derived && f.is_required()), "{}.{}", t.name, f.name);
                    }
                    TableKind::Lake | TableKind::Output | TableKind::Dashboard => {
                        assert!(f.derived, "{}.{}", t.name, f.name);
                    }
                }
            }
        }
        let sales = table(tables::ENTERPRISE_SALES);
        let derived: Vec<&str> = sales
            .fields
            .iter()
            .filter(|f| f.derived)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(derived, ["period_start", "period_end"]);
        assert_eq!(sales.input_fields().count(), sales.fields.len() - 2);
        let required: Vec<&str> = sales.required_fields().map(|f| f.name.as_str()).collect();
        assert_eq!(
            required,
            [
                "uscc",
                "enterprise_name",
                "region_code",
                "category",
                "period",
                "sales_amount_yuan"
            ]
        );
    }

    #[test]
    fn resolves_headers_as_liaisons_type_them() {
        let cases = [
            (tables::ENTERPRISE_SALES, "统一社会信用代码", "uscc"),
            (
                tables::ENTERPRISE_SALES,
                " 销售额（万元） ",
                "sales_amount_yuan",
            ),
            (tables::ENTERPRISE_SALES, "销售额(元)", "sales_amount_yuan"),
            (
                tables::ENTERPRISE_SALES,
                "\u{3000}销售额\u{3000}",
                "sales_amount_yuan",
            ),
            (
                tables::ENTERPRISE_SALES,
                "销售金额【万元】",
                "sales_amount_yuan",
            ),
            (
                tables::ENTERPRISE_SALES,
                "Sales Amount",
                "sales_amount_yuan",
            ),
            (
                tables::ENTERPRISE_SALES,
                "SALES_AMOUNT",
                "sales_amount_yuan",
            ),
            (
                tables::ENTERPRISE_SALES,
                "\u{FEFF}企业名称",
                "enterprise_name",
            ),
            (tables::ENTERPRISE_SALES, "线上/线下", "channel"),
            (tables::ENTERPRISE_SALES, "省份", "region_code"),
            (tables::ENTERPRISE_SALES, "uscc", "uscc"),
            (tables::PAYMENT_TRANSACTIONS, "ＭＣＣ", "mcc"),
            (tables::PAYMENT_TRANSACTIONS, "交易金额（元）", "amount"),
            (tables::PAYMENT_TRANSACTIONS, "Transaction Time", "txn_time"),
            (tables::PAYMENT_DAILY, "ＭＣＣ", "mcc"),
            (
                tables::PAYMENT_DAILY,
                "退款金额（元）",
                "refund_amount_yuan",
            ),
            (tables::PAYMENT_DAILY, "amount", "amount_yuan"),
            (tables::PAYMENT_DAILY, "Refund_Amount", "refund_amount_yuan"),
            (tables::PAYMENT_DAILY, "交易金额（万元）", "amount_yuan"),
            (tables::PAYMENT_DAILY, "交易笔数（笔）", "txn_count"),
            (tables::RETAIL_STATS, "value", "value_100m_yuan"),
            (tables::RETAIL_STATS, "cum_value", "cum_value_100m_yuan"),
            (tables::ENTERPRISE_SALES, "unit", "source_unit"),
            (
                tables::ENTERPRISE_SALES,
                "sales_amount_yuan",
                "sales_amount_yuan",
            ),
            (tables::RETAIL_STATS, "当月同比增长（%）", "yoy_pct"),
            (tables::RETAIL_STATS, "累计同比（%）", "cum_yoy_pct"),
            (tables::RETAIL_STATS, "source_url", "source"),
            (tables::ACTIVITIES, "主办单位", "organizer"),
            (tables::ACTIVITIES, "参与企业数（家）", "enterprise_count"),
            (tables::ACTIVITIES, "活动类型", "type"),
            (tables::REJECTS, "file_sha256", "file_sha256"),
        ];
        for (t, header, expected) in cases {
            assert_eq!(resolved(t, header), Some(expected), "{t}: {header:?}");
        }
        for (t, header) in [
            (tables::ENTERPRISE_SALES, "备注"),
            (tables::ENTERPRISE_SALES, ""),
            (tables::ENTERPRISE_SALES, "（万元）"),
            (tables::ENTERPRISE_SALES, "销售额增长率"),
            (tables::PAYMENT_TRANSACTIONS, "统一社会信用代码"),
            (tables::PAYMENT_DAILY, "unknown column"),
        ] {
            assert_eq!(resolved(t, header), None, "{t}: {header:?}");
        }
    }

    #[test]
    fn the_unit_is_ignored_only_when_the_bare_name_matches() {
        let sales = table(tables::ENTERPRISE_SALES);
        assert_eq!(
            sales
                .resolve_header("品牌（主品牌）")
                .map(|f| f.name.as_str()),
            Some("brand")
        );
        assert!(sales.resolve_header("未知列（万元）").is_none());
        assert_eq!(header_unit("销售额（万元）").as_deref(), Some("万元"));
        assert_eq!(header_unit("销售额 [亿元]").as_deref(), Some("亿元"));
        assert_eq!(header_unit("yoy (%)").as_deref(), Some("%"));
        assert_eq!(header_unit("销售额"), None);
        assert_eq!(header_unit("销售额（）"), None);
    }

    #[test]
    fn normalizes_width_case_and_spaces() {
        assert_eq!(normalize_header("ＭＣＣ"), "mcc");
        assert_eq!(normalize_header(" 销售额（万元） "), "销售额(万元)");
        assert_eq!(
            normalize_header("\u{3000}Sales_Amount\u{00A0}"),
            "salesamount"
        );
        assert_eq!(normalize_header("【单位】"), "[单位]");
        assert_eq!(normalize_header("\u{FEFF}txn-id"), "txnid");
        assert_eq!(normalize_header(""), "");
    }

    #[test]
    fn resolves_enum_values_and_booleans() {
        let tx = table(tables::PAYMENT_TRANSACTIONS);
        let channel = tx.field("channel").expect("channel");
        assert_eq!(channel.resolve_enum("线上"), Some("online"));
        assert_eq!(channel.resolve_enum(" OFFLINE "), Some("offline"));
        assert_eq!(channel.resolve_enum("全部"), None);
        let txn_type = tx.field("txn_type").expect("txn_type");
        assert_eq!(txn_type.resolve_enum("撤销"), Some("reversal"));
        let activities = table(tables::ACTIVITIES);
        let kind = activities.field("type").expect("type");
        assert_eq!(kind.resolve_enum("购物节"), Some("shopping_festival"));
        assert_eq!(kind.resolve_enum("展会"), Some("trade_show"));
        assert_eq!(
            kind.resolve_enum("直播电商节"),
            Some("ecommerce_live_festival")
        );
        assert_eq!(kind.resolve_enum("音乐会"), None);
        let tags = activities.field("focus_tags").expect("focus_tags");
        assert_eq!(tags.resolve_enum("适老化"), Some("age_friendly"));
        assert_eq!(tags.resolve_enum("age-friendly"), Some("age_friendly"));
        let local = activities.field("local_station").expect("local_station");
        assert_eq!(local.parse_bool("是"), Some(true));
        assert_eq!(local.parse_bool("否"), Some(false));
        assert_eq!(local.parse_bool("TRUE"), Some(true));
        assert_eq!(local.parse_bool("maybe"), None);
        assert_eq!(local.parse_bool(""), None);
        let truth = table(tables::SYNTH_TRUTH)
            .field("local_station")
            .expect("local_station");
        assert_eq!(truth.parse_bool("1"), Some(true));
        assert_eq!(truth.parse_bool("false"), Some(false));
        let unit = table(tables::ENTERPRISE_SALES)
            .field("source_unit")
            .expect("source_unit");
        assert_eq!(unit.resolve_enum("亿"), Some("亿元"));
        assert_eq!(unit.resolve_enum("元"), Some("元"));
    }

    /// Every money column names its unit (issue 15: a `sales_amount` in yuan beside a `unit` saying 万元,
    /// `retail_stats.value` in 亿元, `lower`/`upper` percent in one table and yuan in another): each
    /// number column whose description gives yuan, 亿元 or percent declares that `unit`, and its name
    /// ends with the unit's suffix, interval bounds included; the only exceptions are listed in
    /// [`UNIT_NOT_IN_NAME`].
    #[test]
    fn every_money_and_percent_column_names_its_unit() {
        let mut checked = 0;
        for contract in all() {
            for f in &contract.fields {
                let d = &f.description;
                let looks_money = d.contains("yuan") || d.contains('元');
                let looks_pct = d.contains("percent (%)");
                let needs_unit = f.r#type == FieldType::Number && (looks_money || looks_pct);
                let Some(unit) = f.unit.as_deref() else {
                    assert!(
                        !needs_unit,
                        "{}.{} is money or percent by its description but declares no unit",
                        contract.name, f.name
                    );
                    continue;
                };
                let suffix = UNITS
                    .iter()
                    .find(|(u, _)| *u == unit)
                    .map(|(_, s)| *s)
                    .unwrap_or_else(|| panic!("{}.{}: unknown unit {unit}", contract.name, f.name));
                assert_eq!(f.r#type, FieldType::Number, "{}.{}", contract.name, f.name);
                let exempt = UNIT_NOT_IN_NAME.contains(&(contract.name.as_str(), f.name.as_str()));
                if unit == "percent" {
                    assert!(
                        f.name.ends_with("_pct") || f.name.contains("_pct_"),
                        "{}.{} is percent but its name does not say so",
                        contract.name,
                        f.name
                    );
                } else {
                    assert_eq!(
                        f.name.ends_with(suffix),
                        !exempt,
                        "{}.{} is in {unit}: its name ends with {suffix} (or it is listed as pending)",
                        contract.name,
                        f.name
                    );
                }
                if unit == "yuan" {
                    assert!(
                        !f.name.ends_with("_100m_yuan"),
                        "{}.{}",
                        contract.name,
                        f.name
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 50, "{checked} money and percent columns");
        for (table_name, field) in UNIT_NOT_IN_NAME {
            assert_eq!(
                get(table_name)
                    .and_then(|t| t.field(field))
                    .and_then(|f| f.unit.as_deref()),
                Some("yuan")
            );
        }
        // The two bounds of one quantity share one unit, and a bound's unit is its point estimate's.
        let uplift = table(tables::UPLIFT);
        let unit = |t: &TableContract, n: &str| t.field(n).and_then(|f| f.unit.clone());
        assert_eq!(unit(uplift, "lower_pct"), unit(uplift, "uplift_pct"));
        assert_eq!(
            unit(uplift, "uplift_abs_lower_yuan"),
            unit(uplift, "uplift_abs_yuan")
        );
        let daily = table(tables::BASELINE_DAILY);
        assert_eq!(unit(daily, "lower_yuan"), unit(daily, "baseline_yuan"));
        for t in all() {
            for f in &t.fields {
                assert!(
                    !matches!(
                        f.name.as_str(),
                        "lower" | "upper" | "value" | "cum_value" | "unit"
                    ),
                    "{}.{}: a bare bound, level or unit column",
                    t.name,
                    f.name
                );
            }
        }
    }

    #[test]
    fn every_renamed_column_exists_under_its_new_name_only() {
        for (t, old, new) in RENAMED_IN_V2.iter().chain(RENAMED_IN_V3.iter()) {
            let contract = table(t);
            assert!(contract.field(new).is_some(), "{t}.{new}");
            assert!(contract.field(old).is_none(), "{t}.{old}");
        }
        // A name renamed once is never renamed again (one pass of renames reaches today's names).
        for (t, _, new) in RENAMED_IN_V2.iter().chain(RENAMED_IN_V3.iter()) {
            assert!(
                renamed_columns(t).all(|(old, _)| old != *new),
                "{t}.{new} renamed twice"
            );
        }
        assert_eq!(
            renamed_columns(tables::PAYMENT_DAILY).collect::<Vec<_>>(),
            [
                ("amount", "amount_yuan"),
                ("refund_amount", "refund_amount_yuan"),
                ("net_amount", "net_amount_yuan")
            ]
        );
        // The v2 names of payment_daily stay input headers (an institution's own daily file).
        let daily = table(tables::PAYMENT_DAILY);
        for (_, old, new) in RENAMED_IN_V3 {
            assert_eq!(
                daily.resolve_header(old).map(|f| f.name.as_str()),
                Some(new)
            );
        }
        assert_eq!(
            renamed_columns(tables::RETAIL_STATS).collect::<Vec<_>>(),
            [
                ("value", "value_100m_yuan"),
                ("cum_value", "cum_value_100m_yuan")
            ]
        );
    }

    #[test]
    fn column_names_follow_the_schema_order() {
        let daily = table(tables::PAYMENT_DAILY);
        assert_eq!(
            daily.column_names(),
            [
                "date",
                "institution",
                "region_code",
                "mcc",
                "category",
                "channel",
                "txn_count",
                "amount_yuan",
                "refund_amount_yuan",
                "net_amount_yuan",
                "merchant_count"
            ]
        );
        assert_eq!(
            table(tables::PAYMENT_TRANSACTIONS)
                .field("txn_time")
                .map(|f| f.r#type),
            Some(FieldType::Datetime)
        );
        assert_eq!(FieldType::Datetime.as_str(), "datetime");
    }
}
