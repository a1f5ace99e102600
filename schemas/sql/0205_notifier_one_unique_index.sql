-- 0205_notifier_one_unique_index.sql - the outbox keeps one unique index
-- instead of two.
--
-- Since 0204 a notification's id is computed from producer,
-- kundhandelse_id, sekvens, subscription and reminder day: the columns of
-- the table's UNIQUE constraint. So the primary key already refuses a
-- second copy, and the outbox's ON CONFLICT DO NOTHING (no conflict
-- target) still drops it. The constraint's five-column index cost an entry on
-- every insert and on every delivery mark: marking a row delivered takes
-- it out of the partial indexes on state, so PostgreSQL cannot write the
-- mark as a heap-only update and adds an entry to every full index. In the
-- notifier's benchmark, index insertions were about 40 % of the delivery
-- marks' work in PostgreSQL.
--
-- Rows written before 0204 carry random ids. They get their computed ids
-- here, so an event applied again (after a restore) still meets them on the
-- primary key. The UNIQUE constraint guarantees that no two rows compute
-- the same id.

UPDATE notifier_notification
   SET notification_id = notifier_notification_id(
           producent_organisationsnummer, kundhandelse_id, sekvens,
           subscription_id, reminder_days)
 WHERE notification_id <> notifier_notification_id(
           producent_organisationsnummer, kundhandelse_id, sekvens,
           subscription_id, reminder_days);

DO $$
DECLARE
    constraint_name name;
BEGIN
    SELECT c.conname INTO STRICT constraint_name
      FROM pg_constraint c
     WHERE c.conrelid = 'notifier_notification'::regclass
       AND c.contype = 'u';
    EXECUTE format('ALTER TABLE notifier_notification DROP CONSTRAINT %I',
                   constraint_name);
END
$$;
