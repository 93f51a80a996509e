-- Issue #16: a reviewer's correction re-pairs an exit that found no entry with the corrected
-- plate's open entry; the exit-only session it replaces is kept as 'superseded' (its row stays
-- evidence of what the machine decided; reconciliation leaves it out). Adding a value at the end
-- of an Enum8 is a metadata change: no row is rewritten.
ALTER TABLE {database}.sessions MODIFY COLUMN state Enum8('open' = 1, 'closed' = 2, 'orphan_entry' = 3, 'exit_without_entry' = 4, 'superseded' = 5);
