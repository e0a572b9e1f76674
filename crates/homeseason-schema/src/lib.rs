//! # homeseason-schema
//!
//! The bottom of the homeseason workspace: domain types and table contracts, with no IO.
//!
//! - [`contract`]: the Frictionless table schemas in `data-schemas/`, embedded; the one place the code
//!   learns column names, types and header aliases from.
//! - [`region`]: the 37 reporting regions (31 provinces, 5 cities with separate plans, XPCC), lookup by
//!   code / name / short name / pinyin, and roll-up of county and prefecture codes.
//! - [`division`]: the 333 prefecture-level and 3,285 county-level divisions below the regions, and which
//!   counties are urban (市辖区) or rural (县域).
//! - [`category`]: product categories, targeted by the campaign or untargeted controls.
//! - [`campaign`]: a campaign as configuration (window, baseline years, pre-period, MCC map); the 2023
//!   Home Renewal Consumption Season is embedded as the default.
//! - [`calendar`]: Chinese public holidays, make-up workdays and shopping festivals, 2021–2024.
//! - [`theme`]: the campaign's themes (绿色, 智能, 适老化) and building-materials subcategories (陶瓷,
//!   卫浴, 门窗, 地板, 照明, 管材) with their spellings.
//! - [`uscc`]: the 18-character unified social credit code and its GB 32100-2015 check character.
//!
//! ```
//! use homeseason_schema::{campaign::Campaign, region::Regions};
//! let campaign = Campaign::default_2023();
//! assert_eq!(campaign.window.start.to_string(), "2023-09-01");
//! let regions = Regions::embedded();
//! assert_eq!(regions.resolve("浙江").unwrap().code, "330000");
//! assert_eq!(regions.roll_up("330212").unwrap().code, "330200"); // a Ningbo district → Ningbo
//! ```
#![deny(missing_docs)]

pub mod calendar;
pub mod campaign;
pub mod category;
pub mod contract;
pub mod division;
pub mod region;
pub mod text;
pub mod theme;
pub mod uscc;

/// Errors raised while building domain values from text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A campaign configuration could not be read.
    #[error("campaign configuration: {0}")]
    Campaign(String),
    /// A value is not a known region.
    #[error("unknown region {0:?} / 未知地区")]
    UnknownRegion(String),
    /// A value is not a known category.
    #[error("unknown category {0:?} / 未知品类")]
    UnknownCategory(String),
}

/// Result alias for this crate.
pub type Result<T, E = SchemaError> = std::result::Result<T, E>;
