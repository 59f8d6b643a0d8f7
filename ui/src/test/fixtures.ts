import { waitFor } from "@testing-library/react";
import { expect } from "vitest";

import type { AppStatus } from "../bindings/AppStatus";
import type { CallView } from "../bindings/CallView";
import type { Dashboard } from "../bindings/Dashboard";
import type { ExportLeadsArgs } from "../bindings/ExportLeadsArgs";
import type { LeadListArgs } from "../bindings/LeadListArgs";
import type { FollowUpItem } from "../bindings/FollowUpItem";
import type { DeskPreferences } from "../bindings/DeskPreferences";
import type { ReadyScreen } from "../bindings/ReadyScreen";
import type { Disposition } from "../bindings/Disposition";
import type { Lead } from "../bindings/Lead";
import type { PhoneEvent } from "../bindings/PhoneEvent";
import type { PhoneSettings } from "../bindings/PhoneSettings";
import type { PhoneStatus } from "../bindings/PhoneStatus";
import type { UnloggedCall } from "../bindings/UnloggedCall";
import type { WrapUp } from "../bindings/WrapUp";
import { LEAD_STATUSES } from "../format";
import { IpcError, type Api } from "../ipc";

let seq = 0;

export function lead(overrides: Partial<Lead> = {}): Lead {
  seq += 1;
  return {
    id: `01936f4e-8c2a-7000-8000-${String(seq).padStart(12, "0")}`,
    name: `Lead ${seq}`,
    phone: "+919876543210",
    alternate_phone: null,
    email: null,
    city: "Chennai",
    source: "website",
    interest: "Gold coins",
    budget_inr: 50000,
    priority: "normal",
    status: "new",
    tags: [],
    assigned_to: null,
    created_at: "2026-11-20T10:00:00Z",
    updated_at: "2026-11-25T09:00:00Z",
    version: 1,
    ...overrides,
  };
}

export function status(overrides: Partial<AppStatus> = {}): AppStatus {
  return {
    signed_in: true,
    user: {
      id: "01936f4e-8c2a-7000-8000-00000000aaaa",
      username: "priya",
      name: "Priya Raman",
      role: "telecaller",
      team: null,
    },
    server_url: "http://127.0.0.1:8080",
    lead_count: 2,
    last_sync_at: "2026-11-25T09:58:00Z",
    syncing: false,
    connection: "online",
    next_retry_at: null,
    last_error: null,
    pending: 0,
    rejected: 0,
    conflicts: 0,
    unlogged: 0,
    ...overrides,
  };
}

export function phoneStatus(overrides: Partial<PhoneStatus> = {}): PhoneStatus {
  return { version: 1, state: "ready", detail: null, audio_blocked: false, calls: [], ...overrides };
}

export function callView(overrides: Partial<CallView> = {}): CallView {
  seq += 1;
  return {
    call_id: `call-${seq}@leadline`,
    log_id: `01936f4e-8c2a-7000-9000-${String(seq).padStart(12, "0")}`,
    lead_id: null,
    direction: "outbound",
    remote: "+919876543210",
    remote_name: null,
    stage: "dialing",
    held_here: false,
    held_there: false,
    muted: false,
    started_at: "2026-11-25T10:00:00Z",
    answered_at: null,
    ended_at: null,
    end: null,
    problem: null,
    suggests_click_to_call: false,
    quality: null,
    ...overrides,
  };
}

export function phoneSettings(overrides: Partial<PhoneSettings> = {}): PhoneSettings {
  return {
    enabled: false,
    ws_url: "wss://voip.exotel.in:443/wss",
    domain: "",
    username: "",
    auth_username: null,
    display_name: null,
    outbound_proxy: null,
    stun_servers: ["stun:stun.l.google.com:19302"],
    auto_answer: false,
    input_device: null,
    output_device: null,
    ringtone_device: null,
    echo_cancellation: true,
    noise_suppression: true,
    ...overrides,
  };
}

type PhoneApi = Pick<
  Api,
  | "phoneStatus"
  | "phoneSettings"
  | "savePhoneSettings"
  | "audioDevices"
  | "dial"
  | "clickToCall"
  | "callAction"
  | "onPhone"
>;

