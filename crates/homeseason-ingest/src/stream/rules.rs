//! What both engines of transaction files use — this streaming one and Spark's (`homeseason-spark`):
//! the field order, the header mapping, the details of rejects and the `payment_daily` frame of a
//! file's cells. One definition here keeps the engines' outputs equal by construction.

use super::*;

/// The input fields of `payment_transactions`, in contract (and so reject-priority) order.
pub const TXN_FIELDS: [&str; 9] = [
    "txn_id",
    "institution",
    "txn_time",
    "merchant_id",
    "mcc",
    "region_code",
    "amount",
    "txn_type",
    "channel",
];

/// The field (index into [`TXN_FIELDS`]) a header names: the profile's mapping first, then the
/// contract's names and aliases.
#[must_use]
pub fn resolve_txn_field(profile: &Profile, header: &str) -> Option<usize> {
    let contract = Feed::PaymentTransactions.contract();
    let name = profile
        .column_for(header)
        .map(str::to_owned)
        .or_else(|| contract.resolve_header(header).map(|f| f.name.clone()))?;
    TXN_FIELDS.iter().position(|f| *f == name)
}

/// The columns of a transaction file's header.
#[derive(Debug, Clone)]
pub struct TxnColumns {
    /// Column of each of [`TXN_FIELDS`].
    pub columns: [Option<usize>; 9],
    /// Header text of each field (the field name when the column is absent).
    pub headers: [String; 9],
    /// Headers that matched no field (or a field already matched).
    pub ignored: Vec<String>,
    /// The unit of the amounts: the one the amount column's header states (`交易金额（分）`,
    /// `amount (万元)`), else the profile's `amount_unit`.
    pub unit: AmountUnit,
}

/// Map a transaction file's header to [`TXN_FIELDS`] (the first header naming a field wins), and
/// read the amounts' unit from the amount header ([`TxnColumns::unit`]).
///
/// # Errors
/// [`IngestError::AmountUnit`] when the amount header's bracket is not a money unit, or states
/// another unit than the profile's `amount_unit = "fen"`.
/// [`IngestError::MissingColumns`] (bilingual, with the closest headers) when a required field has
/// no column: `institution` is optional when the profile names it, `txn_type` when refunds are
/// negative amounts.
pub fn map_txn_header(file: &str, profile: &Profile, header: Vec<String>) -> Result<TxnColumns> {
    let contract = Feed::PaymentTransactions.contract();
    let mut columns: [Option<usize>; 9] = [None; 9];
    let mut headers: [String; 9] = std::array::from_fn(|i| TXN_FIELDS[i].to_owned());
    let mut ignored = Vec::new();
    for (i, h) in header.iter().enumerate() {
        match resolve_txn_field(profile, h) {
            Some(f) if columns[f].is_none() => {
                columns[f] = Some(i);
                headers[f].clone_from(h);
            }
            _ => ignored.push(h.clone()),
        }
    }
    let optional = |f: usize| {
        (f == F_INST && profile.institution.is_some())
            || (f == F_TYPE && profile.refund_sign == RefundSign::Negative)
    };
    let missing: Vec<String> = (0..9)
        .filter(|&f| columns[f].is_none() && !optional(f))
        .map(|f| {
            let title = contract
                .field(TXN_FIELDS[f])
                .map_or("", |x| x.title_zh.as_str());
            format!("{} ({title})", TXN_FIELDS[f])
        })
        .collect();
    if !missing.is_empty() {
        return Err(crate::guidance::missing_columns(
            file, contract, missing, header,
        ));
    }
    let unit = match columns[F_AMOUNT] {
        Some(_) => {
            let title = contract
                .field(TXN_FIELDS[F_AMOUNT])
                .map_or("", |x| x.title_zh.as_str());
            crate::payments::header_amount_unit(
                file,
                &headers[F_AMOUNT],
                TXN_FIELDS[F_AMOUNT],
                title,
                profile,
            )?
        }
        None => profile.amount_unit,
    };
    Ok(TxnColumns {
        columns,
        headers,
        ignored,
        unit,
    })
}

