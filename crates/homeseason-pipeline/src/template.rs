//! `homeseason template`: blank templates liaisons fill in, so files start right.
//!
//! XLSX: a data sheet with a merged title row, the header in Chinese with the English header in the
//! row below, drop-down lists for the columns with fixed values (品类, 单位, 线上/线下 …), text format
//! for codes and periods (so Excel does not turn `2023-09` into a date or drop leading zeros), frozen
//! header rows, and a 填写说明 / Notes sheet explaining every column. The ingest reader finds the header
//! under the title, takes the English row as a header, and skips the notes sheet.
//!
//! CSV: UTF-8 with a byte-order mark (so Excel opens it in Chinese on any Windows locale) and one
//! header row of bilingual cells, `统一社会信用代码 (Unified social credit code)`: the bracketed English
//! is ignored when headers are matched.

use homeseason_ingest::Feed;
use homeseason_schema::campaign::Campaign;

use crate::error::Result;
use rust_xlsxwriter::{
    Color, DataValidation, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};

/// Which template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Key-enterprise sales (重点企业销售数据).
    EnterpriseSales,
    /// The activities register (重点活动表).
    Activities,
    /// Subsidies and consumption vouchers paid out (补贴/消费券).
    Subsidies,
}

/// File format of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateFormat {
    /// Excel workbook with a notes sheet.
    Xlsx,
    /// CSV, UTF-8 with BOM.
    Csv,
}

/// One column of a template.
struct Col {
    zh: &'static str,
    en: &'static str,
    required: bool,
    /// Keep as text in Excel (codes, periods).
    text: bool,
    /// Allowed values offered as a drop-down list (empty: free entry).
    list: &'static [&'static str],
    note_zh: &'static str,
    note_en: &'static str,
    width: f64,
}

const fn col(zh: &'static str, en: &'static str, required: bool) -> Col {
    Col {
        zh,
        en,
        required,
        text: false,
        list: &[],
        note_zh: "",
        note_en: "",
        width: 14.0,
    }
}

struct Spec {
    /// The title after the campaign's name (`<name_zh> <title_zh>`, `<name_en>: <title_en>`).
    title_zh: &'static str,
    title_en: &'static str,
    file_stem: &'static str,
    columns: Vec<Col>,
    general_zh: &'static [&'static str],
    general_en: &'static [&'static str],
}

