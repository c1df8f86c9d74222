//! Rendering: the documents as Markdown, HTML and PDF, leak-checked,
//! rendered in turn through the render queue.

use super::*;

/// One rendered document; its bytes are shared by the requests that asked
/// for it at the same time.
#[derive(Debug, Clone)]
pub struct RenderedDocument {
    pub bytes: Bytes,
    pub format: Format,
    pub title: String,
}

/// All three formats of one variant, checked.
pub(super) struct RenderedSet {
    pub(super) markdown: String,
    pub(super) html: String,
    pub(super) pdf: Vec<u8>,
    pub(super) title: String,
    pub(super) summary: String,
}

fn pdf_options(ctx: &Context, document: &PostmortemDocument, at: DateTime<Utc>) -> PdfOptions {
    let title = match document.variant {
        Variant::Internal => format!("{} post-mortem: {}", document.reference, document.title),
        Variant::Public => document.title.clone(),
    };
    let mut options = PdfOptions::new(title, at);
    options.subject = match document.variant {
        Variant::Internal => "Internal post-mortem".into(),
        Variant::Public => "Post-mortem".into(),
    };
    options.paper = ctx.settings.documents.paper_size;
    options.font_dirs = ctx.settings.documents.font_dirs.clone();
    if document.variant == Variant::Internal {
        options.marking = Some("INTERNAL".into());
    }
    options
}

/// The document in `formats`, and for a public one what a reader would
/// obtain from each format (for the leak check).
pub(super) fn render_set(
    ctx: &Context,
    document: PostmortemDocument,
    formats: &[Format],
    at: DateTime<Utc>,
) -> Result<(RenderedSet, BTreeMap<&'static str, String>), ServiceError> {
    let templates = Templates::load(ctx.settings.documents.templates_dir.as_deref())
        .map_err(|e| ServiceError::Internal(e.into()))?;
    let markdown = reports::markdown::render_postmortem(&templates, &document)
        .map_err(|e| ServiceError::Internal(e.into()))?;
    let options = pdf_options(ctx, &document, at);
    let summary = summary_line(
        document
            .sections
            .iter()
            .find(|s| s.key == "public_summary" || s.key == "summary")
            .map_or("", |s| s.body.as_str()),
    );
    let variant = document.variant;
    // Everything shown is in the Markdown now: the document (as large as
    // the record) goes before the layout.
    drop(document);
    let checked = variant == Variant::Public;
    let mut visible = BTreeMap::new();
    if checked {
        visible.insert("Markdown", markdown.clone());
    }
    let html = if formats.contains(&Format::Html) {
        let body = html::markdown_to_html(&markdown);
        let marking = (variant == Variant::Internal).then_some("INTERNAL");
        let page = html::page(&options.title, "en", &body, marking);
        if checked {
            let mut readable = html::visible_text(&page);
            readable.push('\n');
            readable.push_str(&html::attribute_values(&page));
            visible.insert("HTML", readable);
        }
        page
    } else {
        String::new()
    };
    let pdf = if !formats.contains(&Format::Pdf) {
        Vec::new()
    } else if checked {
        let (bytes, text) = pdf::render_pdf_with_text(&markdown, &options)
            .map_err(|e| ServiceError::Internal(e.into()))?;
        visible.insert("PDF", text);
        bytes
    } else {
        pdf::render_pdf(&markdown, &options).map_err(|e| ServiceError::Internal(e.into()))?
    };
    Ok((
        RenderedSet {
            markdown,
            html,
            pdf,
            title: options.title,
            summary,
        },
        visible,
    ))
}

/// Fail closed: refuse the document if any rule still matches what a reader
/// would obtain from it (`visible`: each format's text, link targets and
/// metadata, the index entry, the address), naming the term and the source
/// it came from.
fn leak_check(
    rules: &RedactionRules,
    visible: &BTreeMap<&'static str, String>,
    sources: &Sources,
) -> Result<(), ServiceError> {
    for (shown_in, text) in visible {
        if let Some(leak) = rules.find_leak(text) {
            return Err(leak_error(
                &leak,
                shown_in,
                leak_source(rules, &leak, sources),
            ));
        }
    }
    Ok(())
}

/// The field a leak came from: the first source in which the rule still
/// matches after redaction, as written, then with Markdown formatting
/// ignored (a term split by emphasis is joined again when rendered).
fn leak_source(rules: &RedactionRules, leak: &Leak, sources: &Sources) -> Option<String> {
    [false, true].into_iter().find_map(|ignore_formatting| {
        sources
            .iter()
            .find(|(_, text)| rules.still_leaks(leak, text, ignore_formatting))
            .map(|(field, _)| field.clone())
    })
}

