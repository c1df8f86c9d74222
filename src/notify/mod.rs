//! Getting messages out: the [`Mailer`] (SMTP, `.eml` files or memory) and
//! Slack-compatible webhooks (signed, and only to allowed addresses).

pub mod address_policy;
pub mod mailer;
pub mod webhook;

pub use mailer::{Mailer, MemoryMailbox, SentMail};
pub use webhook::WebhookClient;
