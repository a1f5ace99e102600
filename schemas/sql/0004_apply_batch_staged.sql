-- 0004_apply_batch_staged.sql - ma_apply_batch of 0003, faster and fed by
-- COPY.
--
-- ma_batch_prepare() creates the session's staging tables (ma_batch_in and
-- the working tables of 0003) when they are missing. The processor then
-- loads a batch's accepted records into ma_batch_in with COPY FROM STDIN
-- (columns in the table's order, one row per record, ord its index in the
-- processor's batch) and calls ma_apply_staged(), which applies them with
-- the rules, results and locks of ma_apply_batch in 0003. COPY costs the
-- server less than parsing the same rows out of one jsonb value, and the
-- processor less than building that value.
--
-- ma_apply_batch(jsonb) is kept, with the same contract, as a wrapper that
-- stages its argument and calls ma_apply_staged().
--
-- Changes against 0003: the registered sekvens and the current event of
-- each staged record are read with one index probe each (LATERAL ...
-- LIMIT 1); as plain joins the planner hashed all of kundhandelse_version
-- and kundhandelse for every batch, so a batch got slower as the tables
-- grew. The case update reads only the columns it uses.

CREATE FUNCTION ma_batch_prepare()
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.ma_batch_in') IS NULL THEN
        CREATE TEMP TABLE ma_batch_in (
            ord integer PRIMARY KEY, kind text NOT NULL, org text NOT NULL,
            id text NOT NULL, sekvens bigint NOT NULL, kund text,
            kund_typ text, arende_typ text, arende_id text, producent text,
            rubrik text, beskrivning text, sprak text, typ text,
            kraver boolean, klart boolean, version text,
            tidpunkt timestamptz, offset_min integer, taggar text[],
            utokad text, referenser text, giltig_till date,
            atgard_senast date, referens text, topic text, part integer,
            koff bigint) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE ma_batch_out (
            ord integer PRIMARY KEY, org text NOT NULL, id text NOT NULL,
            is_final boolean NOT NULL, outcome text NOT NULL)
            ON COMMIT DELETE ROWS;
        -- One row per key an event left (removed, with the event's
        -- tidpunkt t) or joined; recompute marks keys rebuilt in full.
        CREATE TEMP TABLE ma_batch_keys (
            kind text NOT NULL, org text NOT NULL, a text, b text,
            removed boolean NOT NULL, t timestamptz,
            recompute boolean NOT NULL DEFAULT false)
            ON COMMIT DELETE ROWS;
    END IF;
END;
$$;

-- Applies the rows of ma_batch_in (loaded by the caller in this
-- transaction) and returns each record's outcome, as ma_apply_batch.
CREATE FUNCTION ma_apply_staged()
RETURNS TABLE (ord integer, outcome text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    PERFORM ma_batch_prepare();
    DELETE FROM ma_batch_out;
    DELETE FROM ma_batch_keys;

    -- Temporary tables have no statistics until analyzed: the planner would
    -- then hash all of kundhandelse and kundhandelse_version instead of
    -- probing their keys.  Only the join columns are sampled.
    ANALYZE ma_batch_in (ord, org, id, kund, arende_typ, arende_id);

    INSERT INTO ma_batch_out (ord, org, id, is_final, outcome)
    WITH reg AS (
        SELECT b.ord, b.kind, b.org, b.id, b.sekvens,
               v.sekvens AS reg_sekvens,
               k.kundhandelse_id IS NOT NULL AS had_current
          FROM ma_batch_in b
          -- LIMIT 1 keeps these index probes: as joins, the planner
          -- hashed the whole of both tables for every batch, a cost that
          -- grew with the tables.
          LEFT JOIN LATERAL (
              SELECT v.sekvens FROM kundhandelse_version v
               WHERE v.producent_organisationsnummer = b.org
                 AND v.kundhandelse_id = b.id
               LIMIT 1) v ON true
          LEFT JOIN LATERAL (
              SELECT k.kundhandelse_id FROM kundhandelse k
               WHERE k.producent_organisationsnummer = b.org
                 AND k.kundhandelse_id = b.id
               LIMIT 1) k ON true
    ), w AS (
        SELECT reg.*,
               max(sekvens) OVER (PARTITION BY org, id ORDER BY reg.ord
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                   AS prev_max
          FROM reg
    ), eff AS (
        SELECT w.ord, w.kind, w.org, w.id, w.had_current,
               lag(w.kind) OVER (PARTITION BY w.org, w.id ORDER BY w.ord)
                   AS prev_kind,
               lead(w.ord) OVER (PARTITION BY w.org, w.id ORDER BY w.ord)
                   IS NULL AS is_final
          FROM w
         WHERE (w.reg_sekvens IS NULL OR w.sekvens > w.reg_sekvens)
           AND (w.prev_max IS NULL OR w.sekvens > w.prev_max)
    )
    SELECT w.ord, w.org, w.id, coalesce(eff.is_final, false),
           CASE
               WHEN eff.ord IS NULL THEN 'stale'
               WHEN eff.kind = 'p' THEN
                   CASE WHEN coalesce(eff.prev_kind = 'p', eff.had_current)
                        THEN 'replaced' ELSE 'inserted' END
               ELSE
                   CASE WHEN coalesce(eff.prev_kind = 'p', eff.had_current)
                        THEN 'retracted' ELSE 'tombstone' END
           END
      FROM w LEFT JOIN eff ON eff.ord = w.ord;
    ANALYZE ma_batch_out;

    -- The events the last effective records replace or retract; their
    -- keys are recomputed in full below.
    WITH gone AS (
        DELETE FROM kundhandelse k
         USING ma_batch_out o
         WHERE o.is_final
           AND k.producent_organisationsnummer = o.org
           AND k.kundhandelse_id = o.id
        RETURNING k.producent_organisationsnummer AS org, k.arende_typ,
                  k.arende_identifierare, k.kund_pseudonym, k.tidpunkt
    )
    INSERT INTO ma_batch_keys (kind, org, a, b, removed, t, recompute)
    SELECT 'a', org, arende_typ, arende_identifierare, true, tidpunkt, true
      FROM gone
     WHERE arende_identifierare IS NOT NULL
    UNION ALL
    SELECT 'k', org, kund_pseudonym, NULL, true, tidpunkt, false FROM gone
     WHERE kund_pseudonym IS NOT NULL;

    INSERT INTO kundhandelse (producent_organisationsnummer, kundhandelse_id,
        sekvens, kund_pseudonym, kund_typ, arende_typ, arende_identifierare,
        producent, rubrik, beskrivning, sprak, kundhandelse_typ,
        producentarendet_kraver_kundatgard, producentarendet_klart, version,
        tidpunkt, tidpunkt_offset_min, taggar, utokad_information,
        referenser, giltig_till, atgard_senast, kundhandelsereferens,
        kafka_topic, kafka_partition, kafka_offset)
    SELECT b.org, b.id, b.sekvens, b.kund, b.kund_typ, b.arende_typ,
           b.arende_id, b.producent, b.rubrik, b.beskrivning, b.sprak, b.typ,
           b.kraver, b.klart, b.version, b.tidpunkt, b.offset_min, b.taggar,
           b.utokad::jsonb, b.referenser::jsonb, b.giltig_till,
           b.atgard_senast, b.referens, b.topic, b.part, b.koff
      FROM ma_batch_in b JOIN ma_batch_out o ON o.ord = b.ord
     WHERE o.is_final AND b.kind = 'p'
     ORDER BY b.ord; -- batch order, so row triggers see offset order

    INSERT INTO kundhandelse_version AS v (producent_organisationsnummer,
        kundhandelse_id, sekvens, retracted)
    SELECT b.org, b.id, b.sekvens, b.kind = 'r'
      FROM ma_batch_in b JOIN ma_batch_out o ON o.ord = b.ord
     WHERE o.is_final
    ON CONFLICT (producent_organisationsnummer, kundhandelse_id) DO UPDATE SET
        sekvens = EXCLUDED.sekvens,
        retracted = EXCLUDED.retracted,
        updated_at = now()
    WHERE v.sekvens < EXCLUDED.sekvens;

    INSERT INTO ma_batch_keys (kind, org, a, b, removed)
    SELECT 'a', b.org, b.arende_typ, b.arende_id, false
      FROM ma_batch_in b JOIN ma_batch_out o ON o.ord = b.ord
     WHERE o.is_final AND b.kind = 'p' AND b.arende_id IS NOT NULL
    UNION
    SELECT 'k', b.org, b.kund, NULL, false
      FROM ma_batch_in b JOIN ma_batch_out o ON o.ord = b.ord
     WHERE o.is_final AND b.kind = 'p' AND b.kund IS NOT NULL;
    ANALYZE ma_batch_keys;

    -- A customer index row that lost an event at its first or last
    -- tidpunkt is rebuilt; otherwise its first and last events remain, so
    -- subtracting the count is enough.
    UPDATE ma_batch_keys r SET recompute = true
      FROM kund_index i
     WHERE r.kind = 'k' AND r.removed
       AND i.kund_pseudonym = r.a AND i.producent_organisationsnummer = r.org
       AND (r.t <= i.first_seen OR r.t >= i.last_seen);

    -- Same lock keys as ma_refresh_arende and ma_refresh_kund.
    PERFORM pg_advisory_xact_lock(h)
       FROM (SELECT DISTINCT CASE kind
                 WHEN 'a' THEN hashtextextended(
                     'arende/' || org || '/' || a || '/' || b, 0)
                 ELSE hashtextextended('kund/' || a || '/' || org, 0) END AS h
               FROM ma_batch_keys ORDER BY 1) s;

    -- A key that lost an event in this batch is recomputed from
    -- kundhandelse; a key that only gained events is updated from the
    -- added events alone, which gives the same row: counts add up, the
    -- first and last times widen, and the latest event changes only to
    -- an added one that sorts after it (tidpunkt, sekvens, id).
    DELETE FROM arende r
     USING (SELECT DISTINCT org, a, b FROM ma_batch_keys
             WHERE kind = 'a' AND removed) x
     WHERE r.producent_organisationsnummer = x.org
       AND r.arende_typ = x.a AND r.arende_identifierare = x.b;
    INSERT INTO arende (producent_organisationsnummer, arende_typ,
        arende_identifierare, kund_pseudonym, latest_kundhandelse_id,
        latest_kundhandelse_typ, latest_rubrik, customer_has_ball, finished,
        next_deadline, giltig_till, event_count, opened_at, updated_at)
    SELECT l.producent_organisationsnummer, l.arende_typ,
           l.arende_identifierare, l.kund_pseudonym, l.kundhandelse_id,
           l.kundhandelse_typ, l.rubrik,
           l.producentarendet_kraver_kundatgard, l.producentarendet_klart,
           CASE WHEN l.producentarendet_klart THEN NULL
                ELSE l.atgard_senast END,
           l.giltig_till, g.n, g.first_t, g.last_t
      FROM (SELECT DISTINCT org, a, b FROM ma_batch_keys
             WHERE kind = 'a' AND removed) x
      CROSS JOIN LATERAL (
          SELECT count(*)::integer AS n, min(tidpunkt) AS first_t,
                 max(tidpunkt) AS last_t
            FROM kundhandelse k
           WHERE k.producent_organisationsnummer = x.org
             AND k.arende_typ = x.a AND k.arende_identifierare = x.b) g
      CROSS JOIN LATERAL (
          SELECT * FROM kundhandelse k
           WHERE k.producent_organisationsnummer = x.org
             AND k.arende_typ = x.a AND k.arende_identifierare = x.b
           ORDER BY k.tidpunkt DESC, k.sekvens DESC, k.kundhandelse_id DESC
           LIMIT 1) l
     WHERE g.n > 0;

    WITH added AS (
        SELECT b.org, b.id, b.sekvens, b.kund, b.arende_typ, b.arende_id,
               b.rubrik, b.typ, b.kraver, b.klart, b.tidpunkt,
               b.giltig_till, b.atgard_senast
          FROM ma_batch_in b JOIN ma_batch_out o ON o.ord = b.ord
         WHERE o.is_final AND b.kind = 'p' AND b.arende_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM ma_batch_keys r
                            WHERE r.kind = 'a' AND r.removed
                              AND r.org = b.org AND r.a = b.arende_typ
                              AND r.b = b.arende_id)
    ), agg AS (
        SELECT org, arende_typ, arende_id, count(*)::integer AS n,
               min(tidpunkt) AS first_t, max(tidpunkt) AS last_t
          FROM added GROUP BY 1, 2, 3
    ), best AS (
        SELECT DISTINCT ON (org, arende_typ, arende_id) *
          FROM added
         ORDER BY org, arende_typ, arende_id, tidpunkt DESC, sekvens DESC,
                  id DESC
    ), cand AS (
        SELECT best.*, agg.n, agg.first_t, agg.last_t, cur AS cur,
               (cur.producent_organisationsnummer IS NULL OR
                (best.tidpunkt, best.sekvens, best.id) >
                (lk.tidpunkt, lk.sekvens, lk.kundhandelse_id)) AS newer
          FROM best
          JOIN agg USING (org, arende_typ, arende_id)
          LEFT JOIN arende cur
                 ON cur.producent_organisationsnummer = best.org
                AND cur.arende_typ = best.arende_typ
                AND cur.arende_identifierare = best.arende_id
          LEFT JOIN kundhandelse lk
                 ON lk.producent_organisationsnummer = best.org
                AND lk.kundhandelse_id = cur.latest_kundhandelse_id
    )
    -- The advisory locks above keep other writers off these rows, so the
    -- values computed from cur are still current at the upsert.
    INSERT INTO arende AS r (producent_organisationsnummer, arende_typ,
        arende_identifierare, kund_pseudonym, latest_kundhandelse_id,
        latest_kundhandelse_typ, latest_rubrik, customer_has_ball, finished,
        next_deadline, giltig_till, event_count, opened_at, updated_at)
    SELECT org, arende_typ, arende_id,
           CASE WHEN newer THEN kund ELSE (cur).kund_pseudonym END,
           CASE WHEN newer THEN id ELSE (cur).latest_kundhandelse_id END,
           CASE WHEN newer THEN typ ELSE (cur).latest_kundhandelse_typ END,
           CASE WHEN newer THEN rubrik ELSE (cur).latest_rubrik END,
           CASE WHEN newer THEN kraver ELSE (cur).customer_has_ball END,
           CASE WHEN newer THEN klart ELSE (cur).finished END,
           CASE WHEN newer THEN
               CASE WHEN klart THEN NULL ELSE atgard_senast END
               ELSE (cur).next_deadline END,
           CASE WHEN newer THEN giltig_till ELSE (cur).giltig_till END,
           n + coalesce((cur).event_count, 0),
           least(first_t, (cur).opened_at),
           greatest(last_t, (cur).updated_at)
      FROM cand
    ON CONFLICT (producent_organisationsnummer, arende_typ,
                 arende_identifierare) DO UPDATE SET
        kund_pseudonym = EXCLUDED.kund_pseudonym,
        latest_kundhandelse_id = EXCLUDED.latest_kundhandelse_id,
        latest_kundhandelse_typ = EXCLUDED.latest_kundhandelse_typ,
        latest_rubrik = EXCLUDED.latest_rubrik,
        customer_has_ball = EXCLUDED.customer_has_ball,
        finished = EXCLUDED.finished,
        next_deadline = EXCLUDED.next_deadline,
        giltig_till = EXCLUDED.giltig_till,
        event_count = EXCLUDED.event_count,
        opened_at = EXCLUDED.opened_at,
        updated_at = EXCLUDED.updated_at;

    DELETE FROM kund_index i
     USING (SELECT DISTINCT org, a FROM ma_batch_keys
             WHERE kind = 'k' AND recompute) x
     WHERE i.kund_pseudonym = x.a AND i.producent_organisationsnummer = x.org;
    INSERT INTO kund_index (kund_pseudonym, producent_organisationsnummer,
        event_count, first_seen, last_seen)
    SELECT x.a, x.org, g.n, g.first_t, g.last_t
      FROM (SELECT DISTINCT org, a FROM ma_batch_keys
             WHERE kind = 'k' AND recompute) x
      CROSS JOIN LATERAL (
          SELECT count(*)::integer AS n, min(tidpunkt) AS first_t,
                 max(tidpunkt) AS last_t
            FROM kundhandelse k
           WHERE k.kund_pseudonym = x.a
             AND k.producent_organisationsnummer = x.org) g
     WHERE g.n > 0;

    UPDATE kund_index i SET event_count = i.event_count - x.n
      FROM (SELECT org, a, count(*)::integer AS n FROM ma_batch_keys r
             WHERE kind = 'k' AND removed
               AND NOT EXISTS (SELECT 1 FROM ma_batch_keys f
                                WHERE f.kind = 'k' AND f.recompute
                                  AND f.org = r.org AND f.a = r.a)
             GROUP BY org, a) x
     WHERE i.kund_pseudonym = x.a AND i.producent_organisationsnummer = x.org;

    INSERT INTO kund_index AS i (kund_pseudonym, producent_organisationsnummer,
        event_count, first_seen, last_seen)
    SELECT b.kund, b.org, count(*)::integer, min(b.tidpunkt), max(b.tidpunkt)
      FROM ma_batch_in b JOIN ma_batch_out o ON o.ord = b.ord
     WHERE o.is_final AND b.kind = 'p' AND b.kund IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM ma_batch_keys r
                        WHERE r.kind = 'k' AND r.recompute
                          AND r.org = b.org AND r.a = b.kund)
     GROUP BY b.kund, b.org
    ON CONFLICT (kund_pseudonym, producent_organisationsnummer) DO UPDATE SET
        event_count = i.event_count + EXCLUDED.event_count,
        first_seen = least(i.first_seen, EXCLUDED.first_seen),
        last_seen = greatest(i.last_seen, EXCLUDED.last_seen);

    RETURN QUERY SELECT o.ord, o.outcome FROM ma_batch_out o ORDER BY o.ord;
END;
$$;

CREATE OR REPLACE FUNCTION ma_apply_batch(p_records jsonb)
RETURNS TABLE (ord integer, outcome text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    PERFORM ma_batch_prepare();
    -- Rows of an earlier call in the same transaction (a retried batch).
    DELETE FROM ma_batch_in;
    INSERT INTO ma_batch_in
    SELECT * FROM jsonb_to_recordset(p_records) AS x(
        ord integer, kind text, org text, id text, sekvens bigint, kund text,
        kund_typ text, arende_typ text, arende_id text, producent text,
        rubrik text, beskrivning text, sprak text, typ text,
        kraver boolean, klart boolean, version text, tidpunkt timestamptz,
        offset_min integer, taggar text[], utokad text, referenser text,
        giltig_till date, atgard_senast date, referens text, topic text,
        part integer, koff bigint);
    RETURN QUERY SELECT * FROM ma_apply_staged();
END;
$$;
