// The team dashboard: each telecaller's live status, the team's figures against its goals over a date
// range, the leaderboard, and the calls by hour (one day) or by day (longer ranges), drawn in SVG like
// the Today screen's charts. Refreshes every 30 s while shown (the live status moves).
import { useCallback, useEffect, useMemo, useState } from "react";

import type { AgentState } from "../bindings/AgentState";
import type { BoardMetric } from "../bindings/BoardMetric";
import type { HourBucket } from "../bindings/HourBucket";
import type { TeamDashboard } from "../bindings/TeamDashboard";
import type { TeamRangeArgs } from "../bindings/TeamRangeArgs";
import type { TelecallerFigures } from "../bindings/TelecallerFigures";
import { formatCount, formatRelative } from "../format";
import { useNow } from "../hooks";
import { type Key, translate, useLanguage, useT } from "../i18n";
import { IpcError, type Api } from "../ipc";
import { BarChart } from "./BarChart";
import { formatDuration, Tile } from "./Home";
import { TableHead } from "./TeamParts";
import { TeamError, useServer } from "./TeamScreen";

type Preset = "today" | "7d" | "30d" | "custom";

const STATE_KEYS: Record<AgentState, Key> = {
  available: "team.state.available",
  on_call: "team.state.on_call",
  wrap_up: "team.state.wrap_up",
  offline: "team.state.offline",
};

const METRIC_KEYS: Record<BoardMetric, Key> = {
  calls: "team.metric.calls",
  connected: "team.metric.connected",
  conversions: "team.metric.conversions",
  talk_time: "team.metric.talkTime",
};

/** The machine's offset from UTC in minutes, to the nearest half hour (the server's rule). */
export function tzOffsetMinutes(at: Date = new Date()): number {
  return Math.round(-at.getTimezoneOffset() / 30) * 30;
}

function midnight(d: Date, daysBack = 0): Date {
  const m = new Date(d.getFullYear(), d.getMonth(), d.getDate() - daysBack);
  return m;
}

/** `yyyy-mm-dd` of a local date, for date inputs. */
function dateInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The range of a preset (or the custom dates, whole days) as the shell takes it. */
export function rangeOf(preset: Preset, from: string, to: string, now: Date, metric: BoardMetric): TeamRangeArgs {
  const base = { tz_offset_minutes: tzOffsetMinutes(now), metric };
  switch (preset) {
    case "today":
      return { ...base, from: midnight(now).toISOString(), to: now.toISOString() };
    case "7d":
      return { ...base, from: midnight(now, 6).toISOString(), to: now.toISOString() };
    case "30d":
      return { ...base, from: midnight(now, 29).toISOString(), to: now.toISOString() };
    case "custom": {
      const start = new Date(`${from}T00:00:00`);
      const endDay = new Date(`${to}T00:00:00`);
      const end = new Date(endDay.getFullYear(), endDay.getMonth(), endDay.getDate() + 1);
      return { ...base, from: start.toISOString(), to: (end > now ? now : end).toISOString() };
    }
  }
}

