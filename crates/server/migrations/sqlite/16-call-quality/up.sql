-- A call's quality figures as the desktop's softphone measured them (leadline_model::CallQuality), kept
-- with its log: the estimated MOS (1 to 5), round-trip time and jitter in milliseconds, the fraction of
-- packets lost on the way to the telecaller, the codec, and the far end's view of the telecaller's audio
-- (its loss and jitter). The push validates them. All NULL for a call without figures (a click-to-call, a
-- log of an older client); `quality_mos` says whether there are any. Archived logs keep them.
ALTER TABLE call_logs ADD COLUMN quality_mos REAL;
ALTER TABLE call_logs ADD COLUMN quality_rtt_ms REAL;
ALTER TABLE call_logs ADD COLUMN quality_jitter_ms REAL;
ALTER TABLE call_logs ADD COLUMN quality_loss REAL;
ALTER TABLE call_logs ADD COLUMN quality_codec TEXT;
ALTER TABLE call_logs ADD COLUMN quality_remote_loss REAL;
ALTER TABLE call_logs ADD COLUMN quality_remote_jitter_ms REAL;

ALTER TABLE call_logs_archive ADD COLUMN quality_mos REAL;
ALTER TABLE call_logs_archive ADD COLUMN quality_rtt_ms REAL;
ALTER TABLE call_logs_archive ADD COLUMN quality_jitter_ms REAL;
ALTER TABLE call_logs_archive ADD COLUMN quality_loss REAL;
ALTER TABLE call_logs_archive ADD COLUMN quality_codec TEXT;
ALTER TABLE call_logs_archive ADD COLUMN quality_remote_loss REAL;
ALTER TABLE call_logs_archive ADD COLUMN quality_remote_jitter_ms REAL;
