import { useCallback, useEffect, useState } from "react";

import type { AppStatus } from "../bindings/AppStatus";
import type { Dashboard } from "../bindings/Dashboard";
import type { Lead } from "../bindings/Lead";
import type { QueueItem } from "../bindings/QueueItem";
import { describeError } from "../errors";
import { formatClock, formatPhone, formatRelative } from "../format";
import { useReadyMark } from "../hooks";
import { type Language, localeOf, translate, useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";
import { isTyping } from "../shortcuts";
import { PriorityBadge } from "./Badges";
import { BarChart } from "./BarChart";
import { ErrorBanner } from "./ErrorBanner";

interface Props {
  api: Api;
  status: AppStatus;
  /** Changes whenever a call starts or ends, so the figures follow the calls. */
  callsSeen: number;
  onCall: (lead: Lead) => void;
  onOpen: (lead: Lead) => void;
  /** No "call next" while a call or a form is open. */
  busy: boolean;
}

/** The home screen: today against the goals, the charts, and who to call next (N calls the first). */
export function Home({ api, status, callsSeen, onCall, onOpen, busy }: Props) {
  const t = useT();
  const lang = useLanguage();
  const [data, setData] = useState<Dashboard | null>(null);
  // The failure as it came, described when shown (in the language of the moment).
  const [error, setError] = useState<{ cause: unknown } | null>(null);
  useReadyMark(api, "today", data !== null);

  const load = useCallback(() => {
    api
      .dashboard()
      .then((d) => {
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => setError({ cause: e }));
  }, [api]);

  // Logged calls (pending changes, a sync) and calls ending change the figures; the clock moves the queue.
  useEffect(() => {
    load();
  }, [load, status.pending, status.unlogged, status.last_sync_at, status.lead_count, callsSeen]);
  useEffect(() => {
    const timer = window.setInterval(load, 60_000);
    return () => window.clearInterval(timer);
  }, [load]);

  const next = data?.queue[0] ?? null;
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.key !== "n" && e.key !== "N") return;
      if (e.ctrlKey || e.metaKey || e.altKey || busy || !next) return;
      if (isTyping(e)) return;
      e.preventDefault();
      onCall(next.lead);
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [next, busy, onCall]);

  if (error) return <ErrorBanner {...describeError(error.cause, lang)} onRetry={load} />;
  if (data === null) {
    return (
      <div className="home" aria-busy="true" data-testid="home-loading">
        <div className="tiles">
          {[0, 1, 2, 3, 4].map((i) => (
            <div key={i} className="tile skeleton" />
          ))}
        </div>
        <div className="home-grid">
          <div className="card skeleton skeleton-block" />
          <div className="card skeleton skeleton-block" />
        </div>
      </div>
    );
  }

  const connectedShare = data.calls_made > 0 ? Math.round((100 * data.connected) / data.calls_made) : 0;
  return (
    <div className="home" data-testid="home">
      <div className="tiles">
        <Tile label={t("home.callsToday")} value={data.calls_made} goal={data.goal?.calls} testId="tile-calls" />
        <Tile
          label={t("home.connected")}
          value={data.connected}
          note={data.calls_made > 0 ? t("home.connectedShare", { pct: connectedShare }) : t("home.noCallsYet")}
          testId="tile-connected"
        />
        <Tile label={t("home.talkTime")} value={formatDuration(data.talk_time_s, lang)} testId="tile-talk" />
        <Tile
          label={t("home.conversions")}
          value={data.conversions}
          goal={data.goal?.conversions}
          testId="tile-conversions"
        />
        <Tile
          label={t("home.followUpsDone")}
          value={data.follow_ups_done}
          note={t("home.followUpsNote", { overdue: data.follow_ups_overdue, today: data.follow_ups_due_today })}
          warn={data.follow_ups_overdue > 0}
          testId="tile-follow-ups"
        />
      </div>
      {data.goal === null && (
        <p className="muted goal-note">{t("home.noGoal")}</p>
      )}

      <div className="home-grid">
        <section className="card home-queue" aria-labelledby="queue-title">
          <div className="section-head">
            <h2 id="queue-title">{t("home.nextToCall")}</h2>
            <button
              type="button"
              className="btn btn-primary"
              disabled={!next || busy}
              onClick={() => next && onCall(next.lead)}
              data-testid="call-next"
              title={t("home.nextShortcut")}
            >
              {next ? t("action.callName", { name: next.lead.name.split(" ")[0] ?? "" }) : t("home.callNext")} <kbd>N</kbd>
            </button>
          </div>
          {data.queue.length === 0 ? (
            <p className="empty" data-testid="queue-empty">
              {t("home.queueEmpty")}
            </p>
          ) : (
            <ol className="queue" data-testid="queue">
              {data.queue.map((item) => (
                <li key={item.lead.id} className="queue-item" data-testid="queue-item">
                  <button type="button" className="queue-lead" onClick={() => onOpen(item.lead)}>
                    <span className="lead-name">{item.lead.name}</span>
                    <span className="lead-sub">
                      {formatPhone(item.lead.phone)}
                      {item.lead.city ? ` · ${item.lead.city}` : ""}
                    </span>
                  </button>
                  <span className={`why why-${item.why}`}>{whyText(item, t, lang)}</span>
                  <PriorityBadge priority={item.lead.priority} />
                  <button
                    type="button"
                    className="btn btn-secondary btn-call"
                    onClick={() => onCall(item.lead)}
                    disabled={busy || item.lead.status === "do_not_call"}
                    aria-label={t("action.callName", { name: item.lead.name })}
                  >
                    {t("action.call")}
                  </button>
                </li>
              ))}
            </ol>
          )}
        </section>

        <div className="home-charts">
          <section className="card chart-card" aria-labelledby="hourly-title">
            <h2 id="hourly-title">{t("home.callsByHour")}</h2>
            <HourlyChart hourly={data.hourly} />
          </section>
          <section className="card chart-card" aria-labelledby="dispositions-title">
            <h2 id="dispositions-title">{t("home.outcomes")}</h2>
            {data.dispositions.length === 0 ? (
              <p className="muted">{t("home.noOutcomes")}</p>
            ) : (
              <ul className="bars" data-testid="disposition-chart">
                {data.dispositions.map((d) => (
                  <li key={d.code} className="bar-row">
                    <span className="bar-label">{d.label}</span>
                    <span className="bar-track" aria-hidden="true">
                      <span
                        className="bar-fill"
                        style={{ width: `${(100 * d.count) / Math.max(...data.dispositions.map((x) => x.count))}%` }}
                      />
                    </span>
                    <span className="bar-count">{d.count}</span>
                  </li>
                ))}
              </ul>
            )}
          </section>
        </div>
      </div>
    </div>
  );
}

