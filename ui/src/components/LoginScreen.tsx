import { useState, type FormEvent } from "react";

import type { AppStatus } from "../bindings/AppStatus";
import type { SetupState } from "../bindings/SetupState";
import { useReadyMark } from "../hooks";
import { describeCommandError, describeError, type ErrorText } from "../errors";
import { type Key, useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";
import { SetupLink, ProvisionedNote } from "./SetupScreen";
import { ErrorBanner } from "./ErrorBanner";
import { Logo } from "./Logo";
import { TextField } from "./TextField";

interface Props {
  api: Api;
  status: AppStatus | null;
  onStatus: (status: AppStatus) => void;
  /** The first-run setup's result: the server it checked (locked when a provisioning file set it). */
  setup?: SetupState | null;
}

export function LoginScreen({ api, status, onStatus, setup }: Props) {
  const lang = useLanguage();
  const t = useT();
  const [serverUrl, setServerUrl] = useState(setup?.provisioned?.settings.server_url ?? status?.server_url ?? setup?.server_url ?? "");
  const [username, setUsername] = useState(status?.user?.username ?? "");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  useReadyMark(api, "sign-in", true);
  const [error, setError] = useState<ErrorText | null>(
    status?.last_error ? describeCommandError(status.last_error, lang) : null,
  );

  async function submit(e: FormEvent) {
    e.preventDefault();
    const missing = [
      serverUrl.trim() ? null : "login.missing.server",
      username.trim() ? null : "login.missing.username",
      password ? null : "login.missing.password",
    ].filter((x): x is Key => x !== null);
    if (missing.length > 0) {
      setError({
        title: t("err.invalidInput"),
        detail: t("login.missing", { fields: missing.map((k) => t(k)).join(", ") }),
      });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onStatus(await api.login({ server_url: serverUrl.trim(), username: username.trim(), password }));
    } catch (err) {
      setError(describeError(err, lang));
      setBusy(false);
    }
  }

  const autoSigningIn = status?.syncing === true;

  return (
    <div className="login-page">
      <form className="login-card" onSubmit={submit} noValidate data-testid="login-form">
        <div className="login-brand">
          <Logo size={40} />
          <div>
            <div className="brand-name">Leadline</div>
            <div className="muted">{t("login.tagline")}</div>
          </div>
        </div>

        {error && (
          <ErrorBanner {...error} testId="login-error" />
        )}
        {autoSigningIn && !error && <div className="banner banner-info">{t("login.autoSigningIn")}</div>}

        <TextField
          label={t("login.server")}
          type="url"
          placeholder="https://crm.yourstore.in"
          autoComplete="url"
          value={serverUrl}
          onChange={setServerUrl}
          testId="login-server"
          readOnly={Boolean(setup?.provisioned)}
        />
        {setup?.provisioned && <ProvisionedNote provisioned={setup.provisioned} />}
        <TextField
          label={t("login.username")}
          autoComplete="username"
          value={username}
          onChange={setUsername}
          testId="login-username"
        />
        <TextField
          label={t("login.password")}
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={setPassword}
          testId="login-password"
        />
        <button type="submit" className="btn btn-primary btn-block" disabled={busy || autoSigningIn}>
          {busy ? t("login.signingIn") : t("login.signIn")}
        </button>
        {setup && <SetupLink />}
      </form>
    </div>
  );
}
