-- 0201_notifier_subscription_end.sql - a subscription that is switched off
-- (active = false, for example when consent is withdrawn) cancels its
-- pending notifications, so nothing more is published for it. Deleting a
-- subscription deletes its notifications (ON DELETE CASCADE in 0200).

CREATE FUNCTION ma_notifier_subscription_trigger()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.active AND NOT NEW.active THEN
        UPDATE notifier_notification
           SET state = 'cancelled', cancelled_at = now()
         WHERE subscription_id = NEW.subscription_id AND state = 'pending';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER notifier_subscription_end
    AFTER UPDATE OF active ON notifier_subscription
    FOR EACH ROW EXECUTE FUNCTION ma_notifier_subscription_trigger();

-- For this trigger and for the cascade on delete.
CREATE INDEX notifier_notification_subscription_idx
    ON notifier_notification (subscription_id);
