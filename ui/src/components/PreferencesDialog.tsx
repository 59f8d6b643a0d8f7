import { useEffect, useState } from "react";

import type { DeskPreferences } from "../bindings/DeskPreferences";
import type { Language } from "../bindings/Language";
import type { Theme } from "../bindings/Theme";
import { describeError, type ErrorText } from "../errors";
import { type Key, useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";
import { applyTheme } from "../theme";
import { ErrorBanner } from "./ErrorBanner";
import { SetupLink } from "./SetupScreen";

/** Each language by its own name, so whoever switched by mistake finds the way back. */
const LANGUAGES: Array<[Language, string]> = [
  ["en", "English"],
  ["hi", "हिन्दी (Hindi)"],
];

const THEMES: Array<[Theme, Key]> = [
  ["system", "prefs.themeSystem"],
  ["light", "prefs.themeLight"],
  ["dark", "prefs.themeDark"],
];

/** The app's preferences: language and theme (applied at once), starting minimised. */
/** The wrap-up limits offered, in seconds (0: none). */
const WRAP_UP_LIMITS = [60, 120, 180, 300, 600, 0];

export function PreferencesDialog({
  api,
  onClose,
  onLanguage,
}: {
  api: Api;
  onClose: () => void;
  onLanguage: (language: Language) => void;
}) {
  const lang = useLanguage();
  const t = useT();
  const [prefs, setPrefs] = useState<DeskPreferences | null>(null);
  const [error, setError] = useState<ErrorText | null>(null);

  useEffect(() => {
    api
      .preferences()
      .then(setPrefs)
      .catch((e: unknown) => setError(describeError(e, lang)));
    // A failure is told in the language of the moment the dialog opens.
  }, [api]);

  async function save(next: DeskPreferences) {
    setPrefs(next);
    applyTheme(next.theme);
    onLanguage(next.language);
    try {
      setPrefs(await api.savePreferences(next));
      setError(null);
    } catch (e) {
      setError(describeError(e, next.language));
    }
  }

  return (
    <div className="dialog-backdrop">
      <div className="dialog" role="dialog" aria-labelledby="prefs-title" data-testid="preferences">
        <h2 id="prefs-title">{t("action.preferences")}</h2>
        {error && (
          <ErrorBanner {...error} />
        )}
        {prefs && (
          <>
            <fieldset>
              <legend>{t("prefs.language")}</legend>
              {LANGUAGES.map(([value, label]) => (
                <label key={value} className="check" lang={value}>
                  <input
                    type="radio"
                    name="language"
                    value={value}
                    checked={prefs.language === value}
                    onChange={() => void save({ ...prefs, language: value })}
                    data-testid={`language-${value}`}
                  />
                  {label}
                </label>
              ))}
            </fieldset>
            <fieldset>
              <legend>{t("prefs.theme")}</legend>
              {THEMES.map(([value, key]) => (
                <label key={value} className="check">
                  <input
                    type="radio"
                    name="theme"
                    value={value}
                    checked={prefs.theme === value}
                    onChange={() => void save({ ...prefs, theme: value })}
                    data-testid={`theme-${value}`}
                  />
                  {t(key)}
                </label>
              ))}
            </fieldset>
            <label className="check">
              <input
                type="checkbox"
                checked={prefs.start_minimised}
                onChange={(e) => void save({ ...prefs, start_minimised: e.target.checked })}
                data-testid="start-minimised"
              />
              {t("prefs.startMinimised")}
            </label>
            <label className="field">
              <span>{t("prefs.wrapUpLimit")}</span>
              <select
                className="input"
                value={prefs.wrap_up_limit_s}
                onChange={(e) => void save({ ...prefs, wrap_up_limit_s: Number(e.target.value) })}
                data-testid="wrap-up-limit"
              >
                {WRAP_UP_LIMITS.map((s) => (
                  <option key={s} value={s}>
                    {s === 0 ? t("prefs.noLimit") : t("prefs.minutes", { n: s / 60 })}
                  </option>
                ))}
              </select>
            </label>
          </>
        )}
        <SetupLink before={onClose} />
        <div className="dialog-actions">
          <button type="button" className="btn btn-primary" onClick={onClose} autoFocus>
            {t("action.done")}
          </button>
        </div>
      </div>
    </div>
  );
}
