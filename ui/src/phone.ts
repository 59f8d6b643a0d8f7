// The softphone as the window knows it: the shell's status and events folded into one state, and what the
// call bar shows of it (stage words, timer, quality grade). No network and no SIP here: the shell does both.

import { useCallback, useEffect, useReducer, useRef } from "react";

import type { CallEnd } from "./bindings/CallEnd";
import type { CallQuality } from "./bindings/CallQuality";
import type { CallView } from "./bindings/CallView";
import type { DialResult } from "./bindings/DialResult";
import type { FallbackWhy } from "./bindings/FallbackWhy";
import type { Lead } from "./bindings/Lead";
import type { PhoneEvent } from "./bindings/PhoneEvent";
import type { PhoneState } from "./bindings/PhoneState";
import type { PhoneStatus } from "./bindings/PhoneStatus";
import { describeError } from "./errors";
import { type Key, type Language, translate, useLanguage } from "./i18n";
import type { Api } from "./ipc";

/** A call that ended with something to say (refused, failed), kept on screen until dismissed. */
export interface EndedCall {
  call: CallView;
  lead: Lead | null;
}

export interface PhoneModel {
  status: PhoneStatus | null;
  /** Calls going on, by id, in the order they began. */
  calls: CallView[];
  /** The lead of each call the window knows one for (incoming: matched by number; outgoing: the one dialled). */
  leads: Record<string, Lead>;
  /** The last call that ended with a problem. */
  ended: EndedCall | null;
  /** One line about what just happened ("Your mobile rings first…", a failure). */
  notice: { tone: "info" | "error"; text: string } | null;
  /** Digits the far end pressed in the current call. */
  received: string;
  /** Calls known to have ended: a late, older view of one (a command's answer that raced its end) must not
   * bring it back. */
  gone: Record<string, true>;
}

export const initialPhone: PhoneModel = {
  status: null,
  calls: [],
  leads: {},
  ended: null,
  notice: null,
  received: "",
  gone: {},
};

/** `lang` is the language of the notices the action makes (English when not given). */
export type PhoneAction =
  | { type: "status"; status: PhoneStatus }
  | { type: "event"; event: PhoneEvent; lang?: Language }
  | { type: "dialled"; result: DialResult; lead: Lead | null; lang?: Language }
  | { type: "notice"; tone: "info" | "error"; text: string }
  | { type: "dismiss" };

function upsert(calls: CallView[], call: CallView, gone: Record<string, true>): CallView[] {
  const i = calls.findIndex((c) => c.call_id === call.call_id);
  if (call.stage === "ended") return i < 0 ? calls : calls.filter((c) => c.call_id !== call.call_id);
  if (gone[call.call_id]) return calls;
  if (i < 0) return [...calls, call];
  const next = calls.slice();
  next[i] = call;
  return next;
}

function markGone(gone: Record<string, true>, call: CallView): Record<string, true> {
  return call.stage === "ended" && !gone[call.call_id] ? { ...gone, [call.call_id]: true } : gone;
}

