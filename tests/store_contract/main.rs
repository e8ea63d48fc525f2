//! The store contract, written once and run against every [`Store`] implementation: each case
//! below is an `async fn` taking a [`backend::Backend`], instantiated once per backend, so every
//! case shows up as `embedded::<case>` and `mongo::<case>`.
//!
//! The MongoDB cases need `PLADMED_TEST_MONGODB_URI` (`scripts/test.sh` starts a server and sets
//! it); `PLADMED_TEST_SKIP_MONGODB=1` skips them.
//!
//! [`Store`]: pladmed::store::Store

/// Asserts that a store call was refused with an error matching `$error`.
macro_rules! assert_refused {
    ($outcome:expr, $error:pat) => {{
        let outcome = $outcome;
        let expected = stringify!($error);
        assert!(
            matches!(outcome, Err($error)),
            "expected {expected}, got {outcome:?}"
        );
    }};
}

mod accounts;
mod assignments;
mod backend;
mod fixtures;
mod import;
mod interleaving;
mod lifecycle;
mod monitoring;
mod operations;
mod probes;
mod quota;
mod removal;
mod results;
mod stream;

/// Declares one test per (backend, case). A backend that is not configured (MongoDB skipped)
/// passes its cases without running them.
macro_rules! contract {
    ($($group:ident::$case:ident),* $(,)?) => {
        contract!(@for embedded: $($group::$case),*);
        contract!(@for mongo: $($group::$case),*);
    };
    (@for $backend:ident: $($group:ident::$case:ident),*) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(backend) = crate::backend::Backend::$backend() {
                        crate::$group::$case(&backend).await;
                        backend.finish().await;
                    }
                }
            )*
        }
    };
}

contract!(
    accounts::user_is_found_by_email_and_by_id,
    accounts::duplicate_email_is_refused,
    accounts::duplicate_email_is_refused_after_delete_all,
    accounts::add_credits_returns_the_updated_user,
    accounts::add_credits_to_unknown_user_is_none,
    accounts::add_credits_past_the_maximum_is_refused,
    probes::probes_are_listed_in_creation_order_and_by_owner,
    probes::probes_are_found_by_id_in_the_order_asked,
    probes::link_up_replaces_the_link_state,
    probes::link_down_needs_the_current_session,
    probes::reset_links_clears_only_that_instance,
    probes::racing_registrations_never_pass_the_per_owner_cap,
    probes::a_probe_of_an_unknown_owner_is_refused,
    removal::revoking_bumps_the_token_version_and_clears_the_link,
    removal::revoking_an_unknown_probe_is_none,
    removal::removing_a_probe_hides_it_and_keeps_its_results,
    operations::create_operation_debits_exactly_and_assigns_every_probe,
    operations::operations_are_listed_in_creation_order_and_by_owner,
    operations::not_enough_credits_changes_nothing,
    operations::concurrent_operations_never_overdraw,
    operations::concurrent_operations_of_several_owners_are_each_paid_exactly,
    operations::pending_operations_are_assigned_and_unexpired,
    assignments::accepting_then_finishing_moves_in_use_credits,
    assignments::finishing_without_accepting_releases_nothing,
    assignments::repeated_or_backward_moves_change_nothing,
    assignments::release_saturates_at_zero,
    assignments::moves_without_a_link_still_advance,
    assignments::unknown_assignment_is_not_assigned,
    results::result_is_stored_and_paid_once,
    results::concurrent_duplicates_store_one_and_pay_once,
    results::same_code_elsewhere_is_a_new_result,
    results::results_of_a_probe_without_the_assignment_are_refused,
    results::reward_past_the_maximum_stores_nothing,
    results::results_are_paginated_in_storage_order,
    quota::results_past_the_quota_are_refused_unpaid_but_duplicates_still_ack,
    quota::results_measured_outside_the_window_are_refused_unpaid,
    quota::concurrent_results_never_pass_the_quota,
    quota::resent_duplicates_never_crowd_out_the_last_new_result,
    quota::each_probe_has_its_own_quota_and_it_survives_reopening,
    interleaving::results_of_many_probes_and_their_resends_are_stored_and_paid_once,
    interleaving::debits_and_rewards_of_one_owner_interleave_exactly,
    lifecycle::ping_answers,
    lifecycle::data_survives_reopening,
    lifecycle::delete_all_empties_every_collection,
    monitoring::a_marker_is_written_and_deleted_without_a_trace,
    monitoring::inventory_counts_every_kind_of_record,
    import::imported_users_and_probes_are_stored_once,
    import::an_imported_operation_is_finished_unpaid_and_stored_once,
    import::a_password_hash_is_replaced_only_if_unchanged,
    stream::progress_counts_assignments_by_state_and_results,
    stream::tail_never_passes_a_result_committed_late_with_an_earlier_id,
    stream::tail_rest_hands_out_everything_once_and_pages,
);
