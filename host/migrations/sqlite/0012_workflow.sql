-- The workflow kernel: approval definitions (versioned), instances with their state machine,
-- who each instance waits for, the history of every action, and the customer approval setting.

CREATE TABLE approval_definitions (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs(id),
    name          TEXT    NOT NULL,
    subject_type  TEXT    NOT NULL,
    -- The current version; its steps are also kept in approval_definition_versions.
    version       INTEGER NOT NULL,
    -- JSON array of steps.
    steps         TEXT    NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_by    INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (org_id, id)
);
CREATE INDEX approval_definitions_org ON approval_definitions (org_id, id);

CREATE TABLE approval_definition_versions (
    org_id         INTEGER NOT NULL,
    definition_id  INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    steps          TEXT    NOT NULL,
    created_by     INTEGER,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (definition_id, version),
    FOREIGN KEY (org_id, definition_id) REFERENCES approval_definitions (org_id, id)
);

CREATE TABLE approval_instances (
    id                  INTEGER PRIMARY KEY,
    org_id              INTEGER NOT NULL REFERENCES orgs(id),
    definition_id       INTEGER NOT NULL,
    definition_version  INTEGER NOT NULL,
    subject_type        TEXT    NOT NULL,
    subject_id          INTEGER NOT NULL,
    title               TEXT    NOT NULL,
    -- JSON object: the subject's fields at submission.
    fields              TEXT    NOT NULL DEFAULT '{}',
    submitter_id        INTEGER NOT NULL,
    state               TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'returned', 'withdrawn')),
    step                INTEGER,
    -- JSON: the state machine's state (resolved steps, approvals, deadlines).
    machine             TEXT    NOT NULL,
    -- When the waiting step's reminder / escalation is due; NULL when none is.
    remind_at           INTEGER,
    escalate_at         INTEGER,
    -- Compare-and-set: every action writes `WHERE version = <the version it read>`.
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    finished_at         INTEGER,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, definition_id) REFERENCES approval_definitions (org_id, id),
    FOREIGN KEY (org_id, submitter_id) REFERENCES users (org_id, id)
);
CREATE INDEX approval_instances_submitter ON approval_instances (org_id, submitter_id, id);
CREATE INDEX approval_instances_subject ON approval_instances (org_id, subject_type, subject_id);
CREATE INDEX approval_instances_definition ON approval_instances (org_id, definition_id);
CREATE INDEX approval_instances_remind ON approval_instances (remind_at) WHERE remind_at IS NOT NULL;
CREATE INDEX approval_instances_escalate ON approval_instances (escalate_at) WHERE escalate_at IS NOT NULL;

-- Who must still decide the waiting step of each instance (the inbox).
CREATE TABLE approval_waiting (
    org_id       INTEGER NOT NULL,
    instance_id  INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    since        INTEGER NOT NULL,
    PRIMARY KEY (instance_id, user_id),
    FOREIGN KEY (org_id, instance_id) REFERENCES approval_instances (org_id, id) ON DELETE CASCADE
);
CREATE INDEX approval_waiting_user ON approval_waiting (org_id, user_id, instance_id);

-- Every accepted action, oldest first.
CREATE TABLE approval_history (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL,
    instance_id    INTEGER NOT NULL,
    step           INTEGER,
    action         TEXT    NOT NULL,
    actor_user_id  INTEGER,
    -- JSON array: the transfer's new approver, or those added by escalation.
    to_user_ids    TEXT    NOT NULL DEFAULT '[]',
    comment        TEXT,
    at             INTEGER NOT NULL,
    FOREIGN KEY (org_id, instance_id) REFERENCES approval_instances (org_id, id) ON DELETE CASCADE
);
CREATE INDEX approval_history_instance ON approval_history (org_id, instance_id, id);

-- Which records need approval: for `customer`, new customers of the listed categories.
CREATE TABLE approval_settings (
    org_id         INTEGER NOT NULL REFERENCES orgs(id),
    subject        TEXT    NOT NULL,
    definition_id  INTEGER,
    -- JSON array of category values.
    categories     TEXT    NOT NULL DEFAULT '[]',
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (org_id, subject),
    FOREIGN KEY (org_id, definition_id) REFERENCES approval_definitions (org_id, id)
);

ALTER TABLE customers ADD COLUMN approval_state TEXT NOT NULL DEFAULT 'active'
    CHECK (approval_state IN ('active', 'pending', 'rejected', 'withdrawn'));
ALTER TABLE customers ADD COLUMN approval_instance_id INTEGER;
CREATE INDEX customers_approval_instance ON customers (org_id, approval_instance_id) WHERE approval_instance_id IS NOT NULL;