/// The institution a file is for: the profile's, else the first valid code in the institution
/// column (`column`) of the file's first chunk `data` (CSV, or JSON Lines when `csv` is false);
/// empty when neither names one.
#[must_use]
pub fn file_institution(
    data: &[u8],
    csv: bool,
    profile: &Profile,
    column: Option<usize>,
) -> String {
    match &profile.institution {
        Some(i) => i.clone(),
        None => sniff_institution(data, csv, profile, column).unwrap_or_default(),
    }
}

/// The first record of CSV text as header cells (a BOM left on the first cell is dropped).
///
/// # Errors
/// The CSV reader's error, as [`IngestError::Csv`] naming `file`.
pub fn csv_header(file: &str, text: &[u8], delimiter: u8) -> Result<Vec<String>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text);
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => Ok(rec
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_owned())
            .collect()),
        Ok(false) => Ok(Vec::new()),
        Err(e) => Err(IngestError::Csv {
            file: file.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// The detail of a row whose institution is not the file's (`bad_enum` on `institution`).
#[must_use]
pub fn other_institution_detail(institution: &str) -> String {
    format!("this file is for institution {institution} / 本文件属于机构 {institution}")
}

/// The detail of a row outside the campaign's data years (`bad_period`).
#[must_use]
pub fn outside_years_detail((from, to): (i32, i32)) -> String {
    format!(
        "outside the campaign's data years {from}–{to} / 不在本次活动的数据年份 {from}–{to} 之内"
    )
}

/// The campaign's category of every MCC 0–9999 (`other` when unmapped) and whether it is mapped.
#[must_use]
pub fn mcc_categories(campaign: &Campaign) -> (Vec<&'static str>, Vec<bool>) {
    let mut category = vec!["other"; 10_000];
    let mut mapped = vec![false; 10_000];
    for m in &campaign.mcc {
        if let Ok(code) = m.code.parse::<usize>()
            && code < 10_000
            && m.code.len() == 4
        {
            category[code] = m.category.id();
            mapped[code] = true;
        }
    }
    (category, mapped)
}

/// The `payment_daily` cells of one file, collected in any order and framed in the lake's column
/// order, sorted by date, region, MCC and channel. Money arrives in fen and leaves in yuan.
pub struct DailyCells<'a> {
    category: Vec<&'static str>,
    mapped: Vec<bool>,
    unmapped_mcc: BTreeMap<String, usize>,
    figures: Figures<'a>,
}

/// The columns `payment_daily` and `payment_area_daily` share, one entry per cell: day, reporting
/// region, MCC, category, channel, counts and money (fen in, yuan out).
#[derive(Default)]
struct Figures<'a> {
    date: Vec<i32>,
    region: Vec<&'a str>,
    mcc: Vec<String>,
    cat: Vec<&'static str>,
    channel: Vec<&'a str>,
    count: Vec<i64>,
    amount: Vec<f64>,
    refund: Vec<f64>,
    net: Vec<f64>,
    merchants: Vec<i64>,
}

impl<'a> Figures<'a> {
    /// Add a cell of `day`, `region`, `mcc` (category `cat`) and `channel` with its sales count,
    /// gross sales and refunds in fen and its merchants.
    fn push(
        &mut self,
        (day, region, mcc, cat): (i32, &'a str, u16, &'static str),
        channel: &'a str,
        (count, sale_fen, refund_fen, merchants): (i64, i128, i128, i64),
    ) {
        self.date.push(day);
        self.region.push(region);
        self.mcc.push(format!("{mcc:04}"));
        self.cat.push(cat);
        self.channel.push(channel);
        self.count.push(count);
        self.amount.push(sale_fen as f64 / 100.0);
        self.refund.push(refund_fen as f64 / 100.0);
        self.net.push((sale_fen - refund_fen) as f64 / 100.0);
        self.merchants.push(merchants);
    }

