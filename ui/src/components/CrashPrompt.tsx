import { useEffect, useState } from "react";

import type { UncleanExit } from "../bindings/UncleanExit";
import { describeError, type ErrorText } from "../errors";
import type { Api } from "../ipc";

/** After a crash or a kill: says the work is safe and offers a report for support (the end of the logs). */
export function CrashPrompt({ api }: { api: Api }) {
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
    ? new Date(exit.started_at).toLocaleString("en-IN", { dateStyle: "medium", timeStyle: "short" })
    : null;

  async function save() {
    if (!exit) return;
    try {
      setSaved(await api.saveCrashReport(exit));
      setError(null);
    } catch (e) {
      setError(describeError(e));
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
        <h2 id="crash-title">Leadline closed unexpectedly</h2>
        <p id="crash-text">
          The last session{when ? ` (started ${when})` : ""} did not end normally. Your work is safe: every call and
          change is saved on this computer as you go. You can save a report for your support team.
        </p>
        {saved && (
          <p className="banner" data-testid="crash-report-path">
            Report saved to <code>{saved}</code>
          </p>
        )}
        {error && (
          <p className="banner banner-error" role="alert">
            {error.title}. {error.detail}
          </p>
        )}
        <div className="dialog-actions">
          {!saved && (
            <button type="button" className="btn btn-secondary" onClick={save} data-testid="crash-save">
              Save a report
            </button>
          )}
          <button type="button" className="btn btn-primary" onClick={() => setOpen(false)} autoFocus>
            {saved ? "Done" : "Dismiss"}
          </button>
        </div>
      </div>
    </div>
  );
}
