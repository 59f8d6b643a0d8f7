import { useEffect, useLayoutEffect, useRef, useState } from "react";

import type { Lead } from "../bindings/Lead";
import { formatInr, formatPhone, formatRelative, sourceLabel } from "../format";
import { localeOf, useLanguage, useT } from "../i18n";
import { startupMark } from "../startup";
import { PriorityBadge, StatusBadge } from "./Badges";

/** Every row is this tall (CSS keeps it so), which lets the table draw only the rows in view. */
export const ROW_HEIGHT = 56;
/** Rows drawn above and below the visible ones, so fast scrolling shows no gaps. */
const OVERSCAN = 12;
/** Rows drawn before the scroller has a size (first paint; tests without layout). */
const FIRST_PAINT_ROWS = 40;

interface Props {
  leads: Lead[];
  now: Date;
  /** Shown instead of rows when `leads` is empty. */
  emptyText: string;
  /** Calls the lead (a Call button per row when given). */
  onCall?: (lead: Lead) => void;
  /** Opens the lead (a click on its name). */
  onOpen?: (lead: Lead) => void;
  /** Multi-select: the chosen lead ids and how to change them (checkboxes when given). */
  selected?: ReadonlySet<string>;
  onSelect?: (ids: string[], on: boolean) => void;
  /** Asked for more rows when the scroll nears the end. */
  onEndReached?: () => void;
  /** More rows are coming (a loading row at the end). */
  more?: boolean;
}

/** The lead table, virtual: however long the list, only the rows in view (and a margin) are in the page. */
export function LeadTable({ leads, now, emptyText, onCall, onOpen, selected, onSelect, onEndReached, more }: Props) {
  const t = useT();
  const lang = useLanguage();
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 0 });
  useLayoutEffect(() => {
    if (leads.length > 0) startupMark("rows-dom");
  });

  // Measured before the first paint, so the rows painted first are the ones in view (no second frame).
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight });
    measure();
    el.addEventListener("scroll", measure, { passive: true });
    const resize = typeof ResizeObserver === "function" ? new ResizeObserver(measure) : null;
    resize?.observe(el);
    return () => {
      el.removeEventListener("scroll", measure);
      resize?.disconnect();
    };
  }, [leads.length === 0]);

  const first = Math.max(0, Math.floor(view.top / ROW_HEIGHT) - OVERSCAN);
  const visible = view.height > 0 ? Math.ceil(view.height / ROW_HEIGHT) + 2 * OVERSCAN : FIRST_PAINT_ROWS;
  const last = Math.min(leads.length, first + visible);

  // Near the end of what is loaded: ask for the next page.
  useEffect(() => {
    if (more && onEndReached && last >= leads.length - OVERSCAN) onEndReached();
  }, [last, leads.length, more, onEndReached]);

  if (leads.length === 0) {
    return (
      <div className="empty" data-testid="lead-empty">
        {emptyText}
      </div>
    );
  }
  const shown = leads.slice(first, last);
  const allChosen = !!selected && leads.every((l) => selected.has(l.id));
  const columns = 7 + (onCall ? 1 : 0) + (onSelect ? 1 : 0);
  return (
    <div className="table-scroll" ref={scroller} data-testid="lead-scroller">
      <table className="leads" data-testid="lead-table" aria-rowcount={leads.length + 1}>
        <thead>
          <tr>
            {onSelect && (
              <th scope="col" className="pick">
                <input
                  type="checkbox"
                  aria-label={allChosen ? t("table.unselectAll") : t("table.selectAll")}
                  checked={allChosen}
                  onChange={(e) =>
                    onSelect(
                      leads.map((l) => l.id),
                      e.target.checked,
                    )
                  }
                  data-testid="select-all"
                />
              </th>
            )}
            <th scope="col">{t("table.name")}</th>
            <th scope="col">{t("table.phone")}</th>
            <th scope="col">{t("table.city")}</th>
            <th scope="col">{t("table.interest")}</th>
            <th scope="col">{t("table.priority")}</th>
            <th scope="col">{t("table.status")}</th>
            <th scope="col" className="num">
              {t("table.updated")}
            </th>
            {onCall && (
              <th scope="col">
                <span className="sr-only">{t("action.call")}</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {first > 0 && <tr aria-hidden="true" className="spacer" style={{ height: first * ROW_HEIGHT }} />}
          {shown.map((lead, i) => (
            <tr
              key={lead.id}
              data-testid="lead-row"
              data-lead-id={lead.id}
              aria-rowindex={first + i + 2}
              className={selected?.has(lead.id) ? "row-selected" : undefined}
            >
              {onSelect && (
                <td className="pick">
                  <input
                    type="checkbox"
                    aria-label={t("table.select", { name: lead.name })}
                    checked={selected?.has(lead.id) ?? false}
                    onChange={(e) => onSelect([lead.id], e.target.checked)}
                  />
                </td>
              )}
              <td>
                {onOpen ? (
                  <button type="button" className="lead-name link-like" data-testid="lead-name" onClick={() => onOpen(lead)}>
                    {lead.name}
                  </button>
                ) : (
                  <div className="lead-name" data-testid="lead-name">
                    {lead.name}
                  </div>
                )}
                <div className="lead-sub">{sourceLabel(lead.source, lang)}</div>
              </td>
              <td className="phone">{formatPhone(lead.phone)}</td>
              <td>{lead.city ?? <span className="muted">—</span>}</td>
              <td>
                {lead.interest ?? <span className="muted">—</span>}
                {lead.budget_inr !== null && <div className="lead-sub">{formatInr(lead.budget_inr)}</div>}
              </td>
              <td>
                <PriorityBadge priority={lead.priority} />
              </td>
              <td>
                <StatusBadge status={lead.status} />
              </td>
              <td className="num muted" title={new Date(lead.updated_at).toLocaleString(localeOf(lang))}>
                {formatRelative(lead.updated_at, now, lang)}
              </td>
              {onCall && (
                <td>
                  <button
                    type="button"
                    className="btn btn-secondary btn-call"
                    aria-label={t("action.callName", { name: lead.name })}
                    data-testid="call-lead"
                    disabled={lead.status === "do_not_call"}
                    title={lead.status === "do_not_call" ? t("card.doNotCall") : undefined}
                    onClick={() => onCall(lead)}
                  >
                    {t("action.call")}
                  </button>
                </td>
              )}
            </tr>
          ))}
          {last < leads.length && (
            <tr aria-hidden="true" className="spacer" style={{ height: (leads.length - last) * ROW_HEIGHT }} />
          )}
          {more && (
            <tr className="loading-row">
              <td colSpan={columns} className="muted">
                {t("table.loadingMore")}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
