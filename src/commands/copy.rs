//! `gatehouse copy --to URL`: every table from the configured database into another, in
//! pages, parents first, with progress.

use anyhow::{Context, bail};

use crate::config::Config;
use crate::progress::{Progress, Unit};
use crate::store::{self, DynStore, Table};

/// Rows read and written per round trip.
const PAGE: u32 = 500;

pub async fn copy(config: &Config, to: &str, force: bool) -> anyhow::Result<()> {
    // Emptying the target (--force) would empty the source too.
    if to == config.database_url || crate::files::same_sqlite_file(to, &config.database_url) {
        bail!("--to names the configured database itself");
    }
    let from = store::connect(&config.database_url).await?;
    let target = store::connect(to).await.context("cannot open the target database")?;
    let mut total = 0;
    for table in Table::ALL {
        total += from.count_rows(table).await?;
    }
    let mut progress = Progress::new("rows copied", Unit::Rows, Some(total));
    let report = copy_all(&from, &target, force, |_, rows| progress.add(rows)).await?;
    for (table, rows) in report {
        println!("{:<16} {rows} rows", table.name());
    }
    println!("{}", progress.finish());
    println!("copied {} to {}", crate::config::redact_url(&config.database_url), crate::config::redact_url(to));
    Ok(())
}

/// How many rows of each table were copied.
pub type CopyReport = Vec<(Table, u64)>;

/// Copies every table of `from` into `to`. A target holding any row is refused unless
/// `force`, which empties it first.
/// `on_page` hears of every page copied (its table and rows), for progress.
async fn copy_all(from: &DynStore, to: &DynStore, force: bool, mut on_page: impl FnMut(Table, u64)) -> anyhow::Result<CopyReport> {
    let mut occupied = Vec::new();
    for table in Table::ALL {
        let count = to.count_rows(table).await?;
        if count > 0 {
            occupied.push(format!("{} ({count} rows)", table.name()));
        }
    }
    if !occupied.is_empty() {
        if !force {
            anyhow::bail!("the target database is not empty: {}; pass --force to replace its contents", occupied.join(", "));
        }
        for table in Table::ALL.iter().rev() {
            to.clear_rows(*table).await?;
        }
    }
    let mut report = Vec::new();
    for table in Table::ALL {
        let mut copied = 0u64;
        loop {
            let rows = from.export_rows(table, copied, PAGE).await?;
            let n = rows.len() as u64;
            if n == 0 {
                break;
            }
            to.import_rows([rows]).await?;
            on_page(table, n);
            copied += n;
            if n < u64::from(PAGE) {
                break;
            }
        }
        report.push((table, copied));
    }
    Ok(report)
}
