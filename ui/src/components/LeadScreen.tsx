import { useCallback, useEffect, useRef, useState } from "react";

import type { AppStatus } from "../bindings/AppStatus";
import type { DeskPreferences } from "../bindings/DeskPreferences";
import type { DeskScreen } from "../bindings/DeskScreen";
import type { Disposition } from "../bindings/Disposition";
import type { Lead } from "../bindings/Lead";
import type { Role } from "../bindings/Role";
import type { UnloggedCall } from "../bindings/UnloggedCall";
import { describeCommandError, describeError } from "../errors";
import { formatClock, formatPhone, formatRelative } from "../format";
import { useNow } from "../hooks";
import { type Key, type Language, useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";
import { isTyping } from "../shortcuts";
import { usePhone } from "../phone";
import { startupMark } from "../startup";
import { ConflictsDialog } from "./ConflictsDialog";
import { ErrorBanner } from "./ErrorBanner";
import { ErrorBoundary } from "./ErrorBoundary";
import { FollowUps } from "./FollowUps";
import { Home } from "./Home";
import { LeadCard } from "./LeadCard";
import { LeadDetail } from "./LeadDetail";
import { LeadList } from "./LeadList";
import { Logo } from "./Logo";
import { CallPanel, PhoneIndicator } from "./Phone";
import { PhoneSettingsDialog } from "./PhoneSettingsDialog";
import { PreferencesDialog } from "./PreferencesDialog";
import { ShortcutSheet } from "./ShortcutSheet";
import { TeamScreen } from "./TeamScreen";
import { WrapUpDialog } from "./WrapUpDialog";


interface Props {
  api: Api;
  status: AppStatus;
  onStatus: (status: AppStatus) => void;
  /** The language was changed in the preferences. */
  onLanguage?: (language: Language) => void;
  /** The preferences, when the caller has read them already (the screen to open on, the wrap-up limit). */
  startPreferences?: DeskPreferences;
}

type View = "home" | "leads" | "follow-ups";

/** The preference's name of each screen (`home` is the Today screen). */
const SCREEN_OF: Record<View, DeskScreen> = { home: "today", leads: "leads", "follow-ups": "follow-ups" };
const VIEW_OF: Record<DeskScreen, View> = { today: "home", leads: "leads", "follow-ups": "follow-ups" };

/** How the header names the user's role when no team is set. */
const ROLE_KEYS: Record<Role, Key> = {
  telecaller: "role.telecaller",
  supervisor: "role.supervisor",
  admin: "role.admin",
};

/** The screens, in tab order. */
const TABS: ReadonlyArray<[View, Key]> = [
  ["home", "tab.today"],
  ["leads", "tab.leads"],
  ["follow-ups", "tab.followUps"],
];

export function LeadScreen({ api, status, onStatus, onLanguage, startPreferences }: Props) {
  startupMark("lead-screen");
  const t = useT();
  const lang = useLanguage();
  const now = useNow(30_000);
  // Failures are kept as they came and described when shown, so their words follow the language.
  const [syncError, setSyncError] = useState<{ cause: unknown } | null>(null);
  const [syncing, setSyncing] = useState(false);
  const phone = usePhone(api);
  const [phoneSettingsOpen, setPhoneSettingsOpen] = useState(false);
  const [prefsOpen, setPrefsOpen] = useState(false);
  const [unlogged, setUnlogged] = useState<UnloggedCall[]>([]);
  const [dispositions, setDispositions] = useState<Disposition[]>([]);
  const [wrapping, setWrapping] = useState<string | null>(null);
  const autoOpened = useRef(new Set<string>());
  const [focused, setFocused] = useState<Lead | null>(null);
  // The lead open in full (its detail dialog), and how many edits were saved (the lists reload).
  const [detailId, setDetailId] = useState<string | null>(null);
  const [edits, setEdits] = useState(0);
  const openDetail = useCallback((l: Lead) => setDetailId(l.id), []);
  // The screen the app was left on (a preference); nothing is shown until it is known, a local read.
  const [view, setShown] = useState<View | null>(startPreferences ? VIEW_OF[startPreferences.screen] : null);
  // The supervisor's Team tab (supervisors and admins): shown over the screens, not remembered.
  const [team, setTeam] = useState(false);
  const manager = status.user?.role === "supervisor" || status.user?.role === "admin";
  // How long a finished call's form waits untouched (a preference, read again when the dialog closes).
  const [wrapLimit, setWrapLimit] = useState(startPreferences?.wrap_up_limit_s ?? 0);
  const [wrapTimed, setWrapTimed] = useState(false);
  const [timeUp, setTimeUp] = useState<string | null>(null);
  const [conflictsOpen, setConflictsOpen] = useState(false);
  const readPreferences = useCallback(() => {
    api
      .preferences()
      .then((p) => {
        setShown((v) => v ?? VIEW_OF[p.screen] ?? "home");
        setWrapLimit(p.wrap_up_limit_s);
      })
      .catch(() => setShown((v) => v ?? "home"));
  }, [api]);
  useEffect(readPreferences, [readPreferences]);
  const setView = useCallback(
    (next: View) => {
      setTeam(false);
      setShown(next);
      api.rememberScreen(SCREEN_OF[next]).catch(() => {});
    },
    [api],
  );
  const searchRef = useRef<HTMLInputElement>(null);

  const [cheatSheet, setCheatSheet] = useState(false);

  // "/" goes to the lead list's search and "?" shows the shortcuts, from anywhere outside a text field.
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e)) return;
      if (e.key === "?") {
        e.preventDefault();
        setCheatSheet((open) => !open);
        return;
      }
      if (e.key !== "/") return;
      e.preventDefault();
      setView("leads");
      window.setTimeout(() => searchRef.current?.focus(), 0);
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [setView]);
  const [focusError, setFocusError] = useState<{ cause: unknown } | null>(null);

  // A click on a notification about a lead brings that lead to the top.
  useEffect(() => {
    let unlisten: (() => void) | undefined;
    let cancelled = false;
    api
      .onOpenLead(({ lead_id }) => {
        api
          .getLead(lead_id)
          .then((l) => {
            setFocused(l);
            setFocusError(null);
          })
          .catch((e: unknown) => setFocusError({ cause: e }));
      })
      .then((u) => {
        if (cancelled) u();
        else unlisten = u;
      })
      .catch(() => {});
    return () => {
      cancelled = true;
      unlisten?.();
    };
  }, [api]);

  const refreshUnlogged = useCallback(() => {
    api
      .unloggedCalls()
      .then(setUnlogged)
      .catch(() => {});
  }, [api]);

  useEffect(() => {
    api
      .dispositions()
      .then(setDispositions)
      .catch(() => {});
  }, [api, status.last_sync_at]);

  // A call ended or a click-to-call was placed: the list of calls to log changed.
  const endedCount = Object.keys(phone.model.gone).length;
  useEffect(() => {
    refreshUnlogged();
  }, [refreshUnlogged, endedCount, phone.model.notice, status.unlogged]);

  // When a call is over, its form opens on its own (once; "Later" leaves it in the list).
  const talking = phone.model.calls.length > 0;
  useEffect(() => {
    if (wrapping !== null || talking) return;
    const next = unlogged.find((c) => !c.ongoing && !autoOpened.current.has(c.log_id));
    if (next) {
      autoOpened.current.add(next.log_id);
      setWrapping(next.log_id);
      setWrapTimed(true);
    }
  }, [unlogged, wrapping, talking]);

  function logged() {
    setWrapping(null);
    refreshUnlogged();
    // Send it now when online; offline it waits in the outbox and the header counts it.
    api
      .syncNow()
      .then(onStatus)
      .catch(() => {});
  }

  const wrapCall = unlogged.find((c) => c.log_id === wrapping) ?? null;
  const toLog = unlogged.filter((c) => !c.ongoing);

  async function syncNow() {
    setSyncing(true);
    setSyncError(null);
    try {
      onStatus(await api.syncNow());
    } catch (e) {
      setSyncError({ cause: e });
    } finally {
      setSyncing(false);
    }
  }

  // The first download and the user's own "Sync now" say "Syncing…"; the engine's background rounds (a
  // push after each call, retries while offline) only pulse the dot, so the header does not flicker.
  const busy = syncing || (status.syncing && status.last_sync_at === null);
  const background = status.syncing && !busy;
  const offline = status.connection === "offline" || status.last_error?.code === "network";
  // What the offline banner says: that work goes on, what waits to be sent, and when the engine retries.
  const offlineDetail = [t("offline.detail")];
  if (status.pending > 0) {
    offlineDetail.push(
      status.pending === 1 ? t("offline.oneWaits") : t("offline.manyWait", { n: status.pending }),
    );
  }
  if (status.next_retry_at) offlineDetail.push(t("offline.retry", { time: formatClock(status.next_retry_at, lang) }));
  const lastError = syncError
    ? describeError(syncError.cause, lang)
    : offline
      ? { title: t("offline.title"), detail: offlineDetail.join(" ") }
      : status.last_error
        ? describeCommandError(status.last_error, lang)
        : null;
  const shownFocusError = focusError ? describeError(focusError.cause, lang) : null;

  async function signOut() {
    try {
      onStatus(await api.logout());
    } catch (e) {
      setSyncError({ cause: e });
    }
  }
  const userName = status.user?.name ?? status.user?.username ?? "";

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <Logo />
          <span className="brand-name">Leadline</span>
        </div>
        <div className="sync" data-testid="sync-status">
          <span
            className={`pill ${busy ? "pill-busy" : offline ? "pill-offline" : "pill-online"}${background ? " pill-background" : ""}`}
            title={
              background ? (offline ? t("status.tryingServer") : t("status.syncingBackground")) : undefined
            }
          >
            <span className="pill-dot" aria-hidden="true" />
            {busy ? t("status.syncing") : offline ? t("status.offline") : t("status.online")}
          </span>
          <span className="sync-meta">
            {status.last_sync_at
              ? t("status.synced", { when: formatRelative(status.last_sync_at, now, lang) })
              : t("status.notSynced")}
          </span>
          <span className="sync-meta">
            <strong data-testid="lead-count">{status.lead_count}</strong> {t("status.leads")}
          </span>
          {status.pending > 0 && (
            <span className="sync-meta" data-testid="pending-count" title={t("status.toSendTitle")}>
              <strong>{status.pending}</strong> {t("status.toSend")}
            </span>
          )}
          {status.conflicts > 0 && (
            <button
              type="button"
              className="btn btn-warn"
              onClick={() => setConflictsOpen(true)}
              data-testid="conflict-count"
            >
              {status.conflicts === 1 ? t("conflicts.buttonOne") : t("conflicts.button", { n: status.conflicts })}
            </button>
          )}
          {toLog.length > 0 && (
            <button
              type="button"
              className="btn btn-warn"
              onClick={() => setWrapping(toLog[0]?.log_id ?? null)}
              data-testid="unlogged-count"
            >
              {toLog.length === 1 ? t("status.callToLog") : t("status.callsToLog", { n: toLog.length })}
            </button>
          )}
          <button type="button" className="btn btn-secondary" onClick={syncNow} disabled={busy} data-testid="sync-now">
            {busy ? t("status.syncing") : t("action.syncNow")}
          </button>
          <PhoneIndicator status={phone.model.status} onOpenSettings={() => setPhoneSettingsOpen(true)} />
        </div>
        <div className="user" title={status.server_url ?? undefined}>
          <span className="avatar" aria-hidden="true">
            {initials(userName)}
          </span>
          <div>
            <div className="user-name" data-testid="user-name">
              {userName}
            </div>
            <div className="user-role">
              {status.user?.team ?? (status.user ? t(ROLE_KEYS[status.user.role]) : "")}
            </div>
          </div>
          <button
            type="button"
            className="btn btn-link"
            onClick={() => setCheatSheet(true)}
            aria-label={t("action.shortcuts")}
            title={t("action.shortcutsTitle")}
            data-testid="open-shortcuts"
          >
            ?
          </button>
          <button type="button" className="btn btn-link" onClick={() => setPrefsOpen(true)} data-testid="open-preferences">
            {t("action.preferences")}
          </button>
          <button type="button" className="btn btn-link" onClick={signOut} data-testid="sign-out">
            {t("action.signOut")}
          </button>
        </div>
      </header>

      {lastError && (
        <ErrorBanner {...lastError} />
      )}

      <nav className="tabs" aria-label={t("tabs.label")}>
        {TABS.map(([id, label]) => (
          <button
            key={id}
            type="button"
            className={`tab${!team && view === id ? " tab-active" : ""}`}
            aria-current={!team && view === id ? "page" : undefined}
            onClick={() => setView(id)}
            data-testid={`tab-${id}`}
          >
            {t(label)}
          </button>
        ))}
        {manager && (
          <button
            type="button"
            className={`tab${team ? " tab-active" : ""}`}
            aria-current={team ? "page" : undefined}
            onClick={() => setTeam(true)}
            data-testid="tab-team"
          >
            {t("tab.team")}
          </button>
        )}
      </nav>

      <CallPanel phone={phone} />
      {wrapCall && (
        <WrapUpDialog
          key={wrapCall.log_id}
          api={api}
          call={wrapCall}
          dispositions={dispositions}
          onLogged={() => {
            setWrapTimed(false);
            setTimeUp(null);
            logged();
          }}
          onLater={() => {
            setWrapTimed(false);
            setWrapping(null);
          }}
          limitSeconds={wrapTimed ? wrapLimit : undefined}
          onTimeUp={() => {
            setTimeUp(
              t("wrap.timeUp", {
                who: wrapCall.lead?.name ?? (wrapCall.remote.startsWith("+") ? formatPhone(wrapCall.remote) : wrapCall.remote),
              }),
            );
            setWrapTimed(false);
            setWrapping(null);
          }}
        />
      )}
      {timeUp && (
        <div className="banner banner-warn" role="status" data-testid="wrapup-time-up">
          {timeUp}
          <button type="button" className="btn btn-link" onClick={() => setTimeUp(null)}>
            {t("action.close")}
          </button>
        </div>
      )}
      {prefsOpen && (
        <PreferencesDialog
          api={api}
          onClose={() => {
            setPrefsOpen(false);
            readPreferences();
          }}
          onLanguage={(l) => onLanguage?.(l)}
        />
      )}
      {conflictsOpen && (
        <ConflictsDialog
          api={api}
          onClose={() => setConflictsOpen(false)}
          onResolved={() => {
            api
              .appStatus()
              .then(onStatus)
              .catch(() => {});
          }}
        />
      )}
      {cheatSheet && <ShortcutSheet onClose={() => setCheatSheet(false)} />}
      {phoneSettingsOpen && (
        <PhoneSettingsDialog
          api={api}
          onSaved={(s) => {
            phone.setStatus(s);
            setPhoneSettingsOpen(false);
          }}
          onClose={() => setPhoneSettingsOpen(false)}
        />
      )}


      <main className="content">
        {shownFocusError && (
          <ErrorBanner {...shownFocusError} />
        )}
        {focused && (
          <LeadCard
            lead={focused}
            onCall={(l) => void phone.callLead(l)}
            onClose={() => setFocused(null)}
            onDetails={openDetail}
          />
        )}
        {detailId && (
          <LeadDetail
            api={api}
            leadId={detailId}
            dispositions={dispositions}
            now={now}
            onCall={(l) => void phone.callLead(l)}
            onClose={() => setDetailId(null)}
            onChanged={(l) => {
              setEdits((n) => n + 1);
              setFocused((f) => (f && f.id === l.id ? l : f));
            }}
          />
        )}
        {team && manager && (
          <ErrorBoundary key="team" screen="team">
            <TeamScreen api={api} status={status} />
          </ErrorBoundary>
        )}
        {!(team && manager) && view !== null && (
        <ErrorBoundary key={view} screen={view === "home" ? "Today" : view === "leads" ? "lead list" : "follow-ups"}>
          {view === "home" ? (
            <Home
              api={api}
              status={status}
              callsSeen={endedCount + phone.model.calls.length}
              busy={talking || wrapCall !== null}
              onCall={(l) => void phone.callLead(l)}
              onOpen={openDetail}
            />
          ) : view === "follow-ups" ? (
            <FollowUps
              api={api}
              refreshKey={`${status.last_sync_at}|${status.pending}|${endedCount}`}
              onCall={(l) => void phone.callLead(l)}
              onOpen={openDetail}
              onChanged={() => {
                api
                  .appStatus()
                  .then(onStatus)
                  .catch(() => {});
              }}
            />
          ) : (
            <LeadList
              api={api}
              now={now}
              refreshKey={`${status.last_sync_at}|${status.lead_count}|${edits}`}
              busy={busy}
              onCall={(l) => void phone.callLead(l)}
              onOpen={openDetail}
              searchRef={searchRef}
            />
          )}
        </ErrorBoundary>
        )}
      </main>
    </div>
  );
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
  return letters.map((p) => (p ?? "").charAt(0).toUpperCase()).join("") || "?";
}
