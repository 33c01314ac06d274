-- What an upload holds (headers, first rows, encoding), kept at upload so that showing an
-- import, which is polled while it runs, need not read the whole file again.

ALTER TABLE customer_imports ADD COLUMN summary TEXT NOT NULL DEFAULT '';