export function TeamDashboardView({ api }: { api: Pick<Api, "teamDashboard"> }) {
  const t = useT();
  const lang = useLanguage();
  const now = useNow(30_000);
  const [preset, setPreset] = useState<Preset>("today");
  const [metric, setMetric] = useState<BoardMetric>("calls");
  const today = dateInput(new Date());
  const [from, setFrom] = useState(dateInput(midnight(new Date(), 6)));
  const [to, setTo] = useState(today);
  const customBad = preset === "custom" && (!from || !to || from > to);
  const load = useCallback(() => {
    if (customBad) return Promise.reject(new IpcError("invalid_input", translate(lang, "team.badRange")));
    return api.teamDashboard(rangeOf(preset, from, to, new Date(), metric));
  }, [api, preset, from, to, metric, customBad, lang]);
  const { data, error, reload } = useServer<TeamDashboard>(load);
  useEffect(() => {
    const timer = window.setInterval(reload, 30_000);
    return () => window.clearInterval(timer);
  }, [reload]);

  return (
    <div className="team-dashboard" data-testid="team-dashboard">
      <div className="team-toolbar">
        <fieldset className="chips" aria-label={t("team.range")}>
          {(["today", "7d", "30d", "custom"] as const).map((p) => (
            <button
              key={p}
              type="button"
              className={`chip${preset === p ? " chip-on" : ""}`}
              aria-pressed={preset === p}
              onClick={() => setPreset(p)}
              data-testid={`range-${p}`}
            >
              {t(`team.range.${p}` as Key)}
            </button>
          ))}
        </fieldset>
        {preset === "custom" && (
          <span className="team-dates">
            <label>
              {t("team.from")}{" "}
              <input className="input" type="date" value={from} max={today} onChange={(e) => setFrom(e.target.value)} />
            </label>
            <label>
              {t("team.to")}{" "}
              <input className="input" type="date" value={to} max={today} onChange={(e) => setTo(e.target.value)} />
            </label>
          </span>
        )}
        <label className="team-metric">
          {t("team.rankBy")}{" "}
          <select
            className="input"
            value={metric}
            onChange={(e) => setMetric(e.target.value as BoardMetric)}
            data-testid="metric"
          >
            {(Object.keys(METRIC_KEYS) as BoardMetric[]).map((m) => (
              <option key={m} value={m}>
                {t(METRIC_KEYS[m])}
              </option>
            ))}
          </select>
        </label>
      </div>

      {error !== null ? (
        <TeamError error={error} onRetry={reload} />
      ) : data === null ? (
        <div aria-busy="true" data-testid="team-dashboard-loading">
          <div className="tiles">
            {[0, 1, 2, 3].map((i) => (
              <div key={i} className="tile skeleton" />
            ))}
          </div>
          <div className="card skeleton skeleton-block" />
        </div>
      ) : data.summary.telecallers.length === 0 && data.presence.agents.length === 0 ? (
        <p className="empty" data-testid="team-empty">
          {t("team.emptyTeam")}
        </p>
      ) : (
        <Loaded data={data} now={now} lang={lang} />
      )}
    </div>
  );
}

function Loaded({ data, now, lang }: { data: TeamDashboard; now: Date; lang: ReturnType<typeof useLanguage> }) {
  const t = useT();
  const { summary, leaderboard, hourly, presence } = data;
  const team = summary.team;
  const noGoal = data.goals.length === 0;
  const byName = useMemo(
    () => [...summary.telecallers].sort((a, b) => a.name.localeCompare(b.name)),
    [summary.telecallers],
  );
  return (
    <>
      <section className="card" aria-labelledby="live-title">
        <h2 id="live-title">{t("team.live")}</h2>
        <ul className="presence" data-testid="presence">
          {presence.agents.map((a) => (
            <li key={a.user_id} className="presence-item" data-testid={`presence-${a.username}`}>
              <span className={`pill presence-${a.state}`}>
                <span className="pill-dot" aria-hidden="true" />
                {t(STATE_KEYS[a.state])}
              </span>
              <span className="lead-name">{a.name}</span>
              <span className="muted">
                {a.since
                  ? t("team.since", { when: formatRelative(a.since, now, lang) })
                  : t("team.neverSeen")}
              </span>
            </li>
          ))}
        </ul>
      </section>

      <div className="tiles">
        <Tile label={t("team.metric.calls")} value={team.calls} goal={team.goal_calls} testId="team-tile-calls" />
        <Tile label={t("team.metric.connected")} value={team.connected} testId="team-tile-connected" />
        <Tile
          label={t("team.metric.talkTime")}
          value={formatDuration(team.talk_time_s, lang)}
          testId="team-tile-talk"
        />
        <Tile
          label={t("team.metric.conversions")}
          value={team.conversions}
          goal={team.goal_conversions}
          testId="team-tile-conversions"
        />
        <Tile
          label={t("team.followUps")}
          value={team.follow_ups_done}
          note={t("team.followUpsNote", { overdue: team.follow_ups_overdue, due: team.follow_ups_due })}
          testId="team-tile-follow-ups"
        />
      </div>
      {noGoal && <p className="muted goal-note">{t("team.noGoal")}</p>}

      <div className="home-grid">
        <section className="card" aria-labelledby="people-title">
          <h2 id="people-title">{t("team.people")}</h2>
          <table className="team-table" data-testid="team-figures">
            <TableHead
              columns={[
                t("team.name"),
                t("team.metric.calls"),
                t("team.metric.connected"),
                t("team.metric.talkTime"),
                t("team.metric.conversions"),
                t("team.overdue"),
              ]}
            />
            <tbody>
              {byName.map((f) => (
                <PersonRow key={f.user_id} f={f} />
              ))}
            </tbody>
          </table>
        </section>
        <div className="home-charts">
          <section className="card" aria-labelledby="board-title">
            <h2 id="board-title">{t("team.leaderboard", { metric: t(metricKey(leaderboard.metric)) })}</h2>
            {leaderboard.entries.length === 0 ? (
              <p className="muted">{t("team.noCalls")}</p>
            ) : (
              <ol className="leaderboard" data-testid="leaderboard">
                {leaderboard.entries.map((e) => (
                  <li key={e.user_id}>
                    <span className="rank">{e.rank}</span>
                    <span className="lead-name">{e.name}</span>
                    <span className="bar-count">
                      {leaderboard.metric === "talk_time_s" ? formatDuration(e.value, lang) : formatCount(e.value)}
                    </span>
                  </li>
                ))}
              </ol>
            )}
          </section>
          <section className="card chart-card" aria-labelledby="team-chart-title">
            <h2 id="team-chart-title">{summary.days > 1 ? t("team.callsByDay") : t("team.callsByHour")}</h2>
            <TeamChart hours={hourly.hours} byDay={summary.days > 1} />
          </section>
        </div>
      </div>
    </>
  );
}

