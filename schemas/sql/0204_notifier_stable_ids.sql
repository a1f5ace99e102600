-- 0204_notifier_stable_ids.sql - a notification's id derived from what it
-- notifies, so the same notification always carries the same id.
--
-- Until now notification_id was a random UUID. A database restored from a
-- backup makes the processor apply again the events committed after the
-- backup, and their notifications came back under new ids, so a consumer
-- that drops repeats by notificationId showed them twice. The id is now a
-- name-based UUID (RFC 9562 version 8) computed from the columns that
-- already make a notification unique: producer, kundhandelseId, sekvens,
-- subscription and reminder day. A re-created notification therefore gets
-- the id the consumer has seen, and the outbox's ON CONFLICT DO NOTHING
-- still drops a second copy in the same database. Rows written before
-- this migration keep their random ids.

CREATE OR REPLACE FUNCTION notifier_notification_id(
    producent_organisationsnummer text, kundhandelse_id text, sekvens bigint,
    subscription_id uuid, reminder_days integer)
RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- md5 gives 128 bits; the version nibble becomes 8 and the two top
    -- bits of the variant byte become 10, as RFC 9562 requires.
    SELECT (substr(h, 1, 12) || '8' || substr(h, 14, 3)
            || to_hex(((('x' || substr(h, 17, 1))::bit(4)::int) & 3) | 8)
            || substr(h, 18, 15))::uuid
    FROM (SELECT md5(producent_organisationsnummer || '/' || kundhandelse_id
                     || '/' || sekvens::text || '/' || subscription_id::text
                     || '/' || reminder_days::text) AS h) AS digest
$$;

CREATE OR REPLACE FUNCTION notifier_notification_set_id()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.notification_id := notifier_notification_id(
        NEW.producent_organisationsnummer, NEW.kundhandelse_id, NEW.sekvens,
        NEW.subscription_id, NEW.reminder_days);
    RETURN NEW;
END
$$;

CREATE TRIGGER notifier_notification_stable_id
    BEFORE INSERT ON notifier_notification
    FOR EACH ROW EXECUTE FUNCTION notifier_notification_set_id();

COMMENT ON COLUMN notifier_notification.notification_id IS
    'notifier_notification_id() of producer, kundhandelse_id, sekvens, '
    'subscription and reminder_days: the same notification gets the same id '
    'in every database, also after a restore and replay.';
