-- 0001_views.sql - the processor's views, its Kafka offsets, rejected
-- events and the event-type catalog.
--
-- Applied by ma-processor at start (ma_pg_migrate), in one transaction with
-- its schema_migrations row. Migrations are append-only: change a table in
-- a new file (0002_...), never here.
--
-- Customers appear only as kund_pseudonym: HMAC-SHA-256 over
-- typ ":" identifierare [":" tillagg] with the secret producers use, as 32
-- hex characters. No column holds an identity number.

-- ---------------------------------------------------------------------------
-- Catalog, reloaded from schemas/catalog.json at every processor start.
-- Rows that left the file stay with in_catalog = false, so old events keep
-- their type's description.
-- ---------------------------------------------------------------------------

CREATE TABLE producent (
    organisationsnummer text PRIMARY KEY,
    namn text NOT NULL,
    prefix text NOT NULL,
    kind text NOT NULL,
    retention_days integer NOT NULL,
    in_catalog boolean NOT NULL DEFAULT true,
    loaded_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE kundhandelse_typ (
    namn text PRIMARY KEY,
    producent_organisationsnummer text NOT NULL,
    arendetyp text NOT NULL,
    beskrivning text NOT NULL,
    customer_has_ball boolean NOT NULL,
    case_finished boolean NOT NULL,
    notification text NOT NULL,
    reminder_days integer[] NOT NULL,
    authorisation_object_type text,
    retention_days integer NOT NULL,
    in_catalog boolean NOT NULL DEFAULT true,
    loaded_at timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Version register: the highest sekvens seen per kundhändelse, published or
-- retracted. A retraction leaves its row here (retracted = true) after the
-- event itself is deleted, so an older publish arriving late cannot bring
-- the event back.
-- ---------------------------------------------------------------------------

CREATE TABLE kundhandelse_version (
    producent_organisationsnummer text NOT NULL,
    kundhandelse_id text NOT NULL,
    sekvens bigint NOT NULL,
    retracted boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (producent_organisationsnummer, kundhandelse_id)
);

-- ---------------------------------------------------------------------------
-- Current events: one row per (producer, kundhandelse_id), the version with
-- the highest sekvens, absent once retracted.
-- ---------------------------------------------------------------------------

CREATE TABLE kundhandelse (
    producent_organisationsnummer text NOT NULL,
    kundhandelse_id text NOT NULL,
    sekvens bigint NOT NULL,
    kund_pseudonym text,
    kund_typ text,
    arende_typ text,
    arende_identifierare text,
    producent text NOT NULL,
    rubrik text NOT NULL,
    beskrivning text NOT NULL,
    sprak text NOT NULL,
    kundhandelse_typ text NOT NULL,
    producentarendet_kraver_kundatgard boolean NOT NULL,
    producentarendet_klart boolean NOT NULL,
    version text NOT NULL,
    tidpunkt timestamptz NOT NULL,
    tidpunkt_offset_min integer NOT NULL,
    taggar text[] NOT NULL,
    utokad_information jsonb,
    referenser jsonb,
    giltig_till date,
    atgard_senast date,
    kundhandelsereferens text,
    kafka_topic text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (producent_organisationsnummer, kundhandelse_id),
    CHECK (kund_pseudonym IS NOT NULL OR arende_identifierare IS NOT NULL),
    CHECK ((arende_typ IS NULL) = (arende_identifierare IS NULL))
);

CREATE INDEX kundhandelse_kund_idx
    ON kundhandelse (kund_pseudonym, tidpunkt DESC)
    WHERE kund_pseudonym IS NOT NULL;
CREATE INDEX kundhandelse_arende_idx
    ON kundhandelse (producent_organisationsnummer, arende_typ,
                     arende_identifierare)
    WHERE arende_identifierare IS NOT NULL;

-- ---------------------------------------------------------------------------
-- Case state per (producer, ärende), derived from kundhandelse by
-- ma_refresh_arende() whenever one of the case's events changes. The latest
-- event is the one with the highest tidpunkt (ties: sekvens, then id).
-- next_deadline is the latest event's atgardSenast unless the case is
-- finished.
-- ---------------------------------------------------------------------------

CREATE TABLE arende (
    producent_organisationsnummer text NOT NULL,
    arende_typ text NOT NULL,
    arende_identifierare text NOT NULL,
    kund_pseudonym text,
    latest_kundhandelse_id text NOT NULL,
    latest_kundhandelse_typ text NOT NULL,
    latest_rubrik text NOT NULL,
    customer_has_ball boolean NOT NULL,
    finished boolean NOT NULL,
    next_deadline date,
    giltig_till date,
    event_count integer NOT NULL,
    opened_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (producent_organisationsnummer, arende_typ,
                 arende_identifierare)
);

CREATE INDEX arende_kund_idx ON arende (kund_pseudonym)
    WHERE kund_pseudonym IS NOT NULL;

-- ---------------------------------------------------------------------------
-- Customer index: which producers have current events for a customer.
-- first_seen and last_seen are the lowest and highest tidpunkt of those
-- events (event time, so a replay yields the same rows).
-- ---------------------------------------------------------------------------

CREATE TABLE kund_index (
    kund_pseudonym text NOT NULL,
    producent_organisationsnummer text NOT NULL,
    event_count integer NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    PRIMARY KEY (kund_pseudonym, producent_organisationsnummer)
);

-- ---------------------------------------------------------------------------
-- Kafka positions, written in the same transaction as the view changes they
-- account for. last_offset is the offset of the last message whose effect is
-- committed; the processor resumes at last_offset + 1. The counters reconcile
-- every message: consumed = applied + rejected, and stale (an older or equal
-- sekvens, ignored) is a part of applied.
-- ---------------------------------------------------------------------------

CREATE TABLE consumer_offsets (
    consumer_group text NOT NULL,
    topic text NOT NULL,
    kafka_partition integer NOT NULL,
    last_offset bigint NOT NULL,
    consumed_count bigint NOT NULL DEFAULT 0,
    applied_count bigint NOT NULL DEFAULT 0,
    stale_count bigint NOT NULL DEFAULT 0,
    rejected_count bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, kafka_partition),
    CHECK (consumed_count = applied_count + rejected_count),
    CHECK (stale_count <= applied_count)
);

-- ---------------------------------------------------------------------------
-- Messages sent to the dead-letter topic, with the original record. headers
-- is a JSON array of {"name": ..., "value": text} or, for values that are
-- not UTF-8 text, {"name": ..., "value_hex": ...}, in record order.
-- ---------------------------------------------------------------------------

CREATE TABLE rejected_events (
    id bigserial PRIMARY KEY,
    consumer_group text NOT NULL,
    topic text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    reason text NOT NULL CHECK (reason IN ('DECODE', 'FINGERPRINT',
        'VALIDATION', 'UNKNOWN_PRODUCER', 'UNKNOWN_TYPE', 'FOREIGN_PREFIX')),
    detail text NOT NULL,
    record_key bytea,
    record_value bytea,
    headers jsonb NOT NULL,
    record_timestamp timestamptz,
    rejected_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer_group, topic, kafka_partition, kafka_offset)
);