fn spec(kind: Kind) -> Spec {
    match kind {
        Kind::EnterpriseSales => Spec {
            title_zh: "重点企业销售数据填报表",
            title_en: "key-enterprise sales report",
            file_stem: "enterprise_sales_template",
            columns: vec![
                Col {
                    text: true,
                    width: 24.0,
                    note_zh: "18位统一社会信用代码（GB 32100-2015），末位为校验码；系统逐行校验，错误时提示应为哪个校验码。",
                    note_en: "The 18-character unified social credit code (GB 32100-2015); its check character is verified and a wrong one is reported with the expected character.",
                    ..col("统一社会信用代码", "Unified social credit code", true)
                },
                Col {
                    width: 28.0,
                    note_zh: "企业注册全称。",
                    note_en: "Registered name of the enterprise.",
                    ..col("企业名称", "Enterprise name", true)
                },
                Col {
                    text: true,
                    note_zh: "销售发生地：可填行政区划代码、全称、简称或拼音，如 330000、浙江省、浙江、Zhejiang；计划单列市可单独填写（如宁波）。",
                    note_en: "Where the sales were made: code, full name, short name or pinyin (330000, 浙江省, 浙江, Zhejiang); plan cities may be given on their own (Ningbo).",
                    ..col("地区", "Region", true)
                },
                Col {
                    list: &["家电", "家具", "家纺", "建材家装"],
                    note_zh: "家电 / 家具 / 家纺 / 建材家装（也可填英文或代码）。",
                    note_en: "Home appliances / furniture / home textiles / building & decoration materials (English names or ids also work).",
                    ..col("品类", "Category", true)
                },
                Col {
                    text: true,
                    width: 22.0,
                    note_zh: "月：2023-09 或 2023年9月；周（ISO周，周一起）：2023-W37；区间：2023-09-01~2023-09-30。",
                    note_en: "Month: 2023-09 or 2023年9月; ISO week (Monday start): 2023-W37; range: 2023-09-01~2023-09-30.",
                    ..col("统计期", "Period", true)
                },
                Col {
                    note_zh: "数字，可带千分位（1,234.5）或全角数字；单位见“单位”列，也可写在数字后（12.5万元），但不得与单位列矛盾。不得为负。",
                    note_en: "A number; thousands separators and full-width digits are fine. Unit in the unit column, or after the number (12.5万元), but never contradicting the unit column. Not negative.",
                    ..col("销售额", "Sales amount", true)
                },
                Col {
                    list: &["元", "万元", "亿元"],
                    width: 10.0,
                    note_zh: "元 / 万元 / 亿元；系统统一换算为元。未注明单位的行将被拒收。",
                    note_en: "元 / 万元 / 亿元 (yuan, 10k yuan, 100m yuan), converted to yuan. A row with no unit at all is rejected.",
                    ..col("金额单位", "Unit", false)
                },
                Col {
                    list: &["线上", "线下", "全部"],
                    width: 12.0,
                    note_zh: "线上 / 线下 / 全部（线上线下合计）；空白视为全部。",
                    note_en: "Online / offline / all (both together); blank means all.",
                    ..col("线上/线下", "Channel", false)
                },
                Col {
                    note_zh: "按品牌填报时填写品牌名，否则留空。",
                    note_en: "The brand, when reporting per brand; otherwise blank.",
                    ..col("品牌", "Brand", false)
                },
                Col {
                    list: &["陶瓷", "卫浴", "门窗", "地板", "照明", "管材"],
                    width: 12.0,
                    note_zh: "仅建材家装：按细分品类填报时填写（陶瓷 / 卫浴 / 门窗 / 地板 / 照明 / 管材），每个细分品类一行；否则留空。",
                    note_en: "Building materials only: when reporting per subcategory (ceramics / sanitary ware / doors and windows / flooring / lighting / pipes), one row each; otherwise blank.",
                    ..col("细分品类", "Subcategory", false)
                },
                Col {
                    width: 16.0,
                    note_zh: "该销售所属的活动主题：绿色 / 智能 / 适老化，可填多个，用“、”或“;”分隔；否则留空。",
                    note_en: "Campaign themes of the sales: green / smart / age-friendly, several separated by 、 or ;; otherwise blank.",
                    ..col("主题标签", "Theme tags", false)
                },
            ],
            general_zh: &[
                "每行一条：一家企业 × 一个品类 × 一个统计期（× 渠道 × 品牌 × 细分品类）。",
                "表头请勿修改；可删除示例以外的空行。标题行、本说明页不会被读取。",
                "同一地区、同一统计期再次报送的文件将替代此前的数据（旧文件保留在记录中，报告注明所用版本）。",
                "有问题的行会被单独拒收并说明原因（文件、行号、列、原因），其余行照常接收。",
            ],
            general_en: &[
                "One row per enterprise × category × period (× channel × brand × subcategory).",
                "Keep the headers; the title row and this notes sheet are not read.",
                "A later file for the same region and period replaces the earlier data (both are kept on record; the report says which version it used).",
                "A bad row is rejected on its own with file, row, column and reason; the other rows are accepted.",
            ],
        },
        Kind::Activities => Spec {
            title_zh: "重点活动表",
            title_en: "register of activities",
            file_stem: "activities_template",
            columns: vec![
                Col {
                    text: true,
                    note_zh: "本地区内唯一的活动编号，重复报送时保持不变。",
                    note_en: "Identifier unique within the region; keep it when re-submitting.",
                    ..col("活动编号", "Activity ID", true)
                },
                Col {
                    text: true,
                    note_zh: "代码、全称、简称或拼音，如 330000、浙江省、浙江。",
                    note_en: "Code, full name, short name or pinyin (330000, 浙江省, 浙江).",
                    ..col("地区", "Region", true)
                },
                Col {
                    width: 30.0,
                    note_zh: "活动对外名称。",
                    note_en: "Name of the activity as announced.",
                    ..col("活动名称", "Activity name", true)
                },
                Col {
                    list: &[
                        "购物节",
                        "嘉年华",
                        "下乡",
                        "直播电商节",
                        "设计大赛",
                        "技能大赛",
                        "展会",
                        "其他",
                    ],
                    note_zh: "购物节 / 嘉年华 / 下乡 / 直播电商节 / 设计大赛 / 技能大赛 / 展会 / 其他。",
                    note_en: "Shopping festival / carnival / countryside sales / e-commerce live festival / design contest / skills contest / trade show / other.",
                    ..col("活动类型", "Activity type", true)
                },
                Col {
                    text: true,
                    note_zh: "YYYY-MM-DD，如 2023-09-15。",
                    note_en: "YYYY-MM-DD.",
                    ..col("开始日期", "Start date", true)
                },
                Col {
                    text: true,
                    note_zh: "YYYY-MM-DD，不早于开始日期。",
                    note_en: "YYYY-MM-DD, not before the start date.",
                    ..col("结束日期", "End date", true)
                },
                Col {
                    width: 20.0,
                    ..col("活动地点", "Venue", false)
                },
                Col {
                    width: 20.0,
                    ..col("主办单位", "Organizer", false)
                },
                Col {
                    note_zh: "非负整数。",
                    note_en: "A whole number ≥ 0.",
                    ..col("参与企业数", "Participating enterprises", false)
                },
                Col {
                    note_zh: "非负整数。",
                    note_en: "A whole number ≥ 0.",
                    ..col("参与品牌数", "Participating brands", false)
                },
                Col {
                    note_zh: "绿色、智能、适老化，可多选，用分号分隔：绿色;智能。",
                    note_en: "Green, smart, age-friendly; several separated by semicolons.",
                    ..col("重点方向", "Focus tags", false)
                },
                Col {
                    list: &["线上", "线下", "线上线下结合"],
                    note_zh: "线上 / 线下 / 线上线下结合。",
                    note_en: "Online / offline / both.",
                    ..col("线上/线下", "Online", false)
                },
                Col {
                    list: &["是", "否"],
                    width: 10.0,
                    note_zh: "是否为全国活动的地方站：是 / 否。",
                    note_en: "Whether it is a local station of a national event: yes / no.",
                    ..col("地方站", "Local station", false)
                },
            ],
            general_zh: &[
                "每行一项活动。同一活动重复报送时请保持活动编号不变。",
                "同一地区、同一月份（按开始日期）再次报送的文件将替代此前的数据；汇总时按活动编号及名称+开始日期去重。",
                homeseason_schema::calendar::ACTIVITY_WEEK_RULE_ZH,
            ],
            general_en: &[
                "One row per activity; keep the activity id when re-submitting.",
                "A later file for the same region and start month replaces the earlier data; the summary removes duplicates by id, and by name + start date.",
                homeseason_schema::calendar::ACTIVITY_WEEK_RULE_EN,
            ],
        },
        Kind::Subsidies => subsidies_spec(),
    }
}

