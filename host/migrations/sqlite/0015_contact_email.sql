-- Contacts are found by their email address as well (the contact list's search).
CREATE INDEX contacts_email ON contacts (org_id, lower(email));
