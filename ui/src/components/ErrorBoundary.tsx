import { Component, type ContextType, type ErrorInfo, type ReactNode } from "react";

import { type Key, LanguageContext, translate } from "../i18n";

interface Props {
  children: ReactNode;
  /** A screen's name: the boundary then guards that screen only, and "Try again" draws it anew while the
   * rest of the window (header, calls) goes on. Without it, the whole app, with "Reload Leadline". */
  screen?: string;
}

interface State {
  error: Error | null;
}

/** The screens' names as LeadScreen passes them (in English), for saying them in the app's language. */
const SCREEN_KEYS: Record<string, Key> = {
  Today: "boundary.screen.Today",
  "lead list": "boundary.screen.leadList",
  "follow-ups": "boundary.screen.followUps",
};

/** Shows what broke instead of a blank window, with a way out. */
export class ErrorBoundary extends Component<Props, State> {
  static contextType = LanguageContext;
  declare context: ContextType<typeof LanguageContext>;
  state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(`Leadline UI crashed${this.props.screen ? ` (${this.props.screen})` : ""}`, error, info.componentStack);
  }

  render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    const lang = this.context ?? "en";
    const t = (key: Key, vars?: Record<string, string>) => translate(lang, key, vars);
    const { screen } = this.props;
    if (screen) {
      const key = Object.prototype.hasOwnProperty.call(SCREEN_KEYS, screen) ? SCREEN_KEYS[screen] : undefined;
      return (
        <div className="banner banner-error screen-error" role="alert" data-testid="screen-error">
          <strong>{t("boundary.screen", { screen: key ? t(key) : screen })}</strong> {t("boundary.screenSafe")}{" "}
          <code>{error.message}</code>{" "}
          <button type="button" className="btn btn-secondary banner-action" onClick={() => this.setState({ error: null })}>
            {t("action.tryAgain")}
          </button>
        </div>
      );
    }
    return (
      <div className="fatal" role="alert">
        <div className="fatal-card">
          <h1>{t("boundary.title")}</h1>
          <p>{t("boundary.text")}</p>
          <pre className="fatal-detail">{error.message}</pre>
          <button type="button" className="btn btn-primary" onClick={() => window.location.reload()}>
            {t("boundary.reload")}
          </button>
        </div>
      </div>
    );
  }
}
