//! `context`: where the current call comes from (the browser's address), whether the person
//! making it is an administrator, and the organisation's time zone. Needs no grant: none of it
//! tells a plugin anything about anyone but the person using it. Since API 0.1.3.

use crate::runtime::bindings::tessera::plugin::context::Host;
use crate::runtime::sandbox::PluginState;

impl Host for PluginState {
    async fn client_ip(&mut self) -> wasmtime::Result<Option<String>> {
        self.enter()?;
        Ok(self.ctx.client_ip.map(|ip| ip.to_canonical().to_string()))
    }

    async fn time_zone(&mut self) -> wasmtime::Result<String> {
        self.enter()?;
        let zone = match crate::org::get(&self.ctx.store, self.ctx.org_id()).await {
            Ok(org) => org.time_zone,
            Err(e) => {
                tracing::warn!(error = %e, org_id = self.ctx.org_id(), "cannot read the organisation's time zone");
                "Asia/Shanghai".to_owned()
            }
        };
        Ok(zone)
    }

    async fn is_admin(&mut self) -> wasmtime::Result<bool> {
        self.enter()?;
        Ok(self.ctx.user.as_ref().is_some_and(crate::access::Access::is_admin))
    }

    async fn roles(&mut self) -> wasmtime::Result<Vec<String>> {
        self.enter()?;
        let Some(user) = &self.ctx.user else {
            return Ok(Vec::new());
        };
        let principal = user.principal();
        let me = [principal.user_id];
        let found = super::directory::user_roles(&self.ctx.store, principal.org_id, &me);
        match self.ctx.bounded("context.roles", found).await {
            Ok(mut users) => Ok(users.pop().map(|u| u.roles).unwrap_or_default()),
            Err(e) => {
                tracing::warn!(error = ?e, "cannot read the user's roles");
                Ok(Vec::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::bindings::tessera::plugin::context::Host;
    use crate::runtime::capabilities::testing::{self, Setup, TestDb};
    use crate::store::Backend;

    #[tokio::test]
    async fn answers_the_address_and_the_organisations_zone() {
        let db = TestDb::new(Backend::Sqlite).await;
        let org = testing::org(&db.store, "acme").await;
        let setup = Setup::new(&db.store, org.id, org.admin_id, testing::manifest(&[], &[], ""), &[]);
        let mut state = setup.state();
        assert_eq!(state.client_ip().await.unwrap(), None, "a call without a browser has no address");
        state.ctx.client_ip = Some("::ffff:192.168.1.20".parse().unwrap());
        assert_eq!(
            state.client_ip().await.unwrap().as_deref(),
            Some("192.168.1.20"),
            "IPv4 mapped into IPv6 reads as IPv4"
        );
        assert_eq!(state.time_zone().await.unwrap(), "Asia/Shanghai");
        assert!(!state.is_admin().await.unwrap(), "no user, no administrator");
        assert!(state.roles().await.unwrap().is_empty(), "no user, no roles");
        let salesperson = testing::user(&db.store, org.id, "mei", "Salesperson").await;
        for (user, admin) in [(org.admin_id, true), (salesperson, false)] {
            let access = testing::access(&db.store, org.id, user).await;
            let manifest = testing::manifest(&[], &[], "");
            let mut state = Setup::new(&db.store, org.id, org.admin_id, manifest, &[]).for_user(access).state();
            assert_eq!(state.is_admin().await.unwrap(), admin, "user {user}");
            let role = if admin { "Administrator" } else { "Salesperson" };
            assert!(state.roles().await.unwrap().iter().any(|r| r == role), "user {user} is a {role}");
        }
    }
}