/** Folds one status or event into the model. Pure, so the window's behaviour is testable without a shell. */
export function phoneReducer(state: PhoneModel, action: PhoneAction): PhoneModel {
  switch (action.type) {
    case "status": {
      // A command's answer and the events race: keep the newer state, and take the calls only from a status
      // newer than the one shown (the call events keep them current in between).
      const shown = state.status;
      if (shown && action.status.version < shown.version) return state;
      const newer = !shown || action.status.version > shown.version;
      const listed = action.status.calls.filter((c) => c.stage !== "ended" && !state.gone[c.call_id]);
      // The first status can arrive after a call placed at once was answered: that call stays (its events
      // keep it current). A later status lists every live call, so it replaces them.
      const placedBefore = shown ? [] : state.calls.filter((c) => !listed.some((l) => l.call_id === c.call_id));
      return {
        ...state,
        status: action.status,
        calls: newer ? [...listed, ...placedBefore] : state.calls,
      };
    }
    case "dialled": {
      const r = action.result;
      if (r.via === "softphone") {
        const leads = action.lead ? { ...state.leads, [r.call.call_id]: action.lead } : state.leads;
        // The call's events may have come first; they are newer than this answer.
        const known = state.calls.some((c) => c.call_id === r.call.call_id);
        const calls = known ? state.calls : upsert(state.calls, r.call, state.gone);
        return { ...state, calls, leads, ended: null, notice: null, received: "" };
      }
      const lang = action.lang ?? "en";
      const who = action.lead?.name ?? translate(lang, "phone.theLead");
      const why = FALLBACK_KEYS[r.why];
      return {
        ...state,
        ended: null,
        notice: {
          tone: "info",
          text: translate(lang, "phone.viaMobile", { who, why: why ? translate(lang, why) : "" }),
        },
      };
    }
    case "notice":
      return { ...state, notice: { tone: action.tone, text: action.text } };
    case "dismiss":
      return { ...state, notice: null, ended: null };
    case "event": {
      const e = action.event;
      switch (e.kind) {
        case "status":
          return phoneReducer(state, { type: "status", status: e.status });
        case "incoming": {
          const leads = e.lead ? { ...state.leads, [e.call.call_id]: e.lead } : state.leads;
          return { ...state, calls: upsert(state.calls, e.call, state.gone), leads, received: "" };
        }
        case "call": {
          const call = e.call;
          const lead = state.leads[call.call_id] ?? null;
          let ended = state.ended;
          if (call.stage === "ended" && !state.gone[call.call_id] && (call.problem || call.suggests_click_to_call)) {
            ended = { call, lead };
          }
          return { ...state, calls: upsert(state.calls, call, state.gone), ended, gone: markGone(state.gone, call) };
        }
        case "dtmf":
          return { ...state, received: (state.received + e.digit).slice(-24) };
        case "journal_failed":
          return {
            ...state,
            notice: {
              tone: "error",
              text: translate(action.lang ?? "en", "phone.journalFailed", { message: e.message }),
            },
          };
      }
    }
  }
  return state;
}

/** Why a call went through the mobile (nothing to add when the telecaller asked for it). */
const FALLBACK_KEYS: Record<FallbackWhy, Key | null> = {
  not_registered: "phone.why.not_registered",
  no_microphone: "phone.why.no_microphone",
  audio_blocked: "phone.why.audio_blocked",
  asked: null,
};

const PHONE_STATE_KEYS: Record<PhoneState, Key> = {
  off: "phone.state.off",
  no_password: "phone.state.no_password",
  unavailable: "phone.state.unavailable",
  connecting: "phone.state.connecting",
  ready: "phone.state.ready",
  retrying: "phone.state.retrying",
  failed: "phone.state.failed",
};

/** The header's words for the phone's state, in `lang`. */
export function phoneStateLabel(state: PhoneState, lang: Language = "en"): string {
  return translate(lang, PHONE_STATE_KEYS[state]);
}

/** The header's words for the phone's state, in English (`phoneStateLabel` gives other languages). */
export const PHONE_STATE_LABELS = Object.fromEntries(
  (Object.keys(PHONE_STATE_KEYS) as PhoneState[]).map((s) => [s, phoneStateLabel(s)]),
) as Record<PhoneState, string>;

/** What the call bar says a call is doing, in `lang`. */
export function stageText(call: CallView, lang: Language = "en"): string {
  const t = (key: Key) => translate(lang, key);
  switch (call.stage) {
    case "dialing":
      return t("call.stage.dialing");
    case "ringing":
      return call.direction === "inbound" ? t("call.stage.incoming") : t("call.stage.ringing");
    case "connected":
      return call.muted ? t("call.stage.connectedMuted") : t("call.stage.connected");
    case "on_hold":
      return call.held_here ? t("call.stage.onHold") : t("call.stage.heldThere");
    case "ended":
      return endWords(call.end ?? "failed", lang);
  }
}

const END_KEYS: Record<CallEnd, Key> = {
  hung_up_here: "call.end.hung_up_here",
  hung_up_there: "call.end.hung_up_there",
  busy: "call.end.busy",
  no_answer: "call.end.no_answer",
  rejected: "call.end.rejected",
  cancelled: "call.end.cancelled",
  failed: "call.end.failed",
  interrupted: "call.end.interrupted",
};

/** How a call ended, in `lang` ("They hung up"). */
export function endWords(end: CallEnd, lang: Language = "en"): string {
  return translate(lang, END_KEYS[end]);
}

/** How a call ended, in English (`endWords` gives other languages). */
export const END_WORDS = Object.fromEntries(
  (Object.keys(END_KEYS) as CallEnd[]).map((e) => [e, endWords(e)]),
) as Record<CallEnd, string>;

