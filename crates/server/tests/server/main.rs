//! The server's integration tests, in one binary so the demo database is seeded once:
//! `api` drives an in-process server over HTTP, `demo` inspects the seeded data, `ratelimit` checks the
//! rate limits with tiny quotas, `pii` checks encryption at rest. They run on SQLite, or on a throwaway
//! PostgreSQL cluster with `LEADLINE_TEST_BACKEND=postgres` (see `common::TestDb`).
#![allow(clippy::unwrap_used, dead_code)]

mod admin;
mod analytics;
mod api;
mod archive;
mod authz_matrix;
mod backup;
mod call_quality;
mod common;
mod demo;
mod events;
mod integrations;
mod lead_sort;
mod leads;
mod openapi;
mod ops;
mod pii;
mod presence;
mod privacy;
mod proxy;
mod push_lead;
mod ratelimit;
mod schema;
mod sessions;
mod supervise;
mod updates;
mod writes;
