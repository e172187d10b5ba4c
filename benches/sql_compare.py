"""`esdb sql` against DuckDB on Parquet: the same queries over the same events, each run as an
analyst would (a fresh query over the files; ESDB through the `esdb` command, whose process start
and file open are part of its time, DuckDB in-process on a fresh connection).

    cargo run --release -p esdb-bench -- codecs --events 1000000 --dump /tmp/visits
    cargo build --release -p esdb-tools
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install duckdb
    /tmp/venv/bin/python benches/sql_compare.py /tmp/visits target/release/esdb

ESDB is measured in two layouts: L2 (space = visitor, index city; the grouping column is empty)
and L2 plus groupings (grouping = host as well: about 20 small streams per space). The Parquet
file (zstd) has the columns space, grouping (host), timestamp, city and data, sorted by (visitor,
host, ts). Medians of 5.
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
    parquet = os.path.join(directory, "visits-sql.parquet")
    if os.path.exists(parquet):
        os.remove(parquet)
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
        ("top 5 spaces", "SELECT space, count(*) AS n FROM v GROUP BY space ORDER BY n DESC, space LIMIT 5", None),
        ("top 5 groupings", "SELECT grouping, count(*) AS n FROM v GROUP BY grouping ORDER BY n DESC, grouping LIMIT 5", None),
        ("count in one day", "SELECT count(*) FROM v WHERE timestamp BETWEEN 1700864000 AND 1700950399", None),
        ("longest data (every event)", "SELECT max(length(data)) FROM v", None),
    ]
    layouts = [
        ("L2", "visits-l2.esdb", ["--space", "visitor", "--index", "city"]),
        ("L2 + groupings", "visits-l2g.esdb", ["--space", "visitor", "--grouping", "host", "--index", "city"]),
    ]
    print(f"{n} `visits` events; Parquet zstd {os.path.getsize(parquet) / 1e6:.1f} MB.\n")
    files = {}
    for layout, name, flags in layouts:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            os.remove(path)
        subprocess.run([esdb, "import", source, "-o", path, "--timestamp", "ts", "--data", "data", "--quiet", *flags],
                       check=True)
        files[layout] = path
        print(f"- ESDB {layout}: {os.path.getsize(path) / 1e6:.1f} MB")
    print()
    print("| query | " + " | ".join(f"`esdb sql`, {layout}" for layout, _, _ in layouts) + " | DuckDB + Parquet |")
    print("|---|" + "---|" * len(layouts) + "---|")
    for label, sql, duck_sql in queries:
        duck_sql = (duck_sql or sql).replace("FROM v", f"FROM read_parquet('{parquet}')")
        got = duckdb.connect().execute(duck_sql).fetchall()
        cells = []
        for layout, _, _ in layouts:
            command = [esdb, "sql", sql, "--table", f"v={files[layout]}", "--format", "csv"]
            answer = subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()
            first = answer[1].split(",")[0] if len(answer) > 1 else ""
            # With groupings of their own, ESDB's grouping column is the host, as Parquet's is.
            if (layout != "L2" or "grouping" not in sql) and str(got[0][0]) != first:
                print(f"(answers differ for {label} on {layout}: esdb {first!r}, duckdb {got[0]!r})", file=sys.stderr)
            cells.append(median_secs(lambda: subprocess.run(command, check=True, capture_output=True)))
        duck_secs = median_secs(lambda: duckdb.connect().execute(duck_sql).fetchall())
        shown = " | ".join(f"{secs * 1e3:.0f} ms ({duck_secs / secs:.2f}x)" for secs in cells)
        print(f"| {label} | {shown} | {duck_secs * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
