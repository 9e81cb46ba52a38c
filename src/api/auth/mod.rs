//! Who is calling: API keys (`token`: made, hashed, read from `Authorization`), and the
//! `Caller` every guarded route is given (`caller`: the middleware that authenticates, with
//! and what a caller may see), and `key_cache` (each process's short memory of the keys it
//! looked up).

pub mod caller;
pub mod key_cache;
pub mod token;
