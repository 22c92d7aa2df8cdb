//! The bearer key of a request, checked by core: every authenticated handler takes a
//! [`Principal`] and asks it for the access it needs.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};

use crate::core::auth::{authenticate, AuthError, Principal};
use crate::core::Core;
use crate::web::problem::ApiError;

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = crate::web::bearer(req);
        let core = req.app_data::<web::Data<Core>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let token = token.ok_or(ApiError::Unauthorized)?;
            let core = core.ok_or_else(|| ApiError::Unavailable("no state".into()))?;
            match authenticate(&core, token).await {
                Err(AuthError::Unauthorized) => {
                    // A wrong key or operator token: counted against the client's address.
                    crate::web::ratelimit::failed_authentication(&req, "api_key");
                    Err(ApiError::Unauthorized)
                }
                other => Ok(other?),
            }
        })
    }
}