/** The phone half of an Api: records every call, and lets the test emit the shell's phone events. */
export function fakePhone(initial: PhoneStatus = phoneStatus({ state: "off" })) {
  const calls: Array<[string, unknown]> = [];
  /** The calls `dial` answered, in order. */
  const dialled: CallView[] = [];
  const listeners: Array<(e: PhoneEvent) => void> = [];
  const api: PhoneApi = {
    phoneStatus: async () => initial,
    phoneSettings: async () => ({ settings: phoneSettings(), has_password: false }),
    savePhoneSettings: async (args) => {
      calls.push(["savePhoneSettings", args]);
      return phoneStatus({ version: initial.version + 1, state: "ready" });
    },
    audioDevices: async () => ({
      inputs: [{ id: "alsa:headset", name: "USB Headset", is_default: false }],
      outputs: [{ id: "alsa:speakers", name: "Speakers", is_default: true }],
    }),
    dial: async (args) => {
      calls.push(["dial", args]);
      const call = callView({ lead_id: args.lead_id ?? null, remote: args.number });
      dialled.push(call);
      return { via: "softphone", call };
    },
    clickToCall: async (leadId) => {
      calls.push(["clickToCall", leadId]);
      return { via: "click_to_call", why: "asked", call_log_id: "01936f4e-8c2a-7000-9000-000000000999" };
    },
    callAction: async (callId, action) => {
      calls.push(["callAction", { callId, action }]);
      return callView({ call_id: callId, stage: "connected" });
    },
    onPhone: async (handler) => {
      listeners.push(handler);
      return () => {
        const i = listeners.indexOf(handler);
        if (i >= 0) listeners.splice(i, 1);
      };
    },
  };
  const emit = (e: PhoneEvent) => {
    for (const l of listeners.slice()) l(e);
  };
  /** Resolves once the app listens to phone events (an event emitted before is lost, as in the app). */
  const ready = () => waitFor(() => expect(listeners.length).toBeGreaterThan(0));
  return { api, calls, dialled, emit, ready };
}

export const CATALOGUE: Disposition[] = [
  { code: "interested", label: "Interested – send catalogue", category: "connected", requires_follow_up: true, hotkey: 1 },
  { code: "visit_booked", label: "Store visit booked", category: "connected", requires_follow_up: true, hotkey: 2 },
  { code: "not_interested", label: "Not interested", category: "connected", requires_follow_up: false, hotkey: 6 },
  { code: "no_answer", label: "Ringing, no answer", category: "not_connected", requires_follow_up: true, hotkey: 7 },
];

export function unloggedCall(overrides: Partial<UnloggedCall> = {}): UnloggedCall {
  seq += 1;
  return {
    log_id: `01936f4e-8c2a-7000-a000-${String(seq).padStart(12, "0")}`,
    lead: null,
    direction: "outbound",
    remote: "+919876543210",
    click_to_call: false,
    started_at: "2026-11-25T10:00:00Z",
    answered_at: "2026-11-25T10:00:05Z",
    ended_at: "2026-11-25T10:01:10Z",
    end: "hung_up_here",
    talk_seconds: 65,
    ongoing: false,
    ...overrides,
  };
}

/** The wrap-up half of an Api over a list of calls to log; `wrapUp` logs (removes) one and records it. */
export function fakeWrapUp(calls: UnloggedCall[] = []) {
  const list = calls.slice();
  const logged: Array<[string, WrapUp]> = [];
  const api: Pick<Api, "unloggedCalls" | "dispositions" | "wrapUp"> = {
    unloggedCalls: async () => list.slice(),
    dispositions: async () => CATALOGUE,
    wrapUp: async (logId, args) => {
      logged.push([logId, args]);
      const i = list.findIndex((c) => c.log_id === logId);
      if (i >= 0) list.splice(i, 1);
    },
  };
  return { api, list, logged };
}

/** The session part of the Api: sign-out (answers `signedOut`), leads by id, and notification clicks the
 * test fires with `openLead`. */
/** A home screen over `leads`: all of them queued as new, nothing called yet. */
export function dashboard(leads: Lead[] = [], overrides: Partial<Dashboard> = {}): Dashboard {
  return {
    calls_made: 0,
    connected: 0,
    talk_time_s: 0,
    conversions: 0,
    follow_ups_done: 0,
    follow_ups_due_today: 0,
    follow_ups_overdue: 0,
    goal: null,
    hourly: Array.from({ length: 24 }, () => 0),
    dispositions: [],
    queue: leads.map((lead) => ({ lead, why: "new", follow_up_due_at: null })),
    ...overrides,
  };
}

