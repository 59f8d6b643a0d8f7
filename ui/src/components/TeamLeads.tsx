// The team's leads, from the server: filters over the whole team, pages, multi-select, bulk assignment
// with a reason (shown at once, rolled back when the server refuses), transfer of one telecaller's open
// leads to another, and each lead's audit trail.
import { type FormEvent, useCallback, useEffect, useMemo, useState } from "react";

import type { AuditEntry } from "../bindings/AuditEntry";
import type { Lead } from "../bindings/Lead";
import type { LeadListQuery } from "../bindings/LeadListQuery";
import type { LeadPriority } from "../bindings/LeadPriority";
import type { LeadSource } from "../bindings/LeadSource";
import type { LeadStatus } from "../bindings/LeadStatus";
import type { UserAccount } from "../bindings/UserAccount";
import { describeError } from "../errors";
import {
  LEAD_STATUSES,
  PRIORITY_LABELS,
  SOURCE_LABELS,
  formatPhone,
  formatRelative,
  priorityLabel,
  sourceLabel,
  statusLabel,
} from "../format";
import { type Key, useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";
import { ErrorBanner } from "./ErrorBanner";
import { TeamError, useServer } from "./TeamScreen";

type TeamLeadsApi = Pick<Api, "teamLeads" | "teamMembers" | "assignLeads" | "transferLeads" | "leadAudit">;

const PAGE = 50;
/** The assignee filter's value for leads without one. */
const NOBODY = "none";

export function TeamLeads({ api }: { api: TeamLeadsApi }) {
  const t = useT();
  const lang = useLanguage();
  const [status, setStatus] = useState<LeadStatus | "">("");
  const [priority, setPriority] = useState<LeadPriority | "">("");
  const [source, setSource] = useState<LeadSource | "">("");
  const [assignee, setAssignee] = useState("");
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  const members = useServer<UserAccount[]>(useCallback(() => api.teamMembers(), [api]));
  const telecallers = useMemo(
    () => (members.data ?? []).filter((m) => m.active && m.role === "telecaller"),
    [members.data],
  );
  const nameOf = useCallback(
    (id: string | null) =>
      id === null ? t("team.unassigned") : ((members.data ?? []).find((m) => m.id === id)?.name ?? t("team.someone")),
    [members.data, t],
  );

  const query = useMemo((): LeadListQuery => {
    const out: LeadListQuery = {
      status: status ? [status] : [],
      priority: priority ? [priority] : [],
      source: source ? [source] : [],
      limit: PAGE,
    };
    if (assignee === NOBODY) out.assigned_to = "unassigned";
    else if (assignee) out.assigned_to = { user: assignee };
    if (q.trim()) out.q = q.trim();
    return out;
  }, [status, priority, source, assignee, q]);

  const [rows, setRows] = useState<Lead[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    setRows(null);
    setLoadError(null);
    setSelected(new Set());
    api
      .teamLeads(query)
      .then((page) => {
        if (cancelled) return;
        setRows(page.leads);
        setCursor(page.next_cursor);
      })
      .catch((e: unknown) => {
        if (!cancelled) setLoadError(e);
      });
    return () => {
      cancelled = true;
    };
  }, [api, query, attempt]);
  const reload = useCallback(() => setAttempt((n) => n + 1), []);

  function more() {
    if (!cursor) return;
    setLoadingMore(true);
    api
      .teamLeads({ ...query, cursor })
      .then((page) => {
        setRows((r) => [...(r ?? []), ...page.leads]);
        setCursor(page.next_cursor);
      })
      .catch((e: unknown) => setLoadError(e))
      .finally(() => setLoadingMore(false));
  }

  // Bulk assignment: the rows move at once and move back if the server refuses.
  const [to, setTo] = useState("");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [bulkError, setBulkError] = useState<unknown>(null);

  async function assign(e: FormEvent) {
    e.preventDefault();
    if (!rows || selected.size === 0 || !to || !reason.trim()) return;
    const ids = [...selected];
    const target = to === NOBODY ? null : to;
    const before = rows;
    setRows(rows.map((l) => (selected.has(l.id) ? { ...l, assigned_to: target } : l)));
    setBusy(true);
    setBulkError(null);
    setNotice(null);
    try {
      const outcome = await api.assignLeads({ lead_ids: ids, to: target, reason: reason.trim() });
      setNotice(t("team.assigned", { n: outcome.assigned, name: nameOf(target) }));
      setSelected(new Set());
      setReason("");
    } catch (err) {
      setRows(before);
      setBulkError(err);
    } finally {
      setBusy(false);
    }
  }

  const [auditOf, setAuditOf] = useState<Lead | null>(null);
  const [transferOpen, setTransferOpen] = useState(false);

  const allOnPage = rows !== null && rows.length > 0 && rows.every((l) => selected.has(l.id));
  const shownBulkError = bulkError === null ? null : describeError(bulkError, lang);

  return (
    <div className="team-leads" data-testid="team-leads">
      <form
        className="team-toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setQ(search);
        }}
      >
        <input
          className="input"
          type="search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          placeholder={t("team.searchLeads")}
          aria-label={t("team.searchLeads")}
          data-testid="team-search"
        />
        <label>
          {t("lead.status")}{" "}
          <select className="input" value={status} onChange={(e) => setStatus(e.target.value as LeadStatus | "")} data-testid="team-status">
            <option value="">{t("team.any")}</option>
            {LEAD_STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusLabel(s, lang)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("team.priority")}{" "}
          <select
            className="input"
            value={priority}
            onChange={(e) => setPriority(e.target.value as LeadPriority | "")}
            data-testid="team-priority"
          >
            <option value="">{t("team.any")}</option>
            {(Object.keys(PRIORITY_LABELS) as LeadPriority[]).map((p) => (
              <option key={p} value={p}>
                {priorityLabel(p, lang)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("team.source")}{" "}
          <select
            className="input"
            value={source}
            onChange={(e) => setSource(e.target.value as LeadSource | "")}
            data-testid="team-source"
          >
            <option value="">{t("team.any")}</option>
            {(Object.keys(SOURCE_LABELS) as LeadSource[]).map((v) => (
              <option key={v} value={v}>
                {sourceLabel(v, lang)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("team.assignee")}{" "}
          <select className="input" value={assignee} onChange={(e) => setAssignee(e.target.value)} data-testid="team-assignee">
            <option value="">{t("team.anyone")}</option>
            <option value={NOBODY}>{t("team.unassigned")}</option>
            {telecallers.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="btn btn-secondary">
          {t("team.search")}
        </button>
        <button type="button" className="btn btn-secondary" onClick={() => setTransferOpen((o) => !o)} data-testid="open-transfer">
          {t("team.transfer")}
        </button>
      </form>

      {transferOpen && (
        <TransferForm
          api={api}
          telecallers={telecallers}
          onDone={(msg) => {
            setTransferOpen(false);
            setNotice(msg);
            reload();
          }}
        />
      )}

      {notice && (
        <p className="banner banner-info" role="status" data-testid="team-notice">
          {notice}
        </p>
      )}
      {shownBulkError && (
        <ErrorBanner title={t("team.assignFailed")} detail={shownBulkError.detail} testId="bulk-error" />
      )}

      {selected.size > 0 && (
        <form className="selection-bar" onSubmit={assign} data-testid="bulk-bar" aria-label={t("team.bulkLabel")}>
          <span>{t("list.selected", { n: selected.size })}</span>
          <label>
            {t("team.assignTo")}{" "}
            <select className="input" value={to} onChange={(e) => setTo(e.target.value)} data-testid="bulk-to" required>
              <option value="">{t("team.pick")}</option>
              <option value={NOBODY}>{t("team.unassigned")}</option>
              {telecallers.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t("team.reason")}{" "}
            <input
              className="input"
              value={reason}
              maxLength={500}
              onChange={(e) => setReason(e.target.value)}
              placeholder={t("team.reasonHint")}
              data-testid="bulk-reason"
              required
            />
          </label>
          <button type="submit" className="btn btn-primary" disabled={busy || !to || !reason.trim()} data-testid="bulk-assign">
            {busy ? t("action.saving") : t("team.assign")}
          </button>
          <button type="button" className="btn btn-link" onClick={() => setSelected(new Set())}>
            {t("list.clear")}
          </button>
        </form>
      )}

      {loadError !== null ? (
        <TeamError error={loadError} onRetry={reload} />
      ) : rows === null ? (
        <div className="card skeleton skeleton-block" aria-busy="true" data-testid="team-leads-loading" />
      ) : rows.length === 0 ? (
        <p className="empty" data-testid="team-leads-empty">
          {q || status || priority || source || assignee ? t("team.noMatch") : t("team.noLeads")}
        </p>
      ) : (
        <>
          <table className="team-table" data-testid="team-leads-table">
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    checked={allOnPage}
                    aria-label={t("team.selectAll")}
                    onChange={() => setSelected(allOnPage ? new Set() : new Set(rows.map((l) => l.id)))}
                  />
                </th>
                <th scope="col">{t("team.name")}</th>
                <th scope="col">{t("team.phone")}</th>
                <th scope="col">{t("lead.status")}</th>
                <th scope="col">{t("team.assignee")}</th>
                <th scope="col">{t("team.updated")}</th>
                <th scope="col">
                  <span className="sr-only">{t("team.history")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((l) => (
                <tr key={l.id} data-testid="team-lead-row">
                  <td>
                    <input
                      type="checkbox"
                      checked={selected.has(l.id)}
                      aria-label={t("team.selectLead", { name: l.name })}
                      onChange={() =>
                        setSelected((s) => {
                          const next = new Set(s);
                          if (next.has(l.id)) next.delete(l.id);
                          else next.add(l.id);
                          return next;
                        })
                      }
                    />
                  </td>
                  <th scope="row">{l.name}</th>
                  <td>{formatPhone(l.phone)}</td>
                  <td>{statusLabel(l.status, lang)}</td>
                  <td data-testid="assignee-cell">{nameOf(l.assigned_to)}</td>
                  <td>{formatRelative(l.updated_at, new Date(), lang)}</td>
                  <td>
                    <button
                      type="button"
                      className="btn btn-link"
                      onClick={() => setAuditOf(l)}
                      aria-label={t("team.historyOf", { name: l.name })}
                    >
                      {t("team.history")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {cursor && (
            <button type="button" className="btn btn-secondary" onClick={more} disabled={loadingMore} data-testid="team-more">
              {loadingMore ? t("list.loading") : t("team.more")}
            </button>
          )}
        </>
      )}
      {auditOf && <AuditTrail api={api} lead={auditOf} nameOf={nameOf} onClose={() => setAuditOf(null)} />}
    </div>
  );
}

const ACTION_KEYS: Record<AuditEntry["action"], Key> = {
  assigned: "team.audit.assigned",
  transferred: "team.audit.transferred",
  unassigned: "team.audit.unassigned",
  created: "team.audit.created",
  updated: "team.audit.updated",
};

/** A lead's audit trail, newest first, a page at a time. */
function AuditTrail({
  api,
  lead,
  nameOf,
  onClose,
}: {
  api: Pick<Api, "leadAudit">;
  lead: Lead;
  nameOf: (id: string | null) => string;
  onClose: () => void;
}) {
  const t = useT();
  const lang = useLanguage();
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(
    (after: string | null) => {
      setError(null);
      api
        .leadAudit(lead.id, after)
        .then((page) => {
          setEntries((e) => (after ? [...(e ?? []), ...page.entries] : page.entries));
          setCursor(page.next_cursor);
        })
        .catch((e: unknown) => setError(e));
    },
    [api, lead.id],
  );
  useEffect(() => {
    setEntries(null);
    load(null);
  }, [load]);
  return (
    <section className="card audit" aria-labelledby="audit-title" data-testid="audit">
      <div className="section-head">
        <h2 id="audit-title">{t("team.historyOf", { name: lead.name })}</h2>
        <button type="button" className="btn btn-link" onClick={onClose}>
          {t("action.close")}
        </button>
      </div>
      {error !== null ? (
        <TeamError error={error} onRetry={() => load(null)} />
      ) : entries === null ? (
        <div className="skeleton skeleton-block" aria-busy="true" data-testid="audit-loading" />
      ) : entries.length === 0 ? (
        <p className="muted" data-testid="audit-empty">
          {t("team.audit.none")}
        </p>
      ) : (
        <ol className="audit-list">
          {entries.map((e) => (
            <li key={e.id} data-testid="audit-entry">
              <strong>{t(ACTION_KEYS[e.action])}</strong>{" "}
              {(e.action === "assigned" || e.action === "transferred" || e.action === "unassigned") &&
                t("team.audit.move", { from: nameOf(e.from_user), to: nameOf(e.to_user) })}{" "}
              <span className="muted">
                {t("team.audit.by", {
                  who: e.actor_id ? nameOf(e.actor_id) : t("team.audit.system"),
                  when: formatRelative(e.at, new Date(), lang),
                })}
              </span>
              {e.reason && <div className="audit-reason">“{e.reason}”</div>}
            </li>
          ))}
        </ol>
      )}
      {cursor && (
        <button type="button" className="btn btn-secondary" onClick={() => load(cursor)}>
          {t("team.more")}
        </button>
      )}
    </section>
  );
}

/** Moves one telecaller's open leads to another, with the reason. */
function TransferForm({
  api,
  telecallers,
  onDone,
}: {
  api: Pick<Api, "transferLeads">;
  telecallers: UserAccount[];
  onDone: (notice: string) => void;
}) {
  const t = useT();
  const lang = useLanguage();
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const nameOf = (id: string) => telecallers.find((m) => m.id === id)?.name ?? "";
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const outcome = await api.transferLeads({ from, to, reason: reason.trim() });
      onDone(t("team.transferred", { n: outcome.assigned, from: nameOf(from), to: nameOf(to) }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  const shown = error === null ? null : describeError(error, lang);
  return (
    <form className="card transfer" onSubmit={submit} data-testid="transfer" aria-label={t("team.transferTitle")}>
      <h2>{t("team.transferTitle")}</h2>
      <p className="muted">{t("team.transferHint")}</p>
      <label className="field">
        {t("team.fromWhom")}
        <select className="input" value={from} onChange={(e) => setFrom(e.target.value)} required data-testid="transfer-from">
          <option value="">{t("team.pick")}</option>
          {telecallers.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        {t("team.toWhom")}
        <select className="input" value={to} onChange={(e) => setTo(e.target.value)} required data-testid="transfer-to">
          <option value="">{t("team.pick")}</option>
          {telecallers
            .filter((m) => m.id !== from)
            .map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
        </select>
      </label>
      <label className="field">
        {t("team.reason")}
        <input
          className="input"
          value={reason}
          maxLength={500}
          onChange={(e) => setReason(e.target.value)}
          placeholder={t("team.reasonHint")}
          required
          data-testid="transfer-reason"
        />
      </label>
      {shown && (
        <ErrorBanner {...shown} />
      )}
      <button
        type="submit"
        className="btn btn-primary"
        disabled={busy || !from || !to || from === to || !reason.trim()}
        data-testid="transfer-submit"
      >
        {busy ? t("action.saving") : t("team.transfer")}
      </button>
    </form>
  );
}
