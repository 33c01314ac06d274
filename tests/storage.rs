//! Storage: migrations, first start, SQLite settings, append-only audit log and the
//! organisation boundary enforced by the schema itself.

use anyhow::Context;
use serde_json::json;
use sqlx::Row;
use tessera_host::auth::PasswordHasher;
use tessera_host::org;
use tessera_host::store::Backend;
use tessera_tests::{ADMIN_PASSWORD, TestDb, TestServer, both_backends};

both_backends! {
    async fn migrations_run_again_without_change(backend) {
        let db = TestDb::new(backend).await?;
        let store = db.store().await?;
        store.migrate().await?;
        store.migrate().await?;
        let tables: i64 = match backend {
            Backend::Sqlite => sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'users'").fetch_one(store.pool()).await?,
            Backend::Postgres => sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'users'").fetch_one(store.pool()).await?,
        };
        assert_eq!(tables, 1);
        Ok(())
    }

    async fn first_start_creates_one_org_with_admin_once(backend) {
        let db = TestDb::new(backend).await?;
        let store = db.store().await?;
        let hasher = PasswordHasher::new();
        let first = org::bootstrap(&store, &hasher, "first", "First Co", None).await?.context("first start")?;
        assert!(first.generated_password);
        assert!(first.admin_password.len() >= 12, "generated password meets the policy");
        assert!(org::bootstrap(&store, &hasher, "first", "First Co", None).await?.is_none(), "second start creates nothing");
        let orgs = org::list(&store).await?;
        assert_eq!(orgs.len(), 1);
        let creds = tessera_host::org::users::credentials(&store, orgs[0].id, "admin").await?.context("admin")?;
        assert!(hasher.verify(&first.admin_password, Some(&creds.password_hash)).await?);
        Ok(())
    }

    async fn the_audit_log_is_append_only(backend) {
        let server = TestServer::start(backend).await?;
        let admin = server.admin().await?;
        admin.post("/api/v1/departments", &json!({ "name": "Sales" })).await?;
        let store = server.store();
        let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(store.pool()).await?;
        assert!(before >= 2, "org creation, sign-in and the department are audited");
        assert!(sqlx::query("UPDATE audit_log SET action = 'x'").execute(store.pool()).await.is_err());
        assert!(sqlx::query("DELETE FROM audit_log").execute(store.pool()).await.is_err());
        let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action <> 'x'").fetch_one(store.pool()).await?;
        assert_eq!(before, after);
        Ok(())
    }

    async fn the_schema_keeps_rows_inside_their_org(backend) {
        let db = TestDb::new(backend).await?;
        let store = db.store().await?;
        let hasher = PasswordHasher::new();
        let new = |slug: &str| org::NewOrg { slug: slug.into(), name: slug.into(), time_zone: "Asia/Shanghai".into(), admin_password: ADMIN_PASSWORD.into() };
        let a = org::create(&store, &hasher, &new("org-a")).await?;
        let b = org::create(&store, &hasher, &new("org-b")).await?;
        let dept_b: i64 = sqlx::query_scalar("INSERT INTO departments (org_id, name, created_at, updated_at) VALUES ($1, 'B', 0, 0) RETURNING id")
            .bind(b.org.id).fetch_one(store.pool()).await?;
        // A user of org A placed in a department of org B: refused by the composite foreign key.
        let cross = sqlx::query("UPDATE users SET department_id = $1 WHERE id = $2").bind(dept_b).bind(a.admin_user_id).execute(store.pool()).await;
        assert!(cross.is_err(), "a department of another organisation is refused");
        // Roles of org B cannot be given to users of org A.
        let role_b: i64 = sqlx::query_scalar("SELECT id FROM roles WHERE org_id = $1 LIMIT 1").bind(b.org.id).fetch_one(store.pool()).await?;
        let cross = sqlx::query("INSERT INTO user_roles (org_id, user_id, role_id) VALUES ($1, $2, $3)")
            .bind(a.org.id).bind(a.admin_user_id).bind(role_b).execute(store.pool()).await;
        assert!(cross.is_err(), "a role of another organisation is refused");
        Ok(())
    }

    async fn committed_writes_survive_a_reopen(backend) {
        let db = TestDb::new(backend).await?;
        let store = db.store().await?;
        let hasher = PasswordHasher::new();
        org::bootstrap(&store, &hasher, "keep", "Keep Co", Some(ADMIN_PASSWORD.into())).await?;
        store.close().await;
        let reopened = db.store().await?;
        assert_eq!(org::list(&reopened).await?.len(), 1);
        Ok(())
    }
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() -> anyhow::Result<()> {
    let db = TestDb::new(Backend::Sqlite).await?;
    let store = db.store().await?;
    let mut conn = store.pool().acquire().await?;
    let mode: String = sqlx::query("PRAGMA journal_mode").fetch_one(&mut *conn).await?.try_get(0)?;
    let fk: i64 = sqlx::query("PRAGMA foreign_keys").fetch_one(&mut *conn).await?.try_get(0)?;
    let busy: i64 = sqlx::query("PRAGMA busy_timeout").fetch_one(&mut *conn).await?.try_get(0)?;
    assert_eq!(mode.to_lowercase(), "wal");
    assert_eq!(fk, 1);
    assert!(busy >= 5000);
    Ok(())
}

#[tokio::test]
async fn unsupported_database_urls_are_refused_clearly() {
    let err = tessera_host::store::Store::connect("mysql://localhost/x")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("unsupported database URL"), "{err}");
}
