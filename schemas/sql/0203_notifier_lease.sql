-- 0203_notifier_lease.sql - a claim of ma-notifier that PostgreSQL can
-- write as a heap-only tuple (HOT) update.
--
-- Until now every claim moved next_attempt_at forward as the wait for the
-- broker's PUBACK. next_attempt_at is in notifier_notification_due_idx, so
-- each claim wrote a new entry into every index of the table, and then the
-- delivered update did it again. Now the first claim of a row only sets
-- lease_until (the end of that wait), attempts and first_sent_at, none of
-- them indexed, and leaves next_attempt_at alone. With free space on the
-- page (fillfactor 50, for pages written from now on: an event's
-- row and its claimed version fit on one page) the claim is a HOT
-- update that touches no index.
--
-- A row is due when state = 'pending', next_attempt_at has come and
-- lease_until is NULL or has passed. A repeat (a row claimed before whose
-- lease passed without a PUBACK) moves next_attempt_at to its new
-- lease_until as before, so rows that keep failing leave the front of the
-- due index instead of being scanned by every claim.
--
-- A notifier of an earlier version ignores lease_until; running one beside
-- a newer one only causes repeats, which at-least-once allows.

ALTER TABLE notifier_notification ADD COLUMN IF NOT EXISTS lease_until timestamptz;
ALTER TABLE notifier_notification SET (fillfactor = 50);

COMMENT ON COLUMN notifier_notification.lease_until IS
    'End of the wait for the PUBACK of the latest publish (ma-notifier); '
    'the row is published again after it. NULL: never published.';
