-- The scheduler and notifications.
--
-- Scheduled jobs run on a cron-like schedule; every run is claimed by one node through a row
-- in `job_runs` (unique per job and scheduled time) and a lease, so with several nodes each
-- run happens once, and a node that dies mid-run leaves it to another once the lease ends.

CREATE TABLE scheduled_jobs (
    name          TEXT    PRIMARY KEY,
    schedule      TEXT    NOT NULL,
    -- When the next run is due; runs missed while no node was up are caught up once.
    next_run_at   INTEGER NOT NULL,
    last_run_at   INTEGER,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE job_runs (
    id             INTEGER PRIMARY KEY,
    job            TEXT    NOT NULL REFERENCES scheduled_jobs(name) ON DELETE CASCADE,
    scheduled_for  INTEGER NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    attempt        INTEGER NOT NULL DEFAULT 1,
    node           TEXT    NOT NULL,
    leased_until   INTEGER NOT NULL,
    started_at     INTEGER NOT NULL,
    finished_at    INTEGER,
    -- Runs that caught up missed ones say how many they stood for.
    missed         INTEGER NOT NULL DEFAULT 0,
    output         TEXT,
    error          TEXT,
    UNIQUE (job, scheduled_for)
);
CREATE INDEX job_runs_running ON job_runs (leased_until) WHERE status = 'running';
CREATE INDEX job_runs_job ON job_runs (job, id);

-- A user's notifications: the in-app inbox, pushed live over server-sent events.
CREATE TABLE notifications (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs(id),
    user_id       INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    body          TEXT    NOT NULL DEFAULT '',
    -- Where in the CRM it leads, e.g. `/customers/42`.
    link          TEXT,
    subject_type  TEXT,
    subject_id    INTEGER,
    -- Makes a notification once only: `event:<id>`, `follow_up:<customer>:<due>`.
    dedupe_key    TEXT    NOT NULL,
    -- 0 when the user asked for this kind by email only: it is not shown in the inbox.
    in_app        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    read_at       INTEGER,
    UNIQUE (user_id, dedupe_key),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id)
);
CREATE INDEX notifications_user ON notifications (user_id, id) WHERE in_app = 1;
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE in_app = 1 AND read_at IS NULL;

-- Mail to send for notifications, sent by the mailer through the configured SMTP relay.
CREATE TABLE notification_emails (
    id               INTEGER PRIMARY KEY,
    notification_id  INTEGER NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    to_address       TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    leased_until     INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    sent_at          INTEGER
);
CREATE INDEX notification_emails_due ON notification_emails (next_attempt_at) WHERE status = 'pending';

-- Which kinds of notification reach a user where; kinds without a row use their defaults.
CREATE TABLE notification_preferences (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    kind        TEXT    NOT NULL,
    in_app      INTEGER NOT NULL,
    email       INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- Contacts' birthdays by month and day, for the birthday reminders.
CREATE INDEX contacts_birthday ON contacts (org_id, substr(birthday, 6, 5)) WHERE birthday IS NOT NULL;
