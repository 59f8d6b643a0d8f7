import { useEffect, useState } from "react";

import type { AudioDeviceList } from "../bindings/AudioDeviceList";
import type { PhoneSettings } from "../bindings/PhoneSettings";
import type { PhoneStatus } from "../bindings/PhoneStatus";
import { describeError, type ErrorText } from "../errors";
import type { Api } from "../ipc";
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
        if (!cancelled) setError(describeError(e));
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
  }, [api]);

  if (settings === null) {
    return (
      <div className="dialog-backdrop">
        <div className="dialog" role="dialog" aria-label="Phone settings">
          {error ? (
            <div className="banner banner-error" role="alert">
              <strong>{error.title}.</strong> {error.detail}
            </div>
          ) : (
            <p className="muted">Loading phone settings…</p>
          )}
          <button type="button" className="btn btn-secondary" onClick={onClose}>
            Close
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
      setError(describeError(err));
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
        <option value="">{key === "ringtone_device" ? "Same as the speaker" : "System default"}</option>
        {list.map((d) => (
          <option key={d.id} value={d.id}>
            {d.name}
            {d.is_default ? " (default)" : ""}
          </option>
        ))}
        {settings[key] && !list.some((d) => d.id === settings[key]) && (
          <option value={settings[key] ?? ""}>{settings[key]} (not plugged in)</option>
        )}
      </select>
    </label>
  );

  return (
    <div className="dialog-backdrop">
      <form className="dialog" role="dialog" aria-label="Phone settings" onSubmit={save} data-testid="phone-settings">
        <h2>Phone</h2>
        <label className="check">
          <input
            type="checkbox"
            checked={settings.enabled}
            onChange={(e) => set("enabled", e.target.checked)}
            data-testid="phone-enabled"
          />
          Make and take calls on this computer (off: calls ring your mobile first)
        </label>
        <fieldset disabled={!settings.enabled}>
          <legend>Account (from your telephony provider)</legend>
          <TextField
            label="Server"
            value={settings.ws_url}
            onChange={(v) => set("ws_url", v)}
            testId="phone-ws-url"
          />
          <TextField
            label="SIP domain"
            placeholder="1234.voip.exotel.com"
            value={settings.domain}
            onChange={(v) => set("domain", v)}
            testId="phone-domain"
          />
          <TextField
            label="SIP user"
            value={settings.username}
            onChange={(v) => set("username", v)}
            testId="phone-username"
          />
          <TextField
            label="Password"
            type="password"
            autoComplete="new-password"
            placeholder={hasPassword ? "Saved in the system keyring (type to replace)" : ""}
            value={password}
            onChange={setPassword}
            testId="phone-password"
          />
          <details>
            <summary>Advanced</summary>
            <TextField
              label="Authentication user (if different)"
              value={settings.auth_username ?? ""}
              onChange={(v) => set("auth_username", v)}
            />
            <TextField
              label="Name shown to callers"
              value={settings.display_name ?? ""}
              onChange={(v) => set("display_name", v)}
            />
            <TextField
              label="Outbound proxy"
              placeholder="sip:proxy.example.com;lr"
              value={settings.outbound_proxy ?? ""}
              onChange={(v) => set("outbound_proxy", v)}
            />
            <label className="field">
              <span>STUN servers (one per line)</span>
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
            Answer incoming calls at once (for calls the provider connects to you)
          </label>
        </fieldset>
        <fieldset>
          <legend>Sound</legend>
          {devices === null ? (
            <p className="muted">Looking for sound devices…</p>
          ) : (
            <>
              {deviceSelect("Microphone", "input_device", devices.inputs, "phone-input")}
              {deviceSelect("Speaker or headset", "output_device", devices.outputs, "phone-output")}
              {deviceSelect("Ring on", "ringtone_device", devices.outputs, "phone-ringtone")}
            </>
          )}
          <label className="check">
            <input
              type="checkbox"
              checked={settings.echo_cancellation}
              onChange={(e) => set("echo_cancellation", e.target.checked)}
            />
            Echo cancellation
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={settings.noise_suppression}
              onChange={(e) => set("noise_suppression", e.target.checked)}
            />
            Noise suppression
          </label>
        </fieldset>
        {error && (
          <div className="banner banner-error" role="alert" data-testid="phone-settings-error">
            <strong>{error.title}.</strong> {error.detail}
          </div>
        )}
        <div className="dialog-actions">
          <button type="button" className="btn btn-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={saving} data-testid="phone-save">
            {saving ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
    </div>
  );
}
