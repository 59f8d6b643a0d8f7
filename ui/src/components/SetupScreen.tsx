import { useContext, useEffect, useRef, useState } from "react";

import type { Language } from "../bindings/Language";
import type { Provisioned } from "../bindings/Provisioned";
import type { MicStart } from "../bindings/MicStart";
import type { NotificationCheck } from "../bindings/NotificationCheck";
import type { ServerCheck } from "../bindings/ServerCheck";
import type { ServerProblem } from "../bindings/ServerProblem";
import type { SetupState } from "../bindings/SetupState";
import type { StepOutcome } from "../bindings/StepOutcome";
import type { AudioDevice } from "../bindings/AudioDevice";
import { describeError } from "../errors";
import { useLanguage } from "../i18n";
import type { Api } from "../ipc";
import { describeProblem, type SetupKey, useSetupT } from "../setupText";
import { SetupContext } from "../setupContext";
import { Logo } from "./Logo";
import "../setup.css";

interface Props {
  api: Api;
  state: SetupState;
  /** Signed in already (the setup opened again from the preferences): its server is kept as it is. */
  signedInServer: string | null;
  onLanguage: (language: Language) => void;
  onDone: (state: SetupState) => void;
  /** Closes a setup opened again without saving. */
  onCancel?: () => void;
}

type Step = 0 | 1 | 2;
const STEPS: SetupKey[] = ["setup.step.server", "setup.step.microphone", "setup.step.notifications"];

/** Each language by its own name. */
const LANGUAGES: Array<[Language, string]> = [
  ["en", "English"],
  ["hi", "हिन्दी"],
];

/** How long typing must pause before the address is checked on its own. */
const CHECK_AFTER_MS = 700;

/**
 * The first-run setup: the server (typed and checked live, or set by a provisioning file and locked), the
 * microphone (a live level meter from the real device, a test tone), notifications (a real one, and "did
 * you see it?"). Every step can be passed over; the result is kept and the next start goes to the sign-in.
 */