/** `m:ss` (or `h:mm:ss`) since the call was answered; `0:00` before. */
export function callTimer(call: CallView, now: Date): string {
  if (!call.answered_at) return "0:00";
  const s = Math.max(0, Math.floor((now.getTime() - new Date(call.answered_at).getTime()) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export type QualityGrade = "good" | "fair" | "poor";

/** MOS 4 and up sounds good, 3.6 and up fair (ITU-T G.107's "some users dissatisfied" starts near 3.6). */
export function qualityGrade(q: CallQuality): QualityGrade {
  if (q.mos >= 4.0) return "good";
  if (q.mos >= 3.6) return "fair";
  return "poor";
}

/** The quality grade in a word or two, in `lang` ("Clear", "Poor line"). */
export function qualityWords(grade: QualityGrade, lang: Language = "en"): string {
  return translate(lang, grade === "good" ? "call.quality.good" : grade === "fair" ? "call.quality.fair" : "call.quality.poor");
}

/** The quality figures as one line for a tooltip, in `lang`. */
export function qualityText(q: CallQuality, lang: Language = "en"): string {
  const parts = [`MOS ${q.mos.toFixed(1)}`];
  if (q.rtt_ms != null) parts.push(translate(lang, "call.quality.delay", { ms: Math.round(q.rtt_ms) }));
  parts.push(translate(lang, "call.quality.jitter", { ms: Math.round(q.jitter_ms) }));
  parts.push(translate(lang, "call.quality.loss", { pct: (q.loss * 100).toFixed(1) }));
  if (q.codec) parts.push(q.codec);
  return parts.join(" · ");
}

/** The phone model, kept current from the shell, and the moves the window makes on it. Its notices are in
 * the app's language (from the language context). */
export function usePhone(api: Api) {
  const [model, dispatch] = useReducer(phoneReducer, initialPhone);
  // Read when a notice is made, so a change of language needs no new subscription.
  const language = useLanguage();
  const lang = useRef(language);
  lang.current = language;

  useEffect(() => {
    let unlisten: (() => void) | undefined;
    let cancelled = false;
    api
      .onPhone((event) => dispatch({ type: "event", event, lang: lang.current }))
      .then((u) => {
        if (cancelled) u();
        else unlisten = u;
        return api.phoneStatus();
      })
      .then((status) => {
        if (!cancelled) dispatch({ type: "status", status });
      })
      .catch((e: unknown) => {
        if (!cancelled) dispatch({ type: "notice", tone: "error", text: describeError(e, lang.current).detail });
      });
    return () => {
      cancelled = true;
      unlisten?.();
    };
  }, [api]);

  const fail = useCallback((e: unknown) => {
    const t = describeError(e, lang.current);
    dispatch({ type: "notice", tone: "error", text: `${t.title}: ${t.detail}` });
  }, []);

  // Every way of placing a call: ask the shell, fold the answer in, or show why it failed.
  const place = useCallback(
    async (ask: () => Promise<DialResult>, lead: Lead | null) => {
      try {
        dispatch({ type: "dialled", result: await ask(), lead, lang: lang.current });
      } catch (e) {
        fail(e);
      }
    },
    [fail],
  );
  const callLead = useCallback(
    (lead: Lead) => place(() => api.dial({ number: lead.phone, lead_id: lead.id }), lead),
    [api, place],
  );
  const callNumber = useCallback((number: string) => place(() => api.dial({ number }), null), [api, place]);
  const callViaMobile = useCallback((lead: Lead) => place(() => api.clickToCall(lead.id), lead), [api, place]);

  // The call's events (which follow every change at once) update the view; the answer only tells failure.
  const act = useCallback(
    async (callId: string, action: Parameters<Api["callAction"]>[1]) => {
      try {
        await api.callAction(callId, action);
      } catch (e) {
        fail(e);
      }
    },
    [api, fail],
  );

  const setStatus = useCallback((status: PhoneStatus) => dispatch({ type: "status", status }), []);
  const dismiss = useCallback(() => dispatch({ type: "dismiss" }), []);

  return { model, callLead, callNumber, callViaMobile, act, setStatus, dismiss };
}

export type PhoneControls = ReturnType<typeof usePhone>;
