//! Deterministic datasets for the benchmarks.
//!
//! `visits` follows the shape of the original ESDB benchmark: one row per visit with a host and a
//! visitor drawn with Zipf-like popularity, a city drawn uniformly, and timestamps over 30 days.

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
