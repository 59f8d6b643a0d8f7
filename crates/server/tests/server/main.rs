//! The server's integration tests, in one binary so the demo database is seeded once:
//! `api` drives an in-process server over HTTP, `demo` inspects the seeded data, `ratelimit` checks the
//! rate limits with tiny quotas.
#![allow(clippy::unwrap_used, dead_code)]

mod admin;
mod analytics;
mod api;
mod archive;
mod common;
mod demo;
mod integrations;
mod leads;
mod ops;
mod proxy;
mod ratelimit;
mod sessions;
mod writes;
