"""DuckDB with zstd Parquet on the rows `esdb-bench codecs --dump DIR` wrote: file size and an
ordered full read, to set beside ESDB's figures for the same events.

    cargo run --release -p esdb-bench -- codecs --events 1000000 --dump /tmp/visits
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install duckdb
    /tmp/venv/bin/python benches/duckdb_compare.py /tmp/visits

The Parquet file holds the same columns an ESDB L1 file does (host = grouping, ts, visitor and
city = indexes, data), sorted by (host, ts) as ESDB stores them, in row groups of 122,880 rows
(DuckDB's default). "Ordered read" reads every row in that order, all columns, into DuckDB's
result; medians of 5 runs.
"""

import os
import statistics
import sys
import time

import duckdb


def median_secs(run, runs=5):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    directory = sys.argv[1]
    source = os.path.join(directory, "visits.jsonl")
    con = duckdb.connect()
    con.execute(f"CREATE TABLE visits AS SELECT * FROM read_json('{source}', format='newline_delimited')")
    n = con.execute("SELECT count(*) FROM visits").fetchone()[0]
    print(f"{n} rows from {source}\n")
    print("| DuckDB | file | write | ordered read (all columns) | full read, storage order |")
    print("|---|---|---|---|---|")
    for codec in ["zstd", "snappy"]:
        path = os.path.join(directory, f"visits-{codec}.parquet")
        if os.path.exists(path):
            os.remove(path)
        start = time.perf_counter()
        con.execute(f"COPY (SELECT host, ts, visitor, city, data FROM visits ORDER BY host, ts) TO '{path}' (FORMAT parquet, COMPRESSION {codec})")
        write_secs = time.perf_counter() - start
        size = os.path.getsize(path)
        ordered = median_secs(lambda: con.execute(f"SELECT host, ts, visitor, city, data FROM read_parquet('{path}') ORDER BY host, ts").to_arrow_table())
        plain = median_secs(lambda: con.execute(f"SELECT host, ts, visitor, city, data FROM read_parquet('{path}')").to_arrow_table())
        print(f"| Parquet {codec} | {size / 1e6:.1f} MB | {write_secs:.2f} s | {ordered * 1e3:.0f} ms | {plain * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
