import { useCallback, useLayoutEffect, useRef, useState } from "react";

import type { FollowUpWhen } from "../bindings/FollowUpWhen";
import type { Lead } from "../bindings/Lead";
import type { LeadListArgs } from "../bindings/LeadListArgs";
import type { LeadPriority } from "../bindings/LeadPriority";
import type { LeadSource } from "../bindings/LeadSource";
import type { LeadStatus } from "../bindings/LeadStatus";
import type { SortKey } from "../bindings/SortKey";
import type { StatusTally } from "../bindings/StatusTally";
import { describeError } from "../errors";
import { LEAD_STATUSES, PRIORITY_LABELS, SOURCE_LABELS, formatCount, priorityLabel, sourceLabel, statusLabel } from "../format";
import { useDebounced, useReadyMark } from "../hooks";
import { startupMark } from "../startup";
import { type Key, useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";
import { ErrorBanner } from "./ErrorBanner";
import { LeadTable } from "./LeadTable";

/** Rows per page the list asks for as it scrolls. */
export const PAGE_SIZE = 200;
/** At most this many rows are reloaded in one page after a sync (the store's page cap). */
const MAX_ROWS_KEPT = 5_000;

const SORTS: Array<[SortKey, boolean, Key]> = [
  ["updated_at", true, "sort.updated"],
  ["next_follow_up", false, "sort.followUp"],
  ["priority", true, "sort.priority"],
  ["name", false, "sort.name"],
  ["created_at", true, "sort.created"],
];

const FOLLOW_UPS: Array<[FollowUpWhen | "", Key]> = [
  ["", "filter.anyFollowUp"],
  ["overdue", "filter.overdue"],
  ["today", "filter.today"],
  ["overdue_or_today", "filter.overdueOrToday"],
];

interface Props {
  api: Api;
  now: Date;
  /** Changes when the cache may have changed (a sync, a new lead count). */
  refreshKey: string;
  busy: boolean;
  onCall: (lead: Lead) => void;
  onOpen: (lead: Lead) => void;
  searchRef: React.RefObject<HTMLInputElement | null>;
}

/** The lead list: filters, instant search, a virtual table over every match, multi-select, CSV export. */
export function LeadList({ api, now, refreshKey, busy, onCall, onOpen, searchRef }: Props) {
  const t = useT();
  const lang = useLanguage();
  const [search, setSearch] = useState("");
  const [statuses, setStatuses] = useState<LeadStatus[]>([]);
  const [priority, setPriority] = useState<LeadPriority | "">("");
  const [source, setSource] = useState<LeadSource | "">("");
  const [followUp, setFollowUp] = useState<FollowUpWhen | "">("");
  const [createdFrom, setCreatedFrom] = useState("");
  const [createdUntil, setCreatedUntil] = useState("");
  const [sortIndex, setSortIndex] = useState(0);
  const debouncedSearch = useDebounced(search.trim(), 200);

  const [leads, setLeads] = useState<Lead[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [matched, setMatched] = useState<number | null>(null);
  const [tallies, setTallies] = useState<StatusTally[]>([]);
  // The failure itself, described when shown, so its words follow the language.
  const [error, setError] = useState<{ cause: unknown } | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [notice, setNotice] = useState<string | null>(null);
  const loadingMore = useRef(false);
  useReadyMark(api, "leads", leads !== null);

  const [sortKey, descending] = SORTS[sortIndex] ?? SORTS[0]!;
  const args: LeadListArgs = {
    search: debouncedSearch || undefined,
    statuses,
    priorities: priority ? [priority] : [],
    sources: source ? [source] : [],
    follow_up: followUp || undefined,
    created_from: createdFrom ? localDay(createdFrom, 0) : undefined,
    // The "to" day is included: up to the next midnight.
    created_until: createdUntil ? localDay(createdUntil, 1) : undefined,
    sort: { key: sortKey, descending },
    limit: PAGE_SIZE,
  };
  const argsKey = JSON.stringify(args);
  /** The filter the shown rows belong to: a page that comes back for an older one is dropped. */
  const shownKey = useRef(argsKey);
  shownKey.current = argsKey;

  // A new filter: the first page again, and the counts. New data (a sync) under the same filter: as many
  // rows as are loaded, so the list does not jump back to the top while the telecaller scrolls.
  const loadedFor = useRef<{ key: string; count: number }>({ key: "", count: 0 });
  loadedFor.current.count = leads?.length ?? 0;
  // A layout effect: the page is asked for before the browser paints the skeleton, not after (a paint of
  // the whole window costs tens of ms in WebKitGTK), so it is usually back by the time that paint is done.
  useLayoutEffect(() => {
    let cancelled = false;
    loadingMore.current = false;
    const sameFilter = loadedFor.current.key === argsKey;
    loadedFor.current.key = argsKey;
    const query = JSON.parse(argsKey) as LeadListArgs;
    if (sameFilter) query.limit = Math.min(MAX_ROWS_KEPT, Math.max(PAGE_SIZE, loadedFor.current.count));
    startupMark("page-asked");
    api
      .leadPage(query)
      .then((page) => {
        startupMark("page-came");
        if (cancelled) return;
        setLeads(page.leads);
        setNext(page.next_cursor);
        setMatched(page.matched ?? page.leads.length);
        setTallies(page.by_status);
        setError(null);
      })
      .catch((e: unknown) => {
        if (!cancelled) setError({ cause: e });
      });
    return () => {
      cancelled = true;
    };
  }, [api, argsKey, refreshKey]);

  const loadMore = useCallback(() => {
    if (!next || loadingMore.current) return;
    loadingMore.current = true;
    const key = argsKey;
    api
      .leadPage({ ...(JSON.parse(key) as LeadListArgs), cursor: next })
      .then((page) => {
        if (shownKey.current !== key) return;
        setLeads((prev) => [...(prev ?? []), ...page.leads]);
        setNext(page.next_cursor);
      })
      .catch((e: unknown) => setError({ cause: e }))
      .finally(() => {
        loadingMore.current = false;
      });
  }, [api, argsKey, next]);

  function toggleStatus(s: LeadStatus) {
    setStatuses((prev) => (prev.includes(s) ? prev.filter((x) => x !== s) : [...prev, s]));
  }

  function select(ids: string[], on: boolean) {
    setSelected((prev) => {
      const nextSet = new Set(prev);
      for (const id of ids) {
        if (on) nextSet.add(id);
        else nextSet.delete(id);
      }
      return nextSet;
    });
  }

  async function exportCsv(onlySelected: boolean) {
    try {
      const [path, count] = await api.exportLeads({
        list: { ...args, limit: undefined },
        only: onlySelected ? [...selected] : undefined,
      });
      setNotice(t("list.saved", { n: formatCount(count), path }));
      setError(null);
    } catch (e) {
      setError({ cause: e });
    }
  }

  const filtered =
    debouncedSearch !== "" || statuses.length > 0 || !!priority || !!source || !!followUp || !!createdFrom || !!createdUntil;
  const tally = (s: LeadStatus) => tallies.find((t) => t.status === s)?.count ?? 0;
  const shownError = error ? describeError(error.cause, lang) : null;

  return (
    <>
      <div className="toolbar">
        <div>
          <h1>{t("list.title")}</h1>
          <p className="subtitle" data-testid="shown-count">
            {matched === null
              ? t("list.loading")
              : t(filtered ? "list.matching" : "list.count", { n: formatCount(matched) })}
          </p>
        </div>
        <div className="filters">
          <input
            type="search"
            className="input search"
            placeholder={t("list.search")}
            aria-label={t("list.searchLabel")}
            data-testid="search"
            ref={searchRef}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
          <select
            className="input"
            aria-label={t("list.order")}
            value={sortIndex}
            onChange={(e) => setSortIndex(Number(e.target.value))}
            data-testid="sort"
          >
            {SORTS.map(([, , label], i) => (
              <option key={label} value={i}>
                {t(label)}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="filter-bar" role="group" aria-label={t("filter.label")}>
        <div className="chips" role="group" aria-label={t("filter.status")}>
          {LEAD_STATUSES.map((s) => (
            <button
              key={s}
              type="button"
              className={`chip${statuses.includes(s) ? " chip-on" : ""}`}
              aria-pressed={statuses.includes(s)}
              onClick={() => toggleStatus(s)}
              data-testid={`status-chip-${s}`}
            >
              {statusLabel(s, lang)} <span className="chip-count">{formatCount(tally(s))}</span>
            </button>
          ))}
        </div>
        <FilterSelect
          label={t("filter.priority")}
          value={priority}
          onChange={setPriority}
          options={[
            ["", t("filter.anyPriority")],
            ...(Object.keys(PRIORITY_LABELS) as LeadPriority[]).map((p): [LeadPriority, string] => [
              p,
              priorityLabel(p, lang),
            ]),
          ]}
          testId="priority-filter"
        />
        <FilterSelect
          label={t("filter.source")}
          value={source}
          onChange={setSource}
          options={[
            ["", t("filter.anySource")],
            ...(Object.keys(SOURCE_LABELS) as LeadSource[]).map((v): [LeadSource, string] => [v, sourceLabel(v, lang)]),
          ]}
          testId="source-filter"
        />
        <FilterSelect
          label={t("filter.followUp")}
          value={followUp}
          onChange={setFollowUp}
          options={FOLLOW_UPS.map(([value, label]): [FollowUpWhen | "", string] => [value, t(label)])}
          testId="follow-up-filter"
        />
        <label className="date-filter">
          {t("filter.createdFrom")}
          <input
            className="input"
            type="date"
            value={createdFrom}
            onChange={(e) => setCreatedFrom(e.target.value)}
            data-testid="created-from"
          />
        </label>
        <label className="date-filter">
          {t("filter.createdTo")}
          <input
            className="input"
            type="date"
            value={createdUntil}
            onChange={(e) => setCreatedUntil(e.target.value)}
            data-testid="created-until"
          />
        </label>
        <button type="button" className="btn btn-secondary" onClick={() => void exportCsv(false)} data-testid="export-list">
          {t("list.export")}
        </button>
      </div>
      {selected.size > 0 && (
        <div className="selection-bar" role="status" data-testid="selection-bar">
          <strong>{t("list.selected", { n: formatCount(selected.size) })}</strong>
          <button type="button" className="btn btn-secondary" onClick={() => void exportCsv(true)} data-testid="export-selected">
            {t("list.exportSelected")}
          </button>
          <button type="button" className="btn btn-link" onClick={() => setSelected(new Set())}>
            {t("list.clear")}
          </button>
        </div>
      )}
      {notice && (
        <div className="banner banner-info" role="status" data-testid="export-notice">
          {notice}
        </div>
      )}
      {shownError ? (
        <ErrorBanner {...shownError} />
      ) : (
        <div className="card list-card">
          {leads === null ? (
            <div className="empty">{t("list.loadingLeads")}</div>
          ) : (
            <LeadTable
              leads={leads}
              now={now}
              onCall={onCall}
              onOpen={onOpen}
              selected={selected}
              onSelect={select}
              onEndReached={loadMore}
              more={next !== null}
              emptyText={
                filtered ? t("list.noMatch") : busy ? t("list.downloading") : t("list.none")
              }
            />
          )}
        </div>
      )}
    </>
  );
}

/** Local midnight of the `yyyy-mm-dd` day, `plusDays` later, as an instant. */
function localDay(day: string, plusDays: number): string {
  const d = new Date(`${day}T00:00:00`);
  d.setDate(d.getDate() + plusDays);
  return d.toISOString();
}

/** One of the filter bar's drop-downs: `options` are [value, label] pairs, "" meaning "any". */
function FilterSelect<T extends string>({
  label,
  value,
  onChange,
  options,
  testId,
}: {
  label: string;
  value: T | "";
  onChange: (value: T | "") => void;
  options: ReadonlyArray<readonly [T | "", string]>;
  testId: string;
}) {
  return (
    <select
      className="input"
      aria-label={label}
      value={value}
      onChange={(e) => onChange(e.target.value as T | "")}
      data-testid={testId}
    >
      {options.map(([v, text]) => (
        <option key={v || "any"} value={v}>
          {text}
        </option>
      ))}
    </select>
  );
}
