//! The mailer: SMTP through lettre (rustls; STARTTLS, implicit TLS or
//! plain; optional auth), a `file` back end writing `.eml` files under
//! `<data_dir>/outbox/` (the default), and a memory back end for tests;
//! and [`build`], which makes every mail a MIME message with text and HTML
//! alternatives.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType},
    transport::smtp::authentication::Credentials,
};

use crate::config::{MailTransport, Settings, SmtpSecurity};

/// A message kept by the memory back end.
#[derive(Debug, Clone)]
pub struct SentMail {
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The whole message as sent (RFC 5322).
    pub raw: String,
}

/// The messages the memory back end has "sent".
#[derive(Debug, Clone, Default)]
pub struct MemoryMailbox(Arc<Mutex<Vec<SentMail>>>);

impl MemoryMailbox {
    pub fn messages(&self) -> Vec<SentMail> {
        self.0.lock().expect("mailbox lock poisoned").clone()
    }
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(PathBuf),
    Memory(MemoryMailbox),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp(_) => f.write_str("Mailer::Smtp"),
            Self::File(dir) => write!(f, "Mailer::File({})", dir.display()),
            Self::Memory(_) => f.write_str("Mailer::Memory"),
        }
    }
}

impl Mailer {
    /// The mailer the settings describe.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        Ok(match settings.mail.transport {
            MailTransport::File => Self::File(settings.data_dir.join("outbox")),
            MailTransport::Memory => Self::Memory(MemoryMailbox::default()),
            MailTransport::Smtp => {
                let smtp = &settings.mail.smtp;
                let host = smtp.host.as_str();
                let builder = match smtp.security {
                    SmtpSecurity::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                            .with_context(|| format!("mail.smtp.host {host:?}"))?
                    }
                    SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                        .with_context(|| format!("mail.smtp.host {host:?}"))?,
                    SmtpSecurity::Plain => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(25)
                    }
                };
                let mut builder = builder.timeout(Some(Duration::from_secs(smtp.timeout_seconds)));
                if let Some(port) = smtp.port {
                    builder = builder.port(port);
                }
                if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
                    builder = builder.credentials(Credentials::new(
                        user.clone(),
                        password.expose().to_string(),
                    ));
                }
                Self::Smtp(builder.build())
            }
        })
    }

    /// The memory back end's mailbox, if this is one.
    pub fn mailbox(&self) -> Option<&MemoryMailbox> {
        match self {
            Self::Memory(mailbox) => Some(mailbox),
            _ => None,
        }
    }

    /// Hand one message over. An error means it was not accepted and may
    /// be retried.
    pub async fn send(&self, message: &Message) -> anyhow::Result<()> {
        match self {
            Self::Smtp(transport) => {
                transport
                    .send(message.clone())
                    .await
                    .context("the SMTP server did not accept the message")?;
            }
            Self::File(dir) => {
                crate::files::private_dir(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let id = message
                    .headers()
                    .get_raw("Message-ID")
                    .unwrap_or("message")
                    .to_string();
                let name: String = id
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let path = dir.join(format!("{}.eml", name.trim_matches('_')));
                let bytes = message.formatted();
                let target = path.clone();
                tokio::task::spawn_blocking(move || crate::files::write_private(&target, &bytes))
                    .await
                    .context("the writer task failed")?
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Self::Memory(mailbox) => {
                let to = message
                    .envelope()
                    .to()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                let raw = String::from_utf8_lossy(&message.formatted()).into_owned();
                mailbox
                    .0
                    .lock()
                    .expect("mailbox lock poisoned")
                    .push(SentMail { to, raw });
            }
        }
        Ok(())
    }
}

/// What a message is made of.
pub struct Email<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    /// `<…@…>`, stable for the same message to the same recipient.
    pub message_id: &'a str,
    /// The `Date:`: when it is sent, by the service's clock.
    pub date: DateTime<Utc>,
    pub text: String,
    pub html: String,
    /// Images the HTML shows by `cid:` reference.
    pub inline_images: Vec<InlineImage>,
    /// File name and bytes of a PDF to attach.
    pub pdf: Option<(String, Vec<u8>)>,
}

/// An image carried in the mail and shown by the HTML as `cid:{content_id}`.
pub struct InlineImage {
    /// Without the angle brackets: `chart.digest-2026-W47-1-…@example.com`.
    pub content_id: String,
    pub file_name: String,
    /// `image/png`.
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Build the message, always MIME: `multipart/alternative` of the text and
/// the HTML (the HTML inside `multipart/related` with its inline images
/// when it has any), inside `multipart/mixed` with the PDF when there is
/// one. Each text part is UTF-8 with the transfer encoding lettre finds
/// best for it (7bit, quoted-printable or base64); display names and the
/// subject are encoded words (RFC 2047) when they are not ASCII.
pub fn build(email: Email<'_>) -> anyhow::Result<Message> {
    let from: Mailbox = email.from.parse().context("mail.from")?;
    let to: Mailbox = email
        .to
        .parse()
        .with_context(|| format!("recipient {:?}", email.to))?;
    let builder = Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject)
        .date(SystemTime::from(email.date))
        .message_id(Some(email.message_id.to_string()));
    let text = SinglePart::plain(email.text);
    let html = SinglePart::html(email.html);
    let alternative = if email.inline_images.is_empty() {
        MultiPart::alternative().singlepart(text).singlepart(html)
    } else {
        let mut related = MultiPart::related().singlepart(html);
        for image in email.inline_images {
            related = related.singlepart(
                Attachment::new_inline_with_name(image.content_id, image.file_name).body(
                    image.bytes,
                    ContentType::parse(image.content_type)
                        .with_context(|| format!("content type {:?}", image.content_type))?,
                ),
            );
        }
        MultiPart::alternative().singlepart(text).multipart(related)
    };
    let message = match email.pdf {
        Some((name, bytes)) => {
            builder.multipart(MultiPart::mixed().multipart(alternative).singlepart(
                Attachment::new(name).body(bytes, ContentType::parse("application/pdf")?),
            ))?
        }
        None => builder.multipart(alternative)?,
    };
    Ok(message)
}
