//! The seed's MFA journey (`shared/seeds/004_*`), and the account features
//! around it, through the SDK against a real `authn serve` process, on
//! PostgreSQL and on the embedded SQLite default.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::Duration;

use authn_client::{AdminClient, AuthClient, Login, Session, compute_totp};
use authn_e2e::{
    Deployment, Node, PASSWORD, Store, Totp, email, enable_mfa, link_token, mail_count,
    on_both_stores, refused, wait_for_mail,
};

async fn node(store: Store) -> Node {
    Deployment::on(store).await.start_node().await
}

/// A client on `token` alone (a copy of a session the test kept).
fn on_token(node: &Node, token: &authn_client::SessionToken) -> AuthClient {
    node.client_on(Session::with_token(token.clone()))
}

on_both_stores! {
    async fn seed_mfa_journey(store: Store) {
        let node = node(store).await;
        let alice = email("alice");
        let auth = node.client();
        let user = auth.signup(&alice, PASSWORD, Some("Alice")).await.unwrap();
        assert_eq!(user.email, alice);
        assert!(!user.mfa_enabled);

        // login -> signed in (no MFA yet)
        let Login::Authenticated(me) = auth.login(&alice, PASSWORD).await.unwrap() else {
            panic!("a user without MFA is signed in by the password");
        };
        assert_eq!(me.id, user.id);

        // enroll -> verify with compute_totp(secret) -> 10 recovery codes
        let mfa = auth.mfa();
        let enrollment = mfa.enroll().await.unwrap();
        assert!(
            enrollment.otpauth_url.starts_with("otpauth://totp/")
                && enrollment
                    .otpauth_url
                    .contains(&format!("secret={}", enrollment.secret)),
            "provisioning URI of the secret"
        );
        assert_eq!(compute_totp(&enrollment.secret).unwrap().len(), 6);
        let mut totp = Totp::new(&enrollment.secret);
        let codes = mfa.verify(&totp.current_code()).await.unwrap();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 10, "distinct");
        assert!(auth.me().await.unwrap().mfa_enabled);
        let status = mfa.status().await.unwrap();
        assert!(status.mfa_enabled);
        assert_eq!(status.recovery_codes_remaining, 10);

        // logout: the token is forgotten and dead on the server
        let old = auth.session().token().unwrap();
        auth.logout().await.unwrap();
        assert!(!auth.session().has_token());
        refused(on_token(&node, &old).me().await, "unauthorized");

        // login -> a second factor is owed; the partial session may not read /me
        let Login::MfaRequired { methods } = auth.login(&alice, PASSWORD).await.unwrap() else {
            panic!("a user with MFA must answer a second factor");
        };
        assert!(methods.iter().any(|m| m == "totp"), "{methods:?}");
        let e = refused(auth.me().await, "mfa_required");
        assert_eq!(e.status(), Some(403));
        assert!(auth.current_session().await.unwrap().partial);
        // nor anything else but the second factor, its own state and logout
        refused(auth.sessions().await, "mfa_required");
        refused(mfa.status().await, "mfa_required");
        refused(mfa.regenerate_recovery_codes().await, "mfa_required");
        refused(
            auth.change_password(PASSWORD, "new long passphrase").await,
            "mfa_required",
        );
        let partial = auth.session().token().unwrap();

        // challenge with the next step's code (the current one confirmed the
        // enrollment, and a step is never accepted twice)
        let me = mfa.challenge(&totp.next_code().await).await.unwrap();
        assert_eq!(me.id, user.id);
        let me = auth.me().await.unwrap();
        assert_eq!(me.email, alice);
        assert!(me.mfa_enabled);
        let session = auth.current_session().await.unwrap();
        assert!(!session.partial);
        assert!(session.mfa_at.is_some());
        for m in ["pwd", "otp", "mfa"] {
            assert!(
                session.amr.iter().any(|a| a == m),
                "{m} in {:?}",
                session.amr
            );
        }
        // a new session id and token: the partial one is gone (no fixation)
        assert_ne!(auth.session().token().unwrap(), partial);
        refused(
            on_token(&node, &partial).current_session().await,
            "unauthorized",
        );
    }

    async fn a_recovery_code_signs_in_once(store: Store) {
        let node = node(store).await;
        let bob = email("bob");
        let auth = node.client();
        auth.signup(&bob, PASSWORD, None).await.unwrap();
        let (_totp, codes) = enable_mfa(&auth).await;
        auth.logout().await.unwrap();

        let Login::MfaRequired { .. } = auth.login(&bob, PASSWORD).await.unwrap() else {
            panic!("MFA owed");
        };
        let me = auth.mfa().recovery(&codes[0]).await.unwrap();
        assert_eq!(me.email, bob);
        let session = auth.current_session().await.unwrap();
        assert!(!session.partial);
        assert!(session.amr.iter().any(|a| a == "mfa"), "{:?}", session.amr);
        assert_eq!(
            auth.mfa().status().await.unwrap().recovery_codes_remaining,
            9
        );
        auth.logout().await.unwrap();

        let Login::MfaRequired { .. } = auth.login(&bob, PASSWORD).await.unwrap() else {
            panic!("MFA owed");
        };
        let e = refused(auth.mfa().recovery(&codes[0]).await, "invalid_code");
        assert_eq!(e.status(), Some(401));
        refused(auth.me().await, "mfa_required");
        // another code, typed sloppily (case, spaces instead of dashes), works
        let sloppy = codes[1].to_uppercase().replace('-', " ");
        auth.mfa().recovery(&sloppy).await.unwrap();
        assert_eq!(auth.me().await.unwrap().email, bob);
    }

    async fn mfa_is_turned_off_with_a_current_code(store: Store) {
        let node = node(store).await;
        let hana = email("hana");
        let auth = node.client();
        auth.signup(&hana, PASSWORD, None).await.unwrap();
        let (mut totp, codes) = enable_mfa(&auth).await;
        let mfa = auth.mfa();

        refused(mfa.disable(Some(&totp.wrong_code())).await, "invalid_code");
        assert!(mfa.status().await.unwrap().mfa_enabled);
        mfa.disable(Some(&totp.next_code().await)).await.unwrap();
        let status = mfa.status().await.unwrap();
        assert!(!status.mfa_enabled);
        assert_eq!(status.recovery_codes_remaining, 0);
        refused(mfa.disable(None).await, "mfa_not_enabled");

        // no second factor at the next login, and the old codes are gone
        auth.logout().await.unwrap();
        let Login::Authenticated(me) = auth.login(&hana, PASSWORD).await.unwrap() else {
            panic!("MFA is off");
        };
        assert!(!me.mfa_enabled);
        refused(mfa.recovery(&codes[0]).await, "mfa_not_enabled");
    }

    async fn step_up_expires_and_a_challenge_renews_it(store: Store) {
        let node = Deployment::on(store)
            .await
            .with_env("AUTHN_STEP_UP_MAX_AGE_SECS", "1")
            .start_node()
            .await;
        let carol = email("carol");
        let auth = node.client();
        auth.signup(&carol, PASSWORD, None).await.unwrap();
        let (mut totp, old_codes) = enable_mfa(&auth).await;
        let mfa = auth.mfa();

        // Let the second factor of the enrollment grow older than 1 s.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let e = refused(mfa.regenerate_recovery_codes().await, "step_up_required");
        assert_eq!(e.status(), Some(403));
        assert_eq!(e.max_age(), Some(1));
        // Everything else still works on the older session.
        auth.me().await.unwrap();

        // A challenge on the full session is a step-up. The regeneration must
        // follow within the 1 s window: on a machine too busy for that, the
        // step-up is repeated (bounded) rather than the test failing.
        let mut fresh = None;
        for _ in 0..3 {
            let me = mfa.challenge(&totp.next_code().await).await.unwrap();
            assert_eq!(me.email, carol);
            match mfa.regenerate_recovery_codes().await {
                Ok(codes) => {
                    fresh = Some(codes);
                    break;
                }
                Err(e) if e.is("step_up_required") => continue,
                Err(e) => panic!("regenerate after a step-up: {e:?}"),
            }
        }
        let fresh = fresh.expect("recovery codes right after a step-up");
        assert_eq!(fresh.len(), 10);
        assert!(fresh.iter().all(|c| !old_codes.contains(c)));

        // the old set is dead, the new one works
        auth.logout().await.unwrap();
        let Login::MfaRequired { .. } = auth.login(&carol, PASSWORD).await.unwrap() else {
            panic!("MFA owed");
        };
        refused(mfa.recovery(&old_codes[0]).await, "invalid_code");
        mfa.recovery(&fresh[0]).await.unwrap();
        auth.me().await.unwrap();
    }

    async fn sessions_are_listed_and_another_device_can_be_signed_out(store: Store) {
        let node = node(store).await;
        let dave = email("dave");
        let device = |ua: &str| {
            AuthClient::builder(node.url())
                .user_agent(ua)
                .build()
                .unwrap()
        };
        let laptop = device("e2e-laptop");
        let phone = device("e2e-phone");
        let tablet = device("e2e-tablet");
        laptop.signup(&dave, PASSWORD, None).await.unwrap();
        let Login::Authenticated(_) = phone.login(&dave, PASSWORD).await.unwrap() else {
            panic!("no MFA");
        };
        let laptop_id = laptop.current_session().await.unwrap().id;
        let phone_id = phone.current_session().await.unwrap().id;
        assert_ne!(laptop_id, phone_id);

        let list = laptop.sessions().await.unwrap();
        assert_eq!(list.len(), 2, "{list:?}");
        let current: Vec<_> = list.iter().filter(|s| s.current).collect();
        assert_eq!(current.len(), 1, "exactly one current: {list:?}");
        assert_eq!(current[0].id, laptop_id);
        assert_eq!(current[0].user_agent.as_deref(), Some("e2e-laptop"));
        let other = list.iter().find(|s| s.id == phone_id).unwrap();
        assert!(!other.current);
        assert_eq!(other.user_agent.as_deref(), Some("e2e-phone"));
        assert_eq!(other.ip_address.as_deref(), Some("127.0.0.1"));
        assert!(other.amr.iter().any(|a| a == "pwd"));
        // the phone sees the same sessions, itself as current
        let from_phone = phone.sessions().await.unwrap();
        assert!(from_phone.iter().any(|s| s.id == phone_id && s.current));

        // signing the phone out from the laptop
        laptop.revoke_session(phone_id).await.unwrap();
        refused(phone.me().await, "unauthorized");
        laptop.me().await.unwrap();
        assert_eq!(laptop.sessions().await.unwrap().len(), 1);
        // not one of the user's sessions
        let e = refused(
            laptop.revoke_session(uuid::Uuid::now_v7()).await,
            "not_found",
        );
        assert_eq!(e.status(), Some(404));

        // "sign out everywhere else"
        let Login::Authenticated(_) = tablet.login(&dave, PASSWORD).await.unwrap() else {
            panic!("no MFA");
        };
        assert_eq!(laptop.revoke_other_sessions().await.unwrap(), 1);
        refused(tablet.me().await, "unauthorized");
        laptop.me().await.unwrap();

        // a password change ends the other sessions and keeps this one
        let Login::Authenticated(_) = tablet.login(&dave, PASSWORD).await.unwrap() else {
            panic!("no MFA");
        };
        let new_password = "another long passphrase for dave";
        laptop
            .change_password(PASSWORD, new_password)
            .await
            .unwrap();
        refused(tablet.me().await, "unauthorized");
        laptop.me().await.unwrap();
        refused(tablet.login(&dave, PASSWORD).await, "invalid_credentials");
        let Login::Authenticated(_) = tablet.login(&dave, new_password).await.unwrap() else {
            panic!("no MFA");
        };
    }

    async fn password_reset_through_the_outbox_ends_every_session(store: Store) {
        let node = node(store).await;
        let admin = node.admin();
        let erin = email("erin");
        let first = node.client();
        first.signup(&erin, PASSWORD, None).await.unwrap();
        let second = node.client();
        let Login::Authenticated(_) = second.login(&erin, PASSWORD).await.unwrap() else {
            panic!("no MFA");
        };

        let anonymous = node.client();
        let seen = mail_count(&admin, &erin).await;
        anonymous.send_password_reset(&erin).await.unwrap();
        let mail = wait_for_mail(&admin, &erin, seen).await;
        assert!(mail.text.contains(node.url()), "a link to this server");
        let token = link_token(&mail.text);
        assert!(token.len() >= 43, "a 32-byte token");

        let new_password = "a completely different passphrase";
        anonymous
            .reset_password(&token, new_password)
            .await
            .unwrap();
        refused(first.me().await, "unauthorized");
        refused(second.me().await, "unauthorized");
        refused(
            anonymous.login(&erin, PASSWORD).await,
            "invalid_credentials",
        );
        let Login::Authenticated(_) = anonymous.login(&erin, new_password).await.unwrap() else {
            panic!("no MFA");
        };
        // the link works once
        refused(
            node.client()
                .reset_password(&token, "yet another long passphrase")
                .await,
            "invalid_token",
        );
        // no hint whether an address has an account
        anonymous
            .send_password_reset(&email("nobody"))
            .await
            .unwrap();
    }

    async fn admin_reset_mfa_lets_the_user_in_without_a_second_factor(store: Store) {
        let node = node(store).await;
        let admin = node.admin();
        let frank = email("frank");
        let auth = node.client();
        let user = auth.signup(&frank, PASSWORD, None).await.unwrap();
        let (_totp, _codes) = enable_mfa(&auth).await;
        auth.logout().await.unwrap();
        let Login::MfaRequired { .. } = auth.login(&frank, PASSWORD).await.unwrap() else {
            panic!("MFA owed");
        };
        assert!(admin.get_user(user.id).await.unwrap().mfa_enabled);

        // lost phone: support clears the factors
        admin.reset_mfa(user.id).await.unwrap();
        assert!(!admin.get_user(user.id).await.unwrap().mfa_enabled);

        let fresh = node.client();
        let Login::Authenticated(me) = fresh.login(&frank, PASSWORD).await.unwrap() else {
            panic!("no second factor after the reset");
        };
        assert!(!me.mfa_enabled);
        assert!(!fresh.me().await.unwrap().mfa_enabled);
        assert!(!fresh.mfa().status().await.unwrap().mfa_enabled);
        // and may enroll again
        let (_totp, codes) = enable_mfa(&fresh).await;
        assert_eq!(codes.len(), 10);
    }

    async fn introspection_tells_active_sessions_from_the_rest(store: Store) {
        let node = node(store).await;
        let admin = node.admin();
        let grace = email("grace");
        let auth = node.client();
        let user = auth.signup(&grace, PASSWORD, None).await.unwrap();
        let token = auth.session().token().unwrap();
        let session_id = auth.current_session().await.unwrap().id;

        let i = admin.introspect(token.expose_secret(), None).await.unwrap();
        assert!(i.active);
        assert_eq!(i.user_id, Some(user.id));
        assert_eq!(i.session_id, Some(session_id));
        assert_eq!(i.email.as_deref(), Some(grace.as_str()));
        assert!(i.amr.iter().any(|a| a == "pwd"), "{:?}", i.amr);
        assert!(i.auth_time.is_some() && i.expires_at.is_some());
        assert!(i.mfa_at.is_none());
        // a second factor demanded and never given
        let minute = Some(Duration::from_secs(60));
        assert!(
            !admin
                .introspect(token.expose_secret(), minute)
                .await
                .unwrap()
                .active
        );
        // not a session at all
        let junk = admin.introspect("not-a-session-token", None).await.unwrap();
        assert!(!junk.active);
        assert_eq!(junk.user_id, None);
        // introspection needs the admin key
        let wrong = AdminClient::new(node.url(), "not-the-admin-key-0123456789").unwrap();
        let e = refused(
            wrong.introspect(token.expose_secret(), None).await,
            "unauthorized",
        );
        assert_eq!(e.status(), Some(401));

        // with MFA: the enrollment counts as a second factor
        let (mut totp, _codes) = enable_mfa(&auth).await;
        let i = admin
            .introspect(token.expose_secret(), minute)
            .await
            .unwrap();
        assert!(i.active);
        assert!(i.mfa_at.is_some());

        // logged out: inactive
        auth.logout().await.unwrap();
        assert!(
            !admin
                .introspect(token.expose_secret(), None)
                .await
                .unwrap()
                .active
        );
        // partial: inactive; after the challenge: active, with the second factor
        let Login::MfaRequired { .. } = auth.login(&grace, PASSWORD).await.unwrap() else {
            panic!("MFA owed");
        };
        let partial = auth.session().token().unwrap();
        assert!(
            !admin
                .introspect(partial.expose_secret(), None)
                .await
                .unwrap()
                .active
        );
        auth.mfa().challenge(&totp.next_code().await).await.unwrap();
        let full = auth.session().token().unwrap();
        let i = admin
            .introspect(full.expose_secret(), minute)
            .await
            .unwrap();
        assert!(i.active);
        assert!(i.amr.iter().any(|a| a == "otp"), "{:?}", i.amr);
        assert_eq!(i.acr.as_deref(), Some("aal2"));
        assert!(
            !admin
                .introspect(partial.expose_secret(), None)
                .await
                .unwrap()
                .active
        );
    }
}
