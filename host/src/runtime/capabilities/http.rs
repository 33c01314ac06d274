//! `http-client`: outbound HTTP to the hosts a plugin's manifest allowlists (`http-allow`,
//! where `*.example.com` means the subdomains of example.com), and to the hosts of the URLs the
//! organisation's admin put in the settings its `http-allow-settings` names (an ERP's address,
//! which differs in every organisation). Only `https://` to public
//! addresses, except to the hosts the operator lists as local (`local_hosts`: an ERP on the
//! office network, a local test receiver), which may also be reached over plain `http://` and
//! at loopback, private or link-local addresses. A host name is checked again on every
//! resolution, so a name that points at the office network or the cloud's metadata service is
//! refused however it was listed. An IP address only when the allowlist names it as it is. No
//! redirects are followed, bodies are capped both ways, and a request takes at most 30 s.
//! Needs `http:outbound`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url};

use crate::runtime::bindings::PluginFault;
use crate::runtime::bindings::tessera::plugin::http_client::{Host, Request, Response};
use crate::runtime::sandbox::{CallContext, PluginState};

const DEFAULT_TIMEOUT_MS: u32 = 10_000;
const MAX_TIMEOUT_MS: u32 = 30_000;

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// Headers that belong to one connection, or that the host sets itself.
const REFUSED_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

impl Host for PluginState {
    async fn send(&mut self, req: Request) -> wasmtime::Result<Result<Response, PluginFault>> {
        self.enter()?;
        Ok(send(&self.ctx, req).await)
    }
}

/// The client plugins' requests go out through: no redirects, no proxy from the environment,
/// and host names resolved by [`PublicOnly`].
pub fn outbound_client(local_hosts: &[String]) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent("Tessera-Plugin/0.1")
        .dns_resolver(Arc::new(PublicOnly { local_hosts: Arc::new(local_hosts.to_vec()) }))
        .build()
        .unwrap_or_default()
}

/// Resolves host names for plugins and keeps only public addresses, unless the operator lists
/// the host as local. Checking here, at connection time, rather than before sending closes
/// the gap a name that changes its answer between the check and the connection would open.
struct PublicOnly {
    local_hosts: Arc<Vec<String>>,
}

/// A host name that resolved only to addresses a plugin may not reach.
#[derive(Debug)]
struct NotPublic(String);

