-- Retention (gallring) of the views: events whose tidpunkt is older than
-- their retention period are deleted with everything derived from them.
--
-- The period of an event is its type's retention_days in kundhandelse_typ
-- (the catalog's value, or the producer's default when the type has 0, as
-- the processor stores it), else the producer's retention_days. An event
-- with neither is kept.

-- Deletes at most p_limit expired events (tidpunkt < p_now - period), their
-- rows in kundhandelse_version, and recomputes or removes the case state
-- and customer index rows they touched, all in the caller's transaction.
-- Only one session runs it at a time (a transaction-scoped advisory lock);
-- another one gets skipped = true and deletes nothing. Rows locked by a
-- running batch are skipped and found again by a later call. Returns how
-- many rows of each table were deleted or recomputed; fewer expired events
-- than p_limit means nothing more is due for p_now.
CREATE FUNCTION ma_retention_delete(p_now timestamptz, p_limit integer,
    OUT skipped boolean,
    OUT kundhandelse_deleted integer,
    OUT version_deleted integer,
    OUT arende_deleted integer,
    OUT arende_updated integer,
    OUT kund_index_deleted integer,
    OUT kund_index_updated integer)
LANGUAGE plpgsql AS $$
DECLARE
    a_org text[];
    a_id text[];
    a_sekvens bigint[];
    a_arende_typ text[];
    a_arende_id text[];
    a_kund text[];
    r record;
BEGIN
    skipped := false;
    kundhandelse_deleted := 0;
    version_deleted := 0;
    arende_deleted := 0;
    arende_updated := 0;
    kund_index_deleted := 0;
    kund_index_updated := 0;
    IF NOT pg_try_advisory_xact_lock(hashtextextended('ma-retention', 0)) THEN
        skipped := true;
        RETURN;
    END IF;

    WITH expired AS (
        SELECT k.producent_organisationsnummer AS org, k.kundhandelse_id AS id
          FROM kundhandelse k
          LEFT JOIN kundhandelse_typ t ON t.namn = k.kundhandelse_typ
          LEFT JOIN producent p
                 ON p.organisationsnummer = k.producent_organisationsnummer
         WHERE k.tidpunkt < p_now - make_interval(
                   days => coalesce(nullif(t.retention_days, 0),
                                    p.retention_days))
         ORDER BY 1, 2
         LIMIT p_limit
           FOR UPDATE OF k SKIP LOCKED
    ), gone AS (
        DELETE FROM kundhandelse k USING expired e
         WHERE k.producent_organisationsnummer = e.org
           AND k.kundhandelse_id = e.id
        RETURNING k.producent_organisationsnummer, k.kundhandelse_id,
                  k.sekvens, k.arende_typ, k.arende_identifierare,
                  k.kund_pseudonym
    )
    SELECT array_agg(producent_organisationsnummer), array_agg(kundhandelse_id),
           array_agg(sekvens), array_agg(arende_typ),
           array_agg(arende_identifierare), array_agg(kund_pseudonym)
      INTO a_org, a_id, a_sekvens, a_arende_typ, a_arende_id, a_kund
      FROM gone;
    kundhandelse_deleted := coalesce(cardinality(a_org), 0);
    IF kundhandelse_deleted = 0 THEN
        RETURN;
    END IF;

    -- The version row goes too: the event is gone for good. A copy of the
    -- same record read again later (a replay from the beginning) is
    -- applied and expires again at the next run.
    DELETE FROM kundhandelse_version v
     USING unnest(a_org, a_id, a_sekvens) AS x(org, id, sekvens)
     WHERE v.producent_organisationsnummer = x.org
       AND v.kundhandelse_id = x.id
       AND v.sekvens = x.sekvens
       AND NOT v.retracted;
    GET DIAGNOSTICS version_deleted = ROW_COUNT;

    FOR r IN SELECT DISTINCT x.org, x.typ, x.id
               FROM unnest(a_org, a_arende_typ, a_arende_id) AS x(org, typ, id)
              WHERE x.typ IS NOT NULL AND x.id IS NOT NULL
              ORDER BY 1, 2, 3
    LOOP
        PERFORM ma_refresh_arende(r.org, r.typ, r.id);
        IF EXISTS (SELECT 1 FROM arende
                    WHERE producent_organisationsnummer = r.org
                      AND arende_typ = r.typ
                      AND arende_identifierare = r.id) THEN
            arende_updated := arende_updated + 1;
        ELSE
            arende_deleted := arende_deleted + 1;
        END IF;
    END LOOP;

    FOR r IN SELECT DISTINCT x.kund, x.org
               FROM unnest(a_kund, a_org) AS x(kund, org)
              WHERE x.kund IS NOT NULL
              ORDER BY 1, 2
    LOOP
        PERFORM ma_refresh_kund(r.kund, r.org);
        IF EXISTS (SELECT 1 FROM kund_index
                    WHERE kund_pseudonym = r.kund
                      AND producent_organisationsnummer = r.org) THEN
            kund_index_updated := kund_index_updated + 1;
        ELSE
            kund_index_deleted := kund_index_deleted + 1;
        END IF;
    END LOOP;
END;
$$;
