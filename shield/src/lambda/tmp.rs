//! The tmp wipe between invocations, reported as metrics and events: it removes only what
//! the function and its children created (see [`crate::wipe`]).

use crate::event::{Action, Details, Event};
use crate::policy::PolicyKind;
use crate::shield::Inner;

impl Inner {
    /// Called as each invocation starts; the first time, what the function's own cold-start
    /// code created under the tmp root after `install()` (a model downloaded at init, a cache
    /// warmed for later invocations) joins the snapshot: it is warm state, not something an
    /// invocation planted, and stays. Only when the journal noted something is the root walked
    /// again (exempt from the policies, on a shield thread).
    pub(crate) fn adopt_init_tmp(&self) {
        let Some(w) = &self.wiper else { return };
        self.tmp_init_adopted.call_once(|| {
            let mut before = self.tmp_before.lock().unwrap_or_else(|p| p.into_inner());
            if before.is_none() {
                return; // not installed: nothing is noted, nothing is removed
            }
            let noted = crate::wipe::journal::JOURNAL.take();
            if noted.paths.is_empty() && noted.lost == 0 {
                return;
            }
            let root = w.root();
            // The journal no longer names them, so they stay either way; the snapshot also
            // keeps them if an invocation moves them.
            if let Some(snap) = crate::intercept::shared::exempt_on_shield_thread(|| {
                crate::wipe::Snapshot::take(root)
            }) {
                *before = Some(snap);
            }
        });
    }

    /// Wipe the tmp root (called with no invocation in flight). Never panics; whatever is
    /// left behind raises an alert event.
    pub(crate) fn wipe_tmp(&self, request_id: &str) {
        let Some(w) = &self.wiper else { return };
        // Only what the function and its children created since install (the journal the
        // interceptors keep), never what existed before (the snapshot) nor what other
        // processes created. Not installed: nothing is known, nothing is removed.
        let before = self.tmp_before.lock().unwrap_or_else(|p| p.into_inner());
        let Some(before) = before.as_ref() else {
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
