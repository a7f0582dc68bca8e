//! The store contract as tests, written once and run against every backend.
//!
//! A backend's test crate implements [`Harness`] (how to get a handle on a
//! fresh, empty namespace) and instantiates the suite:
//!
//! ```ignore
//! struct MyHarness;
//! impl authn_store_conformance::Harness for MyHarness { /* ... */ }
//! authn_store_conformance::conformance_tests!(MyHarness);
//! ```
//!
//! Each suite function takes the harness and panics on a broken promise,
//! so the generated `#[tokio::test]`s report like hand-written ones.
//!
//! # Modules
//!
//! One module per aggregate; each `pub async fn name<H: Harness>(h: &H)` is
//! one promise, named in [`conformance_tests!`]:
//!
//! - [`users`]: creation, normalised unique emails, profiles, email and
//!   password changes, disable/enable, deletion, keyset listing.
//! - [`sessions`]: creation, validation, extension that never shortens or
//!   revives, revocation, authentication context (partial sessions,
//!   rotation, step-up), per-session second-factor attempts.
//! - [`tokens`]: one-time tokens: single use (also in races), typed,
//!   expiring, address-bound, dead for disabled users.
//! - [`mfa`]: methods and secrets, pending enrollment and confirmation,
//!   TOTP replay protection, recovery codes, reset.
//! - [`attempts`]: login attempts, lockout episodes, the atomic
//!   reserve-then-finish check, the per-user second-factor limit.
//! - [`audit`]: actor context, filters, pagination, no secrets in events.
//! - [`maintenance`]: batched cleanup of dead rows, statistics.
//! - [`admin_keys`]: admin API keys by hash, per namespace.
//! - [`isolation`]: nothing of one namespace visible or changeable from
//!   another, through every operation.
//! - [`handle`]: namespace names, policy and actor carried by handles,
//!   `migrate`/`ready`.
//! - [`support`]: helpers (`phc`, `token`, `events_of`, `assert_invalid`,
//!   fresh namespaces, `peers` for races), not tests.
//!
//! Race tests spawn N tasks spread over peers of one handle (handles on the
//! same namespace with pools of their own, [`Harness::peer`], as several
//! server processes would have) and assert outcomes (exactly one winner,
//! exact counts), never timing: a backend may serialise writers.
// A test suite fails loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;

use authn_core::StorePolicy;
use authn_core::store::StoreHandle;

pub mod admin_keys;
pub mod attempts;
pub mod audit;
pub mod handle;
pub mod isolation;
pub mod maintenance;
pub mod mfa;
pub mod sessions;
pub mod support;
pub mod tokens;
pub mod users;

/// How a backend's tests obtain store handles.
pub trait Harness: Send + Sync + Sized + 'static {
    /// The backend's handle type.
    type Store: StoreHandle;

    /// Prepare the backend (create and migrate a database...). Called once
    /// per test.
    fn start() -> impl Future<Output = Self> + Send;

    /// A handle on a fresh, empty namespace that no other test uses, with
    /// `policy`, a pool of at most `connections` connections, and an actor
    /// context (`test:harness`).
    fn store_with(
        &self,
        policy: StorePolicy,
        connections: u32,
    ) -> impl Future<Output = Self::Store> + Send;

    /// [`Harness::store_with`] with the default policy and 8 connections.
    fn store(&self) -> impl Future<Output = Self::Store> + Send {
        self.store_with(StorePolicy::default(), 8)
    }

    /// Another handle on the same database and namespace as `store`, with
    /// the same policy and actor but its own connection pool (of
    /// [`support::RACE_CONNECTIONS`]): another process's worth. Race tests
    /// spread their tasks over peers, so a backend that queues one pool's
    /// writers in-process (SQLite) is raced through the database's own
    /// locking too. Default: a clone of `store` (the same pool).
    fn peer(&self, store: &Self::Store) -> impl Future<Output = Self::Store> + Send {
        let same = store.clone();
        async move { same }
    }
}

