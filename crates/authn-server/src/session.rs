//! Who is calling: the request's client details, the session (bearer token
//! or cookie, full or partial), and admin keys. The Origin check for
//! cookie-authenticated state changes lives here, where the transport is known.

use authn_core::store::{AdminKeyStore, StoreHandle};
use authn_core::{Actor, AuthContext, Authn, ClientInfo, TokenHash};
use authn_store::AnyStore;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::client_ip::ClientIp;
use crate::error::ApiError;
use crate::state::AppState;

/// The client details of a request.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// Address and user agent.
    pub client: ClientInfo,
    /// The request id (from `X-Request-Id`, or generated).
    pub request_id: Option<String>,
}

impl RequestMeta {
    /// An actor for audit events: `id`, with this request's details.
    pub fn actor(&self, id: &str) -> Actor {
        let mut actor = Actor::new(id).unwrap_or_default();
        actor.request_id = self.request_id.clone();
        actor.ip_address = self.client.ip_address;
        actor.user_agent = self
            .client
            .user_agent
            .as_deref()
            .and_then(authn_core::model::clean_user_agent);
        actor
    }

    /// The flows acting as an anonymous client (signup, login...).
    pub fn anonymous(&self, state: &AppState) -> Authn<AnyStore> {
        state.auth_as(self.actor("anonymous"))
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ClientIp>().map(|c| c.0);
        Ok(Self {
            client: ClientInfo {
                ip_address: ip,
                user_agent: header_str(&parts.headers, "user-agent").map(str::to_owned),
            },
            // a client-sent id is kept only when it is a plausible id
            request_id: header_str(&parts.headers, "x-request-id")
                .filter(|v| v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
                .map(str::to_owned),
        })
    }
}

/// How the session token came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// The session cookie.
    Cookie,
}

/// The value of the session cookie, if the request has one.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The bearer token of the request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    header_str(headers, "authorization").and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    })
}

/// A request with a valid session, full or partial.
#[derive(Debug, Clone)]
pub struct AnySession {
    /// The session.
    pub ctx: AuthContext,
    /// How its token came.
    pub transport: Transport,
    /// The client details.
    pub meta: RequestMeta,
}

impl AnySession {
    /// The flows acting as this session's user.
    pub fn auth(&self, state: &AppState) -> Authn<AnyStore> {
        state.auth_as(self.meta.actor(&format!("user:{}", self.ctx.user_id())))
    }
}

/// Refuses a cookie-authenticated state change whose Origin is present and
/// not allowed (CSRF). Bearer requests carry no ambient credential.
fn check_origin(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let Some(origin) = header_str(&parts.headers, "origin") else {
        return Ok(());
    };
    if unsafe_method && !state.allowed_origins.iter().any(|o| o == origin) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "this origin may not make authenticated requests",
        ));
    }
    Ok(())
}

impl FromRequestParts<AppState> for AnySession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let meta = RequestMeta::from_request_parts(parts, state).await?;
        let (token, transport) = match bearer(&parts.headers) {
            Some(t) => (t.to_owned(), Transport::Bearer),
            None => match cookie_value(&parts.headers, &state.config.cookie_name) {
                Some(t) => (t.to_owned(), Transport::Cookie),
                None => return Err(ApiError::unauthorized()),
            },
        };
        if transport == Transport::Cookie {
            check_origin(parts, state)?;
        }
        let ctx = state.auth.authenticate(&token).await?;
        Ok(Self {
            ctx,
            transport,
            meta,
        })
    }
}

/// A request with a valid full session: partial sessions get
/// `403 mfa_required`.
#[derive(Debug, Clone)]
pub struct FullSession(pub AnySession);

impl FromRequestParts<AppState> for FullSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let s = AnySession::from_request_parts(parts, state).await?;
        s.ctx.require_full()?;
        Ok(Self(s))
    }
}

/// `Set-Cookie` for a session token.
pub fn session_cookie(state: &AppState, token: &str) -> HeaderValue {
    // the lifetime the store gives sessions, so cookie and session expire together
    let max_age = state.auth.store().policy().session_lifetime.as_secs();
    cookie(state, token, max_age)
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    cookie(state, "", 0)
}

fn cookie(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}",
        state.config.cookie_name
    );
    // The name is validated by the configuration and tokens are base64url.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A request authenticated with an admin key; the audit actor comes from
/// `X-Actor` (else the key), with `X-On-Behalf-Of`, `X-Reason` and
/// `X-Request-Id`.
#[derive(Debug, Clone)]
pub struct AdminAuth {
    /// The actor of the request.
    pub actor: Actor,
}

impl AdminAuth {
    /// The flows acting as this admin.
    pub fn auth(&self, state: &AppState) -> Authn<AnyStore> {
        state.auth_as(self.actor.clone())
    }
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let meta = RequestMeta::from_request_parts(parts, state).await?;
        let key = bearer(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let hash = TokenHash::of_token(key);
        let configured = state.bootstrap_admin_keys.iter().fold(false, |found, k| {
            found
                | authn_core::token::constant_time_eq(
                    k.as_str().as_bytes(),
                    hash.as_str().as_bytes(),
                )
        });
        let key_name = if configured {
            "admin_key:config".to_owned()
        } else {
            match state.auth.store().find_admin_key(&hash).await? {
                Some(k) => format!("admin_key:{}", k.id),
                None => return Err(ApiError::unauthorized()),
            }
        };
        // Headers the audit cannot record are refused, never dropped:
        // an event must not lose who acted or why.
        let headers = &parts.headers;
        let invalid = |e: authn_core::ValidationError| {
            ApiError::bad_request(format!(
                "header {e} (1..=1024 bytes, no control characters)"
            ))
        };
        let mut actor = meta.actor(&key_name);
        if let Some(v) = header_str(headers, "x-actor") {
            actor.actor_id = Actor::new(v)
                .map_err(|e| invalid(e.for_field("X-Actor")))?
                .actor_id;
        }
        if let Some(v) = header_str(headers, "x-on-behalf-of") {
            actor = actor
                .on_behalf_of(v)
                .map_err(|e| invalid(e.for_field("X-On-Behalf-Of")))?;
        }
        if let Some(v) = header_str(headers, "x-reason") {
            actor = actor
                .reason(v)
                .map_err(|e| invalid(e.for_field("X-Reason")))?;
        }
        Ok(Self { actor })
    }
}
