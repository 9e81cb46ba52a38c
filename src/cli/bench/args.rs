//! What `planner bench` runs, and how hard.

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Whole,
    Queue,
    Apalis,
    Submit,
    Poll,
    Memory,
    Streams,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Plans to run through the whole path.
    #[arg(long, default_value_t = 400)]
    pub plans: usize,
    /// No-op jobs to run through the queue core (and apalis-postgres).
    #[arg(long, default_value_t = 20_000)]
    pub jobs: usize,
    /// Plans or jobs in flight in the worker; several (comma-separated) run one after another.
    #[arg(long, value_delimiter = ',', default_value = "16")]
    pub concurrency: Vec<usize>,
    /// Jobs the `queue` section's worker claims beyond its free slots (QUEUE_PREFETCH).
    #[arg(long, default_value_t = 0)]
    pub prefetch: usize,
    /// Owners the plans are spread over, each capped at OWNER_MAX_RUNNING plans running.
    #[arg(long, default_value_t = 32)]
    pub owners: usize,
    /// Seconds of load for `submit` and for `poll`.
    #[arg(long, default_value_t = 5)]
    pub http_seconds: u64,
    /// Concurrent clients submitting.
    #[arg(long, default_value_t = 16)]
    pub submit_clients: usize,
    /// Concurrent clients reading plans.
    #[arg(long, default_value_t = 64)]
    pub poll_clients: usize,
    /// Sections to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        value_enum,
        default_value = "whole,queue,apalis,submit,poll,memory,streams"
    )]
    pub only: Vec<Section>,
    /// Plans in flight at once in one worker process for `memory`.
    #[arg(long, default_value_t = 1000)]
    pub memory_plans: usize,
    /// How long the stand-in LLM takes to answer each call, for `memory`.
    #[arg(long, default_value_t = 2000)]
    pub llm_delay_ms: u64,
    /// Live event streams held open on one api process, for `streams`.
    #[arg(long, default_value_t = 1000)]
    pub streams: usize,
    /// Keep the scratch databases afterwards, to study their plans and events.
    #[arg(long)]
    pub keep_database: bool,
}
