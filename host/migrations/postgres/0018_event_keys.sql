-- Events a plugin publishes at most once per key (`events.publish-once`): an approved sales
-- order goes to the ERP once per version although the handler that announces it may run again.
-- Webhooks carry the key in the `idempotency-key` header.
ALTER TABLE outbox ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX outbox_idempotency_key ON outbox (org_id, topic, idempotency_key) WHERE idempotency_key IS NOT NULL;
