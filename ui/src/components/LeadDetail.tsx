import { useCallback, useEffect, useRef, useState } from "react";

import type { CallDirection } from "../bindings/CallDirection";
import type { CallLog } from "../bindings/CallLog";
import type { Disposition } from "../bindings/Disposition";
import type { Lead } from "../bindings/Lead";
import type { LeadDetail as Detail } from "../bindings/LeadDetail";
import type { LeadEdit } from "../bindings/LeadEdit";
import type { LeadPriority } from "../bindings/LeadPriority";
import type { LeadStatus } from "../bindings/LeadStatus";
import { describeError, type ErrorText } from "../errors";
import { formatInr, formatPhone, formatRelative, LEAD_STATUSES, priorityLabel, sourceLabel, statusLabel } from "../format";
import { useDebounced } from "../hooks";
import { useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";
import { PriorityBadge, StatusBadge } from "./Badges";
import { ErrorBanner } from "./ErrorBanner";
import { formatDuration } from "./Home";
import { Markdown } from "./Markdown";
import { TextField } from "./TextField";

type DetailApi = Pick<Api, "leadDetail" | "editLead" | "callHistory" | "exportCallHistory" | "recording">;

interface Props {
  api: DetailApi;
  leadId: string;
  dispositions: Disposition[];
  now: Date;
  onCall: (lead: Lead) => void;
  onClose: () => void;
  /** The lead was edited (the lists refresh it). */
  onChanged?: (lead: Lead) => void;
}

/** The pipeline a lead moves along; the rest are where it leaves it. */
const PIPELINE: LeadStatus[] = ["new", "contacted", "interested", "follow_up", "visit_scheduled", "converted"];
const PRIORITIES: LeadPriority[] = ["low", "normal", "high", "hot"];

/** The form's fields as typed (text inputs hold strings). */
interface Form {
  priority: LeadPriority;
  interest: string;
  city: string;
  email: string;
  alternate_phone: string;
  budget: string;
  tags: string[];
}

function formOf(lead: Lead): Form {
  return {
    priority: lead.priority,
    interest: lead.interest ?? "",
    city: lead.city ?? "",
    email: lead.email ?? "",
    alternate_phone: lead.alternate_phone ?? "",
    budget: lead.budget_inr === null ? "" : String(lead.budget_inr),
    tags: lead.tags,
  };
}

/**
 * A lead in full: its status pipeline, its fields (edited with checks, saved offline too), tags, open
 * follow-ups, and its call history with search, filters, CSV export and recordings.
 */
export function LeadDetail({ api, leadId, dispositions, now, onCall, onClose, onChanged }: Props) {
  const t = useT();
  const lang = useLanguage();
  const [detail, setDetail] = useState<Detail | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [form, setForm] = useState<Form | null>(null);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [tagDraft, setTagDraft] = useState("");
  const dialogRef = useRef<HTMLDivElement>(null);

  const load = useCallback(() => {
    setLoadError(null);
    api
      .leadDetail(leadId)
      .then((d) => {
        setDetail(d);
        setForm(formOf(d.lead));
      })
      .catch((e: unknown) => setLoadError(e));
  }, [api, leadId]);
  useEffect(load, [load]);

  useEffect(() => {
    dialogRef.current?.focus();
    function onKey(e: KeyboardEvent) {
      if (e.key === "Escape") onClose();
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);

  /** Saves `edit`; the screen shows it at once and goes back if the shell refuses it. */
  function save(edit: LeadEdit, optimistic: Partial<Lead>) {
    if (!detail) return;
    const before = detail;
    setDetail({ ...detail, lead: { ...detail.lead, ...optimistic } });
    setSaving(true);
    setSaveError(null);
    setSaved(false);
    api
      .editLead(leadId, edit)
      .then((lead) => {
        setDetail((d) => (d ? { ...d, lead } : d));
        setForm(formOf(lead));
        setSaved(true);
        onChanged?.(lead);
      })
      .catch((e: unknown) => {
        setDetail(before);
        setSaveError(e);
      })
      .finally(() => setSaving(false));
  }

  function saveForm(e: React.FormEvent) {
    e.preventDefault();
    if (!form) return;
    const budget = form.budget.trim() === "" ? null : Number(form.budget.replace(/[,\s₹]/g, ""));
    if (budget !== null && !Number.isFinite(budget)) {
      setSaveError(new Error(t("detail.budgetNumber")));
      return;
    }
    save(
      {
        status: null,
        priority: form.priority,
        tags: form.tags,
        interest: form.interest,
        city: form.city,
        email: form.email,
        alternate_phone: form.alternate_phone,
        budget_inr: budget,
      },
      { priority: form.priority, tags: form.tags },
    );
  }

  function setStatus(status: LeadStatus) {
    if (!detail || status === detail.lead.status) return;
    save(
      {
        status,
        priority: null,
        tags: null,
        interest: null,
        city: null,
        email: null,
        alternate_phone: null,
        budget_inr: null,
      },
      { status },
    );
  }

  function addTag() {
    const tag = tagDraft.trim();
    if (!form || !tag) return;
    if (!form.tags.some((x) => x.toLowerCase() === tag.toLowerCase())) setForm({ ...form, tags: [...form.tags, tag] });
    setTagDraft("");
  }

  const lead = detail?.lead;
  const shownError = saveError ? describeError(saveError, lang) : null;
  return (
    <div className="dialog-backdrop">
      <div
        className="dialog lead-detail"
        role="dialog"
        aria-modal="true"
        aria-label={lead ? t("detail.label", { name: lead.name }) : t("detail.loading")}
        tabIndex={-1}
        ref={dialogRef}
        data-testid="lead-detail"
      >
        {loadError !== null ? (
          <LoadFailed error={describeError(loadError, lang)} onRetry={load} onClose={onClose} />
        ) : !lead || !form ? (
          <div aria-busy="true" data-testid="lead-detail-loading">
            <div className="card skeleton skeleton-block" />
            <div className="card skeleton skeleton-block" />
          </div>
        ) : (
          <>
            <header className="lead-detail-head">
              <div>
                <h2 data-testid="lead-detail-name">{lead.name}</h2>
                <div className="focus-card-facts">
                  <span className="phone">{formatPhone(lead.phone)}</span>
                  <span className="muted">{sourceLabel(lead.source, lang)}</span>
                  <PriorityBadge priority={lead.priority} />
                  <StatusBadge status={lead.status} />
                </div>
              </div>
              <div className="focus-card-actions">
                <button
                  type="button"
                  className="btn btn-primary"
                  disabled={lead.status === "do_not_call"}
                  title={lead.status === "do_not_call" ? t("card.doNotCall") : undefined}
                  onClick={() => onCall(lead)}
                  data-testid="lead-detail-call"
                >
                  {t("action.callName", { name: lead.name.split(" ")[0] ?? lead.name })}
                </button>
                <button type="button" className="btn btn-secondary" onClick={onClose} data-testid="lead-detail-close">
                  {t("action.close")}
                </button>
              </div>
            </header>

            <nav className="pipeline" aria-label={t("detail.pipeline")}>
              <ol>
                {PIPELINE.map((s) => {
                  const reached = PIPELINE.indexOf(lead.status) >= PIPELINE.indexOf(s);
                  return (
                    <li key={s}>
                      <button
                        type="button"
                        className={`pipeline-step${lead.status === s ? " pipeline-current" : reached ? " pipeline-done" : ""}`}
                        aria-current={lead.status === s ? "step" : undefined}
                        disabled={saving}
                        onClick={() => setStatus(s)}
                        data-testid={`status-${s}`}
                      >
                        {statusLabel(s, lang)}
                      </button>
                    </li>
                  );
                })}
              </ol>
              <label className="pipeline-other">
                <span>{t("detail.otherStatus")}</span>
                <select
                  className="input"
                  value={PIPELINE.includes(lead.status) ? "" : lead.status}
                  disabled={saving}
                  onChange={(e) => e.target.value && setStatus(e.target.value as LeadStatus)}
                  data-testid="status-other"
                >
                  <option value="">—</option>
                  {LEAD_STATUSES.filter((s) => !PIPELINE.includes(s)).map((s) => (
                    <option key={s} value={s}>
                      {statusLabel(s, lang)}
                    </option>
                  ))}
                </select>
              </label>
            </nav>

            {shownError && (
              <ErrorBanner {...shownError} testId="lead-detail-error" />
            )}
            {saved && !saving && (
              <p className="muted" role="status" data-testid="lead-detail-saved">
                {t("detail.saved")}
              </p>
            )}

            <form className="lead-fields" onSubmit={saveForm} aria-label={t("detail.fields")}>
              <label className="field">
                <span>{t("detail.priority")}</span>
                <select
                  className="input"
                  value={form.priority}
                  onChange={(e) => setForm({ ...form, priority: e.target.value as LeadPriority })}
                  data-testid="field-priority"
                >
                  {PRIORITIES.map((p) => (
                    <option key={p} value={p}>
                      {priorityLabel(p, lang)}
                    </option>
                  ))}
                </select>
              </label>
              <TextField label={t("detail.interest")} value={form.interest} onChange={(v) => setForm({ ...form, interest: v })} testId="field-interest" />
              <TextField label={t("detail.city")} value={form.city} onChange={(v) => setForm({ ...form, city: v })} testId="field-city" />
              <TextField
                label={t("detail.email")}
                type="email"
                value={form.email}
                onChange={(v) => setForm({ ...form, email: v })}
                testId="field-email"
              />
              <TextField
                label={t("detail.alternatePhone")}
                type="tel"
                placeholder="98765 43210"
                value={form.alternate_phone}
                onChange={(v) => setForm({ ...form, alternate_phone: v })}
                testId="field-alternate-phone"
              />
              <TextField
                label={t("detail.budget")}
                inputMode="numeric"
                placeholder={formatInr(250000)}
                value={form.budget}
                onChange={(v) => setForm({ ...form, budget: v })}
                testId="field-budget"
              />
              <fieldset className="lead-tags">
                <legend>{t("detail.tags")}</legend>
                <div className="chips">
                  {form.tags.map((tag) => (
                    <span key={tag} className="tag" data-testid="lead-tag">
                      {tag}
                      <button
                        type="button"
                        className="tag-remove"
                        aria-label={t("detail.removeTag", { tag })}
                        onClick={() => setForm({ ...form, tags: form.tags.filter((x) => x !== tag) })}
                      >
                        ×
                      </button>
                    </span>
                  ))}
                </div>
                <input
                  className="input"
                  aria-label={t("detail.addTag")}
                  placeholder={t("detail.addTagPlaceholder")}
                  value={tagDraft}
                  onChange={(e) => setTagDraft(e.target.value)}
                  onKeyDown={(e) => {
                    if (e.key === "Enter") {
                      e.preventDefault();
                      addTag();
                    }
                  }}
                  data-testid="tag-input"
                />
              </fieldset>
              <div className="dialog-actions">
                <button type="submit" className="btn btn-primary" disabled={saving} data-testid="lead-detail-save">
                  {saving ? t("detail.saving") : t("action.save")}
                </button>
              </div>
            </form>

            <section aria-label={t("detail.followUps")}>
              <h3>{t("detail.followUps")}</h3>
              {detail.follow_ups.length === 0 ? (
                <p className="muted">{t("detail.noFollowUps")}</p>
              ) : (
                <ul className="plain-list" data-testid="lead-follow-ups">
                  {detail.follow_ups.map((f) => (
                    <li key={f.id}>
                      <strong>{formatRelative(f.due_at, now, lang)}</strong>
                      {f.note ? ` — ${f.note}` : ""}
                    </li>
                  ))}
                </ul>
              )}
            </section>

            <CallHistory api={api} leadId={leadId} dispositions={dispositions} now={now} />
          </>
        )}
      </div>
    </div>
  );
}

function LoadFailed({ error, onRetry, onClose }: { error: ErrorText; onRetry: () => void; onClose: () => void }) {
  const t = useT();
  return (
    <ErrorBanner {...error} testId="lead-detail-failed">
      <div className="dialog-actions">
        <button type="button" className="btn btn-secondary" onClick={onRetry}>
          {t("action.tryAgain")}
        </button>
        <button type="button" className="btn btn-link" onClick={onClose}>
          {t("action.close")}
        </button>
      </div>
    </ErrorBanner>
  );
}

/** The lead's calls, newest first: search, direction and outcome filters, more pages, CSV, recordings. */
function CallHistory({
  api,
  leadId,
  dispositions,
  now,
}: {
  api: DetailApi;
  leadId: string;
  dispositions: Disposition[];
  now: Date;
}) {
  const t = useT();
  const lang = useLanguage();
  const [search, setSearch] = useState("");
  const [direction, setDirection] = useState<CallDirection | "">("");
  const [disposition, setDisposition] = useState("");
  const [calls, setCalls] = useState<CallLog[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const debounced = useDebounced(search, 200);
  const args = useCallback(
    (cursor: string | null) => ({
      lead_id: leadId,
      search: debounced.trim() || null,
      direction: direction || null,
      dispositions: disposition ? [disposition] : [],
      cursor,
    }),
    [leadId, debounced, direction, disposition],
  );

  useEffect(() => {
    let stale = false;
    setError(null);
    api
      .callHistory(args(null))
      .then((page) => {
        if (stale) return;
        setCalls(page.calls);
        setNext(page.next_cursor);
      })
      .catch((e: unknown) => {
        if (!stale) setError(e);
      });
    return () => {
      stale = true;
    };
  }, [api, args]);

  function more() {
    if (!next) return;
    api
      .callHistory(args(next))
      .then((page) => {
        setCalls((prev) => [...(prev ?? []), ...page.calls]);
        setNext(page.next_cursor);
      })
      .catch((e: unknown) => setError(e));
  }

  function exportCsv() {
    api
      .exportCallHistory(args(null))
      .then(([path, n]) => setNotice(t("detail.exported", { n, path })))
      .catch((e: unknown) => setError(e));
  }

  const label = (code: string) => dispositions.find((d) => d.code === code)?.label ?? code;
  const filtered = search.trim() !== "" || direction !== "" || disposition !== "";
  const shownError = error ? describeError(error, lang) : null;
  return (
    <section aria-label={t("detail.history")} data-testid="call-history">
      <h3>{t("detail.history")}</h3>
      <div className="history-filters">
        <input
          className="input"
          type="search"
          aria-label={t("detail.searchCalls")}
          placeholder={t("detail.searchCalls")}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          data-testid="history-search"
        />
        <select
          className="input"
          aria-label={t("detail.direction")}
          value={direction}
          onChange={(e) => setDirection(e.target.value as CallDirection | "")}
          data-testid="history-direction"
        >
          <option value="">{t("detail.bothDirections")}</option>
          <option value="outbound">{t("wrap.outgoing")}</option>
          <option value="inbound">{t("wrap.incoming")}</option>
        </select>
        <select
          className="input"
          aria-label={t("wrap.disposition")}
          value={disposition}
          onChange={(e) => setDisposition(e.target.value)}
          data-testid="history-disposition"
        >
          <option value="">{t("detail.allOutcomes")}</option>
          {dispositions.map((d) => (
            <option key={d.code} value={d.code}>
              {d.label}
            </option>
          ))}
        </select>
        <button type="button" className="btn btn-secondary" onClick={exportCsv} data-testid="history-export">
          {t("detail.exportCalls")}
        </button>
      </div>
      {notice && (
        <p className="muted" role="status" data-testid="history-notice">
          {notice}
        </p>
      )}
      {shownError && (
        <ErrorBanner {...shownError} />
      )}
      {calls === null ? (
        <div className="card skeleton skeleton-block" aria-busy="true" />
      ) : calls.length === 0 ? (
        <p className="muted" data-testid="history-empty">
          {filtered ? t("detail.noMatchingCalls") : t("detail.noCalls")}
        </p>
      ) : (
        <ol className="history" data-testid="history-list">
          {calls.map((c) => (
            <li key={c.id} className="history-call" data-testid="history-call">
              <div className="history-call-head">
                <strong>{label(c.disposition)}</strong>
                <span className="muted">
                  {c.direction === "inbound" ? t("wrap.incoming") : t("wrap.outgoing")} ·{" "}
                  {formatRelative(c.started_at, now, lang)} ·{" "}
                  {c.duration_s > 0 ? formatDuration(c.duration_s, lang) : t("detail.notAnswered")}
                </span>
              </div>
              {c.outcome_tags.length > 0 && (
                <div className="chips">
                  {c.outcome_tags.map((tag) => (
                    <span key={tag} className="tag">
                      {tag}
                    </span>
                  ))}
                </div>
              )}
              {c.notes && <Markdown text={c.notes} />}
              {c.recording_url && <Recording api={api} callId={c.id} />}
            </li>
          ))}
        </ol>
      )}
      {next && (
        <button type="button" className="btn btn-link" onClick={more} data-testid="history-more">
          {t("detail.moreCalls")}
        </button>
      )}
    </section>
  );
}

/** A call's recording: fetched through the shell when asked for, then played in place. */
function Recording({ api, callId }: { api: DetailApi; callId: string }) {
  const t = useT();
  const lang = useLanguage();
  const [url, setUrl] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ErrorText | null>(null);
  useEffect(
    () => () => {
      if (url) URL.revokeObjectURL(url);
    },
    [url],
  );
  if (url) {
    return (
      <audio controls autoPlay src={url} aria-label={t("detail.recording")} data-testid="recording-player">
        <track kind="captions" />
      </audio>
    );
  }
  return (
    <div className="recording">
      <button
        type="button"
        className="btn btn-link"
        disabled={loading}
        onClick={() => {
          setLoading(true);
          setError(null);
          api
            .recording(callId)
            .then((bytes) => setUrl(URL.createObjectURL(new Blob([bytes], { type: "audio/mpeg" }))))
            .catch((e: unknown) => setError(describeError(e, lang)))
            .finally(() => setLoading(false));
        }}
        data-testid="recording-play"
      >
        {loading ? t("detail.recordingLoading") : t("detail.playRecording")}
      </button>
      {error && (
        <span className="recording-error" role="alert" data-testid="recording-error">
          {error.title}. {error.detail}
        </span>
      )}
    </div>
  );
}
