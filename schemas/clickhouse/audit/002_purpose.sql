-- Civil Code 1798.90.52: the access log records the purpose of every query (alpr.purposes).
-- Events from before this migration read as '' (no purpose was asked then).
ALTER TABLE {database}.audit_log ADD COLUMN IF NOT EXISTS purpose LowCardinality(String) DEFAULT '';
ALTER TABLE {database}.audit_log ADD COLUMN IF NOT EXISTS case_ref String DEFAULT '';