pub(super) fn leak_error(leak: &Leak, shown_in: &str, source: Option<String>) -> ServiceError {
    let what = match &leak.pattern {
        Some(pattern) => format!("`{}` (matched by {pattern})", leak.term),
        None if leak.shown.is_empty() || leak.shown == leak.term => format!("`{}`", leak.term),
        None => format!("`{}` (written as {:?})", leak.term, leak.shown),
    };
    let from = source
        .clone()
        .unwrap_or_else(|| "the public document template".into());
    ServiceError::validation(
        source.unwrap_or_else(|| "template".into()),
        format!(
            "the public document was refused: {what}, {}, would appear in its {shown_in}; \
             it comes from {from}. Reword it there (look-alike letters, invisible characters, \
             escapes and Markdown formatting inside a term do not hide it) or add a rule \
             that covers it",
            leak.origin.describe()
        ),
    )
}

/// The one-line summary the index and the feed show: the text of the
/// summary's Markdown (formatting dropped as a reader's eyes drop it),
/// cut at a word boundary. Computed before the leak check, which reads it.
pub fn summary_line(markdown: &str) -> String {
    use pulldown_cmark::{Event, Parser, TagEnd};
    let mut text = String::new();
    for event in Parser::new_ext(markdown, html::markdown_options()) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::End(
                TagEnd::Emphasis
                | TagEnd::Strong
                | TagEnd::Strikethrough
                | TagEnd::Link
                | TagEnd::Image,
            ) => {}
            Event::SoftBreak | Event::HardBreak | Event::End(_) => text.push(' '),
            Event::Html(t) | Event::InlineHtml(t) => text.push_str(&t),
            _ => {}
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= 280 {
        return text;
    }
    let cut: String = text.chars().take(277).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > 200 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

pub(super) async fn stored_rules(
    ctx: &Context,
    incident_id: Uuid,
) -> Result<Vec<crate::entities::redaction_rule::Model>, ServiceError> {
    redactions::rules_for(&ctx.db, incident_id).await
}

/// What a post-mortem document is made from: the incident's record and its
/// redaction rules, as read.
struct DocumentInputs {
    record: Record,
    stored: Vec<crate::entities::redaction_rule::Model>,
}

impl DocumentInputs {
    async fn load(ctx: &Context, reference: IncidentRef) -> Result<Self, ServiceError> {
        let record = load_record(ctx, reference).await?;
        let stored = stored_rules(ctx, record.view.incident.id).await?;
        Ok(Self { record, stored })
    }

    /// The SHA-256 of everything the document of `variant` in `format` is
    /// made from: the record and the rules as read, the settings, and the
    /// templates as they load now. The same fingerprint makes the same
    /// document, but for the time it says it was generated.
    fn fingerprint(
        &self,
        ctx: &Context,
        variant: Variant,
        format: Format,
    ) -> Result<Fingerprint, ServiceError> {
        use std::fmt::Write as _;
        /// Text written straight into the hash: the debug form of a large
        /// record is never held whole.
        struct Hashing(Sha256);
        impl std::fmt::Write for Hashing {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0.update(s.as_bytes());
                Ok(())
            }
        }
        let templates = Templates::load(ctx.settings.documents.templates_dir.as_deref())
            .map_err(|e| ServiceError::Internal(e.into()))?;
        let mut hash = Hashing(Sha256::new());
        // Every field of every value, in its debug form (which the entities
        // and settings derive); secrets print as a mask and change nothing
        // a document shows.
        write!(
            hash,
            "{variant:?}\n{format:?}\n{:?}\n{:?}\n{:?}\n",
            self.record, self.stored, ctx.settings
        )
        .expect("hashing cannot fail");
        for (name, _) in reports::EMBEDDED_TEMPLATES {
            write!(hash, "{name}\n{:?}\n", templates.source(name)).expect("hashing cannot fail");
        }
        Ok(hash.0.finalize().into())
    }
}

/// Render one document of an incident's post-mortem.
///
/// Identical requests share a render (see [`render_queue`]): each request
/// reads what its document is made from and takes its fingerprint
/// ([`DocumentInputs::fingerprint`]); a render of that fingerprint not done
/// when the request arrived answers it too. Any change to the record, the
/// redaction rules, the settings or the templates, and the other variant or
/// format, make another fingerprint, hence a render of its own.
pub async fn render(
    ctx: &Context,
    reference: IncidentRef,
    variant: Variant,
    format: Format,
) -> Result<RenderedDocument, ServiceError> {
    // A place in the queue first (a full queue refuses at once), then a
    // turn to read: a record is read by as many requests at once as there
    // are renders.
    let ticket = ctx.renders.enter()?;
    let arrival = ctx.renders.documents.arrive();
    let lookup = ctx.renders.look_up().await;
    let inputs = DocumentInputs::load(ctx, reference).await?;
    let key = inputs.fingerprint(ctx, variant, format)?;
    let number = inputs.record.view.incident.number;
    let incident = IncidentRef::Id(inputs.record.view.incident.id);
    let leader = ctx.clone();
    let flight = ctx
        .renders
        .documents
        .run(arrival, key, move || async move {
            render_in_turn(leader, ticket, lookup, inputs, incident, variant, format)
                .await
                .map_err(Arc::new)
        })
        .await;
    let (outcome, shared) = flight.ok_or_else(|| {
        ServiceError::Internal(anyhow::anyhow!(
            "the render of the {} {} of {} stopped",
            variant.as_str(),
            format.extension(),
            IncidentRef::display(number)
        ))
    })?;
    let outcome_label = if shared { "shared" } else { "rendered" };
    ctx.metrics
        .documents
        .with_label_values(&[outcome_label])
        .inc();
    outcome.map_err(|err| ServiceError::replay(&err))
}

