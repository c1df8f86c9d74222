//! Getting messages out: the [`Mailer`] (SMTP, `.eml` files or memory) and
//! Slack-compatible webhooks.

pub mod mailer;
pub mod webhook;

pub use mailer::{Mailer, MemoryMailbox, SentMail};
pub use webhook::WebhookClient;
