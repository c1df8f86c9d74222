//! Debrief: post-mortem and remediation tracking.

pub mod api;
pub mod clock;
pub mod commands;
pub mod config;
pub mod connections;
pub mod db;
pub mod domain;
pub mod entities;
pub mod files;
pub mod ingest;
pub mod jobs;
pub mod metrics;
pub mod notify;
pub mod reports;
pub mod services;
pub mod startup;
pub mod statements;
pub mod telemetry;
pub mod trackers;
