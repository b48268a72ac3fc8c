-- The write-path benchmark's baseline, run from C: one INSERT in its own transaction.
-- See write_path.sql for how to run both.
BEGIN;
INSERT INTO bench_bare_insert (customer_id, payload) VALUES (1, '{"state": "given"}');
COMMIT;
