//! Two `authn serve` processes of one deployment (same database, same
//! namespace, same server key): whatever one node decides, the other
//! honours on its very next request. Nothing here waits for the nodes to
//! agree; they must agree already. On PostgreSQL these are two nodes of a
//! cluster; on the embedded default they are two processes sharing one
//! SQLite file on one machine (a restart overlapping the old process, say).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use authn_client::{ClientError, Login, Session, SessionToken, UserPatch};
use authn_e2e::{
    Deployment, Node, PASSWORD, Store, Totp, email, enable_mfa, on_both_stores, refused,
};

async fn two_nodes(store: Store) -> (Node, Node) {
    let deployment = Deployment::on(store).await;
    let a = deployment.start_node().await;
    let b = deployment.start_node().await;
    (a, b)
}

/// `me()` through `node` with `token`.
async fn me_on(node: &Node, token: &SessionToken) -> Result<authn_client::User, ClientError> {
    node.client_on(Session::with_token(token.clone()))
        .me()
        .await
}

on_both_stores! {
    async fn sessions_and_their_revocation_are_shared_by_both_nodes(store: Store) {
        let (a, b) = two_nodes(store).await;
        let ivy = email("ivy");

        // a session made on A is valid on B, as the same session
        let on_a = a.client();
        let user = on_a.signup(&ivy, PASSWORD, None).await.unwrap();
        let on_b = b.client_on(on_a.session().clone());
        assert_eq!(on_b.me().await.unwrap().id, user.id);
        assert_eq!(
            on_b.current_session().await.unwrap().id,
            on_a.current_session().await.unwrap().id
        );

        // logout on B: dead on both, at once
        let first = on_a.session().token().unwrap();
        on_b.logout().await.unwrap();
        refused(me_on(&a, &first).await, "unauthorized");
        refused(me_on(&b, &first).await, "unauthorized");

        // admin revocation on B of a session made on A
        let second = a.client();
        let Login::Authenticated(_) = second.login(&ivy, PASSWORD).await.unwrap() else {
            panic!("no MFA");
        };
        let second = second.session().token().unwrap();
        me_on(&b, &second).await.unwrap();
        assert!(b.admin().revoke_user_sessions(user.id).await.unwrap() >= 1);
        refused(me_on(&a, &second).await, "unauthorized");
        refused(me_on(&b, &second).await, "unauthorized");

        // disabling on A a user signed in on B
        let third = b.client();
        let Login::Authenticated(_) = third.login(&ivy, PASSWORD).await.unwrap() else {
            panic!("no MFA");
        };
        let third = third.session().token().unwrap();
        me_on(&a, &third).await.unwrap();
        let disabled = a
            .admin()
            .update_user(
                user.id,
                UserPatch {
                    disabled: Some(true),
                    ..UserPatch::default()
                },
            )
            .await
            .unwrap();
        assert!(disabled.disabled_at.is_some());
        refused(me_on(&b, &third).await, "unauthorized");
        refused(me_on(&a, &third).await, "unauthorized");
        refused(
            b.client().login(&ivy, PASSWORD).await,
            "invalid_credentials",
        );

        // enabled again on B: A lets the user in
        b.admin()
            .update_user(
                user.id,
                UserPatch {
                    disabled: Some(false),
                    ..UserPatch::default()
                },
            )
            .await
            .unwrap();
        let back = a.client();
        let Login::Authenticated(_) = back.login(&ivy, PASSWORD).await.unwrap() else {
            panic!("no MFA");
        };
        assert_eq!(
            b.client_on(back.session().clone()).me().await.unwrap().id,
            user.id
        );
    }

    async fn the_lockout_counts_failures_on_both_nodes(store: Store) {
        let (a, b) = two_nodes(store).await;
        let jack = email("jack");
        a.client().signup(&jack, PASSWORD, None).await.unwrap();

        // five wrong passwords in total, alternating between the nodes: no node
        // saw more than three
        for i in 0..5 {
            let node = if i % 2 == 0 { &a } else { &b };
            refused(
                node.client()
                    .login(&jack, "wrong password, try again")
                    .await,
                "invalid_credentials",
            );
        }
        // now both refuse even the right password
        for node in [&a, &b] {
            let e = refused(node.client().login(&jack, PASSWORD).await, "account_locked");
            assert_eq!(e.status(), Some(429));
            assert!(e.retry_after().is_some_and(|d| d.as_secs() > 0), "{e:?}");
        }
    }

    async fn parallel_wrong_passwords_over_both_nodes_get_at_most_five_tries(store: Store) {
        let (a, b) = two_nodes(store).await;
        let max = email("max");
        a.client().signup(&max, PASSWORD, None).await.unwrap();

        let mut clients = Vec::new();
        for i in 0..20 {
            let node = if i % 2 == 0 { &a } else { &b };
            let client = node.client();
            // a first request opens the connection before the race
            refused(client.verify_email("not-a-token").await, "invalid_token");
            clients.push(client);
        }
        let start = Arc::new(tokio::sync::Barrier::new(clients.len()));
        let mut tasks = tokio::task::JoinSet::new();
        for client in clients {
            let (email, start) = (max.clone(), start.clone());
            tasks.spawn(async move {
                start.wait().await;
                client.login(&email, "wrong password, try again").await
            });
        }
        let (mut wrong, mut locked) = (0, 0);
        while let Some(r) = tasks.join_next().await {
            match r.unwrap() {
                Ok(l) => panic!("a wrong password was accepted: {l:?}"),
                Err(e) if e.is("invalid_credentials") => wrong += 1,
                Err(e) if e.is("account_locked") => locked += 1,
                Err(e) => panic!("unexpected answer to a wrong password: {e:?}"),
            }
        }
        assert!((1..=5).contains(&wrong), "{wrong} passwords were checked");
        assert_eq!(wrong + locked, 20);
    }

    async fn a_totp_code_accepted_on_one_node_is_refused_on_the_other(store: Store) {
        let (a, b) = two_nodes(store).await;
        let kim = email("kim");
        let on_a = a.client();
        on_a.signup(&kim, PASSWORD, None).await.unwrap();
        // enrolled on A, confirmed on B: B opens what A sealed (shared key)
        let enrollment = on_a.mfa().enroll().await.unwrap();
        let mut totp = Totp::new(&enrollment.secret);
        let on_b = b.client_on(on_a.session().clone());
        assert_eq!(
            on_b.mfa().verify(&totp.current_code()).await.unwrap().len(),
            10
        );
        on_a.logout().await.unwrap();

        let at_a = a.client();
        let at_b = b.client();
        for c in [&at_a, &at_b] {
            let Login::MfaRequired { .. } = c.login(&kim, PASSWORD).await.unwrap() else {
                panic!("MFA owed");
            };
        }
        let code = totp.next_code().await;
        at_a.mfa().challenge(&code).await.unwrap();
        at_a.me().await.unwrap();
        // the same code (the same step) on B: a replay
        let e = refused(at_b.mfa().challenge(&code).await, "invalid_code");
        assert_eq!(e.status(), Some(401));
        refused(at_b.me().await, "mfa_required");
        // ... and again on A, on the session it upgraded (a step-up attempt)
        refused(at_a.mfa().challenge(&code).await, "invalid_code");
        // a later step still works on B (may wait for the clock, < 30 s)
        at_b.mfa().challenge(&totp.next_code().await).await.unwrap();
        at_b.me().await.unwrap();
    }

    async fn parallel_wrong_codes_over_both_nodes_get_at_most_five_tries(store: Store) {
        let (a, b) = two_nodes(store).await;
        let lee = email("lee");
        let on_a = a.client();
        on_a.signup(&lee, PASSWORD, None).await.unwrap();
        let (mut totp, _codes) = enable_mfa(&on_a).await;
        on_a.logout().await.unwrap();
        let Login::MfaRequired { .. } = on_a.login(&lee, PASSWORD).await.unwrap() else {
            panic!("MFA owed");
        };
        let partial = on_a.session().token().unwrap();

        // 20 wrong codes at once on one partial session, half through each node
        let wrong = totp.wrong_code();
        // Clients (and their connections) first, then all requests at once.
        let mut clients = Vec::new();
        for i in 0..20 {
            let node = if i % 2 == 0 { &a } else { &b };
            let client = node.client_on(Session::with_token(partial.clone()));
            // connected and warmed up: the session may read itself
            assert!(client.current_session().await.unwrap().partial);
            clients.push(client);
        }
        let start = Arc::new(tokio::sync::Barrier::new(clients.len()));
        let mut tasks = tokio::task::JoinSet::new();
        for client in clients {
            let (wrong, start) = (wrong.clone(), start.clone());
            tasks.spawn(async move {
                start.wait().await;
                client.mfa().challenge(&wrong).await
            });
        }
        let mut invalid = 0;
        let mut other = Vec::new();
        while let Some(r) = tasks.join_next().await {
            match r.unwrap() {
                Ok(u) => panic!("a wrong code was accepted: {u:?}"),
                Err(e) if e.is("invalid_code") => invalid += 1,
                Err(e) if e.is("too_many_attempts") || e.is("unauthorized") => other.push(e),
                Err(e) => panic!("unexpected answer to a wrong code: {e:?}"),
            }
        }
        assert!(
            (1..=5).contains(&invalid),
            "{invalid} codes were checked; the limit is 5 per session (others: {other:?})"
        );
        assert_eq!(invalid + other.len(), 20);

        // that partial session is spent: even the right code is not checked
        let spent = b.client_on(Session::with_token(partial.clone()));
        let e = spent.mfa().challenge(&totp.peek_code().await).await;
        assert!(
            e.as_ref()
                .is_err_and(|e| e.is("too_many_attempts") || e.is("unauthorized")),
            "{e:?}"
        );
        // the limit is the session's: a new login on the other node passes
        let fresh = b.client();
        let Login::MfaRequired { .. } = fresh.login(&lee, PASSWORD).await.unwrap() else {
            panic!("MFA owed");
        };
        fresh
            .mfa()
            .challenge(&totp.next_code().await)
            .await
            .unwrap();
        assert_eq!(
            a.client_on(fresh.session().clone())
                .me()
                .await
                .unwrap()
                .email,
            lee
        );
    }
}
