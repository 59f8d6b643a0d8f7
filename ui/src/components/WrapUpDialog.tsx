import { useEffect, useState } from "react";

import type { Disposition } from "../bindings/Disposition";
import type { Lead } from "../bindings/Lead";
import type { LeadStatus } from "../bindings/LeadStatus";
import type { UnloggedCall } from "../bindings/UnloggedCall";
import { describeError, type ErrorText } from "../errors";
import { LEAD_STATUSES, formatPhone, statusLabel } from "../format";
import { useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";
import { isTyping } from "../shortcuts";
import { endWords } from "../phone";
import {
  COMMON_TAGS,
  QUICK_PICKS,
  formatTalk,
  fromLocalInput,
  quickPickLabel,
  tagLabel,
  toLocalInput,
  toggleTag,
} from "../wrapup";
import { ErrorBanner } from "./ErrorBanner";
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
  /** Seconds the form may stay open untouched after the call (none: no limit). */
  limitSeconds?: number;
  /** The limit ran out on an untouched form: it closes, the call stays in the calls to log. */
  onTimeUp?: () => void;
}

/** Finds the lead of a call from an unknown number. */
function LeadPicker({ api, onPick }: { api: Api; onPick: (lead: Lead) => void }) {
  const t = useT();
  const [search, setSearch] = useState("");
  const [hits, setHits] = useState<Lead[]>([]);
  useEffect(() => {
    let cancelled = false;
    if (search.trim().length < 2) {
      setHits([]);
      return;
    }
    const timer = setTimeout(() => {
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
      clearTimeout(timer);
    };
  }, [api, search]);
  return (
    <div className="lead-picker">
      <input
        className="input"
        aria-label={t("wrap.findLead")}
        placeholder={t("wrap.findLeadPlaceholder")}
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
export function WrapUpDialog({
  api,
  call,
  dispositions,
  onLogged,
  onLater,
  now = () => new Date(),
  limitSeconds,
  onTimeUp,
}: Props) {
  const lang = useLanguage();
  const t = useT();
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

  // The wrap-up limit: counts down once the call is over. Untouched at zero, the form closes (the call
  // stays listed to log); a form being filled in stays and counts the time over.
  const touched =
    code !== null || notes !== "" || due !== "" || dueNote !== "" || tags.length > 0 || tagInput !== "" || status !== "";
  const timed = limitSeconds !== undefined && limitSeconds > 0 && !call.ongoing;
  const [elapsed, setElapsed] = useState(0);
  useEffect(() => {
    if (!timed) return;
    const started = Date.now();
    const timer = setInterval(() => setElapsed(Math.floor((Date.now() - started) / 1000)), 1000);
    return () => clearInterval(timer);
  }, [timed]);
  const left = timed ? (limitSeconds ?? 0) - elapsed : null;
  useEffect(() => {
    if (left !== null && left <= 0 && !touched && !saving) onTimeUp?.();
  }, [left, touched, saving, onTimeUp]);

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
      setError({ title: t("wrap.chooseDisposition"), detail: t("wrap.chooseDisposition.detail") });
      return;
    }
    const dueAt = due ? fromLocalInput(due) : null;
    if (due && !dueAt) {
      setError({ title: t("wrap.checkTime"), detail: t("wrap.checkTime.detail") });
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
      setError(describeError(err, lang));
    } finally {
      setSaving(false);
    }
  }

  const who = call.lead?.name ?? lead?.name ?? (call.remote.startsWith("+") ? formatPhone(call.remote) : call.remote);
  const facts = [
    call.direction === "inbound" ? t("wrap.incoming") : t("wrap.outgoing"),
    call.click_to_call ? t("wrap.viaMobile") : null,
    call.end ? endWords(call.end, lang) : call.ongoing ? t("wrap.ongoing") : null,
    call.talk_seconds > 0 ? t("wrap.talked", { time: formatTalk(call.talk_seconds, lang) }) : null,
  ].filter(Boolean);

  return (
    <div className="dialog-backdrop">
      <form className="dialog wrapup" role="dialog" aria-label={t("wrap.dialog")} onSubmit={save} data-testid="wrapup">
        <h2>{t("wrap.title", { who })}</h2>
        <p className="muted" data-testid="wrapup-facts">
          {facts.join(" · ")}
        </p>
        {left !== null && (
          <p
            role="timer"
            className={`wrapup-timer${left <= 0 ? " wrapup-over" : left <= 30 ? " wrapup-soon" : ""}`}
            data-testid="wrapup-timer"
          >
            {left > 0
              ? t("wrap.timeLeft", { time: clock(left) })
              : t("wrap.overTime", { time: clock(-left) })}
          </p>
        )}
        {!call.lead && (lead ? <p>{t("wrap.lead", { name: lead.name })}</p> : <LeadPicker api={api} onPick={setLead} />)}
        <fieldset>
          <legend>{t("wrap.outcome")}</legend>
          <div className="dispositions" role="radiogroup" aria-label={t("wrap.disposition")}>
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
          <legend>{t("wrap.tags")}</legend>
          <div className="chips" role="group" aria-label={t("wrap.tags")}>
            {[...COMMON_TAGS, ...tags.filter((x) => !COMMON_TAGS.includes(x))].map((tag) => (
              <button
                key={tag}
                type="button"
                className={`chip${tags.includes(tag) ? " chip-on" : ""}`}
                aria-pressed={tags.includes(tag)}
                onClick={() => setTags(toggleTag(tags, tag))}
              >
                {tagLabel(tag, lang)}
              </button>
            ))}
          </div>
          <input
            className="input"
            aria-label={t("wrap.anotherTag")}
            placeholder={t("wrap.anotherTagPlaceholder")}
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
            {t("wrap.notes")}{" "}
            <button type="button" className="link" onClick={() => setPreview(!preview)}>
              {preview ? t("wrap.edit") : t("wrap.preview")}
            </button>
          </legend>
          {preview ? (
            <Markdown text={notes} />
          ) : (
            <textarea
              className="input"
              rows={4}
              aria-label={t("wrap.notes")}
              placeholder={t("wrap.notesPlaceholder")}
              value={notes}
              onChange={(e) => setNotes(e.target.value)}
              data-testid="wrapup-notes"
            />
          )}
        </fieldset>
        <fieldset>
          <legend>
            {t("wrap.followUp")}
            {chosen?.requires_follow_up ? t("wrap.needed") : ""}
          </legend>
          <div className="quick-picks">
            {QUICK_PICKS.map((q) => (
              <button key={q.label} type="button" className="btn btn-secondary" onClick={() => setDue(toLocalInput(q.at(now())))}>
                {quickPickLabel(q, lang)}
              </button>
            ))}
          </div>
          <input
            className="input"
            type="datetime-local"
            aria-label={t("wrap.followUpTime")}
            value={due}
            onChange={(e) => setDue(e.target.value)}
            data-testid="wrapup-due"
          />
          <input
            className="input"
            aria-label={t("wrap.followUpNote")}
            placeholder={t("wrap.followUpNotePlaceholder")}
            value={dueNote}
            onChange={(e) => setDueNote(e.target.value)}
          />
        </fieldset>
        {lead && (
          <label className="field">
            <span>{t("wrap.leadStatus")}</span>
            <select
              className="input"
              value={status}
              onChange={(e) => setStatus(e.target.value as LeadStatus | "")}
              data-testid="wrapup-status"
            >
              <option value="">{t("wrap.keep", { status: statusLabel(lead.status, lang) })}</option>
              {LEAD_STATUSES.filter((s) => s !== lead.status).map((s) => (
                <option key={s} value={s}>
                  {statusLabel(s, lang)}
                </option>
              ))}
            </select>
          </label>
        )}
        {error && (
          <ErrorBanner {...error} testId="wrapup-error" />
        )}
        <div className="dialog-actions">
          <button type="button" className="btn btn-secondary" onClick={onLater}>
            {t("wrap.later")}
          </button>
          <button type="submit" className="btn btn-primary" disabled={saving || call.ongoing} data-testid="wrapup-save">
            {saving ? t("action.saving") : t("wrap.save")}
          </button>
        </div>
      </form>
    </div>
  );
}

/** `m:ss`. */
function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
