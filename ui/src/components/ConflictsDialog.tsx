import { useCallback, useEffect, useState } from "react";

import type { ConflictChoice } from "../bindings/ConflictChoice";
import type { ConflictView } from "../bindings/ConflictView";
import { describeError } from "../errors";
import { useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";
import { ErrorBanner } from "./ErrorBanner";

interface Props {
  api: Pick<Api, "conflicts" | "resolveConflict">;
  onClose: () => void;
  /** A conflict was settled (the header's count changes). */
  onResolved?: () => void;
}

/** Edits that lost to someone else's: per lead, the clashing fields and a choice of whose to keep. */
export function ConflictsDialog({ api, onClose, onResolved }: Props) {
  const t = useT();
  const lang = useLanguage();
  const [conflicts, setConflicts] = useState<ConflictView[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = useCallback(() => {
    api
      .conflicts()
      .then(setConflicts)
      .catch((e: unknown) => setError(e));
  }, [api]);
  useEffect(load, [load]);

  function resolve(c: ConflictView, keep: ConflictChoice) {
    setBusy(c.id);
    setError(null);
    api
      .resolveConflict(c.id, keep)
      .then(() => {
        // Gone from the list at once; the list is read again to be sure.
        setConflicts((list) => (list ?? []).filter((x) => x.id !== c.id));
        onResolved?.();
        load();
      })
      .catch((e: unknown) => setError(e))
      .finally(() => setBusy(null));
  }

  const shown = error ? describeError(error, lang) : null;
  const value = (v: string) => v || t("conflicts.empty");
  return (
    <div className="dialog-backdrop">
      <div className="dialog lead-detail" role="dialog" aria-modal="true" aria-label={t("conflicts.title")} data-testid="conflicts">
        <h2>{t("conflicts.title")}</h2>
        <p className="muted">{t("conflicts.intro")}</p>
        {shown && (
          <ErrorBanner {...shown} />
        )}
        {conflicts === null ? (
          <div className="card skeleton skeleton-block" aria-busy="true" />
        ) : conflicts.length === 0 ? (
          <p data-testid="conflicts-none">{t("conflicts.none")}</p>
        ) : (
          conflicts.map((c) => (
            <section key={c.id} className="conflict" aria-label={c.lead_name ?? t("conflicts.lead")} data-testid="conflict">
              <h3>{c.lead_name ?? t("conflicts.lead")}</h3>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("conflicts.field")}</th>
                    <th scope="col">{t("conflicts.before")}</th>
                    <th scope="col">{t("conflicts.mine")}</th>
                    <th scope="col">{t("conflicts.theirs")}</th>
                  </tr>
                </thead>
                <tbody>
                  {c.fields.map((f) => (
                    <tr key={f.field}>
                      <th scope="row">{f.field}</th>
                      <td>{value(f.base)}</td>
                      <td>{value(f.mine)}</td>
                      <td>{value(f.theirs)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <div className="dialog-actions">
                <button
                  type="button"
                  className="btn btn-primary"
                  disabled={busy !== null}
                  onClick={() => resolve(c, "mine")}
                  data-testid="keep-mine"
                >
                  {t("conflicts.keepMine")}
                </button>
                <button
                  type="button"
                  className="btn btn-secondary"
                  disabled={busy !== null}
                  onClick={() => resolve(c, "theirs")}
                  data-testid="keep-theirs"
                >
                  {t("conflicts.keepTheirs")}
                </button>
              </div>
            </section>
          ))
        )}
        <div className="dialog-actions">
          <button type="button" className="btn btn-secondary" onClick={onClose} data-testid="conflicts-close">
            {t("action.close")}
          </button>
        </div>
      </div>
    </div>
  );
}
