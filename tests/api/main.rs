//! Integration tests: each test spawns the real application on port 0 with a
//! database of its own (SQLite in a temp dir, or a fresh PostgreSQL database
//! when `TEST_DATABASE_URL` is set) and talks HTTP to it.

mod helpers;

mod auth;
mod backfill;
mod cleanup;
mod cli;
mod digest_support;
mod digests;
mod errors;
mod exports;
mod factors;
mod fake_jira;
mod imports;
mod incidents;
mod limits;
mod mails;
mod notifications;
mod openapi;
mod ops;
mod postgres_socket;
mod postmortems;
mod postmortems_scripts;
mod problems;
mod public_pages;
mod read_cache;
mod reads;
mod related;
mod remediations;
mod replicas;
mod roles;
mod search;
mod search_fill;
mod security;
mod shape;
mod sitreps;
mod statements;
mod status_updates;
mod storage;
mod timeline;
mod tour;
mod trackers;
mod trackers_jira;
mod webhooks;
mod wording;
