//! Deterministic datasets for the benchmarks: generated from a seed and a size, never downloaded.
//!
//! - `visits` follows the shape of the original ESDB benchmark: one row per visit with a host and
//!   a visitor drawn with Zipf-like popularity (weight `1/(rank+1)^0.8`) over `users`, a city
//!   drawn uniformly from 19, and timestamps uniform over 30 days of Unix seconds.
//! - `activity` is customer timelines: a customer drawn with the same Zipf shape, an event type
//!   with skewed frequencies, and a JSON payload of 80-600 bytes with realistic fields.

/// One generated event.
#[derive(Debug, Clone)]
pub struct Visit {
    /// Host name, the grouping in layout L1.
    pub host: String,
    /// Visitor id, an index in L1 and the space in L2.
    pub visitor: String,
    /// City, an index.
    pub city: &'static str,
    /// Unix seconds.
    pub ts: i64,
    /// The row as compact JSON.
    pub data: String,
}

const CITIES: [&str; 19] = [
    "Amsterdam",
    "Berlin",
    "Chicago",
    "Dublin",
    "Edinburgh",
    "Frankfurt",
    "Geneva",
    "Helsinki",
    "Istanbul",
    "Jakarta",
    "Kyoto",
    "Lisbon",
    "Madrid",
    "Nairobi",
    "Oslo",
    "Paris",
    "Quito",
    "Rome",
    "Seoul",
];

/// A small deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Draws ranks with weight `1 / (rank + 1)^0.8` by inverting the cumulative weights.
#[derive(Debug, Clone)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// A distribution over `n` ranks.
    pub fn new(n: usize) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(0.8);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    /// A rank in `0..n`.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().expect("at least one rank");
        let target = (rng.next_u64() as f64 / u64::MAX as f64) * total;
        self.cumulative.partition_point(|&c| c < target).min(self.cumulative.len() - 1)
    }
}

/// An endless, deterministic stream of visits over `users` hosts and visitors.
#[derive(Debug, Clone)]
pub struct Visits {
    rng: Rng,
    zipf: Zipf,
}

impl Visits {
    /// Visits drawn from `seed` over `users` hosts and visitors.
    pub fn new(users: usize, seed: u64) -> Self {
        Visits { rng: Rng::new(seed), zipf: Zipf::new(users) }
    }
}

impl Iterator for Visits {
    type Item = Visit;

    fn next(&mut self) -> Option<Visit> {
        let rng = &mut self.rng;
        let host = format!("host{}.example.com", self.zipf.sample(rng));
        let visitor = format!("visitor{}", self.zipf.sample(rng));
        let city = CITIES[rng.below(CITIES.len() as u64) as usize];
        let ts = 1_700_000_000 + rng.below(30 * 86_400) as i64;
        let data =
            format!(r#"{{"type":"visit","host":"{host}","city":"{city}","visitor":"{visitor}","timestamp":{ts}}}"#);
        Some(Visit { host, visitor, city, ts, data })
    }
}

/// `n` visits from `seed` over `users` hosts and visitors.
pub fn visits(n: usize, users: usize, seed: u64) -> Vec<Visit> {
    Visits::new(users, seed).take(n).collect()
}

/// The header of the `visits` CSV.
pub const VISITS_HEADER: &str = "type,host,city,visitor,timestamp";

impl Visit {
    /// The row as CSV, without a line end.
    pub fn csv(&self) -> String {
        format!("visit,{},{},{},{}", self.host, self.city, self.visitor, self.ts)
    }
}

/// One event of the `activity` dataset.
#[derive(Debug, Clone)]
pub struct Activity {
    /// Customer id, the space.
    pub customer: String,
    /// Event type, the index: page, click, purchase, signup or email.
    pub kind: &'static str,
    /// Unix seconds.
    pub ts: i64,
    /// The event as compact JSON (80-600 bytes), including `customer`, `type` and `timestamp`.
    pub data: String,
}

const KINDS: [(&str, u64); 5] = [("page", 60), ("click", 25), ("email", 9), ("purchase", 4), ("signup", 2)];
const PATHS: [&str; 8] = [
    "/",
    "/pricing",
    "/docs/getting-started",
    "/blog/event-streams",
    "/checkout",
    "/account/settings",
    "/search?q=esdb",
    "/careers",
];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.8.0",
];

