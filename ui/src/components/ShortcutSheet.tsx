import { useT } from "../i18n";
import { SHORTCUTS } from "../shortcuts";

/** The keyboard cheat sheet (press ? anywhere outside a text field). */
export function ShortcutSheet({ onClose }: { onClose: () => void }) {
  const t = useT();
  return (
    <div className="dialog-backdrop" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <div className="dialog shortcut-sheet" role="dialog" aria-labelledby="shortcuts-title" data-testid="shortcuts">
        <h2 id="shortcuts-title">{t("keys.title")}</h2>
        <table>
          <tbody>
            {SHORTCUTS.map((s) => (
              <tr key={s.keys + s.what}>
                <th scope="row">
                  <kbd>{s.keys}</kbd>
                </th>
                <td>{t(s.what)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="dialog-actions">
          <button type="button" className="btn btn-primary" onClick={onClose} autoFocus>
            {t("action.close")}
          </button>
        </div>
      </div>
    </div>
  );
}
