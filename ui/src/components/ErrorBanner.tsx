// The app's error banner: what went wrong in bold with the language's full stop, then the detail, then
// (optionally) "Try again" and any other actions. Takes `describeError`'s text as it is:
// `<ErrorBanner {...describeError(cause, lang)} onRetry={load} />`.
import type { ReactNode } from "react";

import { useT } from "../i18n";

interface Props {
  title: string;
  detail: ReactNode;
  /** A "Try again" button (as a link) after the detail, when given. */
  onRetry?: () => void;
  /** The retry button's text; "Try again" when not given. */
  retryLabel?: string;
  /** More classes after `banner banner-error`. */
  className?: string;
  testId?: string;
  /** Other actions, after the detail (and the retry button). */
  children?: ReactNode;
}

export function ErrorBanner({ title, detail, onRetry, retryLabel, className, testId, children }: Props) {
  const t = useT();
  return (
    <div className={`banner banner-error${className ? ` ${className}` : ""}`} role="alert" data-testid={testId}>
      <strong>
        {title}
        {t("ui.stop")}
      </strong>{" "}
      {detail}
      {onRetry && (
        <>
          {" "}
          <button type="button" className="btn btn-link" onClick={onRetry}>
            {retryLabel ?? t("action.tryAgain")}
          </button>
        </>
      )}
      {children}
    </div>
  );
}
