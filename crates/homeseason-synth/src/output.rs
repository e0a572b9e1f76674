//! Writing files and keeping their inventory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::latent::Latent;
use crate::model::cat_index;
use crate::{FileInfo, SynthConfig, SynthError};

/// Writes files under the output directory and records each one.
pub(crate) struct Out<'a> {
    dir: &'a Path,
    pub(crate) files: Vec<FileInfo>,
}

impl<'a> Out<'a> {
    pub(crate) fn new(dir: &'a Path) -> Out<'a> {
        Out {
            dir,
            files: Vec::new(),
        }
    }

    /// Write `bytes` to `rel` (relative to the output directory), recording `rows` data rows.
    pub(crate) fn write(&mut self, rel: &str, bytes: &[u8], rows: usize) -> Result<(), SynthError> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| SynthError::Io {
                path: parent.to_owned(),
                source: e,
            })?;
        }
        std::fs::write(&path, bytes).map_err(|e| SynthError::Io {
            path: path.clone(),
            source: e,
        })?;
        let sha256 = hex::encode(Sha256::digest(bytes));
        self.files.push(FileInfo {
            path: PathBuf::from(rel),
            rows,
            bytes: bytes.len() as u64,
            sha256,
        });
        Ok(())
    }
}

/// Append an amount in yuan with two decimals (rounded half away from zero to the cent).
pub(crate) fn push_yuan(buf: &mut String, x: f64) {
    let cents = (x * 100.0).round() as i64;
    push_cents(buf, cents);
}

/// Append an amount given in cents.
pub(crate) fn push_cents(buf: &mut String, cents: i64) {
    if cents < 0 {
        buf.push('-');
    }
    let c = cents.unsigned_abs();
    let _ = write!(buf, "{}.{:02}", c / 100, c % 100);
}

/// Format with `decimals` decimals, never printing a negative zero.
pub(crate) fn fixed(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_owned()
    } else {
        s
    }
}

/// One region's sums of a truth file split into parts (channels, urban/rural classes).
struct PartSums<const P: usize> {
    /// Region key.
    region: String,
    /// Per part: Σ window value with the campaign, Σ without.
    sums: [(f64, f64); P],
    /// The columns between `true_uplift_pct` and `with_yuan` (the region's drawn parameters), joined
    /// with commas.
    params: String,
}

/// Write a truth file split into parts (channels, urban/rural classes): `header`, then for each
/// targeted category the rows of [`push_parts`], each region's sums and parameters from
/// `region(r, ci)` (region index, category index), in region order.
pub(crate) fn write_parts<const P: usize>(
    cfg: &SynthConfig,
    lat: &Latent,
    out: &mut Out<'_>,
    (file, header): (&str, &str),
    parts: [&str; P],
    nation_params: &str,
    mut region: impl FnMut(usize, usize) -> ([(f64, f64); P], String),
) -> Result<(), SynthError> {
    let mut buf = String::from(header);
    buf.push('\n');
    let mut rows = 0;
    for &c in &cfg.campaign.categories.targeted {
        let ci = cat_index(c);
        let regions: Vec<PartSums<P>> = lat
            .regions
            .iter()
            .enumerate()
            .map(|(r, reg)| {
                let (sums, params) = region(r, ci);
                PartSums {
                    region: reg.code.clone(),
                    sums,
                    params,
                }
            })
            .collect();
        rows += push_parts(
            &mut buf,
            (cfg.campaign.id.as_str(), c.id()),
            parts,
            &regions,
            nation_params,
        );
    }
    out.write(file, buf.as_bytes(), rows)
}

/// Append the rows of a split truth file for one category, `campaign_id,region_code,category,part,
/// true_uplift_pct,<params>,with_yuan,without_yuan`: each region's parts with sales, in order, then
/// the nation's (`000000`, the regions' sums, `nation_params` for the parameters). Returns the rows
/// written.
fn push_parts<const P: usize>(
    buf: &mut String,
    (campaign_id, category): (&str, &str),
    parts: [&str; P],
    regions: &[PartSums<P>],
    nation_params: &str,
) -> usize {
    let mut rows = 0;
    let mut line =
        |buf: &mut String, region: &str, k: usize, (with, without): (f64, f64), params: &str| {
            if without > 0.0 {
                let _ = writeln!(
                    buf,
                    "{campaign_id},{region},{category},{},{},{params},{},{}",
                    parts[k],
                    fixed(100.0 * (with / without - 1.0), 4),
                    fixed(with, 2),
                    fixed(without, 2)
                );
                rows += 1;
            }
        };
    let mut nation = [(0.0, 0.0); P];
    for r in regions {
        for (k, (total, sums)) in nation.iter_mut().zip(r.sums).enumerate() {
            total.0 += sums.0;
            total.1 += sums.1;
            line(buf, &r.region, k, sums, &r.params);
        }
    }
    for (k, sums) in nation.into_iter().enumerate() {
        line(
            buf,
            homeseason_schema::region::NATIONAL,
            k,
            sums,
            nation_params,
        );
    }
    rows
}

/// A CSV writer into memory.
pub(crate) fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new())
}

/// Finish an in-memory CSV writer.
pub(crate) fn csv_bytes(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, SynthError> {
    w.into_inner().map_err(|e| SynthError::Csv(e.to_string()))
}

/// Finish an in-memory CSV writer, in GB18030 when `gb18030` (the encoding some regions' offices
/// still save in), else UTF-8.
pub(crate) fn csv_bytes_in(w: csv::Writer<Vec<u8>>, gb18030: bool) -> Result<Vec<u8>, SynthError> {
    let bytes = csv_bytes(w)?;
    if !gb18030 {
        return Ok(bytes);
    }
    let text = String::from_utf8(bytes).map_err(|e| SynthError::Csv(e.to_string()))?;
    let (encoded, _, _) = encoding_rs::GB18030.encode(&text);
    Ok(encoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let mut s = String::new();
        push_yuan(&mut s, 1_234.565_000_1);
        s.push(',');
        push_yuan(&mut s, 0.004);
        s.push(',');
        push_cents(&mut s, -5);
        assert_eq!(s, "1234.57,0.00,-0.05");
        assert_eq!(fixed(-0.04, 1), "0.0");
        assert_eq!(fixed(-1.25, 1), "-1.2");
        assert_eq!(fixed(3.0, 2), "3.00");
    }
}
