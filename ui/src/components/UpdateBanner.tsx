import { useEffect, useState } from "react";

import type { UpdateState } from "../bindings/UpdateState";
import { describeError, type ErrorText } from "../errors";
import { useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";

/**
 * A signed update the shell downloaded and verified. Nothing shows during a call (the shell waits for it
 * to end); with nothing pending it offers "Restart to update"; with changes waiting for the server it says
 * how many and asks: sync first, update anyway, or later. It never restarts by itself.
 */
export function UpdateBanner({ api }: { api: Api }) {
  const lang = useLanguage();
  const t = useT();
  const [state, setState] = useState<UpdateState>({ kind: "none" });
  const [dismissed, setDismissed] = useState<string | null>(null);
  const [error, setError] = useState<ErrorText | null>(null);
  const [syncing, setSyncing] = useState(false);

  useEffect(() => {
    if (!api.updateState || !api.onUpdate) return;
    let unlisten: (() => void) | undefined;
    let cancelled = false;
    api
      .onUpdate((s) => setState(s))
      .then((u) => {
        if (cancelled) u();
        else unlisten = u;
        return api.updateState?.();
      })
      .then((s) => {
        if (!cancelled && s) setState(s);
      })
      .catch(() => {});
    return () => {
      cancelled = true;
      unlisten?.();
    };
  }, [api]);

  if (state.kind === "none" || state.kind === "waiting_for_call") return null;
  if (state.kind === "ready" && dismissed === state.version) return null;

  async function install(anyway: boolean) {
    try {
      setError(null);
      await api.installUpdate?.(anyway);
    } catch (e) {
      setError(describeError(e, lang));
    }
  }

  async function syncFirst() {
    setSyncing(true);
    try {
      await api.syncNow();
      setError(null);
    } catch (e) {
      setError(describeError(e, lang));
    } finally {
      setSyncing(false);
    }
  }

  return (
    <div className="banner banner-info update-banner" role="status" data-testid="update-banner">
      {state.kind === "installing" ? (
        <span>{t("update.installing", { version: state.version })}</span>
      ) : (
        <>
          <span>
            {t("update.ready", { version: state.version })}{" "}
            {state.changes === 0
              ? t("update.restartHint")
              : t(state.changes === 1 ? "update.oneChange" : "update.changes", { n: state.changes })}
          </span>
          {state.changes === 0 ? (
            <button type="button" className="btn btn-primary" onClick={() => install(false)} data-testid="update-restart">
              {t("update.restart")}
            </button>
          ) : (
            <>
              <button
                type="button"
                className="btn btn-primary"
                onClick={syncFirst}
                disabled={syncing}
                data-testid="update-sync-first"
              >
                {t("update.syncFirst")}
              </button>
              <button type="button" className="btn btn-secondary" onClick={() => install(true)} data-testid="update-anyway">
                {t("update.anyway")}
              </button>
            </>
          )}
          <button
            type="button"
            className="btn btn-secondary"
            onClick={() => setDismissed(state.version)}
            data-testid="update-later"
          >
            {t("update.later")}
          </button>
        </>
      )}
      {error && (
        <span className="banner-error-text" role="alert" data-testid="update-error">
          {error.title}: {error.detail}
        </span>
      )}
    </div>
  );
}
