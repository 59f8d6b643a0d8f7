-- How a drafted call was placed, which says who sees it happen:
--   `softphone`: the desktop's own SIP call; the desktop sees its answer and end.
--   `click_to_call`: the server had the telephony provider ring the telecaller's own phone, then the lead
--     (the softphone's fallback). The desktop never sees the call's answer or end: the provider reports its
--     times, talk time and recording to the server, which merges them into the call log of the same id
--     (the id the server chose). Such a draft has its lead and provider call id from the start.
ALTER TABLE call_drafts ADD COLUMN via TEXT NOT NULL DEFAULT 'softphone'
    CHECK (via IN ('softphone', 'click_to_call'));