/// The render of a document no other request is rendering: a turn, then
/// the render. With a turn free now, what was read is rendered; else its
/// memory is given back while waiting, and the record is read again when
/// the turn comes, so what is rendered is at least as new as what every
/// request sharing it read.
async fn render_in_turn(
    ctx: Context,
    ticket: RenderTicket,
    lookup: OwnedSemaphorePermit,
    inputs: DocumentInputs,
    incident: IncidentRef,
    variant: Variant,
    format: Format,
) -> Result<RenderedDocument, ServiceError> {
    let (turn, inputs) = match ticket.try_turn() {
        Ok(turn) => {
            drop(lookup);
            (turn, inputs)
        }
        Err(ticket) => {
            drop((inputs, lookup));
            let turn = ticket.turn().await;
            (turn, DocumentInputs::load(&ctx, incident).await?)
        }
    };
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        render_blocking(&ctx, inputs, variant, format)
    })
    .await
    .map_err(|e| ServiceError::Internal(e.into()))?
}

fn render_blocking(
    ctx: &Context,
    inputs: DocumentInputs,
    variant: Variant,
    format: Format,
) -> Result<RenderedDocument, ServiceError> {
    let at = ctx.now();
    let DocumentInputs { record, stored } = inputs;
    let (document, rules, sources) = document_of(ctx, &record, &stored, variant, at)?;
    // The document holds all it shows: the record goes before the layout.
    drop((record, stored));
    let set = checked_set(ctx, document, &rules, &sources, &[format], at)?;
    let bytes = match format {
        Format::Markdown => set.markdown.into_bytes(),
        Format::Html => set.html.into_bytes(),
        Format::Pdf => set.pdf,
    };
    Ok(RenderedDocument {
        bytes: Bytes::from(bytes),
        format,
        title: set.title,
    })
}

/// The document of `variant` in `formats`, generated at `at`; a public one
/// is rendered in every format and passes the leak check, or is refused.
pub(super) fn render_checked(
    ctx: &Context,
    record: &Record,
    stored: &[crate::entities::redaction_rule::Model],
    variant: Variant,
    formats: &[Format],
    at: DateTime<Utc>,
) -> Result<RenderedSet, ServiceError> {
    let (document, rules, sources) = document_of(ctx, record, stored, variant, at)?;
    checked_set(ctx, document, &rules, &sources, formats, at)
}

/// The document of `variant` made from the record, with the redaction
/// rules it was made with and the redacted text of each field (for the
/// leak check).
fn document_of(
    ctx: &Context,
    record: &Record,
    stored: &[crate::entities::redaction_rule::Model],
    variant: Variant,
    at: DateTime<Utc>,
) -> Result<(PostmortemDocument, RedactionRules, Sources), ServiceError> {
    let rules = match variant {
        Variant::Public => public_rules(ctx, record, stored)?,
        Variant::Internal => RedactionRules::default(),
    };
    let mut sources = Vec::new();
    let document = build_document(ctx, record, variant, &rules, &mut sources, at)?;
    Ok((document, rules, sources))
}

/// [`render_set`], checked: a public document is rendered in every format
/// and passes the leak check, or is refused.
fn checked_set(
    ctx: &Context,
    document: PostmortemDocument,
    rules: &RedactionRules,
    sources: &Sources,
    formats: &[Format],
    at: DateTime<Utc>,
) -> Result<RenderedSet, ServiceError> {
    let variant = document.variant;
    // Fail closed: a public document is checked in every format, whichever
    // one was asked for.
    let all = [Format::Markdown, Format::Html, Format::Pdf];
    let formats = if variant == Variant::Public {
        &all[..]
    } else {
        formats
    };
    let (set, mut visible) = render_set(ctx, document, formats, at)?;
    if variant == Variant::Public {
        // What the index and the feed will show of it.
        visible.insert("index entry", format!("{}\n{}", set.title, set.summary));
        leak_check(rules, &visible, sources)?;
    }
    Ok(set)
}
