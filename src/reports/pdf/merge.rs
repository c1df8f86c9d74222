//! Surgery on the page tree of a document printpdf made: listing and
//! removing pages, and adding the pages of a later run of pages to the
//! first run's document (see `serialise`).

use super::options::PdfError;

/// The pages of the page tree of a document printpdf made, in order.
pub(super) fn page_kids(pdf: &lopdf::Document) -> Vec<lopdf::ObjectId> {
    page_tree(pdf)
        .and_then(|tree| pdf.get_dictionary(tree).ok())
        .and_then(|tree| tree.get(b"Kids").ok())
        .and_then(|kids| kids.as_array().ok())
        .map(|kids| kids.iter().filter_map(|k| reference(Some(k))).collect())
        .unwrap_or_default()
}

/// Take a page out of a document printpdf made: the page, its resources
/// and its content stream (printpdf makes both for each page).
pub(super) fn remove_page(pdf: &mut lopdf::Document, page: lopdf::ObjectId) {
    if let Some(lopdf::Object::Dictionary(dict)) = pdf.objects.remove(&page) {
        for key in [b"Contents".as_slice(), b"Resources".as_slice()] {
            if let Some(id) = reference(dict.get(key).ok()) {
                pdf.objects.remove(&id);
            }
        }
    }
    set_kids(pdf, |kids| {
        kids.retain(|kid| reference(Some(kid)) != Some(page))
    });
}

/// Change the page tree root's `/Kids`, and its `/Count` with them.
fn set_kids(pdf: &mut lopdf::Document, change: impl FnOnce(&mut Vec<lopdf::Object>)) {
    let Some(tree) = page_tree(pdf) else { return };
    if let Ok(root) = pdf.get_dictionary_mut(tree) {
        let mut kids = root
            .get(b"Kids")
            .and_then(|k| k.as_array())
            .cloned()
            .unwrap_or_default();
        change(&mut kids);
        root.set("Count", kids.len() as i64);
        root.set("Kids", kids);
    }
}

/// Add the pages of a later run to the end of `base`, the first run: each
/// page with its content stream, and resources like the first page's (the
/// same fonts, subsets and images by the same names).
pub(super) fn append_pages(
    base: &mut lopdf::Document,
    pages: Vec<(lopdf::Dictionary, lopdf::Object)>,
) -> Result<(), PdfError> {
    let missing = || PdfError::Write("the first run of pages has no page tree".into());
    let tree = page_tree(base).ok_or_else(missing)?;
    let first = *page_kids(base).first().ok_or_else(missing)?;
    let resources = base
        .get_dictionary(first)
        .ok()
        .and_then(|page| page.get(b"Resources").ok())
        .and_then(|r| r.as_reference().ok())
        .and_then(|id| base.get_dictionary(id).ok())
        .cloned()
        .ok_or_else(missing)?;
    let mut added = Vec::new();
    for (mut page, contents) in pages {
        page.set("Contents", base.add_object(contents));
        page.set("Resources", base.add_object(resources.clone()));
        page.set("Parent", tree);
        added.push(lopdf::Object::Reference(base.add_object(page)));
    }
    set_kids(base, |kids| kids.extend(added));
    Ok(())
}

/// The page tree root of a document printpdf made.
fn page_tree(pdf: &lopdf::Document) -> Option<lopdf::ObjectId> {
    let catalog = pdf.catalog().ok()?;
    reference(catalog.get(b"Pages").ok())
}

/// The object id `object` holds, when it is a reference.
pub(super) fn reference(object: Option<&lopdf::Object>) -> Option<lopdf::ObjectId> {
    object.and_then(|o| o.as_reference().ok())
}
