import { useEffect, useState } from "react";

import type { AppStatus } from "./bindings/AppStatus";
import { CrashPrompt } from "./components/CrashPrompt";
import { LeadScreen } from "./components/LeadScreen";
import { LoginScreen } from "./components/LoginScreen";
import { Logo } from "./components/Logo";
import { describeError, type ErrorText } from "./errors";
import type { Api } from "./ipc";
import { type Language, LanguageContext } from "./i18n";
import { applyTheme } from "./theme";

/** Sign-in screen until there is a session, then the lead list. Follows the shell's status events. */
export function App({ api }: { api: Api }) {
  const [status, setStatus] = useState<AppStatus | null>(null);
  const [fatal, setFatal] = useState<ErrorText | null>(null);
  const [language, setLanguage] = useState<Language>("en");

  useEffect(() => {
    api
      .preferences()
      .then((p) => {
        applyTheme(p.theme);
        setLanguage(p.language);
      })
      .catch(() => {});
  }, [api]);

  useEffect(() => {
    let unlisten: (() => void) | undefined;
    let cancelled = false;
    // Subscribe before asking, so a status emitted in between is not missed.
    api
      .onStatus((s) => setStatus(s))
      .then((u) => {
        if (cancelled) u();
        else unlisten = u;
        return api.appStatus();
      })
      .then((s) => {
        if (!cancelled) setStatus((prev) => prev ?? s);
      })
      .catch((e: unknown) => {
        if (!cancelled) setFatal(describeError(e));
      });
    return () => {
      cancelled = true;
      unlisten?.();
    };
  }, [api]);

  if (fatal) {
    return (
      <div className="fatal" role="alert">
        <div className="fatal-card">
          <h1>{fatal.title}</h1>
          <p>{fatal.detail}</p>
        </div>
      </div>
    );
  }
  if (status === null) {
    return (
      <div className="splash">
        <Logo size={48} />
        <p className="muted">Opening Leadline…</p>
      </div>
    );
  }
  return (
    <LanguageContext.Provider value={language}>
      {status.signed_in ? (
        <LeadScreen api={api} status={status} onStatus={setStatus} onLanguage={setLanguage} />
      ) : (
        // Keyed by server and user, so a status that fills them in (auto sign-in) refreshes the form.
        <LoginScreen
          key={`${status.server_url}|${status.user?.id}|${status.last_error?.message}`}
          api={api}
          status={status}
          onStatus={setStatus}
        />
      )}
      <CrashPrompt api={api} />
    </LanguageContext.Provider>
  );
}
