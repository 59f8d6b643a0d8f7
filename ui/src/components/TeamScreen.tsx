// The supervisor's "Team" tab: the team dashboard, the team's leads, imports, goals and (admins) the
// disposition catalogue. Everything here asks the server through the shell, so it works online only and
// says so when the app is offline; the rest of the app goes on from the cache.
import { useCallback, useEffect, useRef, useState } from "react";

import type { AppStatus } from "../bindings/AppStatus";
import { describeError } from "../errors";
import { type Key, useLanguage, useT } from "../i18n";
import { IpcError, type Api } from "../ipc";
import { ErrorBanner } from "./ErrorBanner";
import { TeamDashboardView } from "./TeamDashboard";
import { TeamDispositions } from "./TeamDispositions";
import { TeamGoals } from "./TeamGoals";
import { TeamImport } from "./TeamImport";
import { TeamLeads } from "./TeamLeads";

type Section = "dashboard" | "leads" | "import" | "goals" | "dispositions";

const SECTIONS: ReadonlyArray<[Section, Key, boolean]> = [
  ["dashboard", "team.tab.dashboard", false],
  ["leads", "team.tab.leads", false],
  ["import", "team.tab.import", false],
  ["goals", "team.tab.goals", false],
  ["dispositions", "team.tab.dispositions", true],
];

interface Props {
  api: Api;
  status: AppStatus;
}

export function TeamScreen({ api, status }: Props) {
  const t = useT();
  const [section, setSection] = useState<Section>("dashboard");
  const admin = status.user?.role === "admin";
  const offline = status.connection === "offline";
  return (
    <div className="team" data-testid="team">
      <nav className="team-tabs" aria-label={t("team.sections")}>
        {SECTIONS.filter(([, , adminOnly]) => admin || !adminOnly).map(([id, label]) => (
          <button
            key={id}
            type="button"
            className={`chip${section === id ? " chip-on" : ""}`}
            aria-current={section === id ? "page" : undefined}
            onClick={() => setSection(id)}
            data-testid={`team-tab-${id}`}
          >
            {t(label)}
          </button>
        ))}
      </nav>
      {offline ? (
        <OfflineNotice />
      ) : section === "dashboard" ? (
        <TeamDashboardView api={api} />
      ) : section === "leads" ? (
        <TeamLeads api={api} />
      ) : section === "import" ? (
        <TeamImport api={api} />
      ) : section === "goals" ? (
        <TeamGoals api={api} />
      ) : (
        <TeamDispositions api={api} />
      )}
    </div>
  );
}

/** The team's screens need the server: offline, this says so (the user's own work goes on). */
export function OfflineNotice({ onRetry }: { onRetry?: () => void }) {
  const t = useT();
  return (
    <div className="banner banner-info" role="status" data-testid="team-offline">
      <strong>{t("team.offline")}</strong> {t("team.offlineDetail")}{" "}
      {onRetry && (
        <button type="button" className="btn btn-link" onClick={onRetry}>
          {t("action.tryAgain")}
        </button>
      )}
    </div>
  );
}

/** A failed team request: the offline notice for a network failure, else what went wrong, with retry. */
export function TeamError({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  const lang = useLanguage();
  if (error instanceof IpcError && error.code === "network") return <OfflineNotice onRetry={onRetry} />;
  return <ErrorBanner {...describeError(error, lang)} onRetry={onRetry} testId="team-error" />;
}

/** Loads `load()` now and whenever it changes; `reload` asks again. Answers of an older load are dropped. */
export function useServer<T>(load: () => Promise<T>) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const latest = useRef(0);
  const reload = useCallback(() => {
    latest.current += 1;
    const mine = latest.current;
    setError(null);
    load()
      .then((d) => {
        if (mine !== latest.current) return;
        setData(d);
      })
      .catch((e: unknown) => {
        if (mine !== latest.current) return;
        setError(e ?? new Error("failed"));
      });
  }, [load]);
  useEffect(() => {
    reload();
  }, [reload]);
  return { data, error, reload, setData };
}
