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
<<<<<<< HEAD
        // Only what the function and its children created since install (the journal the
        // interceptors keep), never what existed before (the snapshot) nor what other
        // processes created. Not installed: nothing is known, nothing is removed.
        let Some(before) = self.tmp_before.get() else {
            return;
        };
        let noted = crate::wipe::journal::JOURNAL.take();
        let report = crate::intercept::shared::exempt(|| w.wipe_created(&noted, before));
=======
        // The wipe runs exempt from the policies, so it runs on a shield thread with every
        // signal but SIGSYS blocked: no user signal handler can run inside the exemption.
        let Some(report) = crate::intercept::shared::exempt_on_shield_thread(|| w.wipe()) else {
            tracing::warn!(
                target: "fnshield",
                "tmp not wiped: the shield could not start its wipe thread"
            );
            return;
        };
>>>>>>> 99b820c (Issue 13 (kinds 1, 3, 4, 5, 6, 10): resolve path arguments to private objects, decide on their real location and act on exactly those; act only on genuine seccomp traps; run the wipe on a signal-blocked shield thread; refuse unclassified path syscalls with ENOSYS and an event; attack_fs tests under trap and notify)
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
