//! SQL over an ESDB file, as a distributed engine would run it: the scan is split into
//! partitions (here 4, one per task), each reading its share of the spaces and groupings.
//!
//! ```sh
//! cargo run -p esdb-datafusion --example sql
//! ```

use std::sync::Arc;

use datafusion::prelude::{SessionConfig, SessionContext};
use esdb_datafusion::EsdbTable;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> datafusion::common::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("visits.esdb");
    let mut writer =
        esdb_write::Writer::create(&path).map_err(|err| datafusion::common::DataFusionError::External(err.into()))?;
    let cities = ["Paris", "Oslo", "Lima", "Rome"];
    for i in 0..100_000i64 {
        let visitor = format!("visitor-{}", i % 1000);
        let city = cities[(i % 7 % 4) as usize];
        let data = format!(r#"{{"visitor":"{visitor}","page":"/p/{}"}}"#, i % 37);
        writer
            .add(&visitor, 1_700_000_000 + i * 13, format!("host-{}", i % 5), [("city", city)], data)
            .map_err(|err| datafusion::common::DataFusionError::External(err.into()))?;
    }
    writer.finish().map_err(|err| datafusion::common::DataFusionError::External(err.into()))?;

    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(4));
    ctx.register_table("visits", Arc::new(EsdbTable::open(path.to_str().unwrap()).await?))?;
    let query = "SELECT city, count(*) AS visits, count(DISTINCT space) AS visitors FROM visits \
                 WHERE timestamp BETWEEN 1700100000 AND 1700900000 GROUP BY city ORDER BY visits DESC";
    ctx.sql(&format!("EXPLAIN {query}")).await?.show().await?;
    ctx.sql(query).await?.show().await?;
    ctx.sql("SELECT space, timestamp, data FROM visits WHERE space = 'visitor-42' AND array_has(city, 'Oslo') ORDER BY timestamp LIMIT 3")
        .await?
        .show()
        .await?;
    Ok(())
}
