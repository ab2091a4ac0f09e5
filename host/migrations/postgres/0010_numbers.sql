-- Numbers are stored canonically in E.164 (+ and digits) so that one
-- number has one spelling; a tenant's country code turns national numbers
-- (0...) into E.164. The operator allocates number ranges to tenants; a
-- tenant assigns numbers from its own ranges only.
ALTER TABLE tenants ADD COLUMN country_code TEXT NOT NULL DEFAULT '31';

UPDATE numbers SET number = '+' || substr(number, 3)
  WHERE number LIKE '00%'
    AND NOT EXISTS (SELECT 1 FROM numbers m WHERE m.number = '+' || substr(numbers.number, 3));
UPDATE numbers SET number = '+' ||
    (SELECT t.country_code FROM tenants t WHERE t.id = numbers.tenant_id) || substr(number, 2)
  WHERE number LIKE '0%' AND number NOT LIKE '00%'
    AND NOT EXISTS (SELECT 1 FROM numbers m WHERE m.number = '+' ||
      (SELECT t.country_code FROM tenants t WHERE t.id = numbers.tenant_id) || substr(numbers.number, 2));
UPDATE numbers SET number = '+' || number
  WHERE number NOT LIKE '+%' AND number NOT LIKE '0%'
    AND NOT EXISTS (SELECT 1 FROM numbers m WHERE m.number = '+' || numbers.number);

CREATE TABLE number_ranges (
    id           BIGSERIAL PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- canonical, same length; first <= last
    first_number TEXT   NOT NULL,
    last_number  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX number_ranges_tenant ON number_ranges (tenant_id);

-- The numbers in use keep working: each becomes a range of one.
INSERT INTO number_ranges (tenant_id, first_number, last_number, created_at)
  SELECT tenant_id, number, number, 0 FROM numbers;
