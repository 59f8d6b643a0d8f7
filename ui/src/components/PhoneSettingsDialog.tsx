import { useEffect, useState } from "react";

import type { AudioDeviceList } from "../bindings/AudioDeviceList";
import type { PhoneSettings } from "../bindings/PhoneSettings";
import type { PhoneStatus } from "../bindings/PhoneStatus";
import { describeError, type ErrorText } from "../errors";
import { useLanguage, useT } from "../i18n";
import type { Api } from "../ipc";
import { ErrorBanner } from "./ErrorBanner";
import { TextField } from "./TextField";

interface Props {
  api: Api;
  onSaved: (status: PhoneStatus) => void;
  onClose: () => void;
}

/** `null` for an empty field, so the shell keeps "not set" apart from "set to spaces". */
function opt(v: string): string | null {
  return v.trim() === "" ? null : v.trim();
}

/** The softphone's account and sound devices. The password goes to the system keyring, never to a file. */
export function PhoneSettingsDialog({ api, onSaved, onClose }: Props) {
  const lang = useLanguage();
  const t = useT();
  const [settings, setSettings] = useState<PhoneSettings | null>(null);
  const [hasPassword, setHasPassword] = useState(false);
  const [password, setPassword] = useState("");
  const [stun, setStun] = useState("");
  const [devices, setDevices] = useState<AudioDeviceList | null>(null);
  const [error, setError] = useState<ErrorText | null>(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    let cancelled = false;
    api
      .phoneSettings()
      .then((view) => {
        if (cancelled) return;
        setSettings(view.settings);
        setHasPassword(view.has_password);
        setStun(view.settings.stun_servers.join("\n"));
      })
      .catch((e: unknown) => {
        if (!cancelled) setError(describeError(e, lang));
      });
    api
      .audioDevices()
      .then((d) => {
        if (!cancelled) setDevices(d);
      })
      .catch(() => {
        // No device list (no sound system): the defaults stay selected.
        if (!cancelled) setDevices({ inputs: [], outputs: [] });
      });
    return () => {
      cancelled = true;
    };
    // A failure is told in the language of the moment the settings load (a change of language does not load
    // them again, which would lose the edits).
  }, [api]);

  if (settings === null) {
    return (
      <div className="dialog-backdrop">
        <div className="dialog" role="dialog" aria-label={t("phone.settings")}>
          {error ? (
            <ErrorBanner {...error} />
          ) : (
            <p className="muted">{t("ps.loading")}</p>
          )}
          <button type="button" className="btn btn-secondary" onClick={onClose}>
            {t("action.close")}
          </button>
        </div>
      </div>
    );
  }

  const set = <K extends keyof PhoneSettings>(key: K, value: PhoneSettings[K]) =>
    setSettings({ ...settings, [key]: value });

  async function save(e: React.FormEvent) {
    e.preventDefault();
    if (!settings) return;
    setSaving(true);
    setError(null);
    try {
      const status = await api.savePhoneSettings({
        settings: {
          ...settings,
          auth_username: opt(settings.auth_username ?? ""),
          display_name: opt(settings.display_name ?? ""),
          outbound_proxy: opt(settings.outbound_proxy ?? ""),
          stun_servers: stun
            .split(/[\s,]+/)
            .map((s) => s.trim())
            .filter(Boolean),
        },
        password: password === "" ? undefined : password,
      });
      onSaved(status);
    } catch (err) {
      setError(describeError(err, lang));
    } finally {
      setSaving(false);
    }
  }

  const deviceSelect = (
    label: string,
    key: "input_device" | "output_device" | "ringtone_device",
    list: AudioDeviceList["inputs"],
    testId: string,
  ) => (
    <label className="field">
      <span>{label}</span>
      <select
        className="input"
        value={settings[key] ?? ""}
        onChange={(e) => set(key, opt(e.target.value))}
        data-testid={testId}
      >
        <option value="">{key === "ringtone_device" ? t("ps.sameAsSpeaker") : t("ps.systemDefault")}</option>
        {list.map((d) => (
          <option key={d.id} value={d.id}>
            {d.name}
            {d.is_default ? t("ps.isDefault") : ""}
          </option>
        ))}
        {settings[key] && !list.some((d) => d.id === settings[key]) && (
          <option value={settings[key] ?? ""}>{t("ps.notPluggedIn", { name: settings[key] ?? "" })}</option>
        )}
      </select>
    </label>
  );

  return (
    <div className="dialog-backdrop">
      <form className="dialog" role="dialog" aria-label={t("phone.settings")} onSubmit={save} data-testid="phone-settings">
        <h2>{t("ps.title")}</h2>
        <label className="check">
          <input
            type="checkbox"
            checked={settings.enabled}
            onChange={(e) => set("enabled", e.target.checked)}
            data-testid="phone-enabled"
          />
          {t("ps.enabled")}
        </label>
        <fieldset disabled={!settings.enabled}>
          <legend>{t("ps.account")}</legend>
          <TextField
            label={t("ps.server")}
            value={settings.ws_url}
            onChange={(v) => set("ws_url", v)}
            testId="phone-ws-url"
          />
          <TextField
            label={t("ps.domain")}
            placeholder="1234.voip.exotel.com"
            value={settings.domain}
            onChange={(v) => set("domain", v)}
            testId="phone-domain"
          />
          <TextField
            label={t("ps.user")}
            value={settings.username}
            onChange={(v) => set("username", v)}
            testId="phone-username"
          />
          <TextField
            label={t("ps.password")}
            type="password"
            autoComplete="new-password"
            placeholder={hasPassword ? t("ps.passwordSaved") : ""}
            value={password}
            onChange={setPassword}
            testId="phone-password"
          />
          <details>
            <summary>{t("ps.advanced")}</summary>
            <TextField
              label={t("ps.authUser")}
              value={settings.auth_username ?? ""}
              onChange={(v) => set("auth_username", v)}
            />
            <TextField
              label={t("ps.displayName")}
              value={settings.display_name ?? ""}
              onChange={(v) => set("display_name", v)}
            />
            <TextField
              label={t("ps.proxy")}
              placeholder="sip:proxy.example.com;lr"
              value={settings.outbound_proxy ?? ""}
              onChange={(v) => set("outbound_proxy", v)}
            />
            <label className="field">
              <span>{t("ps.stun")}</span>
              <textarea
                className="input"
                rows={2}
                value={stun}
                onChange={(e) => setStun(e.target.value)}
                data-testid="phone-stun"
              />
            </label>
          </details>
          <label className="check">
            <input
              type="checkbox"
              checked={settings.auto_answer}
              onChange={(e) => set("auto_answer", e.target.checked)}
            />
            {t("ps.autoAnswer")}
          </label>
        </fieldset>
        <fieldset>
          <legend>{t("ps.sound")}</legend>
          {devices === null ? (
            <p className="muted">{t("ps.lookingForDevices")}</p>
          ) : (
            <>
              {deviceSelect(t("ps.microphone"), "input_device", devices.inputs, "phone-input")}
              {deviceSelect(t("ps.speaker"), "output_device", devices.outputs, "phone-output")}
              {deviceSelect(t("ps.ringOn"), "ringtone_device", devices.outputs, "phone-ringtone")}
            </>
          )}
          <label className="check">
            <input
              type="checkbox"
              checked={settings.echo_cancellation}
              onChange={(e) => set("echo_cancellation", e.target.checked)}
            />
            {t("ps.echo")}
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={settings.noise_suppression}
              onChange={(e) => set("noise_suppression", e.target.checked)}
            />
            {t("ps.noise")}
          </label>
        </fieldset>
        {error && (
          <ErrorBanner {...error} testId="phone-settings-error" />
        )}
        <div className="dialog-actions">
          <button type="button" className="btn btn-secondary" onClick={onClose}>
            {t("action.cancel")}
          </button>
          <button type="submit" className="btn btn-primary" disabled={saving} data-testid="phone-save">
            {saving ? t("action.saving") : t("action.save")}
          </button>
        </div>
      </form>
    </div>
  );
}