    /// The frame: `date`, `institution`, `region_code`, then `between`, then `mcc` …
    /// `merchant_count`, sorted by date, region, `between_key` (the area code, when given), MCC and
    /// channel. The order is computed here on integer ranks of the texts (each text's place among
    /// the column's distinct texts), the same order as sorting the frame by those columns, which
    /// compared the texts themselves and took a third of a commit's time at 10 M transactions.
    fn frame(
        self,
        institution: &str,
        between: Vec<Column>,
        between_key: Option<&[&str]>,
    ) -> PolarsResult<DataFrame> {
        let height = self.date.len();
        let order = {
            let region = text_ranks(&self.region);
            let area = between_key.map(text_ranks);
            let mcc = text_ranks(&self.mcc);
            let channel = text_ranks(&self.channel);
            let mut order: Vec<IdxSize> = (0..height)
                .map(|i| IdxSize::try_from(i).unwrap_or(IdxSize::MAX))
                .collect();
            order.sort_unstable_by_key(|&i| {
                let i = i as usize;
                (
                    self.date[i],
                    region[i],
                    area.as_ref().map_or(0, |a| a[i]),
                    mcc[i],
                    channel[i],
                )
            });
            IdxCa::from_vec("order".into(), order)
        };
        let mut columns = vec![
            Column::new("date".into(), self.date).cast(&DataType::Date)?,
            Column::new_scalar(
                "institution".into(),
                Scalar::from(PlSmallStr::from(institution)),
                height,
            ),
            Column::new("region_code".into(), self.region),
        ];
        columns.extend(between);
        columns.extend([
            Column::new("mcc".into(), self.mcc),
            Column::new("category".into(), self.cat),
            Column::new("channel".into(), self.channel),
            Column::new("txn_count".into(), self.count),
            Column::new("amount_yuan".into(), self.amount),
            Column::new("refund_amount_yuan".into(), self.refund),
            Column::new("net_amount_yuan".into(), self.net),
            Column::new("merchant_count".into(), self.merchants),
        ]);
        DataFrame::new(height, columns)?.take(&order)
    }
}

/// Each text's place among the distinct texts of `values` in byte order (equal texts, equal
/// places): sorting by the places is sorting by the texts.
fn text_ranks<S: AsRef<str>>(values: &[S]) -> Vec<u32> {
    let mut place: HashMap<&str, u32> = HashMap::new();
    for v in values {
        place.entry(v.as_ref()).or_insert(0);
    }
    let mut distinct: Vec<&str> = place.keys().copied().collect();
    distinct.sort_unstable();
    for (i, d) in distinct.iter().enumerate() {
        place.insert(d, u32::try_from(i).unwrap_or(u32::MAX));
    }
    values.iter().map(|v| place[v.as_ref()]).collect()
}

/// One `payment_daily` cell in integer units, as [`DailyCells::push`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct DailyCell<'a> {
    /// Beijing day, days since 1970-01-01.
    pub day: i32,
    /// Reporting region code.
    pub region: &'a str,
    /// MCC 0–9999.
    pub mcc: u16,
    /// `online` or `offline`.
    pub channel: &'a str,
    /// Rows of every kind (sales, refunds, reversals): counted for unmapped MCCs.
    pub rows: i64,
    /// Sales.
    pub txn_count: i64,
    /// Gross sales, fen.
    pub sale_fen: i128,
    /// Refunds and reversals, fen.
    pub refund_fen: i128,
    /// Distinct merchants with a sale.
    pub merchants: i64,
}

