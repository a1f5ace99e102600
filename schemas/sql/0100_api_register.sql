-- The query API's connection register (anslutningsregister), the registers
-- of mandates, representatives and reading agents, and the audit log.
-- Written by ma-admin and read by ma-api; the processor never touches them.
-- Users and customers appear only as keyed pseudonyms (ma/pseudonym.h), the
-- same HMAC the events use, so a register row can be matched against
-- kundhandelse.kund_pseudonym without storing an identity number.

-- ---------------------------------------------------------------------------
-- Consumers (konsumenter) connected to the API. A public consumer asserts
-- the user (anvandare) itself; a private one must also present a token
-- signed by an identity provider in api_idp_key.
-- ---------------------------------------------------------------------------

CREATE TABLE api_consumer (
    consumer_id text PRIMARY KEY CHECK (consumer_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('public', 'private')),
    organisationsnummer text CHECK (organisationsnummer ~ '^[0-9]{10}$'),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- API keys: "mak_<key_id>_<secret>". Only sha256(salt || key) is stored, in
-- lower-case hex; the key itself is shown once by ma-admin.
CREATE TABLE api_key (
    key_id text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    consumer_id text NOT NULL REFERENCES api_consumer (consumer_id),
    salt text NOT NULL,
    key_hash text NOT NULL CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE TABLE api_scope (
    consumer_id text NOT NULL REFERENCES api_consumer (consumer_id),
    scope text NOT NULL
        CHECK (scope IN ('fraga', 'oversikt', 'index', 'prenumeration')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_id, scope)
);

-- Keys of the identity providers whose user tokens (JWT) private consumers
-- present. HS256: key_material is the shared secret; EdDSA and ES256: a PEM
-- public key. A token names its key by the "kid" header.
CREATE TABLE api_idp_key (
    kid text PRIMARY KEY,
    issuer text NOT NULL,
    alg text NOT NULL CHECK (alg IN ('HS256', 'EdDSA', 'ES256')),
    key_material text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Who may see a customer's events besides the customer.
-- ---------------------------------------------------------------------------

-- Fullmakter: the customer (fullmaktsgivare) lets the user (fullmaktshavare)
-- see events whose type's authorisation object type is in objekttyper.
CREATE TABLE api_fullmakt (
    fullmakt_id bigserial PRIMARY KEY,
    givare_pseudonym text NOT NULL,
    havare_pseudonym text NOT NULL,
    objekttyper text[] NOT NULL CHECK (cardinality(objekttyper) > 0),
    giltig_fran timestamptz NOT NULL,
    giltig_till timestamptz NOT NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (giltig_fran < giltig_till)
);
CREATE INDEX api_fullmakt_idx ON api_fullmakt (havare_pseudonym,
                                               givare_pseudonym);

-- Firmatecknare: a person who represents an organisation customer.
-- giltig_till NULL means until further notice.
CREATE TABLE api_representative (
    representative_id bigserial PRIMARY KEY,
    organisation_pseudonym text NOT NULL,
    person_pseudonym text NOT NULL,
    giltig_fran timestamptz NOT NULL DEFAULT now(),
    giltig_till timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_representative_idx
    ON api_representative (person_pseudonym, organisation_pseudonym);

-- Juridiska läsombud: a consumer that may read a customer's events on the
-- customer's behalf, whoever the user is.
CREATE TABLE api_reading_agent (
    reading_agent_id bigserial PRIMARY KEY,
    consumer_id text NOT NULL REFERENCES api_consumer (consumer_id),
    kund_pseudonym text NOT NULL,
    giltig_fran timestamptz NOT NULL DEFAULT now(),
    giltig_till timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_reading_agent_idx
    ON api_reading_agent (consumer_id, kund_pseudonym);

-- /v1/meddelande looks events up by their Digital post message reference.
CREATE INDEX api_kundhandelse_referens_idx
    ON kundhandelse (kundhandelsereferens)
    WHERE kundhandelsereferens IS NOT NULL;

-- ---------------------------------------------------------------------------
-- Audit: one row per request, allowed or not. question has every identity
-- number replaced by its pseudonym. disclosed lists the events returned as
-- [{"producent": orgnr, "kundhandelseId": id}]. Append-only: the trigger
-- rejects UPDATE, DELETE and TRUNCATE for every role, owner included.
-- ---------------------------------------------------------------------------

CREATE TABLE api_audit (
    audit_id bigserial PRIMARY KEY,
    logged_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    correlation_id text,
    endpoint text NOT NULL,
    consumer_id text,
    key_id text,
    user_pseudonym text,
    kund_pseudonyms text[] NOT NULL DEFAULT '{}',
    question jsonb,
    disclosed jsonb NOT NULL DEFAULT '[]',
    disclosed_count integer NOT NULL DEFAULT 0,
    decision text NOT NULL
        CHECK (decision IN ('allowed', 'partial', 'denied', 'rejected',
                            'failed')),
    http_status integer NOT NULL,
    error text
);
CREATE INDEX api_audit_correlation_idx ON api_audit (correlation_id);
CREATE INDEX api_audit_consumer_idx ON api_audit (consumer_id, logged_at);

CREATE FUNCTION ma_api_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'api_audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER api_audit_no_update BEFORE UPDATE OR DELETE ON api_audit
    FOR EACH ROW EXECUTE FUNCTION ma_api_audit_append_only();
CREATE TRIGGER api_audit_no_truncate BEFORE TRUNCATE ON api_audit
    FOR EACH STATEMENT EXECUTE FUNCTION ma_api_audit_append_only();