impl std::fmt::Display for NotPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotPublic {}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let local_hosts = self.local_hosts.clone();
        Box::pin(async move {
            let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if is_local(&host, &local_hosts) {
                return Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs);
            }
            let (public, other): (Vec<SocketAddr>, Vec<SocketAddr>) =
                addrs.into_iter().partition(|a| is_public(a.ip()));
            if public.is_empty() && !other.is_empty() {
                let shown: Vec<String> = other.iter().map(|a| a.ip().to_string()).collect();
                return Err(Box::new(NotPublic(format!(
                    "{host} resolves to {}, which is not a public address; plugins reach the operator's own \
                     network only at the hosts it lists as local",
                    shown.join(", ")
                ))) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn is_local(host: &str, local_hosts: &[String]) -> bool {
    local_hosts.iter().any(|l| l.trim_end_matches('.').eq_ignore_ascii_case(host))
}

/// Whether an address is on the public internet: not loopback, private, link-local (the
/// cloud's metadata service), shared, reserved, documentation, multicast or unspecified.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || (first == 0x0064 && v6.segments()[1] == 0xff9b) // NAT64, which reaches any IPv4 address
                || v6.segments()[..6] == [0; 6]) // IPv4-compatible
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

async fn send(ctx: &CallContext, req: Request) -> Result<Response, PluginFault> {
    ctx.require("http:outbound")?;
    let url =
        Url::parse(&req.url).map_err(|e| PluginFault::Invalid(format!("url: {:?} is not a URL: {e}", req.url)))?;
    let runtime = ctx.runtime.upgrade();
    let local_hosts = runtime.as_ref().map_or(&[][..], |r| r.config.local_hosts.as_slice());
    let host = check_destination(&url, &allowed_hosts(ctx), local_hosts, &ctx.plugin.label())?;
    let method = req.method.to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(PluginFault::Invalid(format!("method: {:?} is not one of {}", req.method, METHODS.join(", "))));
    }
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| PluginFault::Invalid(format!("method: {:?} is not a method", req.method)))?;
    let timeout_ms = req.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
        return Err(PluginFault::Invalid(format!("timeout-ms: 1 to {MAX_TIMEOUT_MS}, not {timeout_ms}")));
    }
    let max_body = ctx.limits.max_body_bytes;
    if req.body.len() > max_body {
        return Err(PluginFault::Limited(format!(
            "the request body is {} bytes; at most {max_body} may be sent",
            req.body.len()
        )));
    }
    let mut request = ctx.http.request(method, url);
    for (name, value) in &req.headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| PluginFault::Invalid(format!("headers: {name:?} is not a header name")))?;
        if REFUSED_HEADERS.contains(&header.as_str()) {
            return Err(PluginFault::Invalid(format!(
                "headers: {name} is set by the host; a plugin may not send it (refused: {})",
                REFUSED_HEADERS.join(", ")
            )));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| PluginFault::Invalid(format!("headers: the value of {name} is not a header value")))?;
        request = request.header(header, value);
    }
    let request = request.body(req.body);
    // The request's own timeout bounds the call (up to 30 s, longer than the bound of other
    // host calls), covering connecting, sending and reading the whole response.
    let exchange = async {
        let mut response = request.send().await.map_err(|e| failed_exchange(&host, &e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let too_large = || {
            PluginFault::Limited(format!("{host} answered with a body larger than {max_body} bytes; it was not read"))
        };
        if response.content_length().is_some_and(|n| n > max_body as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed_exchange(&host, &e))? {
            if body.len() + chunk.len() > max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response { status, headers, body })
    };
    match tokio::time::timeout(Duration::from_millis(u64::from(timeout_ms)), exchange).await {
        Ok(answer) => answer,
        Err(_) => Err(PluginFault::Unavailable(format!("{host} did not answer within {timeout_ms} ms"))),
    }
}

/// An exchange that failed on the network, told with its causes; a destination the resolver
/// refused is `denied`.
fn failed_exchange(host: &str, e: &reqwest::Error) -> PluginFault {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<NotPublic>() {
            return PluginFault::Denied(refused.to_string());
        }
        causes.push(cause.to_string());
        source = cause.source();
    }
    let what = if e.is_connect() { "could not be reached" } else { "broke off the exchange" };
    PluginFault::Unavailable(format!("{host} {what}: {}", causes.join(": ")))
}

/// Checks that a URL may be reached and returns its host; refusals name the host and the
/// list that would have to hold it.
/// The hosts a plugin may reach: its manifest's `http-allow`, and the host of each URL in the
/// settings its `http-allow-settings` names.
fn allowed_hosts(ctx: &CallContext) -> Vec<String> {
    let mut allow = ctx.plugin.plugin.http_allow.clone();
    for name in &ctx.plugin.plugin.http_allow_settings {
        if let Some(serde_json::Value::String(text)) = ctx.enabled.settings.get(name)
            && let Ok(url) = Url::parse(text.trim())
            && let Some(host) = url.host_str()
        {
            allow.push(host.trim_end_matches('.').to_ascii_lowercase());
        }
    }
    allow
}

fn check_destination(url: &Url, allow: &[String], local_hosts: &[String], plugin: &str) -> Result<String, PluginFault> {
    let Some(host) = url.host_str().map(|h| h.trim_end_matches('.').to_ascii_lowercase()) else {
        return Err(PluginFault::Invalid(format!("url: {url} names no host")));
    };
    let listed = if allow.is_empty() { "an empty list".to_owned() } else { allow.join(", ") };
    // URLs of http and https write addresses canonically (`2130706433` is `127.0.0.1`).
    let ip = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(&host).parse::<IpAddr>().ok();
    let allowed =
        if ip.is_some() { allow.iter().any(|a| a.eq_ignore_ascii_case(&host)) } else { allowlisted(&host, allow) };
    if !allowed {
        return Err(PluginFault::Denied(if ip.is_some() {
            format!(
                "{host} is an IP address, which {plugin} may reach only when its http-allow lists it as it is \
                 ({listed})"
            )
        } else {
            format!("{host} is not on the http-allow list of {plugin} ({listed})")
        }));
    }
    let local = is_local(&host, local_hosts);
    let operator_list = || if local_hosts.is_empty() { "none".to_owned() } else { local_hosts.join(", ") };
    if let Some(ip) = ip
        && !is_public(ip)
        && !local
    {
        return Err(PluginFault::Denied(format!(
            "{host} is not a public address; plugins reach the operator's own network only at the hosts it \
             lists as local ({})",
            operator_list()
        )));
    }
    match url.scheme() {
        "https" => Ok(host),
        "http" if local => Ok(host),
        "http" => Err(PluginFault::Denied(format!(
            "http://{host} is refused: plain http reaches only the hosts the operator lists as local ({}); use \
             https://",
            operator_list()
        ))),
        other => Err(PluginFault::Invalid(format!("url: {other}:// is not http or https"))),
    }
}

