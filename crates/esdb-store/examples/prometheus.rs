//! A host application exporting a store's metrics with its own Prometheus exporter: the store
//! reports through the `metrics` facade, and whatever recorder the host installs receives it.
//! Here that is `metrics-exporter-prometheus`, rendering the text exposition format that a
//! Prometheus server scrapes (a service would serve it over HTTP, e.g. with the exporter's
//! `http-listener` feature).
//!
//! `cargo run -p esdb-store --example prometheus`

use esdb_store::{NewEvent, Store, StoreOptions};
use metrics_exporter_prometheus::PrometheusBuilder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Install the recorder before opening the store: the store takes its handles when it opens.
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default())?;
    let events: Vec<NewEvent> =
        (0..10_000).map(|i| NewEvent::new(format!("customer-{}", i % 100), i, "{\"type\":\"page\"}")).collect();
    store.append_batch(&events)?;
    store.sync()?;
    store.seal()?;
    let mut follower = store.follow(0)?;
    follower.next().transpose()?;
    // The same figures as a snapshot, for a health endpoint or a log line.
    let metrics = store.metrics();
    eprintln!(
        "appended {} events, {} fsyncs, {} partitions, {} follower(s) {} events behind",
        metrics.appended_events, metrics.fsyncs, metrics.partitions, metrics.followers, metrics.follower_lag
    );
    print!("{}", prometheus.render());
    Ok(())
}