function metricKey(metric: string): Key {
  switch (metric) {
    case "connected":
      return "team.metric.connected";
    case "conversions":
      return "team.metric.conversions";
    case "talk_time_s":
      return "team.metric.talkTime";
    default:
      return "team.metric.calls";
  }
}

function PersonRow({ f }: { f: TelecallerFigures }) {
  const t = useT();
  const lang = useLanguage();
  return (
    <tr data-testid={`figures-${f.username}`}>
      <th scope="row">{f.name}</th>
      <td>
        <Progress value={f.calls} goal={f.goal_calls} label={t("team.goalOf", { name: f.name, what: t("team.metric.calls") })} />
      </td>
      <td>{f.connected}</td>
      <td>{formatDuration(f.talk_time_s, lang)}</td>
      <td>
        <Progress
          value={f.conversions}
          goal={f.goal_conversions}
          label={t("team.goalOf", { name: f.name, what: t("team.metric.conversions") })}
        />
      </td>
      <td className={f.follow_ups_overdue > 0 ? "warn" : undefined}>{f.follow_ups_overdue}</td>
    </tr>
  );
}

function Progress({ value, goal, label }: { value: number; goal: number; label: string }) {
  if (goal <= 0) return <>{value}</>;
  const pct = Math.min(100, Math.round((100 * value) / goal));
  return (
    <span className="cell-progress">
      {value} <span className="tile-goal">/ {goal}</span>
      <span className="progress" role="progressbar" aria-label={label} aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100}>
        <span style={{ width: `${pct}%` }} />
      </span>
    </span>
  );
}

/** Bars of calls (connected ones darker), per hour of a day or per day of a longer range. */
export function TeamChart({ hours, byDay }: { hours: HourBucket[]; byDay: boolean }) {
  const t = useT();
  const buckets = useMemo(() => {
    const map = new Map<string, { calls: number; connected: number }>();
    for (const h of hours) {
      const key = byDay ? h.hour.slice(0, 10) : h.hour.slice(11, 13);
      const b = map.get(key) ?? { calls: 0, connected: 0 };
      b.calls += h.calls;
      b.connected += h.connected;
      map.set(key, b);
    }
    return [...map.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [hours, byDay]);
  const total = buckets.reduce((n, [, b]) => n + b.calls, 0);
  if (total === 0) return <p className="muted">{t("team.noCalls")}</p>;
  const label = (key: string) => (byDay ? key.slice(8, 10) + "/" + key.slice(5, 7) : String(Number(key)));
  const summary = buckets
    .filter(([, b]) => b.calls > 0)
    .map(([k, b]) => `${label(k)}: ${b.calls}`)
    .join(", ");
  return (
    <BarChart
      bars={buckets.map(([key, b]) => ({ key, label: label(key), value: b.calls, part: b.connected }))}
      label={t("team.chartLabel", { summary })}
      testId="team-chart"
      zeroCounts
    />
  );
}