/// Whether a host name is on the list: named exactly, or a subdomain of a `*.` entry.
fn allowlisted(host: &str, allow: &[String]) -> bool {
    allow.iter().any(|entry| {
        let entry = entry.trim_end_matches('.').to_ascii_lowercase();
        match entry.strip_prefix("*.") {
            Some(parent) => host.strip_suffix(parent).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => host == entry,
        }
    })
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::Arc;

    use super::*;
    use crate::runtime::capabilities::testing::{self, Setup, TestDb, fault};
    use crate::runtime::{Runtime, RuntimeConfig};
    use crate::store::Backend;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn check(url: &str, allow: &[&str], plain: &[&str]) -> Result<String, PluginFault> {
        check_destination(&Url::parse(url).expect("url"), &list(allow), &list(plain), "test-plugin 1.0.0")
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let allow = list(&["erp.example.com", "*.example.org"]);
        assert!(allowlisted("erp.example.com", &allow));
        assert!(!allowlisted("www.erp.example.com", &allow), "an exact entry has no subdomains");
        assert!(!allowlisted("example.com", &allow));
        assert!(allowlisted("api.example.org", &allow));
        assert!(allowlisted("a.b.example.org", &allow));
        assert!(!allowlisted("example.org", &allow), "a wildcard is for subdomains only");
        assert!(!allowlisted("badexample.org", &allow));
        assert!(!allowlisted("example.org.evil.com", &allow));
    }

    #[test]
    fn destinations_are_refused_before_connecting() {
        let allow = &["erp.example.com", "*.example.org", "10.0.0.8"];
        assert_eq!(check("https://ERP.example.com:8443/api?x=1", allow, &[]).ok().as_deref(), Some("erp.example.com"));
        assert!(check("https://erp.example.com./", allow, &[]).is_ok(), "a trailing dot is the same host");
        let Err(PluginFault::Denied(m)) = check("https://evil.example.net/", allow, &[]) else { panic!("denied") };
        assert!(m.contains("evil.example.net") && m.contains("erp.example.com, *.example.org"), "{m}");
        let Err(PluginFault::Denied(m)) = check("https://127.0.0.1/", allow, &[]) else { panic!("denied") };
        assert!(m.contains("IP address"), "{m}");
        // However an address is written, it is the address that is checked.
        assert!(matches!(check("https://2130706433/", allow, &[]), Err(PluginFault::Denied(_))));
        assert!(matches!(check("https://[::1]/", allow, &[]), Err(PluginFault::Denied(_))));
        // A private address the manifest lists is reached only when the operator lists it too.
        let Err(PluginFault::Denied(m)) = check("https://10.0.0.8/", allow, &[]) else { panic!("denied") };
        assert!(m.contains("not a public address") && m.contains("none"), "{m}");
        assert!(check("https://10.0.0.8/", allow, &["10.0.0.8"]).is_ok(), "listed by both");
        let public = &["93.184.215.14", "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]"];
        assert!(check("https://93.184.215.14/", public, &[]).is_ok(), "a public address listed as it is");
        assert!(check("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/", public, &[]).is_ok());
        let Err(PluginFault::Denied(m)) = check("http://erp.example.com/", allow, &[]) else { panic!("denied") };
        assert!(m.contains("plain http") && m.contains("none"), "{m}");
        assert!(check("http://erp.example.com/", allow, &["erp.example.com"]).is_ok());
        let Err(PluginFault::Denied(m)) = check("http://127.0.0.1:9/", allow, &["127.0.0.1"]) else { panic!("denied") };
        assert!(m.contains("127.0.0.1"), "plain http needs the allowlist too: {m}");
        assert!(matches!(check("ftp://erp.example.com/", allow, &[]), Err(PluginFault::Invalid(_))));
        assert!(matches!(check("https://api.example.org/", &[], &[]), Err(PluginFault::Denied(_))));
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.10",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "::10.0.0.1",
        ] {
            assert!(!is_public(private.parse().expect("address")), "{private} is not public");
        }
        for public in ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().expect("address")), "{public} is public");
        }
    }

    fn request(url: &str) -> Request {
        Request { method: "GET".into(), url: url.into(), headers: Vec::new(), body: Vec::new(), timeout_ms: None }
    }

    #[tokio::test]
    async fn refuses_bad_requests_without_sending_them() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let manifest = || testing::manifest(&["http:outbound"], &["erp.example.com"], "");
        let mut setup = Setup::new(&db.store, org.id, org.admin_id, manifest(), &["http:outbound"]);
        setup.limits.max_body_bytes = 16;
        let mut s = setup.state();
        let m = fault(s.send(request("https://other.example.com/")).await, "denied");
        assert!(m.contains("other.example.com") && m.contains("erp.example.com"), "{m}");
        fault(s.send(request("not a url")).await, "invalid");
        // Without a runtime there is no operator list: plain http goes nowhere.
        fault(s.send(request("http://erp.example.com/")).await, "denied");
        let url = "https://erp.example.com/orders";
        fault(s.send(Request { method: "TRACE".into(), ..request(url) }).await, "invalid");
        fault(s.send(Request { timeout_ms: Some(30_001), ..request(url) }).await, "invalid");
        fault(s.send(Request { timeout_ms: Some(0), ..request(url) }).await, "invalid");
        for name in ["Host", "connection", "Transfer-Encoding", "upgrade", "Proxy-Authorization"] {
            let headers = vec![(name.to_owned(), "x".to_owned())];
            let m = fault(s.send(Request { headers, ..request(url) }).await, "invalid");
            assert!(m.contains(name), "{m}");
        }
        fault(s.send(Request { headers: vec![("bad name".into(), "x".into())], ..request(url) }).await, "invalid");
        fault(s.send(Request { headers: vec![("x-ok".into(), "a\nb".into())], ..request(url) }).await, "invalid");
        let big = Request { method: "POST".into(), body: vec![b'x'; 17], ..request(url) };
        fault(s.send(big).await, "limited");

        // A listed name that resolves to the host's own network is refused when it is resolved.
        let mut to_localhost = Setup::new(
            &db.store,
            org.id,
            org.admin_id,
            testing::manifest(&["http:outbound"], &["localhost"], ""),
            &["http:outbound"],
        )
        .state();
        let m = fault(to_localhost.send(request("https://localhost:9/")).await, "denied");
        assert!(m.contains("localhost resolves to") && m.contains("not a public address"), "{m}");

        let mut ungranted = Setup::new(&db.store, org.id, org.admin_id, manifest(), &[]).state();
        let m = fault(ungranted.send(request(url)).await, "denied");
        assert!(m.contains("not granted http:outbound"), "{m}");
        let unrequested = Setup::new(&db.store, org.id, org.admin_id, testing::manifest(&[], &[], ""), &[]);
        let m = fault(unrequested.state().send(request(url)).await, "denied");
        assert!(m.contains("did not request http:outbound"), "{m}");
    }

    #[tokio::test]
    async fn the_host_of_a_url_setting_the_admin_filled_in_is_allowed() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let more =
            "[[settings]]\nname = \"erp_url\"\nlabel = { zh = \"ERP 地址\", en = \"ERP address\" }\nkind = \"text\"\n";
        let mut manifest = testing::manifest(&["http:outbound"], &[], more);
        manifest.plugin.http_allow_settings = vec!["erp_url".into()];
        let mut setup = Setup::new(&db.store, org.id, org.admin_id, manifest, &["http:outbound"]);
        // Unset: nothing is allowed.
        let m = fault(setup.state().send(request("https://erp.acme.example/stock")).await, "denied");
        assert!(m.contains("not on the http-allow list"), "{m}");
        setup.enabled.settings.insert("erp_url".into(), "https://ERP.acme.example./api".into());
        let mut s = setup.state();
        // Allowed now: the refusal that follows is the address's, not the list's.
        let m = fault(s.send(request("http://erp.acme.example/stock")).await, "denied");
        assert!(m.contains("plain http"), "{m}");
        let m = fault(s.send(request("https://api.acme.example/stock")).await, "denied");
        assert!(m.contains("not on the http-allow list"), "only the host itself, not its neighbours: {m}");
        // An admin who puts a private address in the setting still reaches only public ones.
        setup.enabled.settings.insert("erp_url".into(), "https://10.0.0.5/api".into());
        let m = fault(setup.state().send(request("https://10.0.0.5/stock")).await, "denied");
        assert!(m.contains("not a public address"), "{m}");
    }

    /// What the receiver got: the request line, the headers (lower-cased names) and the body.
    struct Received {
        line: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    /// A receiver on a loopback port that answers each connection with the next of `answers`
    /// and reports what it was sent.
    fn receiver(answers: Vec<Vec<u8>>) -> (u16, std::sync::mpsc::Receiver<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for answer in answers {
                let Ok((mut stream, _)) = listener.accept() else { return };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                reader.read_line(&mut line).expect("request line");
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).expect("header");
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    if let Some((n, v)) = h.split_once(':') {
                        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
                    }
                }
                let length =
                    headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
                let mut body = vec![0; length];
                reader.read_exact(&mut body).expect("body");
                stream.write_all(&answer).expect("answer");
                let _ = tx.send(Received { line: line.trim_end().to_owned(), headers, body });
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn sends_to_an_allowed_local_receiver() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let config = RuntimeConfig { local_hosts: vec!["127.0.0.1".into()], ..RuntimeConfig::default() };
        let runtime = Runtime::new(db.store.clone(), config);
        let answers = vec![
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Order: 77\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"id\":\"77\"}".to_vec(),
            b"HTTP/1.1 302 Found\r\nLocation: https://evil.example.net/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n".iter().copied().chain([b'x'; 100]).collect(),
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".iter().copied().chain([b'y'; 100]).collect(),
        ];
        let (port, got) = receiver(answers);
        let manifest = testing::manifest(&["http:outbound"], &["127.0.0.1"], "");
        let mut setup = Setup::new(&db.store, org.id, org.admin_id, manifest, &["http:outbound"]);
        setup.runtime = Arc::downgrade(&runtime);
        setup.limits.max_body_bytes = 64;
        let mut s = setup.state();

        let url = format!("http://127.0.0.1:{port}/orders?source=crm");
        let sent = Request {
            method: "post".into(),
            url: url.clone(),
            headers: vec![("Content-Type".into(), "application/json".into()), ("X-Api-Key".into(), "k-123".into())],
            body: br#"{"sku":"A1"}"#.to_vec(),
            timeout_ms: Some(5_000),
        };
        let response = s.send(sent).await.expect("no trap").expect("sent");
        assert_eq!(response.status, 201);
        assert_eq!(response.body, br#"{"id":"77"}"#);
        assert!(response.headers.iter().any(|(n, v)| n == "x-order" && v == "77"), "{:?}", response.headers);
        let received = got.recv().expect("the receiver got a request");
        assert_eq!(received.line, "POST /orders?source=crm HTTP/1.1");
        assert!(received.headers.iter().any(|(n, v)| n == "x-api-key" && v == "k-123"));
        assert!(received.headers.iter().any(|(n, v)| n == "content-type" && v == "application/json"));
        assert!(received.headers.iter().any(|(n, v)| n == "host" && v == &format!("127.0.0.1:{port}")));
        assert_eq!(received.body, br#"{"sku":"A1"}"#);

        // A redirect comes back as it is; nothing follows it.
        let redirect = s.send(request(&url)).await.expect("no trap").expect("sent");
        assert_eq!(redirect.status, 302);
        assert!(redirect.headers.iter().any(|(n, v)| n == "location" && v == "https://evil.example.net/"));
        assert_eq!(got.recv().expect("second request").line, "GET /orders?source=crm HTTP/1.1");

        // Bodies past the cap are refused, whether announced or not.
        let m = fault(s.send(request(&url)).await, "limited");
        assert!(m.contains("64 bytes"), "{m}");
        fault(s.send(request(&url)).await, "limited");

        // Nobody listens any more: the plugin hears the host is unavailable.
        let m = fault(s.send(Request { timeout_ms: Some(2_000), ..request(&url) }).await, "unavailable");
        assert!(m.contains("127.0.0.1"), "{m}");
    }
}
