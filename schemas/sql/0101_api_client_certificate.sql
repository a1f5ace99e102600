-- The optional TLS client certificate of a consumer: part of "the consumer
-- is connected" (check a).  Only the SHA-256 of the certificate's DER
-- encoding is stored, in lower-case hex; ma-admin computes it from a PEM
-- file.  When set, ma-api accepts the consumer's API key only on a TLS
-- connection whose verified client certificate has this fingerprint.
-- NULL: the API key alone connects the consumer.

ALTER TABLE api_consumer
    ADD COLUMN client_cert_sha256 text
        CHECK (client_cert_sha256 ~ '^[0-9a-f]{64}$');
