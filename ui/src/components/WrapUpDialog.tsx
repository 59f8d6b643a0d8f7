import { useEffect, useState } from "react";

import type { Disposition } from "../bindings/Disposition";
import type { Lead } from "../bindings/Lead";
import type { LeadStatus } from "../bindings/LeadStatus";
import type { UnloggedCall } from "../bindings/UnloggedCall";
import { describeError, type ErrorText } from "../errors";
import { LEAD_STATUSES, STATUS_LABELS, formatPhone } from "../format";
import type { Api } from "../ipc";
import { isTyping } from "../shortcuts";
import { END_WORDS } from "../phone";
import { COMMON_TAGS, QUICK_PICKS, formatTalk, fromLocalInput, toLocalInput, toggleTag } from "../wrapup";
import { Markdown } from "./Markdown";

interface Props {
  api: Api;
  call: UnloggedCall;
  dispositions: Disposition[];
  /** The call was logged. */
  onLogged: () => void;
  /** Put off (the call stays in the list of calls to log). */
  onLater: () => void;
  now?: () => Date;
}

/** Finds the lead of a call from an unknown number. */
function LeadPicker({ api, onPick }: { api: Api; onPick: (lead: Lead) => void }) {
  const [search, setSearch] = useState("");
  const [hits, setHits] = useState<Lead[]>([]);
  useEffect(() => {
    let cancelled = false;
    if (search.trim().length < 2) {
      setHits([]);
      return;
    }
    const t = setTimeout(() => {
      api
        .listLeads({ search: search.trim(), limit: 8 })
        .then((p) => {
          if (!cancelled) setHits(p.leads);
        })
        .catch(() => {
          if (!cancelled) setHits([]);
        });
    }, 200);
    return () => {
      cancelled = true;
      clearTimeout(t);
    };
  }, [api, search]);
  return (
    <div className="lead-picker">
      <input
        className="input"
        aria-label="Find the lead"
        placeholder="Which lead was it? Name or number"
        value={search}
        onChange={(e) => setSearch(e.target.value)}
        data-testid="wrapup-lead-search"
      />
      {hits.map((l) => (
        <button key={l.id} type="button" className="btn btn-secondary" onClick={() => onPick(l)}>
          {l.name} · {formatPhone(l.phone)}
        </button>
      ))}
    </div>
  );
}

