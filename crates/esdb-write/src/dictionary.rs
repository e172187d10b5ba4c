//! The zstd dictionary a file's blocks are compressed with: trained at `finish` from a sample
//! of the events' data, taken while they are added (every `n`-th event, `n` doubling whenever
//! the sample outgrows its budget, so the sample is spread over the whole input and the same
//! input always gives the same dictionary).

/// Sampled event data per byte of dictionary: zstd's guidance is about 100 times.
const SAMPLE_BYTES_PER_DICTIONARY_BYTE: usize = 100;
/// Most bytes of samples kept, whatever the dictionary size.
const MAX_SAMPLE_BYTES: usize = 16 << 20;

/// The sample of event data, and the dictionary size wanted.
#[derive(Debug)]
pub(crate) struct Sampler {
    dictionary_len: usize,
    budget: usize,
    every: u64,
    data: Vec<u8>,
    lens: Vec<usize>,
}

impl Sampler {
    /// A sampler for a dictionary of `dictionary_len` bytes.
    pub(crate) fn new(dictionary_len: usize) -> Sampler {
        Sampler {
            dictionary_len,
            budget: dictionary_len.saturating_mul(SAMPLE_BYTES_PER_DICTIONARY_BYTE).min(MAX_SAMPLE_BYTES),
            every: 1,
            data: Vec::new(),
            lens: Vec::new(),
        }
    }

    /// Offers the data of event number `seq`.
    pub(crate) fn offer(&mut self, seq: u64, data: &[u8]) {
        if seq % self.every != 0 || data.is_empty() {
            return;
        }
        self.data.extend_from_slice(data);
        self.lens.push(data.len());
        if self.data.len() > self.budget {
            self.thin();
        }
    }

    /// Keeps every other sample, and from now on every other event of those taken so far.
    fn thin(&mut self) {
        let (mut read, mut write) = (0usize, 0usize);
        let mut kept = Vec::with_capacity(self.lens.len() / 2 + 1);
        for (idx, &len) in self.lens.iter().enumerate() {
            if idx % 2 == 0 {
                self.data.copy_within(read..read + len, write);
                write += len;
                kept.push(len);
            }
            read += len;
        }
        self.data.truncate(write);
        self.lens = kept;
        self.every *= 2;
    }

    /// The trained dictionary, or `None` when the sample is too small for zstd to train one
    /// (the file is then written with plain zstd blocks).
    pub(crate) fn train(self) -> Option<Vec<u8>> {
        // zstd wants several samples per dictionary; below this, plain zstd does as well.
        if self.lens.len() < 64 || self.data.len() < self.dictionary_len.saturating_mul(4) {
            return None;
        }
        zstd::dict::from_continuous(&self.data, &self.lens, self.dictionary_len).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_sample_within_budget_and_spread_out() {
        let mut sampler = Sampler::new(1000);
        for seq in 0..100_000u64 {
            sampler.offer(seq, format!("{{\"event\":{seq},\"kind\":\"page\"}}").as_bytes());
        }
        assert!(sampler.data.len() <= sampler.budget + 64);
        assert!(sampler.every > 1);
        assert_eq!(sampler.lens.iter().sum::<usize>(), sampler.data.len());
        let dictionary = sampler.train().expect("enough samples");
        assert!(!dictionary.is_empty() && dictionary.len() <= 1000);
    }

    #[test]
    fn too_few_samples_train_nothing() {
        let mut sampler = Sampler::new(4096);
        sampler.offer(0, b"just one");
        assert!(sampler.train().is_none());
    }
}
