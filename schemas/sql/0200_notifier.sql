-- 0200_notifier.sql - the notifier's subscriptions, its outbox of
-- notifications (aviseringar) and the MQTT accounts of consumers.
--
-- The outbox is filled by triggers on kundhandelse, so a notification is
-- committed in the same transaction as the view change that causes it,
-- whichever processor code path (per record or set-based batch) wrote the
-- row, and the processor needs no code of its own for it. ma-notifier
-- reads the outbox, publishes over MQTT and marks rows delivered.
--
-- consumer_id is text without a foreign key to api_consumer (0100), so the
-- notifier's tables do not depend on the query API's register. It follows
-- the same form, which is also safe as an MQTT topic level and username.

-- ---------------------------------------------------------------------------
-- Subscriptions: a consumer asks to be notified about one customer's
-- events. A NULL filter array matches everything; an empty one nothing.
-- ---------------------------------------------------------------------------

CREATE TABLE notifier_subscription (
    subscription_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    consumer_id text NOT NULL
        CHECK (consumer_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    kund_pseudonym text NOT NULL,
    producers text[],
    type_prefixes text[],
    kinds text[] NOT NULL
        DEFAULT '{decision,action_required,expiring,service}'
        CHECK (kinds <@ '{decision,action_required,expiring,service}'),
    consent_reference text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX notifier_subscription_kund_idx
    ON notifier_subscription (kund_pseudonym) WHERE active;

-- ---------------------------------------------------------------------------
-- Outbox. One row per (event version, subscription, reminder): reason
-- 'event' (reminder_days 0) is due when the event is applied, reason
-- 'reminder' is due reminder_days before the event's deadline
-- (atgard_senast) or expiry (giltig_till), at 08:00 Swedish time.
--
-- state: pending (to be published; next_attempt_at is when, and after a
-- publish it is the end of the wait for the broker's PUBACK), delivered
-- (the broker acknowledged it), cancelled (retracted, replaced, or the
-- case was closed or renewed before the reminder was due).
-- ---------------------------------------------------------------------------

CREATE TABLE notifier_notification (
    notification_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id uuid NOT NULL
        REFERENCES notifier_subscription (subscription_id) ON DELETE CASCADE,
    consumer_id text NOT NULL,
    reason text NOT NULL CHECK (reason IN ('event', 'reminder')),
    kind text NOT NULL,
    reminder_days integer NOT NULL,
    producent_organisationsnummer text NOT NULL,
    kundhandelse_id text NOT NULL,
    sekvens bigint NOT NULL,
    arende_typ text,
    arende_identifierare text,
    producent text NOT NULL,
    kundhandelse_typ text NOT NULL,
    rubrik text NOT NULL,
    tidpunkt timestamptz NOT NULL,
    atgard_senast date,
    giltig_till date,
    due_at timestamptz NOT NULL,
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'cancelled')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    first_sent_at timestamptz,
    delivered_at timestamptz,
    cancelled_at timestamptz,
    UNIQUE (producent_organisationsnummer, kundhandelse_id, sekvens,
            subscription_id, reminder_days)
);

CREATE INDEX notifier_notification_due_idx
    ON notifier_notification (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifier_notification_event_idx
    ON notifier_notification (producent_organisationsnummer, kundhandelse_id)
    WHERE state = 'pending';
CREATE INDEX notifier_notification_arende_idx
    ON notifier_notification (producent_organisationsnummer, arende_typ,
                              arende_identifierare)
    WHERE state = 'pending' AND reason = 'reminder';

-- ---------------------------------------------------------------------------
-- MQTT accounts. password_hash is Mosquitto 2's password file form
-- ($7$<iterations>$<salt>$<PBKDF2-SHA512>, base64), so ma-mqtt-users
-- writes the broker's password file from this table without ever storing
-- a password. role 'consumer' may read ma/v1/<username>/#, role
-- 'notifier' may write ma/v1/#.
-- ---------------------------------------------------------------------------

CREATE TABLE notifier_mqtt_user (
    username text PRIMARY KEY
        CHECK (username ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    role text NOT NULL CHECK (role IN ('consumer', 'notifier')),
    password_hash text NOT NULL CHECK (password_hash LIKE '$7$%'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Triggers. The processor replaces an event by DELETE + INSERT and retracts
-- it by DELETE, and it leaves kundhandelse untouched for a stale record
-- (equal or lower sekvens), so a replay notifies nobody again. The unique
-- key above keeps one row per (event, sekvens, subscription, reminder)
-- even if a row were written twice.
-- ---------------------------------------------------------------------------

-- The instant a reminder is due: 08:00 Swedish time, days before date.
CREATE FUNCTION ma_notifier_reminder_due(p_date date, p_days integer)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT ((p_date - p_days) + time '08:00') AT TIME ZONE 'Europe/Stockholm'
$$;

-- Cancels what a removed event version still had pending.
CREATE FUNCTION ma_notifier_on_removed(p_old kundhandelse)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE notifier_notification
       SET state = 'cancelled', cancelled_at = now()
     WHERE producent_organisationsnummer = p_old.producent_organisationsnummer
       AND kundhandelse_id = p_old.kundhandelse_id
       AND sekvens <= p_old.sekvens
       AND state = 'pending';
END;
$$;

CREATE FUNCTION ma_notifier_on_added(p_new kundhandelse)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    typ kundhandelse_typ%ROWTYPE;
    due_date date;
    days integer;
    inserted integer := 0;
BEGIN
    -- A later event of the same case that closes it, or that carries its
    -- own deadline or expiry (renews it), ends the earlier events'
    -- reminders. One that no longer asks the customer to act ends the
    -- deadline reminders.
    IF p_new.arende_identifierare IS NOT NULL THEN
        UPDATE notifier_notification x
           SET state = 'cancelled', cancelled_at = now()
         WHERE x.producent_organisationsnummer
                   = p_new.producent_organisationsnummer
           AND x.arende_typ = p_new.arende_typ
           AND x.arende_identifierare = p_new.arende_identifierare
           AND x.state = 'pending' AND x.reason = 'reminder'
           AND x.kundhandelse_id <> p_new.kundhandelse_id
           AND x.tidpunkt < p_new.tidpunkt
           AND (p_new.producentarendet_klart
                OR p_new.giltig_till IS NOT NULL
                OR p_new.atgard_senast IS NOT NULL
                OR (x.atgard_senast IS NOT NULL
                    AND NOT p_new.producentarendet_kraver_kundatgard));
    END IF;

    IF p_new.kund_pseudonym IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO typ FROM kundhandelse_typ WHERE namn = p_new.kundhandelse_typ;
    IF NOT FOUND OR typ.notification NOT IN
            ('decision', 'action_required', 'expiring', 'service') THEN
        RETURN;
    END IF;

    INSERT INTO notifier_notification (subscription_id, consumer_id, reason,
        kind, reminder_days, producent_organisationsnummer, kundhandelse_id,
        sekvens, arende_typ, arende_identifierare, producent,
        kundhandelse_typ, rubrik, tidpunkt, atgard_senast, giltig_till,
        due_at, next_attempt_at)
    SELECT s.subscription_id, s.consumer_id, 'event', typ.notification, 0,
           p_new.producent_organisationsnummer, p_new.kundhandelse_id,
           p_new.sekvens, p_new.arende_typ, p_new.arende_identifierare,
           p_new.producent, p_new.kundhandelse_typ, p_new.rubrik,
           p_new.tidpunkt, p_new.atgard_senast, p_new.giltig_till,
           now(), now()
      FROM notifier_subscription s
     WHERE s.active AND s.kund_pseudonym = p_new.kund_pseudonym
       AND typ.notification = ANY (s.kinds)
       AND (s.producers IS NULL
            OR p_new.producent_organisationsnummer = ANY (s.producers))
       AND (s.type_prefixes IS NULL
            OR EXISTS (SELECT 1 FROM unnest(s.type_prefixes) p
                        WHERE starts_with(p_new.kundhandelse_typ, p)))
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;

    -- Reminders: expiring types count back from giltig_till,
    -- action_required types from atgard_senast. A finished case gets
    -- none, nor does an event that a later one of its case already closed
    -- or renewed (rows of one statement can fire in any order). A
    -- reminder whose time has passed is skipped because the event
    -- notification itself is sent now.
    due_date := CASE typ.notification
                    WHEN 'expiring' THEN p_new.giltig_till
                    WHEN 'action_required' THEN p_new.atgard_senast
                END;
    IF due_date IS NOT NULL AND NOT p_new.producentarendet_klart
       AND NOT EXISTS (
           SELECT 1 FROM kundhandelse k
            WHERE p_new.arende_identifierare IS NOT NULL
              AND k.producent_organisationsnummer
                      = p_new.producent_organisationsnummer
              AND k.arende_typ = p_new.arende_typ
              AND k.arende_identifierare = p_new.arende_identifierare
              AND k.tidpunkt > p_new.tidpunkt
              AND (k.producentarendet_klart OR k.giltig_till IS NOT NULL
                   OR k.atgard_senast IS NOT NULL)) THEN
        FOREACH days IN ARRAY typ.reminder_days LOOP
            CONTINUE WHEN days <= 0
                OR ma_notifier_reminder_due(due_date, days) <= now();
            INSERT INTO notifier_notification (subscription_id, consumer_id,
                reason, kind, reminder_days, producent_organisationsnummer,
                kundhandelse_id, sekvens, arende_typ, arende_identifierare,
                producent, kundhandelse_typ, rubrik, tidpunkt, atgard_senast,
                giltig_till, due_at, next_attempt_at)
            SELECT s.subscription_id, s.consumer_id, 'reminder',
                   typ.notification, days,
                   p_new.producent_organisationsnummer, p_new.kundhandelse_id,
                   p_new.sekvens, p_new.arende_typ, p_new.arende_identifierare,
                   p_new.producent, p_new.kundhandelse_typ, p_new.rubrik,
                   p_new.tidpunkt, p_new.atgard_senast, p_new.giltig_till,
                   ma_notifier_reminder_due(due_date, days),
                   ma_notifier_reminder_due(due_date, days)
              FROM notifier_subscription s
             WHERE s.active AND s.kund_pseudonym = p_new.kund_pseudonym
               AND typ.notification = ANY (s.kinds)
               AND (s.producers IS NULL
                    OR p_new.producent_organisationsnummer = ANY (s.producers))
               AND (s.type_prefixes IS NULL
                    OR EXISTS (SELECT 1 FROM unnest(s.type_prefixes) p
                                WHERE starts_with(p_new.kundhandelse_typ, p)))
            ON CONFLICT DO NOTHING;
        END LOOP;
    END IF;

    -- Wakes ma-notifier at commit; one signal per transaction, because
    -- PostgreSQL folds identical notifications of one transaction.
    IF inserted > 0 THEN
        PERFORM pg_notify('ma_notifier', '');
    END IF;
END;
$$;

CREATE FUNCTION ma_notifier_kundhandelse_trigger()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.sekvens = NEW.sekvens THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM ma_notifier_on_removed(OLD);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM ma_notifier_on_added(NEW);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER kundhandelse_notifier
    AFTER INSERT OR UPDATE OR DELETE ON kundhandelse
    FOR EACH ROW EXECUTE FUNCTION ma_notifier_kundhandelse_trigger();
