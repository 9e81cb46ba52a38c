//! Who is calling: API keys (`token`: made, hashed, read from `Authorization`), and the
//! `Caller` every guarded route is given (`caller`: the middleware that authenticates, with
//! and what a caller may see), and `key_cache` (each process's short memory of the keys it
//! looked up), and `rate_limit` (a token bucket per key).

pub mod caller;
pub mod key_cache;
pub mod rate_limit;
pub mod token;