/** Follow-ups over plain data: done ones leave the list, moved ones move, exports answer a path. */
export function fakeFollowUps(items: FollowUpItem[] = []) {
  const list = items.slice();
  const log: string[] = [];
  const api: Pick<Api, "followUps" | "completeFollowUp" | "rescheduleFollowUp" | "exportFollowUp"> = {
    followUps: async () => list.slice().sort((a, b) => a.due_at.localeCompare(b.due_at)),
    completeFollowUp: async (id) => {
      log.push(`done ${id}`);
      const i = list.findIndex((f) => f.id === id);
      if (i < 0) throw new IpcError("invalid_input", "That follow-up is done or no longer yours.");
      list.splice(i, 1);
    },
    rescheduleFollowUp: async (id, dueAt) => {
      log.push(`move ${id} ${dueAt}`);
      const f = list.find((x) => x.id === id);
      if (f) f.due_at = dueAt;
    },
    exportFollowUp: async (id) => {
      log.push(`ics ${id}`);
      return `/home/priya/Downloads/call-back-${id}.ics`;
    },
  };
  return { api, list, log };
}

/** The lead list over plain data: search by name, status and priority filters, pages by offset. */
export function fakeLeadList(leads: Lead[]) {
  const queries: LeadListArgs[] = [];
  const exports: ExportLeadsArgs[] = [];
  const api: Pick<Api, "leadPage" | "exportLeads"> = {
    leadPage: async (args) => {
      queries.push(args);
      const needle = args.search?.toLowerCase();
      const base = leads.filter(
        (l) =>
          (!needle || l.name.toLowerCase().includes(needle)) &&
          (args.priorities.length === 0 || args.priorities.includes(l.priority)),
      );
      const hits = base.filter((l) => args.statuses.length === 0 || args.statuses.includes(l.status));
      const start = args.cursor ? Number(args.cursor) : 0;
      const limit = args.limit ?? 200;
      const end = Math.min(hits.length, start + limit);
      return {
        leads: hits.slice(start, end),
        next_cursor: end < hits.length ? String(end) : null,
        matched: args.cursor ? null : hits.length,
        by_status: args.cursor
          ? []
          : LEAD_STATUSES.map((s) => ({ status: s, count: base.filter((l) => l.status === s).length })),
      };
    },
    exportLeads: async (args) => {
      exports.push(args);
      return ["/home/priya/Downloads/leads.csv", args.only?.length ?? leads.length];
    },
  };
  return { api, queries, exports };
}

export function fakeSession(
  leads: Lead[] = [],
  signedOut: AppStatus = status({ signed_in: false }),
  home: () => Dashboard = () => dashboard(leads),
) {
  let handler: ((e: { lead_id: string }) => void) | null = null;
  let logouts = 0;
  let prefs: DeskPreferences = { theme: "system", start_minimised: false, language: "en", screen: "today" };
  const ready: ReadyScreen[] = [];
  const list = fakeLeadList(leads);
  const api: Pick<
    Api,
    | "logout"
    | "getLead"
    | "onOpenLead"
    | "dashboard"
    | "uncleanExit"
    | "saveCrashReport"
    | "preferences"
    | "savePreferences"
    | "rememberScreen"
    | "screenReady"
    | "followUps"
    | "completeFollowUp"
    | "rescheduleFollowUp"
    | "exportFollowUp"
    | "leadPage"
    | "exportLeads"
  > = {
    ...fakeFollowUps().api,
    ...list.api,
    preferences: async () => prefs,
    savePreferences: async (p) => {
      prefs = p;
      return p;
    },
    rememberScreen: async (screen) => {
      prefs = { ...prefs, screen };
    },
    screenReady: async (screen) => {
      ready.push(screen);
    },
    dashboard: async () => home(),
    uncleanExit: async () => null,
    saveCrashReport: async () => "/tmp/report.txt",
    logout: async () => {
      logouts += 1;
      return signedOut;
    },
    getLead: async (id) => {
      const found = leads.find((l) => l.id === id);
      if (!found) throw new IpcError("invalid_input", "That lead is no longer on this computer.");
      return found;
    },
    onOpenLead: async (h) => {
      handler = h;
      return () => {
        handler = null;
      };
    },
  };
  return {
    api,
    openLead: (leadId: string) => handler?.({ lead_id: leadId }),
    prefs: () => prefs,
    /** The screens that told the shell they were ready, in order. */
    ready: () => [...ready],
    list,
    logouts: () => logouts,
  };
}

/** Goes to the lead list (the app opens on the home screen). */
export async function openLeads() {
  const { fireEvent, screen } = await import("@testing-library/react");
  fireEvent.click(await screen.findByTestId("tab-leads"));
}
