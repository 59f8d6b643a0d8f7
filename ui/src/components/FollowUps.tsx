import { useCallback, useEffect, useState } from "react";

import type { FollowUpItem } from "../bindings/FollowUpItem";
import type { Lead } from "../bindings/Lead";
import { describeError } from "../errors";
import { formatPhone, formatRelative } from "../format";
import { type Key, localeOf, useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";
import { QUICK_PICKS, quickPickLabel } from "../wrapup";
import { ErrorBanner } from "./ErrorBanner";

interface Props {
  api: Api;
  /** Changes when something may have changed the follow-ups (a sync, a logged call). */
  refreshKey: string;
  onCall: (lead: Lead) => void;
  onOpen: (lead: Lead) => void;
  /** Tells the app a change waits to be sent. */
  onChanged: () => void;
}

type Group = "overdue" | "today" | "upcoming";

const GROUP_TITLES: Record<Group, Key> = {
  overdue: "fu.overdue",
  today: "fu.today",
  upcoming: "fu.upcoming",
};

/** Which group a follow-up is in, by the local day. */
export function groupOf(dueAt: string, now: Date): Group {
  const due = new Date(dueAt);
  if (due.getTime() < now.getTime()) return "overdue";
  const endOfDay = new Date(now);
  endOfDay.setHours(24, 0, 0, 0);
  return due.getTime() < endOfDay.getTime() ? "today" : "upcoming";
}

/** Follow-ups: overdue, later today, upcoming; each can be called, marked done, moved or put in a calendar. */
export function FollowUps({ api, refreshKey, onCall, onOpen, onChanged }: Props) {
  const t = useT();
  const lang = useLanguage();
  const [items, setItems] = useState<FollowUpItem[] | null>(null);
  // Failures are kept as they came and described when shown, so their words follow the language.
  const [error, setError] = useState<{ cause: unknown } | null>(null);
  /** The last action's failure (kept across the reload that follows it). */
  const [actionError, setActionError] = useState<{ cause: unknown } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [moving, setMoving] = useState<string | null>(null);

  const load = useCallback(() => {
    api
      .followUps()
      .then((list) => {
        setItems(list);
        setError(null);
      })
      .catch((e: unknown) => setError({ cause: e }));
  }, [api]);

  useEffect(() => {
    load();
  }, [load, refreshKey]);

  /** Runs a change. `optimistic` shows its result at once; a refusal puts the list back as it was. */
  async function run(
    what: () => Promise<unknown>,
    done: string | null,
    optimistic?: (list: FollowUpItem[]) => FollowUpItem[],
  ) {
    const before = items;
    if (optimistic && before) setItems(optimistic(before));
    try {
      await what();
      setNotice(done);
      setActionError(null);
      onChanged();
    } catch (e) {
      setNotice(null);
      setActionError({ cause: e });
      if (optimistic) setItems(before);
    }
    load();
  }

  async function exportIcs(item: FollowUpItem) {
    try {
      const path = await api.exportFollowUp(item.id);
      setNotice(t("fu.savedIcs", { path }));
      setActionError(null);
    } catch (e) {
      setActionError({ cause: e });
    }
  }

  if (items === null && !error) {
    return (
      <div className="card skeleton skeleton-block" aria-busy="true" data-testid="follow-ups-loading" />
    );
  }
  const failure = actionError ?? error;
  const shownError = failure ? describeError(failure.cause, lang) : null;
  const now = new Date();
  const groups: Record<Group, FollowUpItem[]> = { overdue: [], today: [], upcoming: [] };
  for (const item of items ?? []) groups[groupOf(item.due_at, now)].push(item);

  return (
    <div className="follow-ups" data-testid="follow-ups">
      {shownError && (
        <ErrorBanner {...shownError} />
      )}
      {notice && (
        <div className="banner banner-info" role="status" data-testid="follow-ups-notice">
          {notice}
        </div>
      )}
      {items !== null && items.length === 0 && (
        <p className="empty card" data-testid="follow-ups-empty">
          {t("fu.empty")}
        </p>
      )}
      {(Object.keys(groups) as Group[])
        .filter((g) => groups[g].length > 0)
        .map((g) => (
          <section key={g} className="card follow-up-group" aria-labelledby={`fu-${g}`} data-testid={`follow-ups-${g}`}>
            <h2 id={`fu-${g}`}>
              {t(GROUP_TITLES[g])} <span className="count">{groups[g].length}</span>
            </h2>
            <ul className="follow-up-list">
              {groups[g].map((item) => (
                <li key={item.id} className="follow-up" data-testid="follow-up">
                  <button type="button" className="queue-lead" onClick={() => onOpen(item.lead)}>
                    <span className="lead-name">{item.lead.name}</span>
                    <span className="lead-sub">
                      {formatPhone(item.lead.phone)}
                      {item.note ? ` · ${item.note}` : ""}
                    </span>
                  </button>
                  <span className={`why why-${g === "overdue" ? "overdue_follow_up" : "follow_up_today"}`}>
                    {g === "overdue"
                      ? t("fu.due", { when: formatRelative(item.due_at, now, lang) })
                      : new Date(item.due_at).toLocaleString(localeOf(lang), {
                          weekday: g === "upcoming" ? "short" : undefined,
                          day: g === "upcoming" ? "numeric" : undefined,
                          month: g === "upcoming" ? "short" : undefined,
                          hour: "numeric",
                          minute: "2-digit",
                        })}
                  </span>
                  <div className="follow-up-actions">
                    <button
                      type="button"
                      className="btn btn-secondary"
                      onClick={() => onCall(item.lead)}
                      disabled={item.lead.status === "do_not_call"}
                      aria-label={t("action.callName", { name: item.lead.name })}
                    >
                      {t("action.call")}
                    </button>
                    <button
                      type="button"
                      className="btn btn-secondary"
                      onClick={() =>
                        void run(
                          () => api.completeFollowUp(item.id),
                          t("fu.doneNotice", { name: item.lead.name }),
                          (list) => list.filter((f) => f.id !== item.id),
                        )
                      }
                      aria-label={t("fu.markDone", { name: item.lead.name })}
                    >
                      {t("fu.done")}
                    </button>
                    <button
                      type="button"
                      className="btn btn-secondary"
                      aria-expanded={moving === item.id}
                      onClick={() => setMoving(moving === item.id ? null : item.id)}
                    >
                      {t("fu.move")}
                    </button>
                    <button
                      type="button"
                      className="btn btn-secondary"
                      onClick={() => void exportIcs(item)}
                      aria-label={t("fu.addToCalendar", { name: item.lead.name })}
                    >
                      {t("fu.calendar")}
                    </button>
                  </div>
                  {moving === item.id && (
                    <div className="quick-picks" role="group" aria-label={t("fu.moveLabel", { name: item.lead.name })}>
                      {QUICK_PICKS.map((p) => (
                        <button
                          key={p.label}
                          type="button"
                          className="btn btn-secondary"
                          onClick={() => {
                            setMoving(null);
                            const at = p.at(new Date());
                            void run(
                              () => api.rescheduleFollowUp(item.id, at.toISOString()),
                              t("fu.movedNotice", {
                                name: item.lead.name,
                                when: at.toLocaleString(localeOf(lang), { dateStyle: "medium", timeStyle: "short" }),
                              }),
                              (list) => list.map((f) => (f.id === item.id ? { ...f, due_at: at.toISOString() } : f)),
                            );
                          }}
                        >
                          {quickPickLabel(p, lang)}
                        </button>
                      ))}
                    </div>
                  )}
                </li>
              ))}
            </ul>
          </section>
        ))}
    </div>
  );
}
