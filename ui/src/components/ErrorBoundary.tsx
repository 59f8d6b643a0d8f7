import { Component, type ErrorInfo, type ReactNode } from "react";

interface Props {
  children: ReactNode;
  /** A screen's name: the boundary then guards that screen only, and "Try again" draws it anew while the
   * rest of the window (header, calls) goes on. Without it, the whole app, with "Reload Leadline". */
  screen?: string;
}

interface State {
  error: Error | null;
}

/** Shows what broke instead of a blank window, with a way out. */
export class ErrorBoundary extends Component<Props, State> {
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
    const { screen } = this.props;
    if (screen) {
      return (
        <div className="banner banner-error screen-error" role="alert" data-testid="screen-error">
          <strong>The {screen} screen hit a problem.</strong> Your leads and calls are safe; the rest of Leadline
          works. <code>{error.message}</code>{" "}
          <button type="button" className="btn btn-secondary banner-action" onClick={() => this.setState({ error: null })}>
            Try again
          </button>
        </div>
      );
    }
    return (
      <div className="fatal" role="alert">
        <div className="fatal-card">
          <h1>Leadline hit a problem</h1>
          <p>The screen could not be drawn. Your leads and call notes are safe in the local database.</p>
          <pre className="fatal-detail">{error.message}</pre>
          <button type="button" className="btn btn-primary" onClick={() => window.location.reload()}>
            Reload Leadline
          </button>
        </div>
      </div>
    );
  }
}
