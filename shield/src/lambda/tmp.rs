//! The tmp wipe between invocations, reported as metrics and events: it removes only what
//! the function and its children created (see [`crate::wipe`]).

use crate::event::{Action, Details, Event};
use crate::policy::PolicyKind;
use crate::shield::Inner;

impl Inner {
    /// Wipe the tmp root (called with no invocation in flight). Never panics; whatever is
    /// left behind raises an alert event.
    pub(crate) fn wipe_tmp(&self, request_id: &str) {
        let Some(w) = &self.wiper else { return };
        // Only what the function and its children created since install (the journal the
        // interceptors keep), never what existed before (the snapshot) nor what other
        // processes created. Not installed: nothing is known, nothing is removed.
        let Some(before) = self.tmp_before.get() else {
            return;
        };
        let noted = crate::wipe::journal::JOURNAL.take();
        // The wipe runs exempt from the policies, so it runs on a shield thread with every
        // signal but SIGSYS blocked: no user signal handler can run inside the exemption.
        let wipe = || w.wipe_created(&noted, before);
        let Some(report) = crate::intercept::shared::exempt_on_shield_thread(wipe) else {
            tracing::warn!(
                target: "fnshield",
                "tmp not wiped: the shield could not start its wipe thread"
            );
            return;
        };
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
        if !report.is_clean() || noted.unrecorded > 0 {
            let mut leftovers: Vec<String> =
                report.failures().iter().map(|f| f.to_string()).collect();
            if noted.unrecorded > 0 {
                // The journal's hash set was full: nothing is removed on a guess.
                leftovers.push(format!(
                    "up to {} created paths were not recorded (the journal's set of {} slots \
                     was full) and were left in place",
                    noted.unrecorded,
                    crate::wipe::journal::SET
                ));
            }
            self.reporter.record(Event::new(
                PolicyKind::ReadWriteTmp,
                Action::Alerted,
                Details::TmpNotWiped { leftovers },
                request_id,
            ));
        }
    }
}
