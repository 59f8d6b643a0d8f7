import { useEffect, useLayoutEffect, useState } from "react";

import type { AppStatus } from "./bindings/AppStatus";
import type { DeskPreferences } from "./bindings/DeskPreferences";
import type { SetupState } from "./bindings/SetupState";
import { CrashPrompt } from "./components/CrashPrompt";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { LeadScreen } from "./components/LeadScreen";
import { LoginScreen } from "./components/LoginScreen";
import { Logo } from "./components/Logo";
import { SetupScreen } from "./components/SetupScreen";
import { UpdateBanner } from "./components/UpdateBanner";
import { describeError } from "./errors";
import type { Api } from "./ipc";
import { type Language, LanguageContext, translate } from "./i18n";
import { startupMark } from "./startup";
import { applyTheme } from "./theme";
import { SetupContext } from "./setupContext";

/** Sign-in screen until there is a session, then the lead list. Follows the shell's status events. */
export function App({ api }: { api: Api }) {
  const [status, setStatus] = useState<AppStatus | null>(null);
  const [fatal, setFatal] = useState<{ error: unknown } | null>(null);
  const [language, setLanguage] = useState<Language>("en");
  // The splash stays until the language is known, so a Hindi desk never flashes an English screen first.
  const [languageKnown, setLanguageKnown] = useState(false);
  // The preferences as read at the start (language, screen to open on, wrap-up limit): the lead screen
  // starts from them at once, without asking again.
  const [startPreferences, setStartPreferences] = useState<DeskPreferences | undefined>(undefined);
  // The first-run setup: where the desk stands (undefined while asked; null where the shell has none), and
  // whether it was opened again from the preferences or the sign-in.
  const [setup, setSetup] = useState<SetupState | null | undefined>(api.setupState ? undefined : null);
  const [setupOpen, setSetupOpen] = useState(false);

  useEffect(() => {
    api
      .setupState?.()
      .then(setSetup)
      .catch(() => setSetup(null));
  }, [api]);

  useEffect(() => {
    api
      .preferences()
      .then((p) => {
        startupMark("preferences");
        applyTheme(p.theme);
        setLanguage(p.language);
        setStartPreferences(p);
      })
      .catch(() => {})
      .finally(() => setLanguageKnown(true));
  }, [api]);

  // Screen readers read the window in its language, set in the same commit as the text it describes.
  useLayoutEffect(() => {
    document.documentElement.lang = language;
  }, [language]);

  useEffect(() => {
    let unlisten: (() => void) | undefined;
    let cancelled = false;
    // Subscribe before asking, so a status emitted in between is not missed.
    startupMark("app");
    api
      .onStatus((s) => setStatus(s))
      .then((u) => {
        if (cancelled) u();
        else unlisten = u;
        return api.appStatus();
      })
      .then((s) => {
        startupMark("status");
        if (!cancelled) setStatus((prev) => prev ?? s);
      })
      .catch((e: unknown) => {
        if (!cancelled) setFatal({ error: e });
      });
    return () => {
      cancelled = true;
      unlisten?.();
    };
  }, [api]);

  if (fatal) {
    const text = describeError(fatal.error, language);
    return (
      <div className="fatal" role="alert">
        <div className="fatal-card">
          <h1>{text.title}</h1>
          <p>{text.detail}</p>
        </div>
      </div>
    );
  }
  if (status === null || !languageKnown || setup === undefined) {
    return (
      <div className="splash">
        <Logo size={48} />
        <p className="muted">{translate(language, "app.opening")}</p>
      </div>
    );
  }
  return (
    <LanguageContext.Provider value={language}>
      {/* The boundary of main.tsx is outside the language; this one says a failure in the app's language. */}
      <ErrorBoundary>
        <SetupContext.Provider value={setup ? () => setSetupOpen(true) : null}>
        {setup && (setupOpen || (!status.signed_in && setup.needed)) ? (
          <SetupScreen
            api={api}
            state={setup}
            signedInServer={status.signed_in ? status.server_url : null}
            onLanguage={setLanguage}
            onDone={(done) => {
              setSetup(done);
              setSetupOpen(false);
            }}
            onCancel={setupOpen ? () => setSetupOpen(false) : undefined}
          />
        ) : status.signed_in ? (
          <LeadScreen
            api={api}
            status={status}
            onStatus={setStatus}
            onLanguage={setLanguage}
            startPreferences={startPreferences}
          />
        ) : (
          // Keyed by server and user, so a status that fills them in (auto sign-in) refreshes the form.
          <LoginScreen
            key={`${status.server_url}|${status.user?.id}|${status.last_error?.message}|${setup?.server_url}`}
            api={api}
            status={status}
            onStatus={setStatus}
            setup={setup}
          />
        )}
        </SetupContext.Provider>
        <CrashPrompt api={api} />
        <UpdateBanner api={api} />
      </ErrorBoundary>
    </LanguageContext.Provider>
  );
}
