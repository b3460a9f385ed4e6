//! Request and answer bodies, with the limits hyper and axum do not apply.
//!
//! - [`RequestBody`]: a `Content-Length` over the limit is refused from the header, before a
//!   byte of the body is read (axum's limit only counts bytes as they arrive, so a 10 GB
//!   claim was refused after 64 MiB); a body that does not arrive within the body timeout
//!   is abandoned with 408.
//! - [`held`]: a large answer keeps its share of the memory budget until the connection
//!   has taken its last chunk, so slow readers cannot make the server hold more than the
//!   budget.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, Request};
use http_body::{Frame, SizeHint};

use super::error::ApiError;
use crate::budget::Reservation;
use crate::state::AppState;

/// A whole request body, read within the limits.
#[derive(Debug)]
pub struct RequestBody(pub Bytes);

impl FromRequest<Arc<AppState>> for RequestBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let limit = state.limits.max_body_bytes;
        // hyper reports a Content-Length as the body's exact size.
        let declared = req.body().size_hint().lower();
        if declared > limit as u64 {
            return Err(ApiError::TooLarge(format!(
                "the body is {declared} bytes (Content-Length); the limit is {limit} (max_body_bytes)"
            )));
        }
        let wait = state.limits.body_timeout;
        match tokio::time::timeout(wait, Bytes::from_request(req, state)).await {
            Ok(Ok(bytes)) => Ok(RequestBody(bytes)),
            Ok(Err(rejection)) => Err(rejection.into()),
            Err(_) => Err(ApiError::Timeout(format!(
                "the request body did not arrive within {} s (body_timeout_secs)",
                wait.as_secs_f64()
            ))),
        }
    }
}

/// Chunks handed to the connection at a time: the last chunk is all that can outlive the
/// reservation.
const CHUNK: usize = 1 << 20;

/// An answer body that holds `reservation` until its last chunk is taken.
pub fn held(bytes: Vec<u8>, reservation: Reservation) -> Body {
    Body::new(HeldBody {
        rest: Bytes::from(bytes),
        reservation: Some(reservation),
    })
}

struct HeldBody {
    rest: Bytes,
    reservation: Option<Reservation>,
}

impl HttpBody for HeldBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.rest.is_empty() {
            self.reservation.take();
            return Poll::Ready(None);
        }
        let n = self.rest.len().min(CHUNK);
        let chunk = self.rest.split_to(n);
        if self.rest.is_empty() {
            self.reservation.take();
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.rest.len() as u64)
    }
}
