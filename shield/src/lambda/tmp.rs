//! The tmp wipe between invocations (and at cold start), reported as metrics and events.

use crate::event::{Action, Details, Event};
use crate::policy::PolicyKind;
use crate::shield::Inner;

impl Inner {
    /// Wipe the tmp root (called with no invocation in flight). Never panics; whatever is
    /// left behind raises an alert event.
    pub(crate) fn wipe_tmp(&self, request_id: &str) {
        let Some(w) = &self.wiper else { return };
        let report = crate::intercept::shared::exempt(|| w.wipe());
        tracing::debug!(
            target: "fnshield",
            files = report.files_removed(),
            bytes = report.bytes_removed(),
            failures = report.failures().len(),
            micros = report.duration().as_micros() as u64,
            "tmp wiped"
        );
        // Its figures go into this invocation's EMF line (only if it removed or left
        // something), not into a line of their own.
        self.reporter.note_wipe(request_id, report.figures());
        if !report.is_clean() {
            self.reporter.record(Event::new(
                PolicyKind::ReadWriteTmp,
                Action::Alerted,
                Details::TmpNotWiped {
                    leftovers: report.failures().iter().map(|f| f.to_string()).collect(),
                },
                request_id,
            ));
        }
    }
}
