//! Helpers of the PostgreSQL-only tests: the database harness is
//! `authn-testkit`; the backend-neutral helpers are the conformance suite's.
#![allow(dead_code, unused_imports)]

pub use authn_store_conformance::support::{assert_invalid, token};
pub use authn_testkit::*;