CREATE INDEX rejected_events_reason_idx ON rejected_events (reason);

-- ---------------------------------------------------------------------------
-- Derivations. Each refresh function recomputes one row from kundhandelse,
-- so applying, replacing and retracting in any order end in the same state.
-- ---------------------------------------------------------------------------

CREATE FUNCTION ma_refresh_arende(p_org text, p_typ text, p_id text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    latest kundhandelse%ROWTYPE;
    n integer;
    first_t timestamptz;
    last_t timestamptz;
BEGIN
    IF p_typ IS NULL OR p_id IS NULL THEN
        RETURN;
    END IF;
    -- A case's events can sit in several partitions (with and without
    -- part.kund), so two instances may refresh it at once. The lock makes
    -- the second wait, and its next statement sees the first one's rows.
    PERFORM pg_advisory_xact_lock(
        hashtextextended('arende/' || p_org || '/' || p_typ || '/' || p_id, 0));
    SELECT count(*), min(tidpunkt), max(tidpunkt) INTO n, first_t, last_t
      FROM kundhandelse
     WHERE producent_organisationsnummer = p_org
       AND arende_typ = p_typ AND arende_identifierare = p_id;
    IF n = 0 THEN
        DELETE FROM arende
         WHERE producent_organisationsnummer = p_org
           AND arende_typ = p_typ AND arende_identifierare = p_id;
        RETURN;
    END IF;
    SELECT * INTO latest
      FROM kundhandelse
     WHERE producent_organisationsnummer = p_org
       AND arende_typ = p_typ AND arende_identifierare = p_id
     ORDER BY tidpunkt DESC, sekvens DESC, kundhandelse_id DESC
     LIMIT 1;
    INSERT INTO arende AS a (producent_organisationsnummer, arende_typ,
        arende_identifierare, kund_pseudonym, latest_kundhandelse_id,
        latest_kundhandelse_typ, latest_rubrik, customer_has_ball, finished,
        next_deadline, giltig_till, event_count, opened_at, updated_at)
    VALUES (p_org, p_typ, p_id, latest.kund_pseudonym,
        latest.kundhandelse_id, latest.kundhandelse_typ, latest.rubrik,
        latest.producentarendet_kraver_kundatgard,
        latest.producentarendet_klart,
        CASE WHEN latest.producentarendet_klart THEN NULL
             ELSE latest.atgard_senast END,
        latest.giltig_till, n, first_t, last_t)
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
END;
$$;

