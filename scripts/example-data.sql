-- Data for pipelines/postgres_to_sqlite.flow (PostgreSQL, database `test`), so the example runs
-- as written. Run by scripts/start-databases.sh and by the tests' database helper; safe to run again.
CREATE TABLE IF NOT EXISTS public.flow_example_orders (
  id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
  total numeric(12,2) NOT NULL, created_at timestamp NOT NULL, note text);
INSERT INTO public.flow_example_orders
SELECT g, 1 + g % 997, (ARRAY['pending','paid','shipped','delivered','cancelled'])[1 + g % 5],
       (g % 100000) / 100.0, timestamp '2024-01-01' + g * interval '7 minutes',
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'note ' || g END
FROM generate_series(1, 20000) g
ON CONFLICT (id) DO NOTHING;
