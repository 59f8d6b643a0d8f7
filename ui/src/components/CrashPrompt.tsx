import { useEffect, useState } from "react";

import type { UncleanExit } from "../bindings/UncleanExit";
import { describeError, type ErrorText } from "../errors";
import { localeOf, useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";

/** After a crash or a kill: says the work is safe and offers a report for support (the end of the logs). */
export function CrashPrompt({ api }: { api: Api }) {
  const lang = useLanguage();
  const t = useT();
  const [exit, setExit] = useState<UncleanExit | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<ErrorText | null>(null);
  const [open, setOpen] = useState(true);

  useEffect(() => {
    api
      .uncleanExit()
      .then(setExit)
      .catch(() => {});
  }, [api]);

  if (!exit || !open) return null;
  const when = exit.started_at
    ? new Intl.DateTimeFormat(localeOf(lang), { dateStyle: "medium", timeStyle: "short" }).format(
        new Date(exit.started_at),
      )
    : null;

  async function save() {
    if (!exit) return;
    try {
      setSaved(await api.saveCrashReport(exit));
      setError(null);
    } catch (e) {
      setError(describeError(e, lang));
    }
  }

  return (
    <div className="dialog-backdrop">
      <div
        className="dialog crash-prompt"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="crash-title"
        aria-describedby="crash-text"
        data-testid="crash-prompt"
      >
        <h2 id="crash-title">{t("crash.title")}</h2>
        <p id="crash-text">{t("crash.text", { started: when ? t("crash.started", { when }) : "" })}</p>
        {saved && (
          <p className="banner" data-testid="crash-report-path">
            {t("crash.savedTo")} <code>{saved}</code>
          </p>
        )}
        {error && (
          <p className="banner banner-error" role="alert">
            {error.title}
            {t("ui.stop")} {error.detail}
          </p>
        )}
        <div className="dialog-actions">
          {!saved && (
            <button type="button" className="btn btn-secondary" onClick={save} data-testid="crash-save">
              {t("crash.save")}
            </button>
          )}
          <button type="button" className="btn btn-primary" onClick={() => setOpen(false)} autoFocus>
            {saved ? t("action.done") : t("action.dismiss")}
          </button>
        </div>
      </div>
    </div>
  );
}