CREATE FUNCTION ma_refresh_kund(p_kund text, p_org text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    first_t timestamptz;
    last_t timestamptz;
BEGIN
    IF p_kund IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(
        hashtextextended('kund/' || p_kund || '/' || p_org, 0));
    SELECT count(*), min(tidpunkt), max(tidpunkt) INTO n, first_t, last_t
      FROM kundhandelse
     WHERE kund_pseudonym = p_kund AND producent_organisationsnummer = p_org;
    IF n = 0 THEN
        DELETE FROM kund_index
         WHERE kund_pseudonym = p_kund
           AND producent_organisationsnummer = p_org;
        RETURN;
    END IF;
    INSERT INTO kund_index AS k (kund_pseudonym,
        producent_organisationsnummer, event_count, first_seen, last_seen)
    VALUES (p_kund, p_org, n, first_t, last_t)
    ON CONFLICT (kund_pseudonym, producent_organisationsnummer) DO UPDATE SET
        event_count = EXCLUDED.event_count,
        first_seen = EXCLUDED.first_seen,
        last_seen = EXCLUDED.last_seen;
END;
$$;

-- Records a new sekvens for an event unless an equal or higher one is
-- already registered. Returns false for a stale version.
CREATE FUNCTION ma_register_version(p_org text, p_id text, p_sekvens bigint,
                                    p_retracted boolean)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO kundhandelse_version AS v (producent_organisationsnummer,
        kundhandelse_id, sekvens, retracted)
    VALUES (p_org, p_id, p_sekvens, p_retracted)
    ON CONFLICT (producent_organisationsnummer, kundhandelse_id) DO UPDATE SET
        sekvens = EXCLUDED.sekvens,
        retracted = EXCLUDED.retracted,
        updated_at = now()
    WHERE v.sekvens < EXCLUDED.sekvens;
    RETURN FOUND;
END;
$$;

-- Applies a published kundhändelse. Returns 'inserted', 'replaced' or
-- 'stale' (a version with an equal or higher sekvens, or a retraction with
-- a higher sekvens, is already registered).
CREATE FUNCTION ma_apply_kundhandelse(
    p_org text, p_id text, p_sekvens bigint, p_kund text, p_kund_typ text,
    p_arende_typ text, p_arende_id text, p_producent text, p_rubrik text,
    p_beskrivning text, p_sprak text, p_typ text, p_kraver boolean,
    p_klart boolean, p_version text, p_tidpunkt timestamptz,
    p_offset_min integer, p_taggar text[], p_utokad jsonb,
    p_referenser jsonb, p_giltig_till date, p_atgard_senast date,
    p_referens text, p_topic text, p_partition integer, p_kafka_offset bigint)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    old kundhandelse%ROWTYPE;
    had_old boolean;
BEGIN
    IF NOT ma_register_version(p_org, p_id, p_sekvens, false) THEN
        RETURN 'stale';
    END IF;
    DELETE FROM kundhandelse
     WHERE producent_organisationsnummer = p_org AND kundhandelse_id = p_id
    RETURNING * INTO old;
    had_old := FOUND;
    INSERT INTO kundhandelse (producent_organisationsnummer, kundhandelse_id,
        sekvens, kund_pseudonym, kund_typ, arende_typ, arende_identifierare,
        producent, rubrik, beskrivning, sprak, kundhandelse_typ,
        producentarendet_kraver_kundatgard, producentarendet_klart, version,
        tidpunkt, tidpunkt_offset_min, taggar, utokad_information,
        referenser, giltig_till, atgard_senast, kundhandelsereferens,
        kafka_topic, kafka_partition, kafka_offset)
    VALUES (p_org, p_id, p_sekvens, p_kund, p_kund_typ, p_arende_typ,
        p_arende_id, p_producent, p_rubrik, p_beskrivning, p_sprak, p_typ,
        p_kraver, p_klart, p_version, p_tidpunkt, p_offset_min, p_taggar,
        p_utokad, p_referenser, p_giltig_till, p_atgard_senast, p_referens,
        p_topic, p_partition, p_kafka_offset);
    IF had_old THEN
        IF old.arende_typ IS DISTINCT FROM p_arende_typ
           OR old.arende_identifierare IS DISTINCT FROM p_arende_id THEN
            PERFORM ma_refresh_arende(p_org, old.arende_typ,
                                      old.arende_identifierare);
        END IF;
        IF old.kund_pseudonym IS DISTINCT FROM p_kund THEN
            PERFORM ma_refresh_kund(old.kund_pseudonym, p_org);
        END IF;
    END IF;
    PERFORM ma_refresh_arende(p_org, p_arende_typ, p_arende_id);
    PERFORM ma_refresh_kund(p_kund, p_org);
    RETURN CASE WHEN had_old THEN 'replaced' ELSE 'inserted' END;
END;
$$;

-- Applies a retraction. Returns 'retracted' (the event was deleted),
-- 'tombstone' (no current event; the sekvens is recorded so an older
-- publish stays out) or 'stale' (an equal or higher sekvens is registered).
CREATE FUNCTION ma_apply_aterkallelse(p_org text, p_id text,
                                      p_sekvens bigint)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    old kundhandelse%ROWTYPE;
BEGIN
    IF NOT ma_register_version(p_org, p_id, p_sekvens, true) THEN
        RETURN 'stale';
    END IF;
    DELETE FROM kundhandelse
     WHERE producent_organisationsnummer = p_org AND kundhandelse_id = p_id
    RETURNING * INTO old;
    IF NOT FOUND THEN
        RETURN 'tombstone';
    END IF;
    PERFORM ma_refresh_arende(p_org, old.arende_typ, old.arende_identifierare);
    PERFORM ma_refresh_kund(old.kund_pseudonym, p_org);
    RETURN 'retracted';
END;
$$;