/// The 补贴方式 drop-down: the default instruments' Chinese names
/// ([`homeseason_schema::campaign::DEFAULT_INSTRUMENTS`]); a campaign file's own
/// `[[instrument]]` names are accepted as typed.
const INSTRUMENT_NAMES: [&str; 4] = {
    let d = homeseason_schema::campaign::DEFAULT_INSTRUMENTS;
    [d[0].1, d[1].1, d[2].1, d[3].1]
};

fn subsidies_spec() -> Spec {
    Spec {
        title_zh: "补贴与消费券发放情况填报表",
        title_en: "Subsidies and consumption vouchers paid out",
        file_stem: "subsidies_template",
        columns: vec![
            Col {
                text: true,
                note_zh: "发放地区：代码、全称、简称或拼音，如 330000、浙江省、浙江；也可填地级市代码（如 330100），系统归入所属地区并记入地市。",
                note_en: "Where the subsidy was paid: code, full name, short name or pinyin (330000, 浙江省, 浙江); a prefecture-level code (330100) rolls up to its region and is kept as the city.",
                ..col("地区", "Region", true)
            },
            Col {
                text: true,
                note_zh: "可选：地级市的 6 位行政区划代码（如 330100），须属于本行地区；按全地区填报时留空。",
                note_en: "Optional: the 6-digit code of a prefecture-level city in the row's region (330100); blank for the whole region.",
                ..col("地市代码", "City code", false)
            },
            Col {
                list: &["家电", "家具", "家纺", "建材家装"],
                note_zh: "补贴适用的品类：家电 / 家具 / 家纺 / 建材家装（也可填英文或代码）。",
                note_en: "Category the subsidy applies to: home appliances / furniture / home textiles / building & decoration materials (English names or ids also work).",
                ..col("品类", "Category", true)
            },
            Col {
                text: true,
                width: 24.0,
                note_zh: "按周填报（ISO周，周一起）：2023-W37；也可填月份 2023-09 或日期区间 2023-09-01~2023-09-03。",
                note_en: "Weekly (ISO week, Monday start): 2023-W37; a month 2023-09 or a date range 2023-09-01~2023-09-03 also works.",
                ..col("统计期", "Period", true)
            },
            Col {
                list: &INSTRUMENT_NAMES,
                width: 16.0,
                note_zh: "补贴方式：消费券 / 以旧换新补贴 / 分期贴息 / 其他（以活动配置文件所列为准）。",
                note_en: "Instrument: voucher / trade-in subsidy / instalment interest subsidy / other (as the campaign file lists them).",
                ..col("补贴方式", "Instrument", true)
            },
            Col {
                list: &["中央", "省级", "市级", "企业"],
                width: 10.0,
                note_zh: "资金来源：中央 / 省级 / 市级 / 企业。同一补贴多方出资时分行填报。",
                note_en: "Funding source: central / provincial / city / enterprise; a subsidy funded jointly takes one row per source.",
                ..col("资金来源", "Funding source", true)
            },
            Col {
                width: 16.0,
                note_zh: "本期实际发放（核销）金额，单位：元；数字可带千分位。如按万元填报，请将表头改为“发放金额（万元）”。不得为负。",
                note_en: "Amount actually paid out (redeemed) in the period, in yuan; thousands separators are fine. To report in 10k yuan, head the column 发放金额（万元）. Not negative.",
                ..col("发放金额（元）", "Amount paid out in yuan", true)
            },
            Col {
                note_zh: "本期核销的消费券张数或补贴笔数，非负整数。",
                note_en: "Vouchers redeemed, or subsidies paid, in the period: a whole number ≥ 0.",
                ..col("核销数量", "Count redeemed", true)
            },
            Col {
                width: 24.0,
                note_zh: "可选：补贴政策名称、使用规则等。",
                note_en: "Optional: the scheme's name, its rules.",
                ..col("备注", "Notes", false)
            },
        ],
        general_zh: &[
            "每行一条：一个地区（地市）× 一个品类 × 一个统计期 × 一种补贴方式 × 一个资金来源。",
            "表头请勿修改；标题行、本说明页不会被读取。",
            "同一行（地区、地市、品类、统计期、补贴方式、资金来源均相同）再次报送时，默认保留先收到的数据，数值不同的行列入拒收记录。",
            "有问题的行会被单独拒收并说明原因（文件、行号、列、原因），其余行照常接收。",
        ],
        general_en: &[
            "One row per region (city) × category × period × instrument × funding source.",
            "Keep the headers; the title row and this notes sheet are not read.",
            "A row sent again (same region, city, category, period, instrument and source) keeps the first received by default; one with other values is listed among the rejects.",
            "A bad row is rejected on its own with file, row, column and reason; the other rows are accepted.",
        ],
    }
}

