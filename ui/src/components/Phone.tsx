import { useEffect, useState } from "react";

import type { CallView } from "../bindings/CallView";
import type { Lead } from "../bindings/Lead";
import type { PhoneStatus } from "../bindings/PhoneStatus";
import { formatPhone, statusLabel } from "../format";
import { useNow } from "../hooks";
import { useLanguage, useT } from "../i18n";
import {
  callTimer,
  phoneStateLabel,
  qualityGrade,
  qualityText,
  qualityWords,
  stageText,
  type PhoneControls,
} from "../phone";
import { ErrorBanner } from "./ErrorBanner";

/** The header's phone pill: state at a glance, the settings one click away. */
export function PhoneIndicator({ status, onOpenSettings }: { status: PhoneStatus | null; onOpenSettings: () => void }) {
  const lang = useLanguage();
  const t = useT();
  const state = status?.state ?? "off";
  const tone =
    state === "ready" ? "pill-online" : state === "connecting" || state === "retrying" ? "pill-busy" : "pill-offline";
  const title = [status?.detail, status?.audio_blocked ? t("phone.audioBlocked") : null]
    .filter(Boolean)
    .join(" ");
  return (
    <button
      type="button"
      className={`pill pill-button ${tone}`}
      onClick={onOpenSettings}
      title={title || t("phone.settings")}
      data-testid="phone-state"
      data-state={status ? state : "unknown"}
    >
      <span className="pill-dot" aria-hidden="true" />
      {status ? phoneStateLabel(state, lang) : t("phone.unknown")}
    </button>
  );
}

/** Who a call is with: the lead's name when known, else the number. */
function party(call: CallView, lead: Lead | undefined): { name: string; sub: string } {
  const number = call.remote.startsWith("+") ? formatPhone(call.remote) : call.remote;
  if (lead) return { name: lead.name, sub: formatPhone(lead.phone) };
  return { name: call.remote_name ?? number, sub: call.remote_name ? number : "" };
}

const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

function ActiveCall({ call, lead, phone }: { call: CallView; lead: Lead | undefined; phone: PhoneControls }) {
  const lang = useLanguage();
  const t = useT();
  const now = useNow(1000);
  const [pad, setPad] = useState(false);
  const [transfer, setTransfer] = useState<string | null>(null);
  const who = party(call, lead);
  const talking = call.stage === "connected" || call.stage === "on_hold";
  const act = phone.act;
  const q = call.quality;
  return (
    <div className="call" data-testid="active-call" data-stage={call.stage} role="region" aria-label={t("call.with", { name: who.name })}>
      <div className="call-who">
        <div className="call-name" data-testid="call-name">
          {who.name}
        </div>
        <div className="call-sub">
          {who.sub && <span className="phone">{who.sub}</span>}
          <span data-testid="call-stage">{stageText(call, lang)}</span>
          {talking && (
            <span className="call-timer" data-testid="call-timer">
              {callTimer(call, now)}
            </span>
          )}
          {q && (
            <span className={`quality quality-${qualityGrade(q)}`} title={qualityText(q, lang)} data-testid="call-quality">
              <span className="quality-bars" aria-hidden="true">
                <i />
                <i />
                <i />
              </span>
              {qualityWords(qualityGrade(q), lang)}
            </span>
          )}
        </div>
        {phone.model.received && talking && (
          <div className="call-sub" data-testid="dtmf-received">
            {t("call.received", { digits: phone.model.received })}
          </div>
        )}
      </div>
      <div className="call-actions">
        {talking && (
          <>
            <button
              type="button"
              className={`btn btn-secondary ${call.muted ? "btn-on" : ""}`}
              aria-pressed={call.muted}
              onClick={() => act(call.call_id, { action: call.muted ? "unmute" : "mute" })}
            >
              {call.muted ? t("call.unmute") : t("call.mute")}
            </button>
            <button
              type="button"
              className={`btn btn-secondary ${call.held_here ? "btn-on" : ""}`}
              aria-pressed={call.held_here}
              onClick={() => act(call.call_id, { action: call.held_here ? "resume" : "hold" })}
            >
              {call.held_here ? t("call.resume") : t("call.hold")}
            </button>
            <button type="button" className="btn btn-secondary" aria-expanded={pad} onClick={() => setPad(!pad)}>
              {t("call.keypad")}
            </button>
            <button type="button" className="btn btn-secondary" onClick={() => setTransfer(transfer === null ? "" : null)}>
              {t("call.transfer")}
            </button>
          </>
        )}
        <button
          type="button"
          className="btn btn-danger"
          onClick={() => act(call.call_id, { action: "hang_up" })}
          data-testid="hang-up"
        >
          {call.stage === "dialing" || call.stage === "ringing" ? t("action.cancel") : t("call.hangUp")}
        </button>
      </div>
      {pad && talking && (
        <div className="keypad" role="group" aria-label={t("call.keypad")} data-testid="keypad">
          {KEYS.map((k) => (
            <button
              key={k}
              type="button"
              className="btn btn-secondary"
              onClick={() => act(call.call_id, { action: "dtmf", digits: k })}
            >
              {k}
            </button>
          ))}
        </div>
      )}
      {transfer !== null && talking && (
        <form
          className="transfer"
          onSubmit={(e) => {
            e.preventDefault();
            if (transfer.trim()) act(call.call_id, { action: "transfer", target: transfer.trim() });
          }}
        >
          <input
            className="input"
            aria-label={t("call.transferTo")}
            placeholder={t("call.transferPlaceholder")}
            value={transfer}
            onChange={(e) => setTransfer(e.target.value)}
          />
          <button type="submit" className="btn btn-primary" disabled={!transfer.trim()}>
            {t("call.transfer")}
          </button>
        </form>
      )}
    </div>
  );
}

