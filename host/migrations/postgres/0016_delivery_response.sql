-- The beginning of each answer a webhook receiver gave, for the delivery log.
ALTER TABLE delivery_attempts ADD COLUMN response_body TEXT;