impl<'a> DailyCells<'a> {
    /// No cells yet, with the campaign's MCC categories.
    #[must_use]
    pub fn new(campaign: &Campaign) -> DailyCells<'a> {
        let (category, mapped) = mcc_categories(campaign);
        DailyCells {
            category,
            mapped,
            unmapped_mcc: BTreeMap::new(),
            figures: Figures::default(),
        }
    }

    /// Add a cell.
    pub fn push(&mut self, c: DailyCell<'a>) {
        let mcc = usize::from(c.mcc);
        if !self.mapped.get(mcc).copied().unwrap_or(false) {
            *self
                .unmapped_mcc
                .entry(format!("{:04}", c.mcc))
                .or_default() += usize::try_from(c.rows).unwrap_or(0);
        }
        let cat = self.category.get(mcc).copied().unwrap_or("other");
        self.figures.push(
            (c.day, c.region, c.mcc, cat),
            c.channel,
            (c.txn_count, c.sale_fen, c.refund_fen, c.merchants),
        );
    }

    /// The cells as `payment_daily` rows of `institution`, and the rows per unmapped MCC.
    ///
    /// # Errors
    /// Polars errors building or sorting the frame.
    pub fn finish(self, institution: &str) -> PolarsResult<(DataFrame, BTreeMap<String, usize>)> {
        let rows = self.figures.frame(institution, Vec::new(), None)?;
        Ok((rows, self.unmapped_mcc))
    }
}

/// One `payment_area_daily` cell in integer units, as [`AreaCells::push`] takes it: its area and
/// its figures, as a daily cell's (`figures.region` is the area's reporting region; `rows` is not
/// used).
#[derive(Debug, Clone, Copy)]
pub struct AreaCell<'a> {
    /// The area (its code, reporting region, city and urban/rural class).
    pub area: &'a Area,
    /// Day, MCC, channel, counts and money; distinct merchants with a sale in the area cell.
    pub figures: DailyCell<'a>,
}

/// The `payment_area_daily` cells of one file, framed in the lake's column order and sorted by
/// date, region, area, MCC and channel; money in fen in, yuan out (as [`DailyCells`]).
pub struct AreaCells<'a> {
    category: Vec<&'static str>,
    area: Vec<&'a str>,
    city: Vec<Option<&'a str>>,
    urban_rural: Vec<&'static str>,
    figures: Figures<'a>,
}

impl<'a> AreaCells<'a> {
    /// No cells yet, with the campaign's MCC categories.
    #[must_use]
    pub fn new(campaign: &Campaign) -> AreaCells<'a> {
        AreaCells {
            category: mcc_categories(campaign).0,
            area: Vec::new(),
            city: Vec::new(),
            urban_rural: Vec::new(),
            figures: Figures::default(),
        }
    }

    /// Add a cell.
    pub fn push(&mut self, c: AreaCell<'a>) {
        self.area.push(c.area.code.as_str());
        self.city.push(c.area.city.as_deref());
        self.urban_rural.push(c.area.urban_rural);
        let f = c.figures;
        let cat = self
            .category
            .get(usize::from(f.mcc))
            .copied()
            .unwrap_or("other");
        self.figures.push(
            (f.day, c.area.region.as_str(), f.mcc, cat),
            f.channel,
            (f.txn_count, f.sale_fen, f.refund_fen, f.merchants),
        );
    }

    /// The cells as `payment_area_daily` rows of `institution`.
    ///
    /// # Errors
    /// Polars errors building or sorting the frame.
    pub fn finish(self, institution: &str) -> PolarsResult<DataFrame> {
        let between = vec![
            Column::new("area_code".into(), self.area.clone()),
            Column::new("city_code".into(), self.city),
            Column::new("urban_rural".into(), self.urban_rural),
        ];
        self.figures.frame(institution, between, Some(&self.area))
    }
}

/// A file's rejects as a frame, each carrying the file's SHA-256 (known only once the file is read).
///
/// # Errors
/// Polars errors building the frame.
pub fn rejects_with_sha(sink: &RejectSink, sha256: &str) -> PolarsResult<DataFrame> {
    let mut rejects = sink.to_frame()?;
    set_file_sha256(&mut rejects, sha256)?;
    Ok(rejects)
}

/// Sets the `file_sha256` column of a `rejects` frame to `sha256` (known only once the file is read).
///
/// # Errors
/// Polars errors replacing the column.
fn set_file_sha256(rejects: &mut DataFrame, sha256: &str) -> PolarsResult<()> {
    let n = rejects.height();
    rejects.with_column(Column::new_scalar(
        "file_sha256".into(),
        Scalar::from(PlSmallStr::from(sha256)),
        n,
    ))?;
    Ok(())
}
