import { useState, type FormEvent } from "react";

import type { AppStatus } from "../bindings/AppStatus";
import { describeCommandError, describeError, type ErrorText } from "../errors";
import type { Api } from "../ipc";
import { Logo } from "./Logo";
import { TextField } from "./TextField";

interface Props {
  api: Api;
  status: AppStatus | null;
  onStatus: (status: AppStatus) => void;
}

export function LoginScreen({ api, status, onStatus }: Props) {
  const [serverUrl, setServerUrl] = useState(status?.server_url ?? "");
  const [username, setUsername] = useState(status?.user?.username ?? "");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorText | null>(
    status?.last_error ? describeCommandError(status.last_error) : null,
  );

  async function submit(e: FormEvent) {
    e.preventDefault();
    const missing = [
      serverUrl.trim() ? null : "server address",
      username.trim() ? null : "username",
      password ? null : "password",
    ].filter((x): x is string => x !== null);
    if (missing.length > 0) {
      setError({ title: "Check the form", detail: `Enter your ${missing.join(", ")}.` });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onStatus(await api.login({ server_url: serverUrl.trim(), username: username.trim(), password }));
    } catch (err) {
      setError(describeError(err));
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
            <div className="muted">Sign in to start calling</div>
          </div>
        </div>

        {error && (
          <div className="banner banner-error" role="alert" data-testid="login-error">
            <strong>{error.title}.</strong> {error.detail}
          </div>
        )}
        {autoSigningIn && !error && <div className="banner banner-info">Signing in and syncing your leads…</div>}

        <TextField
          label="Server address"
          type="url"
          placeholder="https://crm.yourstore.in"
          autoComplete="url"
          value={serverUrl}
          onChange={setServerUrl}
          testId="login-server"
        />
        <TextField
          label="Username"
          autoComplete="username"
          value={username}
          onChange={setUsername}
          testId="login-username"
        />
        <TextField
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={setPassword}
          testId="login-password"
        />
        <button type="submit" className="btn btn-primary btn-block" disabled={busy || autoSigningIn}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
