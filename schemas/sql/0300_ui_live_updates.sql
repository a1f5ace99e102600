-- 0300_ui_live_updates.sql - wakes the live updates of the overview page
-- (ma-api, docs/ui.md) when a customer's events change.
--
-- One statement-level trigger per kind of change on kundhandelse sends
-- NOTIFY ma_kund_changed with the customer's pseudonym as payload, once per
-- distinct customer of the statement.  PostgreSQL delivers notifications at
-- commit and drops duplicates within one transaction, so a processor batch
-- wakes each customer's page once, after the views are readable.  Events
-- without kund_pseudonym (case-only events) wake no page.  The payload is
-- a pseudonym, never an identity number.

CREATE FUNCTION ma_ui_notify_new_rows()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ma_kund_changed', p.kund_pseudonym)
       FROM (SELECT DISTINCT kund_pseudonym FROM new_rows
              WHERE kund_pseudonym IS NOT NULL) p;
    RETURN NULL;
END;
$$;

CREATE FUNCTION ma_ui_notify_old_rows()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ma_kund_changed', p.kund_pseudonym)
       FROM (SELECT DISTINCT kund_pseudonym FROM old_rows
              WHERE kund_pseudonym IS NOT NULL) p;
    RETURN NULL;
END;
$$;

CREATE TRIGGER kundhandelse_ui_insert
    AFTER INSERT ON kundhandelse
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ma_ui_notify_new_rows();

-- An update may move an event to another customer, so both sides wake.
CREATE TRIGGER kundhandelse_ui_update_new
    AFTER UPDATE ON kundhandelse
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ma_ui_notify_new_rows();
CREATE TRIGGER kundhandelse_ui_update_old
    AFTER UPDATE ON kundhandelse
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ma_ui_notify_old_rows();

CREATE TRIGGER kundhandelse_ui_delete
    AFTER DELETE ON kundhandelse
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ma_ui_notify_old_rows();