/// Instantiates every conformance test for a [`Harness`] type, as one
/// `#[tokio::test]` per suite function, grouped in one module per aggregate.
///
/// The list below names every `pub async fn` of the suite modules; a unit
/// test of this crate fails when one is missing or extra.
#[macro_export]
macro_rules! conformance_tests {
    ($harness:ty) => {
        $crate::__conformance_modules!($harness;
            users {
                create_and_get_user_normalises_email_and_hides_the_hash,
                duplicate_email_is_a_typed_error_whatever_the_case,
                create_user_rejects_bad_emails,
                update_email_clears_verification_and_refuses_taken_addresses,
                disable_kills_sessions_and_tokens_for_good_and_enable_is_a_transition,
                delete_user_removes_dependents_but_keeps_audit,
                list_users_pages_by_keyset_in_creation_order,
                credentials_and_password_update,
                create_user_with_stores_the_name_and_verification,
                create_user_with_refuses_bad_input_and_duplicates,
                update_profile_sets_and_clears_the_name,
                update_profile_toggles_verification,
                a_no_op_update_writes_no_audit,
                update_profile_of_an_unknown_user_or_with_a_bad_name,
                nothing_made_during_a_disable_stays_usable,
                rotations_during_a_disable_leave_no_usable_session,
                list_users_default_page_is_100_and_limits_clamp_to_1000,
            }
            sessions {
                validate_returns_the_session_and_its_user,
                create_session_refuses_unknown_disabled_and_duplicate,
                expired_sessions_are_dead_and_cannot_be_extended,
                extend_never_shortens_and_audits_only_real_moves,
                revoke_one_all_and_by_id,
                list_sessions_newest_first_with_client_details_and_no_hash,
                concurrent_extend_and_revoke_never_resurrect,
                create_session_with_keeps_the_authentication_context,
                create_session_with_refuses_unknown_disabled_and_duplicate,
                a_session_concludes_its_login_attempt,
                parallel_sessions_concluding_one_attempt_make_one,
                a_prepared_session_exists_only_once_committed,
                an_aborted_prepared_session_leaves_no_session,
                a_prepared_session_is_refused_as_create_session_with_is,
                a_prepared_session_holds_up_nothing,
                rotate_replaces_a_partial_session_by_a_full_one,
                rotate_refuses_sessions_that_are_not_valid,
                rotate_onto_a_taken_hash_rolls_back,
                parallel_rotations_of_one_session_make_one_new_session,
                step_up_records_a_second_factor_on_a_full_session,
                reservations_stop_at_max_and_successes_give_slots_back,
                five_wrong_codes_revoke_the_session,
                parallel_codes_on_one_session_never_get_past_max,
                revoke_other_sessions_keeps_exactly_one,
                interleaved_codes_from_several_processes_never_get_past_max,
                rotations_during_a_revoke_all_leave_no_rotated_session,
            }
            tokens {
                consume_returns_user_and_email_exactly_once,
                wrong_type_does_not_use_the_token_up,
                expired_tokens_do_not_consume_and_zero_lifetime_is_invalid,
                default_lifetimes_per_type,
                concurrent_consumers_exactly_one_wins,
                disabled_users_tokens_are_dead_for_good,
                create_token_errors_are_typed,
                verify_email_sets_verified_and_is_single_use,
                tokens_are_bound_to_the_address_they_were_issued_for,
                invalidate_tokens_counts_only_live_tokens_of_that_type,
            }
            mfa {
                get_returns_secrets_of_one_type_oldest_first,
                list_returns_every_type_without_secrets_oldest_first,
                has_mfa_follows_add_and_remove,
                record_mfa_use_sets_last_used_at,
                add_mfa_checks_user_and_name,
                a_64k_secret_round_trips,
                concurrent_removals_exactly_one_wins,
                audit_events_never_contain_the_secret,
                a_pending_method_is_listed_but_does_not_enable_mfa,
                a_new_enrollment_replaces_only_the_pending_method_of_its_type,
                confirm_is_exactly_once_and_burns_its_step,
                totp_steps_only_move_forward,
                parallel_submissions_of_one_code_are_accepted_once,
                replace_recovery_codes_swaps_the_whole_set,
                replace_recovery_codes_of_an_unknown_user_with_an_empty_set,
                a_recovery_code_is_spent_once_and_only_by_its_user,
                parallel_uses_of_one_recovery_code_succeed_once,
                remove_all_mfa_resets_confirmed_and_pending,
                parallel_enrollments_leave_one_pending_method,
                parallel_replacements_leave_exactly_one_code_set,
                every_code_of_a_set_is_spent_once_across_processes,
                totp_steps_from_several_processes_are_each_accepted_at_most_once,
                a_replacement_racing_code_uses_leaves_the_new_set,
            }
            attempts {
                fifth_failure_locks_and_starts_the_episode,
                successes_are_recorded_but_neither_counted_nor_audited,
                is_locked_out_with_explicit_window_and_max,
                emails_are_normalised,
                concurrent_failures_are_all_counted_and_lock_once,
                a_new_episode_after_the_window_slides_logs_again,
                clear_attempts_ends_a_lockout_and_starts_a_new_episode,
                recent_attempts_newest_first_with_addresses,
                recent_attempts_default_and_clamped_limits,
                lockouts_are_per_email_and_per_namespace,
                a_late_finished_permit_does_not_log_the_episode_twice,
                parallel_guesses_never_get_past_the_limit,
                attempts_in_progress_count_and_successes_release_them,
                retry_after_tells_when_the_lock_lifts,
                clear_attempts_ends_the_lock_and_kills_open_permits,
                mfa_attempts_lock_the_user_after_the_limit,
                a_password_lockout_does_not_lock_the_second_factor,
                parallel_mfa_attempts_never_get_past_the_limit,
                failures_from_several_processes_start_one_lockout,
            }
            audit {
                actor_context_is_written_into_events_and_clears_to_none,
                with_actor_returns_a_copy_and_leaves_the_original_alone,
                filters_return_exactly_the_matching_events_newest_first,
                pagination_walks_every_event_exactly_once,
                limits_and_cursors_are_validated,
                no_secret_ever_reaches_an_audit_event,
                a_failed_operation_writes_no_audit_event,
            }
            maintenance {
                cleanup_deletes_exactly_the_dead_rows_in_batches,
                cleanup_on_an_empty_namespace_returns_zeros,
                cleanup_never_ends_a_lockout_early,
                parallel_cleanups_delete_each_dead_row_once,
                stats_count_the_namespace,
            }
            admin_keys {
                create_find_list_revoke,
                bad_names_and_duplicate_hashes_are_refused,
                keys_belong_to_their_namespace,
                audit_events_never_hold_the_key_or_its_hash,
            }
            isolation {
                nothing_of_one_namespace_is_visible_or_changeable_from_another,
                profiles_and_sessions_are_out_of_reach_of_another_namespace,
                mfa_methods_are_out_of_reach_of_another_namespace,
                attempt_permits_are_out_of_reach_of_another_namespace,
            }
            handle {
                namespace_names_are_validated,
                migrate_is_idempotent,
                copies_carry_policy_and_actor,
                a_peer_is_the_same_namespace_policy_and_actor,
                a_zero_session_lifetime_is_refused_naming_it,
                a_zero_lockout_window_is_refused_naming_it,
            }
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_modules {
    ($harness:ty; $( $module:ident { $( $name:ident ),* $(,)? } )*) => {
        $(
            mod $module {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        let harness = <$harness as $crate::Harness>::start().await;
                        $crate::$module::$name(&harness).await;
                    }
                )*
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Source files without suite functions.
    const NOT_SUITES: [&str; 2] = ["lib", "support"];

    /// `(module, function)` pairs named in the `conformance_tests!` list.
    fn listed() -> BTreeSet<(String, String)> {
        let src = include_str!("lib.rs");
        let start = src.find("__conformance_modules!($harness;").unwrap();
        let list = &src[start..];
        let list = &list[list.find(';').unwrap() + 1..list.find(");").unwrap()];
        let mut out = BTreeSet::new();
        let mut module = None;
        for tok in list.split(|c: char| c.is_whitespace() || c == ',') {
            match tok {
                "" => {}
                "{" => {}
                "}" => module = None,
                name if module.is_none() => module = Some(name.to_owned()),
                name => {
                    assert!(
                        out.insert((module.clone().unwrap(), name.to_owned())),
                        "{name} twice"
                    );
                }
            }
        }
        out
    }

    /// `(module, function)` pairs of every suite function in `src/`.
    fn defined() -> BTreeSet<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut out = BTreeSet::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let module = path.file_stem().unwrap().to_str().unwrap().to_owned();
            if NOT_SUITES.contains(&module.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("\npub async fn ") {
                let rest = &text[at + "\npub async fn ".len()..];
                let name = rest.split(['<', '(']).next().unwrap().to_owned();
                let signature: String = rest[..rest.find('{').unwrap()]
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                assert!(
                    signature.contains("<H:Harness>(h:&H"),
                    "{module}::{name}: a suite function takes `<H: Harness>(h: &H)`"
                );
                out.insert((module.clone(), name));
            }
        }
        out
    }

    /// Every suite function is instantiated by `conformance_tests!`, and
    /// the macro names nothing that does not exist.
    #[test]
    fn the_macro_lists_every_suite_function() {
        let (listed, defined) = (listed(), defined());
        let missing: Vec<_> = defined.difference(&listed).collect();
        let extra: Vec<_> = listed.difference(&defined).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "add to conformance_tests!: {missing:?}; remove: {extra:?}"
        );
        assert!(listed.len() > 10, "parsed the list: {listed:?}");
    }

    /// Suite functions carry a doc comment (the promise they check).
    #[test]
    fn every_suite_function_is_documented() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<_> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if line.starts_with("pub async fn ") {
                    let prev = if i > 0 { lines[i - 1] } else { "" };
                    assert!(prev.starts_with("///"), "{}: {line}", path.display());
                }
            }
        }
    }
}
