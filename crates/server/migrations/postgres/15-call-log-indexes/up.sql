-- Every call log a device pushes wrote ten index entries. Three of them repeated a longer index's leading
-- columns (schema 7 added the `(…, started_at DESC, id DESC)` forms for keyset lists), and a range over
-- `(lead_id, started_at)`, `(telecaller_id, started_at)` or `started_at` reads the longer index just as well
-- (the scan runs backwards for ascending order). Dropping them makes a push of call logs cheaper.
DROP INDEX call_logs_lead;
DROP INDEX call_logs_telecaller;
DROP INDEX call_logs_started;
