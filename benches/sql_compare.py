"""`esdb sql` against DuckDB on Parquet: the same queries over the same events, each run as an
analyst would (a fresh query over the files; ESDB through the `esdb` command, whose process start
and file open are part of its time, DuckDB in-process on a fresh connection).

    cargo run --release -p esdb-bench -- codecs --events 1000000 --dump /tmp/visits
    cargo build --release -p esdb-tools
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install duckdb
    /tmp/venv/bin/python benches/sql_compare.py /tmp/visits target/release/esdb

The ESDB file is layout L2 plus groupings (space = visitor, grouping = host, index city); the
Parquet file (zstd) has the same columns sorted the same way (visitor, host, ts). Medians of 5.
"""

import os
import statistics
import subprocess
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
    directory, esdb = sys.argv[1], os.path.abspath(sys.argv[2])
    source = os.path.join(directory, "visits.jsonl")
    esdb_file = os.path.join(directory, "visits-l2.esdb")
    parquet = os.path.join(directory, "visits-sql.parquet")
    for path in (esdb_file, parquet):
        if os.path.exists(path):
            os.remove(path)
    subprocess.run([esdb, "import", source, "-o", esdb_file, "--space", "visitor", "--grouping", "host",
                    "--timestamp", "ts", "--index", "city", "--data", "data", "--quiet"], check=True)
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT visitor AS space, host AS grouping, ts AS timestamp, city, data
                      FROM read_json('{source}', format='newline_delimited') ORDER BY visitor, host, ts)
                   TO '{parquet}' (FORMAT parquet, COMPRESSION zstd)""")
    n = con.execute(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchone()[0]
    visitor = con.execute(f"SELECT space FROM read_parquet('{parquet}') GROUP BY space ORDER BY count(*) DESC LIMIT 1 OFFSET 100").fetchone()[0]
    queries = [
        ("count of one space", f"SELECT count(*) FROM v WHERE space = '{visitor}'", None),
        ("one space's events, in time order", f"SELECT timestamp, data FROM v WHERE space = '{visitor}' ORDER BY timestamp", None),
        ("count of one city", "SELECT count(*) FROM v WHERE array_has(city, 'Paris')", "SELECT count(*) FROM v WHERE city = 'Paris'"),
        ("top 5 groupings", "SELECT grouping, count(*) AS n FROM v GROUP BY grouping ORDER BY n DESC, grouping LIMIT 5", None),
        ("count in one day", "SELECT count(*) FROM v WHERE timestamp BETWEEN 1700864000 AND 1700950399", None),
        ("longest data (every event)", "SELECT max(length(data)) FROM v", None),
    ]
    print(f"{n} `visits` events; ESDB {os.path.getsize(esdb_file) / 1e6:.1f} MB (L2 + groupings), Parquet zstd {os.path.getsize(parquet) / 1e6:.1f} MB.\n")
    print("| query | `esdb sql` | DuckDB + Parquet | ratio |")
    print("|---|---|---|---|")
    for label, sql, duck_sql in queries:
        duck_sql = (duck_sql or sql).replace("FROM v", f"FROM read_parquet('{parquet}')")
        expected = subprocess.run([esdb, "sql", sql, "--table", f"v={esdb_file}", "--format", "csv"], check=True,
                                  capture_output=True, text=True).stdout
        got = duckdb.connect().execute(duck_sql).fetchall()
        first = expected.splitlines()[1] if len(expected.splitlines()) > 1 else ""
        if str(got[0][0]) != first.split(",")[0]:
            print(f"(answers differ for {label}: esdb {first!r}, duckdb {got[0]!r})", file=sys.stderr)
        esdb_secs = median_secs(lambda: subprocess.run([esdb, "sql", sql, "--table", f"v={esdb_file}", "--format", "csv"],
                                                        check=True, capture_output=True))
        duck_secs = median_secs(lambda: duckdb.connect().execute(duck_sql).fetchall())
        print(f"| {label} | {esdb_secs * 1e3:.0f} ms | {duck_secs * 1e3:.0f} ms | {duck_secs / esdb_secs:.2f}x |")


if __name__ == "__main__":
    main()
