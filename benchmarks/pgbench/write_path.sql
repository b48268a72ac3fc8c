-- The database's floor for one change: the statements of apps/consent/store.py, run by pgbench from C (no
-- Python), with values computed in SQL. In the database benchmarks/write_path.py made (<name>_bench), after it ran:
--   FIRST=$(psql -h 127.0.0.1 -U postgres -Atc "SELECT min(id) FROM customers_customer WHERE external_id LIKE 'bench-%'" candor_bench)
--   pgbench -h 127.0.0.1 -U postgres -n -T 6 -r -D first=$FIRST -f benchmarks/pgbench/write_path.sql candor_bench
--   pgbench -h 127.0.0.1 -U postgres -n -T 6 -r -f benchmarks/pgbench/bare_insert.sql candor_bench
-- It appends events whose hashes are not a chain: use it only on that benchmark database.
\set cid random(:first, :first + 199)
BEGIN;
SELECT 1 FROM customers_customer WHERE id = :cid FOR UPDATE;
SELECT (SELECT token FROM catalog_catalogrevision LIMIT 1), c.erased_at, s.customer_id, s.choices, s.last_sequence, s.last_hash, s.next_expiry_at, s.updated_at, d.id, d.version, d.body, d.derived_from, d.created_at, d.commit_xid FROM customers_customer c LEFT JOIN consent_snapshot s ON s.customer_id = c.id LEFT JOIN consent_permissiondocument d ON d.id = s.document_id WHERE c.id = :cid;
INSERT INTO consent_consentevent (customer_id, sequence, purpose, state, value, notice_version_id, language, source, actor, evidence, recorded_at, expires_at, prev_hash, hash) SELECT customer_id, last_sequence + 1, 'channel:sms', 'given', NULL, (SELECT max(id) FROM catalog_noticeversion), 'en', 'web', 'customer', '{"ip_hash": "4c3f0b5e2a1d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b", "user_agent_hash": "4c3f0b5e2a1d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"}', now(), NULL, last_hash, last_hash FROM consent_snapshot WHERE customer_id = :cid RETURNING sequence, id;
INSERT INTO consent_permissiondocument (customer_id, version, body, derived_from, created_at) SELECT s.customer_id, d.version + 1, d.body, d.derived_from, now() FROM consent_snapshot s JOIN consent_permissiondocument d ON d.id = s.document_id WHERE s.customer_id = :cid RETURNING id, commit_xid;
INSERT INTO consent_outboxentry (document_id, created_at) VALUES (currval('consent_permissiondocument_id_seq'), now());
UPDATE consent_snapshot SET choices = choices, last_sequence = last_sequence + 1, last_hash = last_hash, next_expiry_at = NULL, document_id = currval('consent_permissiondocument_id_seq'), updated_at = now() WHERE customer_id = :cid;
COMMIT;