export function SetupScreen({ api, state, signedInServer, onLanguage, onDone, onCancel }: Props) {
  const lang = useLanguage();
  const t = useSetupT();
  const [step, setStep] = useState<Step>(0);
  const provisioned = state.provisioned;
  const locked = provisioned !== null || signedInServer !== null;
  const [url, setUrl] = useState(signedInServer ?? state.server_url ?? "");
  const [allowHttp, setAllowHttp] = useState(state.done?.allow_http ?? false);
  const [checking, setChecking] = useState(false);
  const [passed, setPassed] = useState<ServerCheck | null>(null);
  const [problem, setProblem] = useState<ServerProblem | null>(null);
  const asked = useRef(0);

  const [input, setInput] = useState<string | null>(state.done?.input_device ?? null);
  const [output, setOutput] = useState<string | null>(null);
  const [devices, setDevices] = useState<{ inputs: AudioDevice[]; outputs: AudioDevice[] }>({ inputs: [], outputs: [] });
  const [mic, setMic] = useState<MicStart | null>(null);
  const [meter, setMeter] = useState(0);
  const [heard, setHeard] = useState(false);
  const [playing, setPlaying] = useState(false);

  const [notice, setNotice] = useState<NotificationCheck | null>(null);
  const [sending, setSending] = useState(false);
  const [seen, setSeen] = useState<boolean | null>(null);

  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string | null>(null);

  // A provisioned language applies from the first screen, before anything was chosen.
  useEffect(() => {
    const provisionedLanguage = provisioned?.settings.language;
    if (provisionedLanguage && state.done === null) onLanguage(provisionedLanguage);
    // Once, at the start.
  }, []);

  async function check(address: string, http: boolean) {
    if (!api.checkServer) return;
    const id = ++asked.current;
    setChecking(true);
    setPassed(null);
    setProblem(null);
    try {
      const verdict = await api.checkServer(address, http);
      if (id !== asked.current) return;
      if (verdict.outcome === "passed") setPassed(verdict.check);
      else setProblem(verdict.problem);
    } catch (e) {
      if (id !== asked.current) return;
      setProblem({ kind: "unreachable", host: address, detail: describeError(e, lang).detail });
    } finally {
      if (id === asked.current) setChecking(false);
    }
  }

  // Checked live: when typing pauses on something that looks like an address, and at once when locked.
  useEffect(() => {
    if (locked) {
      void check(url, allowHttp);
      return;
    }
    if (!/^https?:\/\/[^/\s]+/i.test(url.trim())) {
      asked.current++;
      setChecking(false);
      setPassed(null);
      setProblem(null);
      return;
    }
    const timer = setTimeout(() => void check(url, allowHttp), CHECK_AFTER_MS);
    return () => clearTimeout(timer);
  }, [url, allowHttp]);

  // The microphone test runs while its step shows.
  useEffect(() => {
    if (step !== 1 || !api.startMicTest) return;
    let stop = false;
    let unlisten: (() => void) | undefined;
    setMic(null);
    setMeter(0);
    (async () => {
      if (api.onMicLevel) {
        const u = await api.onMicLevel((level) => {
          setMeter(level.meter);
          if (level.heard) setHeard(true);
        });
        if (stop) u();
        else unlisten = u;
      }
      if (!stop) setMic(await api.startMicTest!(input));
    })().catch((e: unknown) => {
      if (!stop) setMic({ outcome: "failed", detail: describeError(e, lang).detail });
    });
    return () => {
      stop = true;
      unlisten?.();
      void api.stopMicTest?.();
    };
  }, [step, input]);

  useEffect(() => {
    if (step !== 1) return;
    api
      .audioDevices()
      .then((d) => setDevices({ inputs: d.inputs, outputs: d.outputs }))
      .catch(() => {});
  }, [step]);

  async function playTone() {
    if (!api.playTestTone) return;
    setPlaying(true);
    try {
      await api.playTestTone(output);
    } catch {
      // The tone is a help, not a check: nothing to report beyond silence.
    } finally {
      setPlaying(false);
    }
  }

  async function sendNotification() {
    if (!api.testNotification) return;
    setSending(true);
    setSeen(null);
    try {
      setNotice(await api.testNotification(t("notify.title"), t("notify.body")));
    } catch (e) {
      setNotice({ service: null, sent: false, error: describeError(e, lang).detail });
    } finally {
      setSending(false);
    }
  }

  async function finish() {
    if (!api.finishSetup) return;
    setSaving(true);
    setSaveError(null);
    const microphone: StepOutcome = heard ? "passed" : mic === null ? "skipped" : "failed";
    const notifications: StepOutcome = seen === true ? "passed" : notice === null ? "skipped" : "failed";
    try {
      const done = await api.finishSetup({
        server_url: passed?.url ?? url.trim(),
        allow_http: allowHttp,
        server_version: passed?.version,
        microphone,
        input_device: input ?? undefined,
        output_device: output ?? undefined,
        notifications,
      });
      // The language chosen here is the desk's from now on.
      const prefs = await api.preferences();
      if (prefs.language !== lang) await api.savePreferences({ ...prefs, language: lang });
      onDone(done);
    } catch (e) {
      setSaveError(describeError(e, lang).detail);
      setSaving(false);
    }
  }

  const plainHttpRefused = problem?.kind === "bad_address" && problem.reason === "plain_http";
  const canLeaveServer = passed !== null || locked;
  const who = provisioned?.settings.managed_by ?? t("server.lockedAdmin");

  return (
    <div className="login-page">
      <section className="login-card setup-card" aria-labelledby="setup-title" data-testid="setup">
        <div className="setup-head">
          <div className="login-brand">
            <Logo size={40} />
            <div>
              <h1 id="setup-title" className="brand-name">
                {t("setup.title")}
              </h1>
              <div className="muted">{t("setup.intro")}</div>
            </div>
          </div>
          <label className="setup-language">
            <span>{t("setup.language")}</span>
            <select value={lang} onChange={(e) => onLanguage(e.target.value as Language)} data-testid="setup-language">
              {LANGUAGES.map(([value, label]) => (
                <option key={value} value={value} lang={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
        </div>

        <ol className="setup-steps" aria-label={t("setup.steps")}>
          {STEPS.map((key, i) => (
            <li key={key} aria-current={i === step ? "step" : undefined} className={i < step ? "done" : undefined}>
              <span className="setup-step-no">{i + 1}</span> {t(key)}
            </li>
          ))}
        </ol>

        {step === 0 && (
          <div data-testid="setup-server">
            {state.provisioning_fault && (
              <div className="banner banner-error" role="alert" data-testid="setup-provisioning-fault">
                <strong>{t("server.fault")}</strong>
                <div>
                  {t("server.faultDetail", {
                    file: state.provisioning_fault.file,
                    message: state.provisioning_fault.message,
                  })}
                </div>
              </div>
            )}
            <label className="field">
              <span>{t("server.label")}</span>
              <input
                className="input"
                type="url"
                value={url}
                readOnly={locked}
                aria-readonly={locked}
                placeholder="https://crm.yourstore.in"
                onChange={(e) => setUrl(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" && !locked) void check(url, allowHttp);
                }}
                data-testid="setup-url"
                aria-describedby="setup-url-note"
              />
            </label>
            <p id="setup-url-note" className="muted setup-note" data-testid="setup-url-note">
              {provisioned
                ? t("server.locked", { who, file: provisioned.file })
                : signedInServer !== null
                  ? t("server.signedIn")
                  : t("server.hint")}
            </p>
            {provisioned?.settings.team && <p className="setup-note">{t("server.team", { team: provisioned.settings.team })}</p>}
            {!locked && (
              <button type="button" className="btn" onClick={() => void check(url, allowHttp)} disabled={checking} data-testid="setup-check">
                {t("server.check")}
              </button>
            )}
            <div aria-live="polite" className="setup-result">
              {checking && <p className="muted">{t("server.checking")}</p>}
              {passed && (
                <div className="banner banner-ok" data-testid="setup-server-ok">
                  ✓ {t("server.ok", { version: passed.version, url: passed.url })}
                  {passed.plain_http && <div>{t("server.plainHttp")}</div>}
                </div>
              )}
              {problem && (
                <div className="banner banner-error" data-testid="setup-server-problem" data-kind={problem.kind}>
                  <strong>{t("problem.title")}</strong>
                  <div>{describeProblem(problem, lang)}</div>
                  {locked && <div>{t("server.lockedAnyway")}</div>}
                </div>
              )}
            </div>
            {(plainHttpRefused || allowHttp) && !locked && (
              <label className="check">
                <input
                  type="checkbox"
                  checked={allowHttp}
                  onChange={(e) => setAllowHttp(e.target.checked)}
                  data-testid="setup-allow-http"
                />{" "}
                {t("server.acceptHttp")}
              </label>
            )}
          </div>
        )}

        {step === 1 && (
          <div data-testid="setup-microphone">
            <label className="field">
              <span>{t("mic.label")}</span>
              <select
                className="input"
                value={input ?? ""}
                onChange={(e) => {
                  setHeard(false);
                  setInput(e.target.value || null);
                }}
                data-testid="setup-mic-device"
              >
                <option value="">{t("mic.default")}</option>
                {devices.inputs.map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name}
                  </option>
                ))}
              </select>
            </label>
            {mic === null && <p className="muted">{t("mic.starting")}</p>}
            {mic?.outcome === "no_microphone" && (
              <div className="banner banner-warn-text" role="status" data-testid="setup-no-mic">
                {t("mic.none")}
              </div>
            )}
            {mic?.outcome === "failed" && (
              <div className="banner banner-error" role="alert" data-testid="setup-mic-failed">
                {t("mic.failed", { detail: mic.detail })}
              </div>
            )}
            {mic?.outcome === "started" && (
              <>
                <p>{t("mic.say")}</p>
                <div
                  className="setup-meter"
                  role="meter"
                  aria-label={t("mic.level")}
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-valuenow={Math.round(meter * 100)}
                  data-testid="setup-meter"
                >
                  <div className={`setup-meter-bar${heard ? " heard" : ""}`} style={{ width: `${Math.round(meter * 100)}%` }} />
                </div>
                <p aria-live="polite" className={heard ? "setup-pass" : "muted"} data-testid="setup-mic-result">
                  {heard ? `✓ ${t("mic.heard")}` : t("mic.notYet")}
                </p>
              </>
            )}
            <label className="field">
              <span>{t("speaker.label")}</span>
              <select
                className="input"
                value={output ?? ""}
                onChange={(e) => setOutput(e.target.value || null)}
                data-testid="setup-speaker-device"
              >
                <option value="">{t("mic.default")}</option>
                {devices.outputs.map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name}
                  </option>
                ))}
              </select>
            </label>
            <button type="button" className="btn" onClick={() => void playTone()} disabled={playing} data-testid="setup-tone">
              {playing ? t("speaker.playing") : t("speaker.test")}
            </button>{" "}
            <span className="muted">{t("speaker.hint")}</span>
          </div>
        )}

        {step === 2 && (
          <div data-testid="setup-notifications">
            <p>{t("notify.intro")}</p>
            <button type="button" className="btn" onClick={() => void sendNotification()} disabled={sending} data-testid="setup-notify">
              {sending ? t("notify.sending") : t("notify.send")}
            </button>
            <div aria-live="polite" className="setup-result">
              {notice?.sent && (
                <>
                  <p data-testid="setup-notify-service">{t("notify.service", { service: notice.service ?? "" })}</p>
                  {seen === null && (
                    <div className="setup-question">
                      <span>{t("notify.question")}</span>{" "}
                      <button type="button" className="btn btn-primary" onClick={() => setSeen(true)} data-testid="setup-notify-seen">
                        {t("notify.yes")}
                      </button>{" "}
                      <button type="button" className="btn" onClick={() => setSeen(false)} data-testid="setup-notify-unseen">
                        {t("notify.no")}
                      </button>
                    </div>
                  )}
                  {seen === true && <p className="setup-pass">✓ {t("notify.seen")}</p>}
                </>
              )}
              {notice && !notice.sent && (
                <div className="banner banner-warn-text" role="status" data-testid="setup-no-notifications">
                  {t("notify.noService")}
                </div>
              )}
              {notice && !notice.sent && (
                <div data-testid="setup-notify-help">
                  <p>{t("notify.noServiceHelp")}</p>
                </div>
              )}
              {seen === false && notice?.sent && (
                <div data-testid="setup-notify-help">
                  <p>{t("notify.help")}</p>
                  <ul>
                    <li>{t("notify.gnome")}</li>
                    <li>{t("notify.kde")}</li>
                    <li>{t("notify.xfce")}</li>
                  </ul>
                  <p className="muted">{t("notify.retry")}</p>
                </div>
              )}
            </div>
            {saveError && (
              <div className="banner banner-error" role="alert" data-testid="setup-save-error">
                <strong>{t("setup.saveFailed")}</strong>
                <div>{saveError}</div>
              </div>
            )}
          </div>
        )}

        <div className="setup-nav">
          <span className="muted">{t("setup.stepOf", { n: step + 1 })}</span>
          <span className="setup-nav-buttons">
            {onCancel && (
              <button type="button" className="btn" onClick={onCancel} data-testid="setup-cancel">
                {t("setup.cancel")}
              </button>
            )}
            {step > 0 && (
              <button type="button" className="btn" onClick={() => setStep((step - 1) as Step)} data-testid="setup-back">
                {t("setup.back")}
              </button>
            )}
            {step < 2 ? (
              <button
                type="button"
                className="btn btn-primary"
                onClick={() => setStep((step + 1) as Step)}
                disabled={step === 0 && !canLeaveServer}
                data-testid="setup-next"
              >
                {step === 1 && !heard ? t("setup.skip") : t("setup.next")}
              </button>
            ) : (
              <button
                type="button"
                className="btn btn-primary"
                onClick={() => void finish()}
                disabled={saving}
                data-testid="setup-finish"
              >
                {saving ? t("setup.finishing") : t("setup.finish")}
              </button>
            )}
          </span>
        </div>
      </section>
    </div>
  );
}

/** "Set up this computer again", where the shell has a setup (the sign-in, the preferences). */
export function SetupLink({ before }: { before?: () => void }) {
  const open = useContext(SetupContext);
  const t = useSetupT();
  if (!open) return null;
  return (
    <button
      type="button"
      className="setup-link"
      title={t("setup.again.hint")}
      onClick={() => {
        before?.();
        open();
      }}
      data-testid="setup-again"
    >
      {t("setup.again")}
    </button>
  );
}

/** Who set the server, next to a locked address. */
export function ProvisionedNote({ provisioned }: { provisioned: Provisioned }) {
  const t = useSetupT();
  const who = provisioned.settings.managed_by ?? t("server.lockedAdmin");
  return (
    <p className="muted setup-note" data-testid="provisioned-note">
      {t("server.locked", { who, file: provisioned.file })}
      {provisioned.settings.team && ` ${t("server.team", { team: provisioned.settings.team })}`}
    </p>
  );
}
