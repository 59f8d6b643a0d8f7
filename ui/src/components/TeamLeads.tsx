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
import { ChoiceSelect, TableHead, useAction } from "./TeamParts";
import { TeamError, useServer } from "./TeamScreen";

type TeamLeadsApi = Pick<
  Api,
  "teamLeads" | "teamMembers" | "assignLeads" | "assignMatching" | "transferLeads" | "leadAudit"
>;

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
  const assignable = useMemo(
    (): Array<readonly [string, string]> => [[NOBODY, t("team.unassigned")], ...choicesOf(telecallers)],
    [telecallers, t],
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
  // Every lead the filter lists is chosen, the pages not loaded too (the server assigns by the filter).
  const [wholeFilter, setWholeFilter] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    setRows(null);
    setLoadError(null);
    setSelected(new Set());
    setWholeFilter(false);
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
        // Chosen by the filter: the rows of the next page are chosen too.
        if (wholeFilter) setSelected((s) => new Set([...s, ...page.leads.map((l) => l.id)]));
      })
      .catch((e: unknown) => setLoadError(e))
      .finally(() => setLoadingMore(false));
  }

  // Bulk assignment: the rows move at once and move back if the server refuses.
  const [to, setTo] = useState("");
  const [reason, setReason] = useState("");
  const bulk = useAction();
  const [notice, setNotice] = useState<string | null>(null);

  async function assign(e: FormEvent) {
    e.preventDefault();
    if (!rows || selected.size === 0 || !to || !reason.trim()) return;
    const ids = [...selected];
    const target = to === NOBODY ? null : to;
    if (matching) {
      // Rows not loaded move too: the list is read again from the server once it is done.
      setNotice(null);
      const done = await bulk.run(async () => {
        const { limit: _limit, cursor: _cursor, ...filter } = query;
        const outcome = await api.assignMatching({ filter, to: target, reason: reason.trim() });
        setNotice(t("team.assigned", { n: outcome.assigned, name: nameOf(target) }));
        setReason("");
      });
      if (done) reload();
      return;
    }
    const before = rows;
    setRows(rows.map((l) => (selected.has(l.id) ? { ...l, assigned_to: target } : l)));
    setNotice(null);
    const done = await bulk.run(async () => {
      const outcome = await api.assignLeads({ lead_ids: ids, to: target, reason: reason.trim() });
      setNotice(t("team.assigned", { n: outcome.assigned, name: nameOf(target) }));
      setSelected(new Set());
      setReason("");
    });
    if (!done) setRows(before);
  }

  const [auditOf, setAuditOf] = useState<Lead | null>(null);
  const [transferOpen, setTransferOpen] = useState(false);

  const allOnPage = rows !== null && rows.length > 0 && rows.every((l) => selected.has(l.id));
  const matching = wholeFilter && allOnPage;
  const shownBulkError = bulk.error === null ? null : describeError(bulk.error, lang);

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
          <ChoiceSelect
            value={status}
            onChange={setStatus}
            blank={t("team.any")}
            choices={LEAD_STATUSES.map((v) => [v, statusLabel(v, lang)] as const)}
            testId="team-status"
          />
        </label>
        <label>
          {t("team.priority")}{" "}
          <ChoiceSelect
            value={priority}
            onChange={setPriority}
            blank={t("team.any")}
            choices={(Object.keys(PRIORITY_LABELS) as LeadPriority[]).map((v) => [v, priorityLabel(v, lang)] as const)}
            testId="team-priority"
          />
        </label>
        <label>
          {t("team.source")}{" "}
          <ChoiceSelect
            value={source}
            onChange={setSource}
            blank={t("team.any")}
            choices={(Object.keys(SOURCE_LABELS) as LeadSource[]).map((v) => [v, sourceLabel(v, lang)] as const)}
            testId="team-source"
          />
        </label>
        <label>
          {t("team.assignee")}{" "}
          <ChoiceSelect
            value={assignee}
            onChange={setAssignee}
            blank={t("team.anyone")}
            choices={assignable}
            testId="team-assignee"
          />
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
          {matching ? (
            <span data-testid="bulk-whole-filter">{t("team.allMatching")}</span>
          ) : (
            <span>{t("list.selected", { n: selected.size })}</span>
          )}
          {!matching && allOnPage && cursor !== null && (
            <button type="button" className="btn btn-link" onClick={() => setWholeFilter(true)} data-testid="bulk-select-matching">
              {t("team.selectMatching")}
            </button>
          )}
          <label>
            {t("team.assignTo")}{" "}
            <ChoiceSelect value={to} onChange={setTo} blank={t("team.pick")} choices={assignable} required testId="bulk-to" />
          </label>
          <label>
            {t("team.reason")}{" "}
            <ReasonInput value={reason} onChange={setReason} testId="bulk-reason" />
          </label>
          <button type="submit" className="btn btn-primary" disabled={bulk.busy || !to || !reason.trim()} data-testid="bulk-assign">
            {bulk.busy ? t("action.saving") : t("team.assign")}
          </button>
          <button
            type="button"
            className="btn btn-link"
            onClick={() => {
              setSelected(new Set());
              setWholeFilter(false);
            }}
          >
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
            <TableHead
              columns={[
                <input
                  type="checkbox"
                  checked={allOnPage}
                  aria-label={t("team.selectAll")}
                  onChange={() => {
                    if (allOnPage) setWholeFilter(false);
                    setSelected(allOnPage ? new Set() : new Set(rows.map((l) => l.id)));
                  }}
                />,
                t("team.name"),
                t("team.phone"),
                t("lead.status"),
                t("team.assignee"),
                t("team.updated"),
                <span className="sr-only">{t("team.history")}</span>,
              ]}
            />
            <tbody>
              {rows.map((l) => (
                <tr key={l.id} data-testid="team-lead-row">
                  <td>
                    <input
                      type="checkbox"
                      checked={selected.has(l.id)}
                      aria-label={t("team.selectLead", { name: l.name })}
                      onChange={() => {
                        // Unticking a row leaves "every lead of the filter" for the rows ticked.
                        if (selected.has(l.id)) setWholeFilter(false);
                        setSelected((s) => {
                          const next = new Set(s);
                          if (next.has(l.id)) next.delete(l.id);
                          else next.add(l.id);
                          return next;
                        });
                      }}
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
  const { busy, error, run } = useAction();
  const nameOf = (id: string) => telecallers.find((m) => m.id === id)?.name ?? "";
  const people = choicesOf(telecallers);
  async function submit(e: FormEvent) {
    e.preventDefault();
    await run(async () => {
      const outcome = await api.transferLeads({ from, to, reason: reason.trim() });
      onDone(t("team.transferred", { n: outcome.assigned, from: nameOf(from), to: nameOf(to) }));
    });
  }
  const shown = error === null ? null : describeError(error, lang);
  return (
    <form className="card transfer" onSubmit={submit} data-testid="transfer" aria-label={t("team.transferTitle")}>
      <h2>{t("team.transferTitle")}</h2>
      <p className="muted">{t("team.transferHint")}</p>
      <label className="field">
        {t("team.fromWhom")}
        <ChoiceSelect value={from} onChange={setFrom} blank={t("team.pick")} choices={people} required testId="transfer-from" />
      </label>
      <label className="field">
        {t("team.toWhom")}
        <ChoiceSelect
          value={to}
          onChange={setTo}
          blank={t("team.pick")}
          choices={people.filter(([id]) => id !== from)}
          required
          testId="transfer-to"
        />
      </label>
      <label className="field">
        {t("team.reason")}
        <ReasonInput value={reason} onChange={setReason} testId="transfer-reason" />
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

/** The people as choices of a select: each one's id and name. */
function choicesOf(people: UserAccount[]): Array<readonly [string, string]> {
  return people.map((m) => [m.id, m.name] as const);
}

/** Why leads move (kept with the move in their audit trail). */
function ReasonInput({ value, onChange, testId }: { value: string; onChange: (value: string) => void; testId: string }) {
  const t = useT();
  return (
    <input
      className="input"
      value={value}
      maxLength={500}
      onChange={(e) => onChange(e.target.value)}
      placeholder={t("team.reasonHint")}
      required
      data-testid={testId}
    />
  );
}
