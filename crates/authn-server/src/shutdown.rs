//! Graceful shutdown on SIGTERM (container stop, systemd) or Ctrl-C.

use std::future::Future;

/// Resolves when the process receives SIGTERM (unix) or Ctrl-C (SIGINT).
///
/// For `axum::serve(..).with_graceful_shutdown(shutdown::signal())`. The
/// SIGTERM handler is installed when this is called, not when the future is
/// first polled, so a SIGTERM arriving in between is not lost (and does not
/// kill the process). If a handler cannot be installed, that is logged and
/// the other signal still works. Call it inside a Tokio runtime.
pub fn signal() -> impl Future<Output = ()> + Send {
    // Outside a runtime tokio would panic; report it like any other failure.
    #[cfg(unix)]
    let sigterm = match tokio::runtime::Handle::try_current() {
        Ok(_) => tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()),
        Err(err) => Err(std::io::Error::other(err)),
    };
    async move {
        let ctrl_c = async {
            if let Err(err) = tokio::signal::ctrl_c().await {
                tracing::error!(%err, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async {
            match sigterm {
                Ok(mut stream) => {
                    stream.recv().await;
                }
                Err(err) => {
                    tracing::error!(%err, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
            () = terminate => tracing::info!("SIGTERM received, shutting down"),
        }
    }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::test_support::in_child;
    use std::time::Duration;

    #[test]
    fn resolves_on_sigterm() {
        // In a child process: the SIGTERM handler stays installed for the
        // life of the process, which the other tests should not inherit.
        if in_child("shutdown::tests::resolves_on_sigterm", &[]).is_some() {
            return;
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let shutdown = signal();
            let mut shutdown = std::pin::pin!(shutdown);
            // Not yet: no signal has arrived.
            assert!(
                tokio::time::timeout(Duration::from_millis(50), &mut shutdown)
                    .await
                    .is_err()
            );
            let status = std::process::Command::new("kill")
                .args(["-TERM", &std::process::id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            tokio::time::timeout(Duration::from_secs(10), shutdown)
                .await
                .expect("signal() resolves after SIGTERM");
        });
    }
}