/** A figure of the day (or range) on a tile, against its goal with a progress bar when there is one. */
export function Tile({
  label,
  value,
  goal,
  note,
  warn,
  testId,
}: {
  label: string;
  value: number | string;
  goal?: number;
  note?: string;
  warn?: boolean;
  testId: string;
}) {
  const t = useT();
  const n = typeof value === "number" ? value : 0;
  const pct = goal ? Math.min(100, Math.round((100 * n) / goal)) : null;
  return (
    <div className={`tile${warn ? " tile-warn" : ""}`} data-testid={testId}>
      <div className="tile-label">{label}</div>
      <div className="tile-value">
        {value}
        {goal ? <span className="tile-goal"> / {goal}</span> : null}
      </div>
      {pct !== null && (
        <div
          className="progress"
          role="progressbar"
          aria-label={t("home.goalProgress", { label, pct })}
          aria-valuenow={pct}
          aria-valuemin={0}
          aria-valuemax={100}
        >
          <span style={{ width: `${pct}%` }} />
        </div>
      )}
      {note && <div className="tile-note">{note}</div>}
    </div>
  );
}

/** Bars per hour over the working day (9 am to 8 pm, widened to any hour that has calls). */
export function HourlyChart({ hourly }: { hourly: number[] }) {
  const t = useT();
  const lang = useLanguage();
  const busyHours = hourly.map((n, h) => (n > 0 ? h : -1)).filter((h) => h >= 0);
  const first = Math.min(9, ...busyHours);
  const last = Math.max(20, ...busyHours);
  const hours = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const total = hourly.reduce((a, b) => a + b, 0);
  const summary =
    total === 0
      ? t("home.chartNoCalls")
      : hours
          .filter((h) => (hourly[h] ?? 0) > 0)
          .map((h) => `${hourLabel(h, lang)}: ${hourly[h]}`)
          .join(", ");
  return (
    <BarChart
      bars={hours.map((h) => ({ key: h, label: String(h % 12 === 0 ? 12 : h % 12), value: hourly[h] ?? 0 }))}
      label={t("home.chartLabel", { summary })}
      testId="hourly-chart"
    />
  );
}

/** `10 am` in English; in other languages the hour with its part of the day, as Intl says it (`सुबह 10`). */
function hourLabel(h: number, lang: Language = "en"): string {
  if (lang !== "en") {
    const d = new Date(2000, 0, 1, h);
    return new Intl.DateTimeFormat(localeOf(lang), { hour: "numeric", dayPeriod: "short" }).format(d);
  }
  const suffix = h < 12 ? "am" : "pm";
  return `${h % 12 === 0 ? 12 : h % 12} ${suffix}`;
}

/** Talk time on a tile: `12m 34s`, `3h 2m` (`12 मिनट 34 सेकंड` in Hindi). */
export function formatDuration(seconds: number, lang: Language = "en"): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (h > 0) return translate(lang, "duration.hm", { h, m });
  if (m > 0) return translate(lang, "duration.ms", { m, s: seconds % 60 });
  return translate(lang, "duration.s", { s: seconds });
}

function whyText(item: QueueItem, t: ReturnType<typeof useT>, lang: Language): string {
  switch (item.why) {
    case "overdue_follow_up":
      return item.follow_up_due_at
        ? t("why.overdue", { when: formatRelative(item.follow_up_due_at, new Date(), lang) })
        : t("why.overdueNoTime");
    case "follow_up_today":
      return item.follow_up_due_at
        ? t("why.today", { time: formatClock(item.follow_up_due_at, lang) })
        : t("why.todayNoTime");
    case "hot":
      return t("why.hot");
    case "high_priority":
      return t("why.high");
    case "new":
      return t("why.new");
  }
}