impl Kind {
    /// The liaison template of a feed, when the feed has one (the payment feeds come from
    /// institutions' systems, 社零 from the statistics bureau: their blank file is
    /// [`contract_csv`]).
    #[must_use]
    pub fn of_feed(feed: Feed) -> Option<Kind> {
        match feed {
            Feed::EnterpriseSales => Some(Kind::EnterpriseSales),
            Feed::Activities => Some(Kind::Activities),
            Feed::Subsidies => Some(Kind::Subsidies),
            _ => None,
        }
    }
}

/// The blank CSV of any feed, as the server's 下载模板 and `homeseason template` give it: the
/// liaison template for enterprise sales and activities, else one header line of the contract's
/// Chinese titles (UTF-8 with a BOM so Excel opens it correctly).
#[must_use]
pub fn csv_template(feed: Feed) -> Vec<u8> {
    match Kind::of_feed(feed) {
        Some(kind) => csv(&spec(kind)),
        None => contract_csv(feed),
    }
}

/// One header line of the Chinese titles of the fields a file of `feed` supplies; a money field's
/// title carries its unit (`交易金额（元）`), so a file filled in from the template says what unit its
/// amounts are in.
#[must_use]
pub fn contract_csv(feed: Feed) -> Vec<u8> {
    let headers: Vec<String> = feed
        .contract()
        .input_fields()
        .map(|f| match f.unit.as_deref() {
            Some("yuan") => format!("{}（元）", f.title_zh),
            _ => f.title_zh.clone(),
        })
        .collect();
    let mut out = b"\xEF\xBB\xBF".to_vec();
    out.extend_from_slice(headers.join(",").as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// Default file name of a template.
pub fn default_file_name(kind: Kind, format: TemplateFormat) -> String {
    let ext = match format {
        TemplateFormat::Xlsx => "xlsx",
        TemplateFormat::Csv => "csv",
    };
    format!("{}.{ext}", spec(kind).file_stem)
}

/// The template's bytes; the XLSX title names the campaign.
pub fn bytes(kind: Kind, format: TemplateFormat, campaign: &Campaign) -> Result<Vec<u8>> {
    let spec = spec(kind);
    match format {
        TemplateFormat::Csv => Ok(csv(&spec)),
        TemplateFormat::Xlsx => Ok(xlsx(&spec, &Title::new(&spec, campaign))?),
    }
}

/// A template's title: the campaign's name, then the template's.
struct Title {
    zh: String,
    en: String,
}

impl Title {
    fn new(spec: &Spec, campaign: &Campaign) -> Title {
        Title {
            zh: format!("{} {}", campaign.name_zh, spec.title_zh),
            en: format!("{}: {}", campaign.name_en, spec.title_en),
        }
    }
}

fn csv(spec: &Spec) -> Vec<u8> {
    let header = spec
        .columns
        .iter()
        .map(|c| format!("{} ({})", c.zh, c.en))
        .collect::<Vec<_>>()
        .join(",");
    let mut out = b"\xEF\xBB\xBF".to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// Rows offered for data entry (drop-downs and text format reach this far).
const DATA_ROWS: u32 = 2000;

fn xlsx(spec: &Spec, heading: &Title) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let title = Format::new()
        .set_bold()
        .set_font_size(14)
        .set_align(FormatAlign::Center);
    let head_zh = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0x00DD_EBF7))
        .set_border(FormatBorder::Thin)
        .set_text_wrap();
    let head_en = Format::new()
        .set_italic()
        .set_font_color(Color::RGB(0x0059_5959))
        .set_background_color(Color::RGB(0x00F2_F2F2))
        .set_border(FormatBorder::Thin);
    let text = Format::new().set_num_format("@");
    let last_col = u16::try_from(spec.columns.len().saturating_sub(1)).unwrap_or(0);
    {
        let sheet = book.add_worksheet();
        sheet.set_name("数据 Data")?;
        sheet.merge_range(
            0,
            0,
            0,
            last_col,
            &format!("{} {}", heading.zh, heading.en),
            &title,
        )?;
        sheet.set_row_height(0, 24)?;
        for (i, c) in spec.columns.iter().enumerate() {
            let i = u16::try_from(i).unwrap_or(u16::MAX);
            sheet.write_string_with_format(1, i, c.zh, &head_zh)?;
            sheet.write_string_with_format(2, i, c.en, &head_en)?;
            sheet.set_column_width(i, c.width)?;
            if c.text {
                sheet.set_column_format(i, &text)?;
            }
            if !c.list.is_empty() {
                let v = DataValidation::new()
                    .allow_list_strings(c.list)?
                    .ignore_blank(true)
                    .set_input_title(c.zh)?
                    .set_input_message(c.list.join(" / "))?;
                sheet.add_data_validation(3, i, DATA_ROWS + 2, i, &v)?;
            }
        }
        sheet.set_freeze_panes(3, 0)?;
    }
    notes(book.add_worksheet(), spec, heading)?;
    book.save_to_buffer()
}

