//! The subsidy leverage section (拉动比) of the report and the workbook's sheet, from the `leverage`
//! table (`homeseason_metrics::leverage`): per region and category the subsidy paid out, the
//! incremental sales and their ratio with its interval, and the time-based regression's iROAS where
//! a region's subsidy started later than others'.

use homeseason_schema::region::{NATIONAL, Regions};
use polars::prelude::*;

use crate::{Result, category_label};

/// The section's method sentence, in Chinese then English.
pub(crate) const METHOD: &str = "拉动比 = 活动窗口内支付数据的增量销售额（标题方法，回测校准区间）÷ 同期补贴发放金额（各补贴方式、各资金来源合计）；区间为增量销售额的区间除以补贴额。它把窗口内的全部增量归于补贴，是补贴拉动作用的上限。补贴起步晚于其他地区的地区另列时间回归（TBR，含成本）的 iROAS：与已在发放补贴的地区对比，起步后至多四周内每元补贴带来的增量销售额 [10]。 Leverage = the payments' incremental sales over the window (headline method, backtest-calibrated interval) ÷ the subsidy paid out in it (every instrument and funding source); its interval is the uplift's interval divided by the subsidy. It credits the subsidy with the whole uplift, so it bounds the subsidy's own effect from above. Where a region started paying later than others, the time-based regression with cost (TBR) gives an iROAS: incremental sales per yuan of subsidy over up to four weeks after its start, against the regions already paying [10].";

/// Where the figures come from.
pub(crate) const SOURCE: &str = "[10] 表 leverage（lake/leverage/data.parquet）：补贴来自表 subsidies（各地联络员报送的补贴与消费券发放情况），增量销售额来自表 uplift。 Table `leverage` (lake/leverage/data.parquet): the subsidy from `subsidies` (what the liaisons reported paying out), the incremental sales from `uplift`.";

/// One row as shown.
#[derive(Debug, Clone)]
pub(crate) struct LeverageRow {
    pub(crate) region_code: String,
    pub(crate) region: String,
    pub(crate) category_id: String,
    pub(crate) category: String,
    /// Subsidy paid out, yuan.
    pub(crate) subsidy: f64,
    pub(crate) incremental: Option<f64>,
    pub(crate) ratio: Option<(f64, f64, f64)>,
    pub(crate) iroas: Option<(f64, f64, f64)>,
    pub(crate) start: String,
    pub(crate) suppressed: bool,
}