/** The incoming call, over everything: who is calling (their lead card when the number is known). */
function IncomingCall({ call, lead, phone }: { call: CallView; lead: Lead | undefined; phone: PhoneControls }) {
  const lang = useLanguage();
  const t = useT();
  const who = party(call, lead);
  return (
    <div className="incoming-backdrop">
      <div className="incoming" role="alertdialog" aria-label={t("call.stage.incoming")} data-testid="incoming-call">
        <div className="incoming-title">{t("call.stage.incoming")}</div>
        <div className="call-name">{who.name}</div>
        {who.sub && <div className="phone">{who.sub}</div>}
        {lead ? (
          <dl className="lead-card" data-testid="incoming-lead">
            <dt>{t("lead.status")}</dt>
            <dd>{statusLabel(lead.status, lang)}</dd>
            {lead.city && (
              <>
                <dt>{t("lead.city")}</dt>
                <dd>{lead.city}</dd>
              </>
            )}
            {lead.interest && (
              <>
                <dt>{t("lead.interest")}</dt>
                <dd>{lead.interest}</dd>
              </>
            )}
          </dl>
        ) : (
          <p className="muted">{t("call.notYourLead")}</p>
        )}
        <div className="incoming-actions">
          <button type="button" className="btn btn-danger" onClick={() => phone.act(call.call_id, { action: "reject" })}>
            {t("call.decline")}
          </button>
          <button
            type="button"
            className="btn btn-ok"
            autoFocus
            onClick={() => phone.act(call.call_id, { action: "answer" })}
          >
            {t("call.answer")}
          </button>
        </div>
      </div>
    </div>
  );
}

/** Any number, typed. */
function DialBox({ phone }: { phone: PhoneControls }) {
  const t = useT();
  const [number, setNumber] = useState("");
  return (
    <form
      className="dialbox"
      onSubmit={(e) => {
        e.preventDefault();
        if (number.trim()) {
          void phone.callNumber(number.trim());
          setNumber("");
        }
      }}
    >
      <input
        className="input"
        type="tel"
        aria-label={t("dial.label")}
        placeholder={t("dial.placeholder")}
        value={number}
        onChange={(e) => setNumber(e.target.value)}
        data-testid="dial-number"
      />
      <button type="submit" className="btn btn-secondary" disabled={!number.trim()}>
        {t("action.call")}
      </button>
    </form>
  );
}

/** Calls going on, the incoming popup, and what the last call or click-to-call left to say. */
export function CallPanel({ phone }: { phone: PhoneControls }) {
  const lang = useLanguage();
  const t = useT();
  const { model } = phone;
  const incoming = model.calls.find((c) => c.direction === "inbound" && c.stage === "ringing");
  const active = model.calls.filter((c) => c !== incoming);
  const current = active[0];

  // Ctrl+Enter answers, Ctrl+D declines, Ctrl+H hangs up, Ctrl+M mutes (see shortcuts.ts); from any field.
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (!e.ctrlKey || e.altKey || e.metaKey || e.shiftKey) return;
      const key = e.key.toLowerCase();
      let done = true;
      if (key === "enter" && incoming) phone.act(incoming.call_id, { action: "answer" });
      else if (key === "d" && incoming) phone.act(incoming.call_id, { action: "reject" });
      else if (key === "h" && current) phone.act(current.call_id, { action: "hang_up" });
      else if (key === "m" && current && (current.stage === "connected" || current.stage === "on_hold"))
        phone.act(current.call_id, { action: current.muted ? "unmute" : "mute" });
      else done = false;
      if (done) e.preventDefault();
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [incoming, current, phone]);
  const ended = model.ended;
  const endedLead = ended?.lead ?? null;
  return (
    <section className="call-panel" aria-label={t("phone.panel")}>
      {active.map((c) => (
        <ActiveCall key={c.call_id} call={c} lead={model.leads[c.call_id]} phone={phone} />
      ))}
      {incoming && <IncomingCall call={incoming} lead={model.leads[incoming.call_id]} phone={phone} />}
      {ended && (
        <ErrorBanner title={stageText(ended.call, lang)} detail={ended.call.problem} testId="call-problem">
          {ended.call.suggests_click_to_call && endedLead && (
            <button type="button" className="btn btn-secondary banner-action" onClick={() => phone.callViaMobile(endedLead)}>
              {t("call.viaMyMobile", { name: endedLead.name })}
            </button>
          )}
          <button type="button" className="banner-close" aria-label={t("action.dismiss")} onClick={phone.dismiss}>
            ×
          </button>
        </ErrorBanner>
      )}
      {model.notice && (
        <div
          className={`banner ${model.notice.tone === "error" ? "banner-error" : "banner-info"}`}
          role={model.notice.tone === "error" ? "alert" : "status"}
          data-testid="phone-notice"
        >
          {model.notice.text}
          <button type="button" className="banner-close" aria-label={t("action.dismiss")} onClick={phone.dismiss}>
            ×
          </button>
        </div>
      )}
      {active.length === 0 && <DialBox phone={phone} />}
    </section>
  );
}
