//! A webhook receiver on a loopback port, the other side of the host's outbound webhooks: it
//! keeps every request it gets and answers as a test tells it (200 by default).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `webhook-id` header.
    pub id: String,
    /// The `webhook-timestamp` header.
    pub timestamp: String,
    /// The `webhook-signature` header.
    pub signature: String,
    pub body: String,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// How the receiver answers a request: given the request and how many times its message id
/// was seen before, a status and an optional `Retry-After`.
pub type Respond = Box<dyn Fn(&Received, usize) -> (u16, Option<&'static str>) + Send>;

/// A webhook receiver: records every request and answers as told (200 by default).
#[derive(Clone)]
pub struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    respond: Arc<Mutex<Respond>>,
}

impl Default for Receiver {
    fn default() -> Self {
        Receiver { got: Arc::default(), respond: Arc::new(Mutex::new(Box::new(|_, _| (200, None)))) }
    }
}

impl Receiver {
    pub async fn start(&self) -> anyhow::Result<String> {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let me = me.clone();
                async move {
                    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    let r = Received {
                        id: h("webhook-id"),
                        timestamp: h("webhook-timestamp"),
                        signature: h("webhook-signature"),
                        body: String::from_utf8_lossy(&body).into_owned(),
                        at: Instant::now(),
                    };
                    let seen = me.got.lock().expect("lock").iter().filter(|g| g.id == r.id).count();
                    let (status, retry_after) = (me.respond.lock().expect("lock"))(&r, seen);
                    me.got.lock().expect("lock").push(r);
                    let mut resp = axum::response::Response::new(axum::body::Body::from("ok"));
                    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                    if let Some(wait) = retry_after {
                        resp.headers_mut().insert("retry-after", wait.parse().expect("header"));
                    }
                    resp
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(format!("http://{addr}/hook"))
    }

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    pub fn respond(&self, f: impl Fn(&Received, usize) -> (u16, Option<&'static str>) + Send + 'static) {
        *self.respond.lock().expect("lock") = Box::new(f);
    }

    /// Waits until `pred` holds over what arrived (at most 20 s).
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&[Received]) -> bool) -> anyhow::Result<Vec<Received>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.got();
            if pred(&got) {
                return Ok(got);
            }
            anyhow::ensure!(Instant::now() < deadline, "waited in vain for {what}; got {:#?}", got);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
