//! Criterion benches, ids `op/shape/size`. Data: `visits` in layout L1 (space `visit`, grouping
//! host, indexes visitor and city) and L2 (space visitor, index city).

// criterion_group! generates an undocumented public function; nothing public leaves this binary.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use esdb_bench::{visits, Visit};
use esdb_read::Db;
use esdb_write::{Writer, WriterOptions};

const N: usize = 100_000;

fn write_l1(visits: &[Visit], path: &std::path::Path, options: WriterOptions) {
    let mut writer = Writer::create_with(path, options).unwrap();
    for v in visits {
        writer.add("visit", v.ts, &v.host, [("visitor", v.visitor.as_str()), ("city", v.city)], &v.data).unwrap();
    }
    writer.finish().unwrap();
}

fn write_l2(visits: &[Visit], path: &std::path::Path) {
    let mut writer = Writer::create(path).unwrap();
    for v in visits {
        writer.add(&v.visitor, v.ts, "", [("city", v.city)], &v.data).unwrap();
    }
    writer.finish().unwrap();
}

fn benches(c: &mut Criterion) {
    let data = visits(N, 20_000, 1);
    let dir = tempfile::tempdir().unwrap();
    let l1 = dir.path().join("l1.esdb");
    let l2 = dir.path().join("l2.esdb");
    write_l1(&data, &l1, WriterOptions::default());
    write_l2(&data, &l2);

    let mut group = c.benchmark_group("write");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(10);
    group.bench_function("write/l1/100k", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| write_l1(&data, &dir.path().join("w.esdb"), WriterOptions::default()),
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let db = Db::open(&l1).unwrap();
    let space = db.space("visit").unwrap().unwrap();
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("read/events_fwd/l1/100k", |b| {
        b.iter(|| space.events().unwrap().map(|e| e.unwrap().data().len()).sum::<usize>())
    });
    group.bench_function("read/events_rev/l1/100k", |b| {
        b.iter(|| space.events().unwrap().rev().map(|e| e.unwrap().data().len()).sum::<usize>())
    });
    let db2 = Db::open(&l2).unwrap();
    group.bench_function("read/full_scan_fwd/l2/100k", |b| {
        b.iter(|| {
            db2.spaces()
                .map(|s| s.unwrap().scan("").unwrap().map(|e| e.unwrap().data().len()).sum::<usize>())
                .sum::<usize>()
        })
    });
    let top_host = space.groupings().map(|g| g.unwrap()).max_by_key(|g| g.counts.n_events).unwrap();
    group.throughput(Throughput::Elements(top_host.counts.n_events));
    group.bench_function("read/grouping_scan/l1/top_host", |b| b.iter(|| space.scan(&top_host.name).unwrap().count()));
    let paris = space.index_value("city", "Paris").unwrap().unwrap();
    group.throughput(Throughput::Elements(paris.counts.n_events));
    group.bench_function("read/index_scan_dense/l1/city", |b| {
        b.iter(|| space.scan_index("city", "Paris").unwrap().count())
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("read/index_scan_sparse/l1/visitor", |b| {
        b.iter(|| space.scan_index("visitor", "visitor19999").unwrap().count())
    });
    let (lo, hi) = db.time_range().unwrap();
    let mid = lo + (hi - lo) / 2;
    group.bench_function("read/time_range/l1/one_hour", |b| {
        b.iter(|| space.scan(&top_host.name).unwrap().range(mid..mid + 3600).count())
    });
    group.bench_function("read/space_lookup_first_event/l2", |b| {
        b.iter(|| {
            db2.space(black_box("visitor1234")).unwrap().unwrap().scan("").unwrap().next().unwrap().unwrap().timestamp()
        })
    });
    group.bench_function("read/open/l1", |b| b.iter(|| Db::open(&l1).unwrap().len()));
    group.finish();
}

criterion_group!(esdb, benches);
criterion_main!(esdb);
