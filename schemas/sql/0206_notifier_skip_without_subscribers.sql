-- 0206_notifier_skip_without_subscribers.sql - the outbox trigger of 0202
-- on inserts into kundhandelse skips what cannot change anything.
--
-- The processor inserts every batch with one COPY statement, which fires
-- ma_notifier_added_rows() once. Its three statements join the batch's
-- rows with the active subscriptions and the pending reminders. With
-- neither present they still cost about 5 % of PostgreSQL's CPU time in
-- the processor's benchmark (bench/processor/run.sh's 200,000 records:
-- 2.9 s with the trigger disabled against 3.1 s, two runs each).
-- The function now first checks whether any pending reminder exists
-- before it cancels reminders, and whether any subscription is active
-- before it inserts notifications. The rules and results are those of
-- 0202: without a pending reminder the cancelling UPDATE changes no row,
-- and without an active subscription neither INSERT adds one.

CREATE OR REPLACE FUNCTION ma_notifier_added_rows()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    inserted integer;
BEGIN
    -- Only pending reminders can be cancelled. The partial index
    -- notifier_notification_arende_idx finds whether there are any.
    IF EXISTS (SELECT 1 FROM notifier_notification
                WHERE state = 'pending' AND reason = 'reminder') THEN
        -- A later event of the same case that closes it or carries its own
        -- deadline or expiry ends the earlier events' reminders; one that no
        -- longer asks the customer to act ends the deadline reminders.
        UPDATE notifier_notification x
           SET state = 'cancelled', cancelled_at = now()
          FROM added_rows k
         WHERE k.arende_identifierare IS NOT NULL
           AND x.producent_organisationsnummer = k.producent_organisationsnummer
           AND x.arende_typ = k.arende_typ
           AND x.arende_identifierare = k.arende_identifierare
           AND x.state = 'pending' AND x.reason = 'reminder'
           AND x.kundhandelse_id <> k.kundhandelse_id
           AND x.tidpunkt < k.tidpunkt
           AND (k.producentarendet_klart
                OR k.giltig_till IS NOT NULL
                OR k.atgard_senast IS NOT NULL
                OR (x.atgard_senast IS NOT NULL
                    AND NOT k.producentarendet_kraver_kundatgard));
    END IF;

    -- Both inserts join active subscriptions, so without one they
    -- insert nothing and send no notification.
    IF NOT EXISTS (SELECT 1 FROM notifier_subscription WHERE active) THEN
        RETURN NULL;
    END IF;

    INSERT INTO notifier_notification (subscription_id, consumer_id, reason,
        kind, reminder_days, producent_organisationsnummer, kundhandelse_id,
        sekvens, arende_typ, arende_identifierare, producent,
        kundhandelse_typ, rubrik, tidpunkt, atgard_senast, giltig_till,
        due_at, next_attempt_at)
    SELECT s.subscription_id, s.consumer_id, 'event', t.notification, 0,
           k.producent_organisationsnummer, k.kundhandelse_id, k.sekvens,
           k.arende_typ, k.arende_identifierare, k.producent,
           k.kundhandelse_typ, k.rubrik, k.tidpunkt, k.atgard_senast,
           k.giltig_till, now(), now()
      FROM added_rows k
      JOIN kundhandelse_typ t ON t.namn = k.kundhandelse_typ
      JOIN notifier_subscription s
        ON s.active AND s.kund_pseudonym = k.kund_pseudonym
     WHERE t.notification IN ('decision', 'action_required', 'expiring',
                              'service')
       AND t.notification = ANY (s.kinds)
       AND (s.producers IS NULL
            OR k.producent_organisationsnummer = ANY (s.producers))
       AND (s.type_prefixes IS NULL
            OR EXISTS (SELECT 1 FROM unnest(s.type_prefixes) p
                        WHERE starts_with(k.kundhandelse_typ, p)))
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;

    -- Reminders, as in 0200: expiring types count back from giltig_till,
    -- action_required types from atgard_senast, at 08:00 Swedish time;
    -- none for a finished case, none for an event that a later event of
    -- its case (this statement's rows included) closed or renewed, and
    -- none whose time has passed.
    INSERT INTO notifier_notification (subscription_id, consumer_id, reason,
        kind, reminder_days, producent_organisationsnummer, kundhandelse_id,
        sekvens, arende_typ, arende_identifierare, producent,
        kundhandelse_typ, rubrik, tidpunkt, atgard_senast, giltig_till,
        due_at, next_attempt_at)
    SELECT s.subscription_id, s.consumer_id, 'reminder', t.notification,
           r.days, k.producent_organisationsnummer, k.kundhandelse_id,
           k.sekvens, k.arende_typ, k.arende_identifierare, k.producent,
           k.kundhandelse_typ, k.rubrik, k.tidpunkt, k.atgard_senast,
           k.giltig_till, r.due, r.due
      FROM added_rows k
      JOIN kundhandelse_typ t ON t.namn = k.kundhandelse_typ
      CROSS JOIN LATERAL (
          SELECT d.days, ma_notifier_reminder_due(
                     CASE t.notification
                         WHEN 'expiring' THEN k.giltig_till
                         WHEN 'action_required' THEN k.atgard_senast
                     END, d.days) AS due
            FROM unnest(t.reminder_days) AS d(days)
           WHERE d.days > 0) r
      JOIN notifier_subscription s
        ON s.active AND s.kund_pseudonym = k.kund_pseudonym
     WHERE t.notification IN ('expiring', 'action_required')
       AND r.due IS NOT NULL AND r.due > now()
       AND NOT k.producentarendet_klart
       AND t.notification = ANY (s.kinds)
       AND (s.producers IS NULL
            OR k.producent_organisationsnummer = ANY (s.producers))
       AND (s.type_prefixes IS NULL
            OR EXISTS (SELECT 1 FROM unnest(s.type_prefixes) p
                        WHERE starts_with(k.kundhandelse_typ, p)))
       AND NOT EXISTS (
           SELECT 1 FROM kundhandelse later
            WHERE k.arende_identifierare IS NOT NULL
              AND later.producent_organisationsnummer
                      = k.producent_organisationsnummer
              AND later.arende_typ = k.arende_typ
              AND later.arende_identifierare = k.arende_identifierare
              AND later.tidpunkt > k.tidpunkt
              AND (later.producentarendet_klart
                   OR later.giltig_till IS NOT NULL
                   OR later.atgard_senast IS NOT NULL))
    ON CONFLICT DO NOTHING;

    -- Wakes ma-notifier at commit.
    IF inserted > 0 THEN
        PERFORM pg_notify('ma_notifier', '');
    END IF;
    RETURN NULL;
END;
$$;