/** The call-logging form, filled in from the call: disposition (keys 1–9), notes, follow-up. */
export function WrapUpDialog({ api, call, dispositions, onLogged, onLater, now = () => new Date() }: Props) {
  const [code, setCode] = useState<string | null>(null);
  const [notes, setNotes] = useState("");
  const [preview, setPreview] = useState(false);
  const [due, setDue] = useState("");
  const [dueNote, setDueNote] = useState("");
  const [lead, setLead] = useState<Lead | null>(call.lead);
  const [status, setStatus] = useState<LeadStatus | "">("");
  const [tags, setTags] = useState<string[]>([]);
  const [tagInput, setTagInput] = useState("");
  const [error, setError] = useState<ErrorText | null>(null);
  const [saving, setSaving] = useState(false);
  const chosen = dispositions.find((d) => d.code === code) ?? null;

  // Keys 1–9 pick a disposition, unless the telecaller is typing.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e)) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const d = dispositions.find((x) => x.hotkey !== null && String(x.hotkey) === e.key);
      if (d) {
        e.preventDefault();
        setCode(d.code);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [dispositions]);

  async function save(e: React.FormEvent) {
    e.preventDefault();
    if (!code) {
      setError({ title: "Choose a disposition", detail: "Pick what came of the call (keys 1–9)." });
      return;
    }
    const dueAt = due ? fromLocalInput(due) : null;
    if (due && !dueAt) {
      setError({ title: "Check the follow-up time", detail: "It is not a date and time." });
      return;
    }
    setSaving(true);
    setError(null);
    try {
      await api.wrapUp(call.log_id, {
        lead_id: call.lead ? undefined : lead?.id,
        disposition: code,
        outcome_tags: tagInput.trim() ? toggleTag(tags, tagInput) : tags,
        notes,
        follow_up: dueAt ? { due_at: dueAt.toISOString(), note: dueNote.trim() || null } : undefined,
        lead_status: status || undefined,
      });
      onLogged();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setSaving(false);
    }
  }

  const who = call.lead?.name ?? lead?.name ?? (call.remote.startsWith("+") ? formatPhone(call.remote) : call.remote);
  const facts = [
    call.direction === "inbound" ? "Incoming" : "Outgoing",
    call.click_to_call ? "through your mobile" : null,
    call.end ? END_WORDS[call.end] : call.ongoing ? "still going" : null,
    call.talk_seconds > 0 ? `talked ${formatTalk(call.talk_seconds)}` : null,
  ].filter(Boolean);

  return (
    <div className="dialog-backdrop">
      <form className="dialog wrapup" role="dialog" aria-label="Log the call" onSubmit={save} data-testid="wrapup">
        <h2>Log the call with {who}</h2>
        <p className="muted" data-testid="wrapup-facts">
          {facts.join(" · ")}
        </p>
        {!call.lead && (lead ? <p>Lead: {lead.name}</p> : <LeadPicker api={api} onPick={setLead} />)}
        <fieldset>
          <legend>What came of it</legend>
          <div className="dispositions" role="radiogroup" aria-label="Disposition">
            {dispositions.map((d) => (
              <button
                key={d.code}
                type="button"
                role="radio"
                aria-checked={code === d.code}
                className={`btn btn-secondary ${code === d.code ? "btn-on" : ""}`}
                onClick={() => setCode(d.code)}
                data-testid={`disposition-${d.code}`}
              >
                {d.hotkey !== null && <kbd>{d.hotkey}</kbd>} {d.label}
              </button>
            ))}
          </div>
        </fieldset>
        <fieldset>
          <legend>Outcome tags</legend>
          <div className="chips" role="group" aria-label="Outcome tags">
            {[...COMMON_TAGS, ...tags.filter((t) => !COMMON_TAGS.includes(t))].map((t) => (
              <button
                key={t}
                type="button"
                className={`chip${tags.includes(t) ? " chip-on" : ""}`}
                aria-pressed={tags.includes(t)}
                onClick={() => setTags(toggleTag(tags, t))}
              >
                {t}
              </button>
            ))}
          </div>
          <input
            className="input"
            aria-label="Another tag"
            placeholder="Another tag (Enter adds it)"
            value={tagInput}
            onChange={(e) => setTagInput(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                setTags(toggleTag(tags, tagInput));
                setTagInput("");
              }
            }}
            data-testid="wrapup-tag"
          />
        </fieldset>
        <fieldset>
          <legend>
            Notes{" "}
            <button type="button" className="link" onClick={() => setPreview(!preview)}>
              {preview ? "Edit" : "Preview"}
            </button>
          </legend>
          {preview ? (
            <Markdown text={notes} />
          ) : (
            <textarea
              className="input"
              rows={4}
              aria-label="Notes"
              placeholder="What they said, what they want (Markdown: **bold**, - lists)"
              value={notes}
              onChange={(e) => setNotes(e.target.value)}
              data-testid="wrapup-notes"
            />
          )}
        </fieldset>
        <fieldset>
          <legend>Follow-up{chosen?.requires_follow_up ? " (needed)" : ""}</legend>
          <div className="quick-picks">
            {QUICK_PICKS.map((q) => (
              <button key={q.label} type="button" className="btn btn-secondary" onClick={() => setDue(toLocalInput(q.at(now())))}>
                {q.label}
              </button>
            ))}
          </div>
          <input
            className="input"
            type="datetime-local"
            aria-label="Follow-up time"
            value={due}
            onChange={(e) => setDue(e.target.value)}
            data-testid="wrapup-due"
          />
          <input
            className="input"
            aria-label="Follow-up note"
            placeholder="What to do then"
            value={dueNote}
            onChange={(e) => setDueNote(e.target.value)}
          />
        </fieldset>
        {lead && (
          <label className="field">
            <span>Lead status</span>
            <select
              className="input"
              value={status}
              onChange={(e) => setStatus(e.target.value as LeadStatus | "")}
              data-testid="wrapup-status"
            >
              <option value="">Keep: {STATUS_LABELS[lead.status]}</option>
              {LEAD_STATUSES.filter((s) => s !== lead.status).map((s) => (
                <option key={s} value={s}>
                  {STATUS_LABELS[s]}
                </option>
              ))}
            </select>
          </label>
        )}
        {error && (
          <div className="banner banner-error" role="alert" data-testid="wrapup-error">
            <strong>{error.title}.</strong> {error.detail}
          </div>
        )}
        <div className="dialog-actions">
          <button type="button" className="btn btn-secondary" onClick={onLater}>
            Later
          </button>
          <button type="submit" className="btn btn-primary" disabled={saving || call.ongoing} data-testid="wrapup-save">
            {saving ? "Saving…" : "Log call"}
          </button>
        </div>
      </form>
    </div>
  );
}
