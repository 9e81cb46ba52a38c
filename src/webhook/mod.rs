//! Completion webhooks out: which addresses a callback may reach (`address`), a callback URL
//! checked and resolved to such an address (`target`), the signature a receiver verifies
//! (`signature`) and one signed POST (`post`). Knows no plans and no database: the outbox is
//! `store::webhooks`, the sender that drains it `queue::maintenance::webhook_sender`.

pub mod address;
pub mod post;
pub mod signature;
pub mod target;
