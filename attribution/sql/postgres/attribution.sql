-- featgen attribution (PostgreSQL): fact_feature_cost rows from fact_cpu_share and
-- billing_hourly, by exactly the rule of `featgen cost` (README, "From CPU shares to cost"):
-- per billed (start_time, deployment, currency), the amount's integer units
-- (billing_hourly.amount_units at amount_scale) are split over the share rows by cpu_ns,
-- floors first, the leftover units one each to the largest remainders, ties in
-- (bucket, feature_id, endpoint, feature) order; credits split as their absolute value.
-- Slices without CPU are one `unprofiled` row; unallocated slices one `unallocated` row.
-- `INSERT INTO fact_feature_cost SELECT * FROM feature_cost` loads them.
--
-- billing_hourly is what `featgen cost --billing-hourly-out` writes:
--   (start_time, end_time, deployment, currency, amount, amount_units, amount_scale, unallocated)
CREATE OR REPLACE FUNCTION featgen_decimal(units numeric, scale integer) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT AS $$
    -- units / 10^scale, built as text so that no division rounds.
    SELECT (CASE WHEN units < 0 THEN '-' ELSE '' END
            || div(abs(units), ('1' || repeat('0', scale))::numeric)::text
            || CASE WHEN scale > 0
                    THEN '.' || lpad(mod(abs(units), ('1' || repeat('0', scale))::numeric)::text, scale, '0')
                    ELSE '' END)::numeric
$$;

CREATE OR REPLACE VIEW feature_cost AS
WITH shares AS (
    SELECT s.*,
           CASE WHEN s.feature IS NULL AND s.feature_id = -1 THEN 1 ELSE 0 END AS bucket_rank,
           SUM(s.cpu_ns) OVER (PARTITION BY s.start_time, s.deployment) AS slice_cpu,
           SUM(s.requests) OVER (PARTITION BY s.start_time, s.deployment) AS slice_requests
    FROM fact_cpu_share s
),
parts AS (
    SELECT sh.*, b.currency, b.amount_units, b.amount_scale,
           abs(b.amount_units::numeric) AS units,
           div(abs(b.amount_units::numeric) * sh.cpu_ns, sh.slice_cpu) AS base,
           mod(abs(b.amount_units::numeric) * sh.cpu_ns, sh.slice_cpu) AS remainder,
           CASE WHEN sh.requests IS NOT NULL AND sh.slice_requests > 0
                THEN div(abs(b.amount_units::numeric) * sh.requests, sh.slice_requests) END AS naive_base,
           CASE WHEN sh.requests IS NOT NULL AND sh.slice_requests > 0
                THEN mod(abs(b.amount_units::numeric) * sh.requests, sh.slice_requests) END AS naive_remainder
    FROM shares sh
    JOIN billing_hourly b
      ON b.start_time = sh.start_time AND b.deployment = sh.deployment AND NOT b.unallocated
    WHERE sh.slice_cpu > 0
),
ranked AS (
    SELECT p.*,
           p.units - SUM(p.base) OVER slice AS left_over,
           ROW_NUMBER() OVER (PARTITION BY p.start_time, p.deployment, p.currency
                              ORDER BY p.remainder DESC, p.bucket_rank, p.feature_id,
                                       p.endpoint COLLATE "C" NULLS FIRST,
                                       p.feature COLLATE "C" NULLS FIRST) AS place,
           p.units - SUM(p.naive_base) OVER slice AS naive_left_over,
           ROW_NUMBER() OVER (PARTITION BY p.start_time, p.deployment, p.currency,
                                           p.naive_base IS NULL
                              ORDER BY p.naive_remainder DESC, p.bucket_rank, p.feature_id,
                                       p.endpoint COLLATE "C" NULLS FIRST,
                                       p.feature COLLATE "C" NULLS FIRST) AS naive_place
    FROM parts p
    WINDOW slice AS (PARTITION BY p.start_time, p.deployment, p.currency)
),
priced AS (
    SELECT r.*,
           sign(r.amount_units) * (r.base + CASE WHEN r.place <= r.left_over THEN 1 ELSE 0 END) AS cost_units,
           sign(r.amount_units) * (r.naive_base + CASE WHEN r.naive_place <= r.naive_left_over THEN 1 ELSE 0 END) AS naive_units
    FROM ranked r
),
rows AS (
    SELECT p.start_time, p.end_time, p.deployment, p.feature, p.endpoint, p.percentage_of_cpu,
           p.feature_id, p.feature_group, p.team, p.tier, p.cpu_ns, p.samples, p.requests,
           p.cost_units, p.amount_scale, p.currency,
           CASE WHEN p.bucket_rank = 1 THEN 'unattributed' ELSE 'feature' END AS bucket,
           p.naive_units
    FROM priced p
    UNION ALL
    SELECT b.start_time, b.end_time, b.deployment, NULL, NULL, 1.0, -1, NULL, NULL, NULL, 0, 0, NULL,
           b.amount_units::numeric, b.amount_scale, b.currency,
           CASE WHEN b.unallocated THEN 'unallocated' ELSE 'unprofiled' END, NULL
    FROM billing_hourly b
    WHERE b.unallocated OR NOT EXISTS (
        SELECT 1 FROM fact_cpu_share s
        WHERE s.start_time = b.start_time AND s.deployment = b.deployment
        GROUP BY s.start_time, s.deployment HAVING SUM(s.cpu_ns) > 0)
)
SELECT r.start_time, r.end_time, r.deployment, r.feature, r.endpoint, r.percentage_of_cpu,
       r.feature_id, r.feature_group, r.team, r.tier, r.cpu_ns, r.samples, r.requests,
       featgen_decimal(r.cost_units, r.amount_scale) AS cost,
       r.currency, r.bucket,
       -- cost / requests to ten more places (at most 28), half away from zero, in integers.
       CASE WHEN r.requests > 0 THEN featgen_decimal(
           sign(r.cost_units)
           * (div(2 * abs(r.cost_units) * ('1' || repeat('0', least(r.amount_scale + 10, 28) - r.amount_scale))::numeric
                  + r.requests, 2 * r.requests)),
           least(r.amount_scale + 10, 28))
       END AS cost_per_request,
       featgen_decimal(r.naive_units, r.amount_scale) AS cost_if_equal_per_request
FROM rows r;