/// An endless, deterministic stream of activity over `customers` customers.
#[derive(Debug, Clone)]
pub struct Activities {
    rng: Rng,
    zipf: Zipf,
}

impl Activities {
    /// Activity drawn from `seed` over `customers` customers.
    pub fn new(customers: usize, seed: u64) -> Self {
        Activities { rng: Rng::new(seed ^ 0x5bd1_e995), zipf: Zipf::new(customers) }
    }
}

impl Iterator for Activities {
    type Item = Activity;

    fn next(&mut self) -> Option<Activity> {
        let rng = &mut self.rng;
        let customer = format!("cust-{:06}", self.zipf.sample(rng));
        let mut roll = rng.below(100);
        let kind = KINDS.iter().find(|(_, weight)| {
            let hit = roll < *weight;
            roll = roll.saturating_sub(*weight);
            hit
        });
        let kind = kind.map_or("page", |(kind, _)| kind);
        let ts = 1_700_000_000 + rng.below(30 * 86_400) as i64;
        let path = PATHS[rng.below(PATHS.len() as u64) as usize];
        // Web events carry a user agent; emails and signups come from the backend.
        let agent = match kind {
            "page" | "click" => format!(r#","agent":"{}""#, AGENTS[rng.below(AGENTS.len() as u64) as usize]),
            _ => String::new(),
        };
        let session = rng.next_u64();
        let extra = match kind {
            "purchase" => format!(
                r#","order":{{"id":"ord-{}","total":{}.{:02},"currency":"EUR","items":{}}}"#,
                rng.below(1 << 40),
                rng.below(500),
                rng.below(100),
                1 + rng.below(6)
            ),
            "click" => format!(r#","element":"button#cta-{}","text":"Start free trial""#, rng.below(40)),
            "email" => format!(
                r#","campaign":"spring-{}","subject":"Your weekly summary is ready","opened":{}"#,
                rng.below(12),
                rng.below(2) == 1
            ),
            "signup" => format!(
                r#","plan":"{}","referrer":"https://news.example.org/item?id={}""#,
                ["free", "team", "business"][rng.below(3) as usize],
                rng.below(1 << 24)
            ),
            _ => String::new(),
        };
        let mut data = format!(
            r#"{{"customer":"{customer}","type":"{kind}","timestamp":{ts},"session":"{session:016x}","url":"https://shop.example.com{path}"{agent}{extra}"#
        );
        // Free-form properties spread payloads up to 600 bytes, most of them short, as real
        // event properties are.
        let spread = 1 + rng.below(521);
        let target = 80 + rng.below(spread) as usize;
        let room = target.saturating_sub(data.len() + r#","props":""}"#.len());
        data.push_str(&format!(r#","props":"{}"}}"#, "x".repeat(room)));
        Some(Activity { customer, kind, ts, data })
    }
}

/// Reads every event of `space` with `parts` threads, each listing and draining its own part of
/// the groupings (`Space::grouping_scans_part`) with borrowed events; returns the data bytes
/// read. Panics on a read error: the benchmark files are written by the harness itself.
pub fn read_in_parts(space: &esdb_read::Space, parts: usize) -> usize {
    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..parts)
            .map(|part| {
                scope.spawn(move || {
                    let mut total = 0usize;
                    for grouping in space.grouping_scans_part(part, parts) {
                        let mut scan = grouping.expect("readable grouping").1;
                        while let Some(event) = scan.next_ref() {
                            total += event.expect("readable event").data().len();
                        }
                    }
                    total
                })
            })
            .collect();
        readers.into_iter().map(|reader| reader.join().expect("reader thread")).sum()
    })
}