fn notes(sheet: &mut Worksheet, spec: &Spec, heading: &Title) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap();
    sheet.set_name("填写说明 Notes")?;
    sheet.write_string_with_format(0, 0, format!("{} — 填写说明", heading.zh), &bold)?;
    sheet.write_string(1, 0, format!("{} — notes", heading.en))?;
    let mut row = 3;
    for (zh, en) in spec.general_zh.iter().zip(spec.general_en) {
        sheet.write_string(row, 0, format!("• {zh}"))?;
        sheet.write_string(row + 1, 0, format!("  {en}"))?;
        row += 2;
    }
    row += 1;
    for (c, h) in ["列（中文）", "Column", "必填 Required", "说明", "Notes"]
        .iter()
        .enumerate()
    {
        sheet.write_string_with_format(row, u16::try_from(c).unwrap_or(0), *h, &bold)?;
    }
    for c in &spec.columns {
        row += 1;
        sheet.write_string(row, 0, c.zh)?;
        sheet.write_string(row, 1, c.en)?;
        sheet.write_string(row, 2, if c.required { "是 yes" } else { "否 no" })?;
        let list_zh = if c.list.is_empty() {
            String::new()
        } else {
            format!(" 可选：{}", c.list.join(" / "))
        };
        sheet.write_string_with_format(row, 3, format!("{}{list_zh}", c.note_zh), &wrap)?;
        sheet.write_string_with_format(row, 4, c.note_en, &wrap)?;
    }
    sheet.set_column_width(0, 18)?;
    sheet.set_column_width(1, 26)?;
    sheet.set_column_width(2, 12)?;
    sheet.set_column_width(3, 60)?;
    sheet.set_column_width(4, 60)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_resolve_to_their_feed() {
        for feed in Feed::ALL {
            let bytes = csv_template(feed);
            let text = std::str::from_utf8(&bytes[3..]).unwrap();
            let headers: Vec<&str> = text.trim_end().split(',').collect();
            assert_eq!(Feed::detect(&headers), Some(feed), "{text}");
        }
    }

    /// The payment templates state the unit of their amounts, and a file filled in from one is read
    /// in that unit (yuan, no conversion).
    #[test]
    fn payment_templates_name_the_unit_of_their_amounts() {
        let bytes = csv_template(Feed::PaymentDaily);
        let header = std::str::from_utf8(&bytes[3..])
            .unwrap()
            .trim_end()
            .to_owned();
        assert!(header.contains("交易金额（元）,退款金额（元）"), "{header}");
        let txn = csv_template(Feed::PaymentTransactions);
        assert!(
            std::str::from_utf8(&txn[3..])
                .unwrap()
                .contains("交易金额（元）")
        );
        let file = format!("{header}\n2023-09-01,acq_x,330000,5722,线下,3,1234.5,34.5,2\n");
        let out = homeseason_ingest::ingest_bytes(
            Feed::PaymentDaily,
            "payment_daily_acq_x_2023-09.csv",
            file.as_bytes(),
            &homeseason_schema::campaign::Campaign::default_2023(),
        )
        .unwrap();
        assert_eq!(out.report.accepted, 1, "{:?}", out.report);
        assert_eq!(out.report.source_unit, None);
        let net = out
            .rows
            .column("net_amount_yuan")
            .unwrap()
            .f64()
            .unwrap()
            .get(0);
        assert_eq!(net, Some(1200.0));
    }
}
