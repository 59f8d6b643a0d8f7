-- A call's quality figures as the softphone measured them (leadline_model::CallQuality): the estimated
-- MOS (1 to 5), round-trip time and jitter in milliseconds, the fraction of packets lost on the way to us,
-- the codec, and the far end's view of our audio (its loss and jitter). Set on the draft while or after
-- the call runs (`Store::call_quality`), carried into the call log by its wrap-up, pushed with the log and
-- pulled with the logs of other devices. All empty for a call without figures (a click-to-call, a log of an
-- older client); `quality_mos` says whether there are any.
ALTER TABLE call_drafts ADD COLUMN quality_mos REAL;
ALTER TABLE call_drafts ADD COLUMN quality_rtt_ms REAL;
ALTER TABLE call_drafts ADD COLUMN quality_jitter_ms REAL;
ALTER TABLE call_drafts ADD COLUMN quality_loss REAL;
ALTER TABLE call_drafts ADD COLUMN quality_codec TEXT;
ALTER TABLE call_drafts ADD COLUMN quality_remote_loss REAL;
ALTER TABLE call_drafts ADD COLUMN quality_remote_jitter_ms REAL;

ALTER TABLE call_logs ADD COLUMN quality_mos REAL;
ALTER TABLE call_logs ADD COLUMN quality_rtt_ms REAL;
ALTER TABLE call_logs ADD COLUMN quality_jitter_ms REAL;
ALTER TABLE call_logs ADD COLUMN quality_loss REAL;
ALTER TABLE call_logs ADD COLUMN quality_codec TEXT;
ALTER TABLE call_logs ADD COLUMN quality_remote_loss REAL;
ALTER TABLE call_logs ADD COLUMN quality_remote_jitter_ms REAL;
