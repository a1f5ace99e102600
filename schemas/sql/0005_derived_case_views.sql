-- 0005_derived_case_views.sql - case state and customer index computed
-- when they are read, no longer rewritten by every batch.
--
-- Until 0004, every batch upserted the `arende` row of each case and the
-- `kund_index` row of each customer it touched: about one extra row
-- version per applied event, which cost PostgreSQL more than inserting the
-- event itself (docs/benchmarks.md, Processor). Both are now views over
-- kundhandelse with the same names and columns. Their rows are what
-- ma_refresh_arende and ma_refresh_kund computed, so readers see no
-- difference:
--
--   - a filter on a case's key (producer, ärende typ, identifierare) or on
--     a customer's pseudonym reaches kundhandelse's indexes through the
--     views (the filtered columns are the views' grouping columns);
--   - a case belongs to the customer of its latest event, which a view
--     cannot look up by customer; ma_kund_arenden(pseudonym) does.
--
-- The refresh functions stay, as no-ops, because the per-record functions
-- and retention of 0001 and 0002 call them. ma_apply_staged() keeps its
-- contract without the view maintenance. The processor now also copies the
-- events of a batch that are neither registered nor repeated in it straight
-- into kundhandelse and kundhandelse_version, and stages only the rest.

DROP TABLE arende;
DROP TABLE kund_index;

CREATE VIEW arende AS
SELECT l.producent_organisationsnummer, l.arende_typ,
       l.arende_identifierare, l.kund_pseudonym,
       l.kundhandelse_id AS latest_kundhandelse_id,
       l.kundhandelse_typ AS latest_kundhandelse_typ,
       l.rubrik AS latest_rubrik,
       l.producentarendet_kraver_kundatgard AS customer_has_ball,
       l.producentarendet_klart AS finished,
       CASE WHEN l.producentarendet_klart THEN NULL
            ELSE l.atgard_senast END AS next_deadline,
       l.giltig_till, l.event_count, l.opened_at, l.updated_at
  FROM (SELECT DISTINCT ON (k.producent_organisationsnummer, k.arende_typ,
                            k.arende_identifierare)
               k.*,
               (count(*) OVER w)::integer AS event_count,
               min(k.tidpunkt) OVER w AS opened_at,
               max(k.tidpunkt) OVER w AS updated_at
          FROM kundhandelse k
         WHERE k.arende_identifierare IS NOT NULL
        WINDOW w AS (PARTITION BY k.producent_organisationsnummer,
                                  k.arende_typ, k.arende_identifierare)
         ORDER BY k.producent_organisationsnummer, k.arende_typ,
                  k.arende_identifierare, k.tidpunkt DESC, k.sekvens DESC,
                  k.kundhandelse_id DESC) l;

COMMENT ON VIEW arende IS
    'Case state per (producer, ärende): the latest event (tidpunkt, then '
    'sekvens, then id), who has the ball, finished, next deadline, event '
    'count, first and last tidpunkt. Per customer: ma_kund_arenden().';

CREATE VIEW kund_index AS
SELECT kund_pseudonym, producent_organisationsnummer,
       count(*)::integer AS event_count, min(tidpunkt) AS first_seen,
       max(tidpunkt) AS last_seen
  FROM kundhandelse
 WHERE kund_pseudonym IS NOT NULL
 GROUP BY kund_pseudonym, producent_organisationsnummer;

COMMENT ON VIEW kund_index IS
    'Kundhändelseindex: producers with current events for a customer, '
    'with their count and lowest and highest tidpunkt.';

-- The cases whose latest event concerns p_kund, as rows of the view
-- arende. Written out rather than read through the view: a join does not
-- reach into the view's window, so every event would be read.
CREATE FUNCTION ma_kund_arenden(p_kund text)
RETURNS SETOF arende LANGUAGE sql STABLE AS $$
    SELECT l.producent_organisationsnummer, l.arende_typ,
           l.arende_identifierare, l.kund_pseudonym, l.kundhandelse_id,
           l.kundhandelse_typ, l.rubrik,
           l.producentarendet_kraver_kundatgard, l.producentarendet_klart,
           CASE WHEN l.producentarendet_klart THEN NULL
                ELSE l.atgard_senast END,
           l.giltig_till, g.n, g.first_t, g.last_t
      FROM (SELECT DISTINCT producent_organisationsnummer AS org,
                   arende_typ AS typ, arende_identifierare AS id
              FROM kundhandelse
             WHERE kund_pseudonym = p_kund
               AND arende_identifierare IS NOT NULL) c
      CROSS JOIN LATERAL (
          SELECT * FROM kundhandelse k
           WHERE k.producent_organisationsnummer = c.org
             AND k.arende_typ = c.typ AND k.arende_identifierare = c.id
           ORDER BY k.tidpunkt DESC, k.sekvens DESC, k.kundhandelse_id DESC
           LIMIT 1) l
      CROSS JOIN LATERAL (
          SELECT count(*)::integer AS n, min(k.tidpunkt) AS first_t,
                 max(k.tidpunkt) AS last_t
            FROM kundhandelse k
           WHERE k.producent_organisationsnummer = c.org
             AND k.arende_typ = c.typ AND k.arende_identifierare = c.id) g
     WHERE l.kund_pseudonym = p_kund
$$;

CREATE OR REPLACE FUNCTION ma_refresh_arende(p_org text, p_typ text,
                                             p_id text)
RETURNS void LANGUAGE sql AS $$ SELECT $$;

CREATE OR REPLACE FUNCTION ma_refresh_kund(p_kund text, p_org text)
RETURNS void LANGUAGE sql AS $$ SELECT $$;

-- ma_apply_staged of 0004 without the case and customer-index upkeep.
-- It now gets only the records that are not new, a few per batch, so
-- analyzing the staging tables for every call (which also made every
-- statement be planned again) cost more than it saved. Without their
-- statistics the planner estimates their rows from their size on disk,
-- and the lookups in kundhandelse and kundhandelse_version stay index
-- probes through LATERAL ... LIMIT 1.
CREATE OR REPLACE FUNCTION ma_apply_staged()
RETURNS TABLE (ord integer, outcome text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    PERFORM ma_batch_prepare();
    DELETE FROM ma_batch_out;

    INSERT INTO ma_batch_out (ord, org, id, is_final, outcome)
    WITH reg AS (
        SELECT b.ord, b.kind, b.org, b.id, b.sekvens,
               v.sekvens AS reg_sekvens,
               k.kundhandelse_id IS NOT NULL AS had_current
          FROM ma_batch_in b
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

    -- The rows to delete are found by index probes and deleted by their
    -- ctid. As a join, a plan cached while kundhandelse was small kept
    -- hashing all of it for every batch.
    DELETE FROM kundhandelse k
     WHERE k.ctid = ANY (ARRAY(
         SELECT c.ctid
           FROM ma_batch_out o
           CROSS JOIN LATERAL (
               SELECT k2.ctid FROM kundhandelse k2
                WHERE k2.producent_organisationsnummer = o.org
                  AND k2.kundhandelse_id = o.id
                LIMIT 1) c
          WHERE o.is_final));

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

    RETURN QUERY SELECT o.ord, o.outcome FROM ma_batch_out o ORDER BY o.ord;
END;
$$;