/// The rows of the `leverage` table, nation first, then regions in code order, categories with
/// `all_targeted` last.
pub(crate) fn rows(t: &DataFrame) -> Result<Vec<LeverageRow>> {
    if t.height() == 0 {
        return Ok(Vec::new());
    }
    let regions = Regions::embedded();
    let strs = |n: &str| crate::rows::strs(t, n);
    let nums = |n: &str| crate::rows::f64s(t, n);
    let (code, category) = (strs("region_code")?, strs("category")?);
    let (paid, abs) = (nums("subsidy_paid_yuan")?, nums("uplift_abs_yuan")?);
    let (r, lo, hi) = (
        nums("leverage_ratio")?,
        nums("leverage_lower")?,
        nums("leverage_upper")?,
    );
    let (i, ilo, ihi) = (nums("iroas")?, nums("iroas_lower")?, nums("iroas_upper")?);
    let start = strs("subsidy_start")?;
    let suppressed: Vec<bool> = t
        .column("suppressed")?
        .bool()?
        .iter()
        .map(|v| v.unwrap_or(false))
        .collect();
    let triple = |a: Option<f64>, b: Option<f64>, c: Option<f64>| Some((a?, b?, c?));
    let mut out: Vec<LeverageRow> = (0..t.height())
        .map(|k| LeverageRow {
            region_code: code[k].clone(),
            region: if code[k] == NATIONAL {
                "全国".into()
            } else {
                regions
                    .by_code(&code[k])
                    .map_or_else(|| code[k].clone(), |x| x.short_zh.clone())
            },
            category_id: category[k].clone(),
            category: category_label(&category[k]),
            subsidy: paid[k].unwrap_or(0.0),
            incremental: abs[k],
            ratio: triple(r[k], lo[k], hi[k]),
            iroas: triple(i[k], ilo[k], ihi[k]),
            start: start[k].clone(),
            suppressed: suppressed[k],
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |x: &LeverageRow| {
            (
                x.region_code != NATIONAL,
                x.region_code.clone(),
                x.category_id == "all_targeted",
                x.category_id.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(out)
}

/// The ratio (or iROAS) with its interval, `—` when there is none.
pub(crate) fn ratio_text(v: Option<(f64, f64, f64)>, suppressed: bool) -> String {
    match v {
        _ if suppressed => "—（已抑制 suppressed）".into(),
        Some((x, l, h)) => format!("{x:.2} [{l:.2}, {h:.2}]"),
        None => "—".into(),
    }
}

/// The table's cells of one row: region, category, subsidy (万元), incremental sales (万元),
/// leverage, iROAS, subsidy start.
pub(crate) fn cells(r: &LeverageRow) -> Vec<String> {
    let wan = |v: f64| format!("{:.1}", v / 1e4);
    vec![
        r.region.clone(),
        r.category.clone(),
        wan(r.subsidy),
        match (r.incremental, r.suppressed) {
            (Some(v), false) => wan(v),
            _ => "—".into(),
        },
        ratio_text(r.ratio, r.suppressed),
        ratio_text(r.iroas, r.suppressed),
        r.start.clone(),
    ]
}

/// The table's header.
pub(crate) const HEADER: [&str; 7] = [
    "地区 Region",
    "品类 Category",
    "补贴发放（万元） Subsidy paid (10k yuan)",
    "增量销售额（万元） Incremental sales (10k yuan)",
    "拉动比 Leverage [interval]",
    "时间回归 iROAS [interval]",
    "补贴起始 Subsidy start",
];

/// The rows a report shows: for the nation its national rows, every region's all-targeted row and
/// every row with an iROAS; for a region its own rows and the national all-targeted row.
pub(crate) fn shown<'a>(rows: &'a [LeverageRow], area: &str) -> Vec<&'a LeverageRow> {
    rows.iter()
        .filter(|r| {
            if area == NATIONAL {
                r.region_code == NATIONAL || r.category_id == "all_targeted" || r.iroas.is_some()
            } else {
                r.region_code == area
                    || (r.region_code == NATIONAL && r.category_id == "all_targeted")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_the_table_and_blank_what_suppression_blanks() {
        let d = chrono::NaiveDate::from_ymd_opt(2023, 9, 1).unwrap();
        let t = df!(
            "region_code" => ["330000", "000000", "330200"],
            "category" => ["home_appliances", "all_targeted", "furniture"],
            "subsidy_paid_yuan" => [125_000.0, 1_000_000.0, 20_000.0],
            "uplift_abs_yuan" => [Some(500_000.0), Some(3_000_000.0), None],
            "leverage_ratio" => [Some(4.0), Some(3.0), None],
            "leverage_lower" => [Some(2.0), Some(2.5), None],
            "leverage_upper" => [Some(6.0), Some(3.5), None],
            "iroas" => [Some(3.1), None, None],
            "iroas_lower" => [Some(1.0), None, None],
            "iroas_upper" => [Some(5.2), None, None],
            "subsidy_start" => [Some(d), Some(d), Some(d)],
            "suppressed" => [false, false, true],
        )
        .unwrap();
        let rows = rows(&t).unwrap();
        assert_eq!(rows[0].region_code, NATIONAL, "the nation first");
        let zj = &rows[1];
        assert_eq!(
            cells(zj),
            [
                "浙江",
                "家电 home appliances",
                "12.5",
                "50.0",
                "4.00 [2.00, 6.00]",
                "3.10 [1.00, 5.20]",
                "2023-09-01"
            ]
            .map(str::to_owned)
            .to_vec()
            .into_iter()
            .enumerate()
            .map(|(i, s)| if i == 1 { zj.category.clone() } else { s })
            .collect::<Vec<_>>()
        );
        let nb = &rows[2];
        assert!(cells(nb)[4].contains("suppressed") && cells(nb)[3] == "—");
        assert_eq!(shown(&rows, NATIONAL).len(), 2);
        assert_eq!(shown(&rows, "330200").len(), 2);
    }
}
