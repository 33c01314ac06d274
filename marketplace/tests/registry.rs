//! The registry over a real socket, on SQLite and PostgreSQL: a plugin's way from a
//! publisher's key to an organisation's verified license and download, every refusal of an
//! upload (each check in its order), every permission, bad input, the revocation list, and
//! the web catalog's pages.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::*;
use tessera_package::{LicenseState, PublisherCert, RevocationList, SecretKey, Timestamp, Tpkg};
use tessera_tests::both_backends;

both_backends! {
    async fn a_plugin_goes_from_its_publisher_to_an_organisation(backend) {
        let m = Market::start(backend).await?;
        let trust = m.trust().await?;
        let acme = m.publisher("acme").await?;

        // The certificate names the publisher's key and the id it claimed, signed by the root.
        let cert = m.claim(&acme, "tiny-pool").await?;
        let says = cert.verify(&trust)?;
        assert_eq!((says.id.as_str(), says.key), (acme.id.as_str(), acme.key.public_key()));
        assert_eq!(says.plugins, vec!["tiny-pool".to_owned()]);
        let (status, body) = m.get("/api/v1/publishers/me/certificate", Some(&acme.token)).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["plugins"], json!(["tiny-pool"]));

        let text = manifest("tiny-pool", "1.0.0", "Tiny pool", &["customers:read"], "license-required = true\n");
        let uploaded = signed(&acme, &cert, &text, component(&text, READS_CUSTOMERS))?;
        let (status, body) = m.upload(&acme.token, &uploaded, Some("首个版本：客户公海。\nFirst release.")).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let local = Tpkg::decode(&uploaded)?;
        assert_eq!(body, json!({
            "plugin": "tiny-pool", "version": "1.0.0", "sha256": local.sha256(),
            "component_sha256": local.component_sha256(),
        }));

        // Not in the catalog until it is listed.
        let (status, body) = m.get("/api/v1/plugins/tiny-pool", None).await?;
        expect_error("unlisted", (status, body), StatusCode::NOT_FOUND, "not_found");
        m.list(&acme.token, "tiny-pool", json!({
            "category": "sales", "kind": "subscription", "price_cents": 3000, "currency": "CNY",
            "period_days": 30, "grace_days": 7,
        })).await?;

        // Found by its Chinese name, its category and the host API it runs on; not by others.
        for query in ["q=%E5%AE%A2%E6%88%B7%E5%B0%8F%E5%B7%A5%E5%85%B7", "q=TINY", "category=sales", "api=0.1.4", ""] {
            let (status, body) = m.get(&format!("/api/v1/plugins?{query}"), None).await?;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["plugins"].as_array().map(Vec::len), Some(1), "{query}: {body}");
        }
        for query in ["q=pool-of-nothing", "category=hr", "api=0.2.0"] {
            let (_, body) = m.get(&format!("/api/v1/plugins?{query}"), None).await?;
            assert_eq!(body["plugins"], json!([]), "{query}");
        }
        let (_, body) = m.get("/api/v1/plugins?q=tiny", None).await?;
        let listed = &body["plugins"][0];
        assert_eq!(listed["name"], json!({ "zh": "客户小工具 tiny-pool", "en": "Tiny pool" }));
        assert_eq!(listed["publisher"], json!({ "id": acme.id, "name": "acme" }));
        assert_eq!(listed["latest_version"], "1.0.0");
        assert_eq!(listed["api"], "^0.1");
        assert_eq!(listed["capabilities"], json!(["customers:read"]));
        assert_eq!(listed["license_required"], true);
        assert_eq!(listed["price"], json!({
            "kind": "subscription", "price_cents": 3000, "currency": "CNY", "period_days": 30, "grace_days": 7,
        }));
        let (_, detail) = m.get("/api/v1/plugins/tiny-pool", None).await?;
        assert_eq!(detail["versions"][0]["changelog"], "首个版本：客户公海。\nFirst release.");
        assert_eq!(detail["versions"][0]["sha256"], local.sha256());
        assert_eq!(detail["versions"][0]["revoked"], false);

        // A paid download needs a license.
        let download = "/api/v1/plugins/tiny-pool/versions/1.0.0/package";
        expect_error("anonymous", m.get(download, None).await?, StatusCode::UNAUTHORIZED, "unauthenticated");
        let (org_id, org) = m.org("shop").await?;
        let (status, body) = m.get(download, Some(&org)).await?;
        assert!(body["error"]["message"].as_str().unwrap_or_default().contains("buy it first"), "{body}");
        expect_error("no license", (status, body), StatusCode::FORBIDDEN, "license_required");

        // Buying issues a token the host checks offline, bound to this org and plugin.
        let (status, bought) = m.post("/api/v1/purchases", Some(&org), &json!({ "plugin": "tiny-pool" })).await?;
        assert_eq!(status, StatusCode::CREATED, "{bought}");
        assert_eq!((bought["kind"].as_str(), bought["grace_days"].as_i64()), (Some("subscription"), Some(7)));
        let token = bought["license"].as_str().unwrap_or_default();
        let now = Timestamp::now();
        let LicenseState::Valid { until: Some(until) } =
            tessera_package::license::check(token, &trust, &org_id, "tiny-pool", now)?
        else {
            panic!("a paid subscription is valid");
        };
        let days = (until.as_second() - now.as_second()) as f64 / 86_400.0;
        assert!((29.9..30.1).contains(&days), "30 days, not {days}");
        assert!(tessera_package::license::check(token, &trust, "org-other", "tiny-pool", now).is_err());

        // Bought again while paid: the new period follows the current one.
        let (_, again) = m.post("/api/v1/purchases", Some(&org), &json!({ "plugin": "tiny-pool" })).await?;
        let claims = tessera_package::license::verify_token(again["license"].as_str().unwrap_or_default(), &trust)?;
        let extended = claims.expires_at.map(|t| t.as_second() - until.as_second());
        assert!(extended.is_some_and(|s| (30 * 86_400 - 5..=30 * 86_400 + 5).contains(&s)), "{extended:?}");
        let (status, held) = m.get("/api/v1/licenses", Some(&org)).await?;
        assert_eq!(status, StatusCode::OK, "{held}");
        assert_eq!(held["licenses"].as_array().map(Vec::len), Some(1));
        assert_eq!(held["licenses"][0]["license"], again["license"]);

        // The download is the package uploaded, and verifies against the trust root.
        let resp = m.http.get(m.url(download)).bearer_auth(&org).send().await?;
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = resp.bytes().await?;
        assert_eq!(&bytes[..], &uploaded[..]);
        let signed = tessera_package::verify(&Tpkg::decode(&bytes)?, &trust)?;
        assert_eq!((signed.plugin.as_str(), signed.version.to_string()), ("tiny-pool", "1.0.0".to_owned()));

        // A newer version becomes the latest; a free plugin downloads for anyone.
        m.upload(&acme.token, &package(&acme, &cert, "tiny-pool", "1.1.0")?, None).await?;
        let (_, body) = m.get("/api/v1/plugins/tiny-pool", None).await?;
        assert_eq!(body["latest_version"], "1.1.0");
        assert_eq!(body["versions"].as_array().map(Vec::len), Some(2));
        let cert = m.claim(&acme, "free-tool").await?;
        let (status, body) = m.upload(&acme.token, &package(&acme, &cert, "free-tool", "0.3.0")?, None).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        m.list(&acme.token, "free-tool", json!({ "category": "crm", "kind": "free" })).await?;
        let resp = m.http.get(m.url("/api/v1/plugins/free-tool/versions/0.3.0/package")).send().await?;
        assert_eq!(resp.status(), StatusCode::OK);
        let (status, free) = m.post("/api/v1/purchases", Some(&org), &json!({ "plugin": "free-tool" })).await?;
        assert_eq!((status, free["expires_at"].clone()), (StatusCode::CREATED, json!(null)), "{free}");
        expect_error(
            "a free license held",
            m.post("/api/v1/purchases", Some(&org), &json!({ "plugin": "free-tool" })).await?,
            StatusCode::CONFLICT,
            "already_licensed",
        );
        Ok(())
    }

    async fn every_check_of_an_upload_refuses_with_its_code(backend) {
        let m = Market::start(backend).await?;
        let acme = m.publisher("acme").await?;
        let cert = m.claim(&acme, "tiny").await?;
        let good = package(&acme, &cert, "tiny", "1.0.0")?;
        let refused = |what: &'static str, status: StatusCode, code: &'static str| (what, status, code);
        let mut cases = Vec::new();

        // 1. The .tpkg decodes.
        cases.push((refused("not a package", StatusCode::UNPROCESSABLE_ENTITY, "malformed"), b"hello".to_vec()));
        // 2. Signature and certificate chain.
        let text = manifest("tiny", "1.0.0", "Tiny", &["customers:read"], "");
        let unsigned = Tpkg::unsigned(text.clone(), component(&text, READS_CUSTOMERS))?.encode();
        cases.push((refused("unsigned", StatusCode::UNPROCESSABLE_ENTITY, "not_signed"), unsigned));
        let mut tampered = good.clone();
        // The last byte of the component: the signature section (5 + 1 + 64 bytes and the
        // certificate) follows it.
        let last = tampered.len() - cert.to_text().len() - 71;
        tampered[last] ^= 0x01;
        cases.push((refused("tampered", StatusCode::UNPROCESSABLE_ENTITY, "bad_signature"), tampered));
        let stranger_root = SecretKey::from_seed([9; 32]);
        let stranger = PublisherCert::issue(&cert.verify(&m.trust().await?)?, &stranger_root)?;
        cases.push((
            refused("another marketplace's certificate", StatusCode::UNPROCESSABLE_ENTITY, "unknown_root"),
            signed(&acme, &stranger, &text, component(&text, READS_CUSTOMERS))?,
        ));
        let other_text = manifest("not-mine", "1.0.0", "Not mine", &["customers:read"], "");
        cases.push((
            refused("an id the certificate does not list", StatusCode::UNPROCESSABLE_ENTITY, "not_publisher_of"),
            forged(&other_text, &component(&other_text, READS_CUSTOMERS), &acme.key, &cert)?,
        ));
        // 4–6. What the host checks of the component.
        let future = manifest("tiny", "1.0.0", "Tiny", &["customers:read"], "").replace("^0.1", "^0.2");
        cases.push((
            refused("API range", StatusCode::UNPROCESSABLE_ENTITY, "api_out_of_range"),
            signed(&acme, &cert, &future, component(&future, READS_CUSTOMERS))?,
        ));
        cases.push((
            refused("built against a newer API", StatusCode::UNPROCESSABLE_ENTITY, "api_out_of_range"),
            signed(&acme, &cert, &text, component(&text, &[("tessera:plugin/customers@0.1.99", &["get"])]))?,
        ));
        cases.push((
            refused("foreign import", StatusCode::UNPROCESSABLE_ENTITY, "malformed"),
            signed(&acme, &cert, &text, component(&text, &[("acme:backdoor/shell@1.0.0", &["run"])]))?,
        ));
        cases.push((
            refused("no manifest section", StatusCode::UNPROCESSABLE_ENTITY, "malformed"),
            signed(&acme, &cert, &text, bare_component(READS_CUSTOMERS))?,
        ));
        let inner = manifest("tiny", "1.0.0", "Tiny, described otherwise", &["customers:read"], "");
        cases.push((
            refused("manifest mismatch", StatusCode::UNPROCESSABLE_ENTITY, "manifest_mismatch"),
            signed(&acme, &cert, &text, component(&inner, READS_CUSTOMERS))?,
        ));
        let greedy = manifest("tiny", "1.0.0", "Tiny", &["customers:read", "notify"], "");
        cases.push((
            refused("requests what it does not use", StatusCode::UNPROCESSABLE_ENTITY, "capability_mismatch"),
            signed(&acme, &cert, &greedy, component(&greedy, READS_CUSTOMERS))?,
        ));
        let modest = manifest("tiny", "1.0.0", "Tiny", &[], "");
        cases.push((
            refused("uses what it does not request", StatusCode::UNPROCESSABLE_ENTITY, "capability_mismatch"),
            signed(&acme, &cert, &modest, component(&modest, READS_CUSTOMERS))?,
        ));
        for ((what, status, code), bytes) in cases {
            expect_error(what, m.upload(&acme.token, &bytes, None).await?, status, code);
        }

        // 3. The certificate is this publisher's, with its current key.
        let rival = m.publisher("rival").await?;
        expect_error("another publisher's package", m.upload(&rival.token, &good, None).await?, StatusCode::FORBIDDEN, "other_publisher");
        // 7. A version is published once.
        let (status, body) = m.upload(&acme.token, &good, None).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        expect_error("the same version again", m.upload(&acme.token, &good, None).await?, StatusCode::CONFLICT, "version_exists");
        // The publisher rotates its key: packages signed with the old one are refused.
        let rotated = tessera_package::keygen()?;
        let (status, body) = m
            .put("/api/v1/publishers/me/key", Some(&acme.token), &json!({ "public_key": rotated.public_key().to_text() }))
            .await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        let new_cert = PublisherCert::parse(body["certificate"].as_str().unwrap_or_default())?;
        assert_eq!(new_cert.verify(&m.trust().await?)?.key, rotated.public_key());
        let old = package(&acme, &cert, "tiny", "1.0.1")?;
        expect_error("the old key", m.upload(&acme.token, &old, None).await?, StatusCode::UNPROCESSABLE_ENTITY, "wrong_key");
        let acme = Publisher { key: rotated, ..acme };
        let (status, body) = m.upload(&acme.token, &package(&acme, &new_cert, "tiny", "1.0.1")?, None).await?;
        assert_eq!(status, StatusCode::CREATED, "the new key: {body}");
        Ok(())
    }

    async fn every_endpoint_checks_who_calls(backend) {
        let m = Market::start(backend).await?;
        let acme = m.publisher("acme").await?;
        let cert = m.claim(&acme, "tiny").await?;
        let rival = m.publisher("rival").await?;
        let (_, org) = m.org("shop").await?;

        expect_error(
            "another publisher's id",
            m.post("/api/v1/publishers/me/plugins", Some(&rival.token), &json!({ "id": "tiny" })).await?,
            StatusCode::CONFLICT,
            "plugin_taken",
        );
        expect_error(
            "another publisher's listing",
            m.put("/api/v1/plugins/tiny/listing", Some(&rival.token), &json!({ "category": "crm", "kind": "free" })).await?,
            StatusCode::FORBIDDEN,
            "plugin_taken",
        );
        let (status, body) = m.post("/api/v1/publishers", None, &json!({ "name": "keyless", "email": "k@example.com", "password": PASSWORD })).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        expect_error(
            "a claim before a key",
            m.post("/api/v1/publishers/me/plugins", body["token"].as_str(), &json!({ "id": "keyless" })).await?,
            StatusCode::CONFLICT,
            "no_key",
        );
        let key_of_acme = json!({ "public_key": acme.key.public_key().to_text() });
        expect_error(
            "another publisher's key",
            m.put("/api/v1/publishers/me/key", Some(&rival.token), &key_of_acme).await?,
            StatusCode::CONFLICT,
            "key_taken",
        );

        // Organisation tokens on publisher endpoints, and the other way round.
        let package = package(&acme, &cert, "tiny", "1.0.0")?;
        expect_error("org uploads", m.upload(&org, &package, None).await?, StatusCode::FORBIDDEN, "wrong_account");
        for (what, answer) in [
            ("org registers a key", m.put("/api/v1/publishers/me/key", Some(&org), &key_of_acme).await?),
            ("org claims", m.post("/api/v1/publishers/me/plugins", Some(&org), &json!({ "id": "x-tool" })).await?),
            ("org certificate", m.get("/api/v1/publishers/me/certificate", Some(&org)).await?),
            ("org lists", m.put("/api/v1/plugins/tiny/listing", Some(&org), &json!({ "category": "crm", "kind": "free" })).await?),
            ("publisher buys", m.post("/api/v1/purchases", Some(&acme.token), &json!({ "plugin": "tiny" })).await?),
            ("publisher licenses", m.get("/api/v1/licenses", Some(&acme.token)).await?),
            ("org revokes", m.post("/api/v1/revocations", Some(&org), &json!({ "key_id": "0123456789abcdef", "reason": "x" })).await?),
            ("publisher revokes", m.post("/api/v1/revocations", Some(&acme.token), &json!({ "plugin": "tiny", "reason": "x" })).await?),
        ] {
            expect_error(what, answer, StatusCode::FORBIDDEN, "wrong_account");
        }
        for (what, answer) in [
            ("no token", m.get("/api/v1/licenses", None).await?),
            ("unknown token", m.get("/api/v1/licenses", Some("tmk_not-a-token")).await?),
            ("not a bearer", m.send(m.http.get(m.url("/api/v1/licenses")).header("authorization", "Basic eDp5")).await?),
            ("no token uploads", m.send(m.http.post(m.url("/api/v1/packages")).body("x")).await?),
        ] {
            expect_error(what, answer, StatusCode::UNAUTHORIZED, "unauthenticated");
        }

        // A paid plugin is downloaded only by an organisation that bought it.
        let (status, body) = m.upload(&acme.token, &package, None).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        m.list(&acme.token, "tiny", json!({ "category": "crm", "kind": "one-off", "price_cents": 9900, "currency": "CNY" })).await?;
        let download = "/api/v1/plugins/tiny/versions/1.0.0/package";
        expect_error("no license", m.get(download, Some(&org)).await?, StatusCode::FORBIDDEN, "license_required");
        expect_error("another publisher", m.get(download, Some(&rival.token)).await?, StatusCode::FORBIDDEN, "license_required");
        let own = m.http.get(m.url(download)).bearer_auth(&acme.token).send().await?;
        assert_eq!(own.status(), StatusCode::OK, "its publisher downloads its own package");
        let (status, body) = m.post("/api/v1/purchases", Some(&org), &json!({ "plugin": "tiny" })).await?;
        assert_eq!((status, body["expires_at"].clone()), (StatusCode::CREATED, json!(null)), "{body}");
        assert_eq!(m.http.get(m.url(download)).bearer_auth(&org).send().await?.status(), StatusCode::OK);
        expect_error(
            "buying a one-off twice",
            m.post("/api/v1/purchases", Some(&org), &json!({ "plugin": "tiny" })).await?,
            StatusCode::CONFLICT,
            "already_licensed",
        );

        // Accounts.
        expect_error(
            "a taken email",
            m.post("/api/v1/orgs", None, &json!({ "name": "shop 2", "email": "SHOP@org.example", "password": PASSWORD })).await?,
            StatusCode::CONFLICT,
            "email_taken",
        );
        expect_error(
            "a short password",
            m.post("/api/v1/orgs", None, &json!({ "name": "shop 3", "email": "s3@org.example", "password": "short" })).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
        );
        expect_error(
            "a wrong password",
            m.post("/api/v1/sessions", None, &json!({ "email": "shop@org.example", "password": "wrong password!!", "kind": "org" })).await?,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
        expect_error(
            "an org signing in as a publisher",
            m.post("/api/v1/sessions", None, &json!({ "email": "shop@org.example", "password": PASSWORD, "kind": "publisher" })).await?,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
        let (status, session) = m.post("/api/v1/sessions", None, &json!({ "email": "shop@org.example", "password": PASSWORD, "kind": "org" })).await?;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        let (status, held) = m.get("/api/v1/licenses", session["token"].as_str()).await?;
        assert_eq!((status, held["licenses"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{held}");
        Ok(())
    }

    async fn bad_input_gets_a_precise_client_error(backend) {
        let m = Market::start(backend).await?;
        let acme = m.publisher("acme").await?;
        let publishers = m.url("/api/v1/publishers");
        for (what, req, status, code) in [
            ("bad JSON", m.http.post(&publishers).header("content-type", "application/json").body("{\"name\":"), StatusCode::BAD_REQUEST, "malformed_json"),
            ("not JSON", m.http.post(&publishers).header("content-type", "text/plain").body("name=x"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ("unknown field", m.http.post(&publishers).json(&json!({ "name": "x", "email": "x@example.com", "password": PASSWORD, "admin": true })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ("a NUL character", m.http.post(&publishers).json(&json!({ "name": "x\u{0}", "email": "x@example.com", "password": PASSWORD })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ("JSON over 64 KiB", m.http.post(&publishers).json(&json!({ "name": "x".repeat(70_000), "email": "x@example.com", "password": PASSWORD })), StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ("a bad category", m.http.get(m.url("/api/v1/plugins?category=games")), StatusCode::BAD_REQUEST, "invalid_query"),
            ("a bad API version", m.http.get(m.url("/api/v1/plugins?api=%5E0.1")), StatusCode::BAD_REQUEST, "invalid_query"),
            ("a NUL in a search", m.http.get(m.url("/api/v1/plugins?q=a%00b")), StatusCode::BAD_REQUEST, "invalid_query"),
            ("a NUL in a path", m.http.get(m.url("/api/v1/plugins/a%00b")), StatusCode::NOT_FOUND, "not_found"),
            ("a version that is not one", m.http.get(m.url("/api/v1/plugins/tiny/versions/latest/package")), StatusCode::NOT_FOUND, "not_found"),
            ("no such endpoint", m.http.get(m.url("/api/v1/nothing")), StatusCode::NOT_FOUND, "not_found"),
            ("a listing of another kind", auth(m.http.put(m.url("/api/v1/plugins/tiny/listing")), Some(&acme.token)).json(&json!({ "category": "crm", "kind": "rental" })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ("a paid listing without a price", auth(m.http.put(m.url("/api/v1/plugins/tiny/listing")), Some(&acme.token)).json(&json!({ "category": "crm", "kind": "one-off" })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ("a key that is not one", auth(m.http.put(m.url("/api/v1/publishers/me/key")), Some(&acme.token)).json(&json!({ "public_key": "ssh-ed25519 AAAA" })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_key"),
            ("a plugin id that is not one", auth(m.http.post(m.url("/api/v1/publishers/me/plugins")), Some(&acme.token)).json(&json!({ "id": "Not An Id" })), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ("an upload that is not multipart", auth(m.http.post(m.url("/api/v1/packages")), Some(&acme.token)).json(&json!({})), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ] {
            expect_error(what, m.send(req).await?, status, code);
        }
        let (content_type, body) = multipart(&[("changelog", b"only words")]);
        let req = m.http.post(m.url("/api/v1/packages")).bearer_auth(&acme.token).header("content-type", content_type).body(body);
        expect_error("no package part", m.send(req).await?, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        let (content_type, body) = multipart(&[("package", b"TPKG"), ("changelog", b"\xff\xfe")]);
        let req = m.http.post(m.url("/api/v1/packages")).bearer_auth(&acme.token).header("content-type", content_type).body(body);
        expect_error("a changelog that is not UTF-8", m.send(req).await?, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        // A package above the 50 MiB the format allows.
        let huge = vec![0u8; tessera_package::tpkg::MAX_PACKAGE_BYTES + (2 << 20)];
        expect_error("an oversized upload", m.upload(&acme.token, &huge, None).await?, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
        // The server is still there, and says so.
        assert_eq!(m.http.get(m.url("/healthz")).send().await?.status(), StatusCode::OK);
        Ok(())
    }

    async fn revocations_make_a_new_signed_list_each(backend) {
        let m = Market::start(backend).await?;
        let trust = m.trust().await?;
        let resp = m.http.get(m.url("/api/v1/revocations")).send().await?;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-cache"));
        let first = RevocationList::verify(&resp.bytes().await?, &trust)?;
        assert_eq!((first.seq, first.entries.len()), (0, 0));

        let acme = m.publisher("acme").await?;
        let cert = m.claim(&acme, "tiny").await?;
        for version in ["1.0.0", "1.1.0"] {
            let (status, body) = m.upload(&acme.token, &package(&acme, &cert, "tiny", version)?, None).await?;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        m.list(&acme.token, "tiny", json!({ "category": "crm", "kind": "free" })).await?;
        let op = Some(m.operator.as_str());
        let (status, body) = m.post("/api/v1/revocations", op, &json!({ "plugin": "tiny", "version": "<1.1.0", "reason": "loses claims" })).await?;
        assert_eq!((status, body["seq"].as_u64()), (StatusCode::CREATED, Some(1)), "{body}");
        let resp = m.http.get(m.url("/api/v1/revocations")).send().await?;
        let list = RevocationList::verify_update(&resp.bytes().await?, &trust, Some(first.seq))?;
        assert_eq!(list.seq, 1);
        assert!(list.is_revoked("tiny", &"1.0.0".parse()?, "00").is_some());
        assert!(list.is_revoked("tiny", &"1.1.0".parse()?, "00").is_none());

        let (_, detail) = m.get("/api/v1/plugins/tiny", None).await?;
        assert_eq!(detail["latest_version"], "1.1.0");
        let old = detail["versions"].as_array().and_then(|v| v.iter().find(|v| v["version"] == "1.0.0")).cloned().unwrap_or_default();
        assert_eq!((old["revoked"].clone(), old["revoked_reason"].clone()), (json!(true), json!("loses claims")));
        expect_error("a revoked download", m.get("/api/v1/plugins/tiny/versions/1.0.0/package", None).await?, StatusCode::GONE, "revoked");
        expect_error(
            "an upload of a revoked version",
            m.upload(&acme.token, &package(&acme, &cert, "tiny", "1.0.5")?, None).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
            "revoked",
        );

        // A stolen key: everything it signed, and anything it would sign, is refused.
        let key_id = acme.key.key_id().to_string();
        let (status, body) = m.post("/api/v1/revocations", op, &json!({ "key_id": key_id, "reason": "reported stolen" })).await?;
        assert_eq!((status, body["seq"].as_u64()), (StatusCode::CREATED, Some(2)), "{body}");
        let list = RevocationList::verify(body["list"].to_string().as_bytes(), &trust)?;
        assert!(list.is_key_revoked(&acme.key.key_id()).is_some());
        let (_, body) = m.get("/api/v1/plugins", None).await?;
        assert_eq!(body["plugins"], json!([]), "no version left that is not revoked");
        expect_error(
            "a revoked key signs",
            m.upload(&acme.token, &package(&acme, &cert, "tiny", "2.0.0")?, None).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
            "revoked_key",
        );
        let stolen = json!({ "public_key": acme.key.public_key().to_text() });
        let rival = m.publisher("rival").await?;
        expect_error("registering a revoked key", m.put("/api/v1/publishers/me/key", Some(&rival.token), &stolen).await?, StatusCode::UNPROCESSABLE_ENTITY, "revoked_key");
        expect_error(
            "a revocation of nothing",
            m.post("/api/v1/revocations", op, &json!({ "reason": "because" })).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
        Ok(())
    }

    async fn the_web_catalog_shows_plugins_in_both_languages_escaped(backend) {
        let m = Market::start(backend).await?;
        let acme = m.publisher("acme").await?;
        let cert = m.claim(&acme, "tiny").await?;
        let text = manifest("tiny", "1.0.0", "<script>alert(1)</script> & \"Tiny\"", &["customers:read"], "");
        let (status, body) = m
            .upload(&acme.token, &signed(&acme, &cert, &text, component(&text, READS_CUSTOMERS))?, Some("<b>bold</b> 修复"))
            .await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        m.list(&acme.token, "tiny", json!({ "category": "service", "kind": "subscription", "price_cents": 1990, "currency": "CNY", "period_days": 30 })).await?;

        let (status, html) = m.page("/?lang=en", None).await?;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;Tiny&#34;"), "{html}");
        assert!(!html.contains("<script>"), "plugin text is escaped");
        assert!(html.contains("¥19.90 per 30 days") && html.contains("Service"), "{html}");
        let (_, html) = m.page("/", Some("zh-CN,zh;q=0.9")).await?;
        assert!(html.contains("客户小工具 tiny") && html.contains("客户服务") && html.contains("lang=\"zh-CN\""), "{html}");
        let (_, html) = m.page("/?q=nothing-like-it&lang=en", None).await?;
        assert!(html.contains("No plugin matches."), "{html}");

        let (status, html) = m.page("/plugins/tiny", Some("en")).await?;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Read the customers and contacts a user may see") && html.contains("customers:read"), "{html}");
        assert!(html.contains("&#60;b&#62;bold&#60;/b&#62; 修复") && !html.contains("<b>bold</b>"), "{html}");
        assert!(html.contains("^0.1") && html.contains("1.0.0"), "{html}");
        let (_, html) = m.page("/plugins/tiny?lang=zh", Some("en")).await?;
        assert!(html.contains("读取用户可见的客户和联系人") && html.contains("每 30 天"), "{html}");
        let (status, html) = m.page("/plugins/no-such-plugin?lang=en", None).await?;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(html.contains("There is no such page."), "{html}");
        Ok(())
    }
}
