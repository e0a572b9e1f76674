//! The cities section (issue 18 part 5) in place of the region section of a province's report.

use super::{Block, Document, Table};

impl Document<'_> {
    /// Push the cities table, its note and the city bar chart when the report is a city-level one;
    /// `false` (nothing pushed) otherwise.
    pub(super) fn city_section(&self, b: &mut Vec<Block>) -> bool {
        let Some(section) = &self.extra.cities else {
            return false;
        };
        b.push(Block::Heading(
            2,
            format!(
                "3 分城市 By city: {} (全部目标品类 all targeted categories, {})",
                section.scope_name_zh, section.method
            ),
        ));
        b.push(Block::Table(Table {
            header: crate::city::HEADER.map(str::to_owned).to_vec(),
            rows: section.rows.iter().map(crate::city::cells).collect(),
        }));
        b.extend(section.notes().into_iter().map(Block::Para));
        for (i, chart) in self.charts.iter().enumerate() {
            if chart.name == "uplift_by_city" {
                b.push(Block::Chart(i));
            }
        }
        true
    }
}
