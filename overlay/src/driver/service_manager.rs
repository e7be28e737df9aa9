//! Telling systemd (`Type=notify`) when the node is ready and when it is
//! stopping, through `$NOTIFY_SOCKET`; nothing when that is not set.

use sd_notify::NotifyState;

/// The node is up: socket bound, interface and control socket ready.
/// `status` is the one-line state `systemctl status` shows.
pub(crate) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// The node is shutting down.
pub(crate) fn stopping() {
    send(&[NotifyState::Stopping]);
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "telling the service manager");
    }
}
