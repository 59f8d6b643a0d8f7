import { waitFor } from "@testing-library/react";
import { expect } from "vitest";

import type { AppStatus } from "../bindings/AppStatus";
import type { CallView } from "../bindings/CallView";
import type { CallHistoryArgs } from "../bindings/CallHistoryArgs";
import type { CallLog } from "../bindings/CallLog";
import type { ConflictChoice } from "../bindings/ConflictChoice";
import type { ConflictView } from "../bindings/ConflictView";
import type { Dashboard } from "../bindings/Dashboard";
import type { LeadEdit } from "../bindings/LeadEdit";
import type { ExportLeadsArgs } from "../bindings/ExportLeadsArgs";
import type { LeadListArgs } from "../bindings/LeadListArgs";
import type { FollowUpItem } from "../bindings/FollowUpItem";
import type { DeskPreferences } from "../bindings/DeskPreferences";
import type { ReadyScreen } from "../bindings/ReadyScreen";
import type { StartupMark } from "../bindings/StartupMark";
import type { Disposition } from "../bindings/Disposition";
import type { Lead } from "../bindings/Lead";
import type { LeadPage } from "../bindings/LeadPage";
import type { PhoneEvent } from "../bindings/PhoneEvent";
import type { PhoneSettings } from "../bindings/PhoneSettings";
import type { PhoneStatus } from "../bindings/PhoneStatus";
import type { UnloggedCall } from "../bindings/UnloggedCall";
import type { WrapUp } from "../bindings/WrapUp";
import { LEAD_STATUSES } from "../format";
import { IpcError, type Api } from "../ipc";
import type { AuditEntry } from "../bindings/AuditEntry";
import type { DispositionEntry } from "../bindings/DispositionEntry";
import type { ImportOutcome } from "../bindings/ImportOutcome";
import type { TeamDashboard } from "../bindings/TeamDashboard";
import type { TelecallerFigures } from "../bindings/TelecallerFigures";
import type { UserAccount } from "../bindings/UserAccount";

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

/** A call log of `lead` (outbound, answered, 2 minutes). */
export function callLog(lead: Lead, overrides: Partial<CallLog> = {}): CallLog {
  seq += 1;
  return {
    id: `01936f4e-8c2a-7000-9000-${String(seq).padStart(12, "0")}`,
    lead_id: lead.id,
    telecaller_id: "01936f4e-8c2a-7000-8000-00000000aaaa",
    direction: "outbound",
    started_at: "2026-11-24T10:00:00Z",
    answered_at: "2026-11-24T10:00:05Z",
    ended_at: "2026-11-24T10:02:05Z",
    duration_s: 120,
    disposition: "interested",
    outcome_tags: [],
    notes: "",
    follow_up: null,
    recording_url: null,
    provider_call_id: null,
    device_id: null,
    quality: null,
    ...overrides,
  };
}

/**
 * The lead detail commands over plain data, with the shell's checks that the UI relies on: a second
 * number must look like a phone number; `failEdits` makes every edit fail (storage); pages of `pageSize`.
 */
export function fakeLeadDetail(leads: Lead[], calls: CallLog[] = [], pageSize = 50) {
  const edits: { leadId: string; edit: LeadEdit }[] = [];
  const histories: CallHistoryArgs[] = [];
  const exports: CallHistoryArgs[] = [];
  const state = { failEdits: false, recording: null as ArrayBuffer | null };
  const api: Pick<Api, "leadDetail" | "editLead" | "callHistory" | "exportCallHistory" | "recording"> = {
    leadDetail: async (id) => {
      const found = leads.find((l) => l.id === id);
      if (!found) throw new IpcError("invalid_input", "That lead is no longer on this computer.");
      return { lead: found, follow_ups: [] };
    },
    editLead: async (id, edit) => {
      edits.push({ leadId: id, edit });
      if (state.failEdits) throw new IpcError("storage", "disk full");
      if (edit.alternate_phone && !/^\+?[\d ]{10,}$/.test(edit.alternate_phone)) {
        throw new IpcError("invalid_input", `“${edit.alternate_phone}” is not a phone number.`);
      }
      const i = leads.findIndex((l) => l.id === id);
      const before = leads[i]!;
      const after: Lead = {
        ...before,
        status: edit.status ?? before.status,
        priority: edit.priority ?? before.priority,
        tags: edit.tags ?? before.tags,
        interest: edit.interest === null ? before.interest : edit.interest || null,
        city: edit.city === null ? before.city : edit.city || null,
        email: edit.email === null ? before.email : edit.email || null,
        alternate_phone: edit.alternate_phone ? edit.alternate_phone.replace(/ /g, "") : before.alternate_phone,
        budget_inr: edit.budget_inr ?? before.budget_inr,
        version: before.version + 1,
      };
      leads[i] = after;
      return after;
    },
    callHistory: async (args) => {
      histories.push(args);
      const words = (args.search ?? "").toLowerCase().split(/\s+/).filter(Boolean);
      const hits = calls
        .filter((c) => c.lead_id === args.lead_id)
        .filter((c) => !args.direction || c.direction === args.direction)
        .filter((c) => args.dispositions.length === 0 || args.dispositions.includes(c.disposition))
        .filter((c) => words.every((w) => `${c.notes} ${c.disposition}`.toLowerCase().includes(w)))
        .sort((a, b) => b.started_at.localeCompare(a.started_at));
      const start = args.cursor ? Number(args.cursor) : 0;
      const end = Math.min(hits.length, start + pageSize);
      return { calls: hits.slice(start, end), next_cursor: end < hits.length ? String(end) : null };
    },
    exportCallHistory: async (args) => {
      exports.push(args);
      return ["/home/priya/Downloads/calls.csv", calls.filter((c) => c.lead_id === args.lead_id).length];
    },
    recording: async () => {
      if (!state.recording) throw new IpcError("network", "Leadline could not connect to the server.");
      return state.recording;
    },
  };
  return { api, edits, histories, exports, state };
}

/** A conflict of `lead` on one field. */
export function conflict(lead: Lead, field = "status", mine = "interested", theirs = "not_interested"): ConflictView {
  seq += 1;
  return {
    id: `01936f4e-8c2a-7000-a000-${String(seq).padStart(12, "0")}`,
    lead_id: lead.id,
    lead_name: lead.name,
    fields: [{ field, base: "new", mine, theirs }],
    edited_at: "2026-11-25T09:00:00Z",
    detected_at: "2026-11-25T09:05:00Z",
  };
}

/** The conflict commands over a list; `failResolve` makes settling fail (storage). */
export function fakeConflicts(initial: ConflictView[] = []) {
  let open = [...initial];
  const resolved: [string, ConflictChoice][] = [];
  const state = { failResolve: false };
  const api: Pick<Api, "conflicts" | "resolveConflict"> = {
    conflicts: async () => [...open],
    resolveConflict: async (id, keep) => {
      if (state.failResolve) throw new IpcError("storage", "disk full");
      if (!open.some((c) => c.id === id)) throw new IpcError("invalid_input", "That conflict is already settled.");
      open = open.filter((c) => c.id !== id);
      resolved.push([id, keep]);
    },
  };
  return { api, resolved, state, open: () => open };
}

export function fakeSession(
  leads: Lead[] = [],
  signedOut: AppStatus = status({ signed_in: false }),
  home: () => Dashboard = () => dashboard(leads),
) {
  let handler: ((e: { lead_id: string }) => void) | null = null;
  let logouts = 0;
  let prefs: DeskPreferences = {
    theme: "system",
    start_minimised: false,
    language: "en",
    screen: "today",
    wrap_up_limit_s: 120,
  };
  const ready: ReadyScreen[] = [];
  const marks: StartupMark[][] = [];
  const list = fakeLeadList(leads);
  const detail = fakeLeadDetail(leads);
  const api: TeamApi & Pick<
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
    | "leadDetail"
    | "editLead"
    | "callHistory"
    | "exportCallHistory"
    | "recording"
    | "conflicts"
    | "resolveConflict"
  > = {
    ...fakeConflicts().api,
    ...fakeTeam(leads).api,
    ...fakeFollowUps().api,
    ...detail.api,
    ...list.api,
    preferences: async () => prefs,
    savePreferences: async (p) => {
      prefs = p;
      return p;
    },
    rememberScreen: async (screen) => {
      prefs = { ...prefs, screen };
    },
    screenReady: async (screen, startup) => {
      ready.push(screen);
      marks.push(startup);
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
    detail,
    /** The screens that told the shell they were ready, in order. */
    ready: () => [...ready],
    /** The start-up marks each of those screens sent (only the first has any). */
    readyMarks: () => [...marks],
    list,
    logouts: () => logouts,
  };
}

/** Goes to the lead list (the app opens on the home screen). */
export async function openLeads() {
  const { fireEvent, screen } = await import("@testing-library/react");
  fireEvent.click(await screen.findByTestId("tab-leads"));
}

// ---- The supervisor's screens (Team*): the team, its leads, imports, goals and the catalogue.

/** The Api methods of the supervisor's screens. */
export type TeamApi = Pick<
  Api,
  | "teamDashboard"
  | "teamMembers"
  | "teamLeads"
  | "assignLeads"
  | "assignMatching"
  | "transferLeads"
  | "leadAudit"
  | "importCsv"
  | "importSheet"
  | "teamGoals"
  | "setGoal"
  | "dispositionCatalogue"
  | "saveDisposition"
>;

export const MEERA = "01936f4e-8c2a-7000-8000-00000000bbbb";
export const PRIYA = "01936f4e-8c2a-7000-8000-00000000aaaa";
export const ARJUN = "01936f4e-8c2a-7000-8000-00000000cccc";

export function member(overrides: Partial<UserAccount> = {}): UserAccount {
  return {
    id: PRIYA,
    username: "priya",
    name: "Priya Raman",
    role: "telecaller",
    team: "Bandra Showroom",
    active: true,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
    ...overrides,
  };
}

export const TEAM: UserAccount[] = [
  member(),
  member({ id: ARJUN, username: "arjun", name: "Arjun Nair" }),
  member({ id: MEERA, username: "meera", name: "Meera Iyer", role: "supervisor" }),
];

export function figures(overrides: Partial<TelecallerFigures> = {}): TelecallerFigures {
  return {
    user_id: PRIYA,
    username: "priya",
    name: "Priya Raman",
    calls: 42,
    connected: 30,
    talk_time_s: 3725,
    conversions: 3,
    dispositions: { interested: 12, converted: 3, no_answer: 12 },
    follow_ups_due: 5,
    follow_ups_overdue: 1,
    follow_ups_done: 4,
    goal_calls: 60,
    goal_conversions: 4,
    ...overrides,
  };
}

export function teamDashboard(overrides: Partial<TeamDashboard> = {}): TeamDashboard {
  const priya = figures();
  const arjun = figures({
    user_id: ARJUN,
    username: "arjun",
    name: "Arjun Nair",
    calls: 18,
    connected: 9,
    talk_time_s: 1200,
    conversions: 1,
    dispositions: { interested: 5, converted: 1 },
  });
  return {
    summary: {
      from: "2026-11-25T18:30:00Z",
      to: "2026-11-26T10:00:00Z",
      days: 1,
      telecallers: [arjun, priya],
      team: {
        calls: 60,
        connected: 39,
        talk_time_s: 4925,
        conversions: 4,
        dispositions: { interested: 17, converted: 4, no_answer: 12 },
        follow_ups_due: 10,
        follow_ups_overdue: 2,
        follow_ups_done: 8,
        goal_calls: 120,
        goal_conversions: 8,
      },
    },
    leaderboard: {
      metric: "calls",
      entries: [
        { rank: 1, user_id: PRIYA, name: "Priya Raman", value: 42 },
        { rank: 2, user_id: ARJUN, name: "Arjun Nair", value: 18 },
      ],
    },
    hourly: {
      tz_offset_minutes: 330,
      hours: [
        { hour: "2026-11-26T10:00", calls: 12, connected: 8, talk_time_s: 900 },
        { hour: "2026-11-26T11:00", calls: 20, connected: 14, talk_time_s: 1500 },
      ],
    },
    presence: {
      timeout_s: 90,
      agents: [
        {
          user_id: ARJUN,
          username: "arjun",
          name: "Arjun Nair",
          state: "offline",
          since: null,
          last_seen: null,
        },
        {
          user_id: PRIYA,
          username: "priya",
          name: "Priya Raman",
          state: "on_call",
          since: new Date(Date.now() - 120_000).toISOString(),
          last_seen: new Date().toISOString(),
        },
      ],
    },
    goals: [
      {
        team: "Bandra Showroom",
        daily_calls: 60,
        daily_conversions: 4,
        updated_at: "2026-11-20T10:00:00Z",
        updated_by: MEERA,
      },
    ],
    ...overrides,
  };
}

export function auditEntry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  seq += 1;
  return {
    id: `01936f4e-8c2a-7000-a000-${String(seq).padStart(12, "0")}`,
    lead_id: "01936f4e-8c2a-7000-8000-000000000001",
    actor_id: MEERA,
    action: "assigned",
    from_user: PRIYA,
    to_user: ARJUN,
    team: "Bandra Showroom",
    reason: "Priya is on leave",
    at: "2026-11-26T09:00:00Z",
    details: {},
    ...overrides,
  };
}

export function importOutcome(overrides: Partial<ImportOutcome> = {}): ImportOutcome {
  return {
    report: {
      rows: 4,
      valid: 2,
      invalid: 2,
      duplicates: 1,
      merged: 0,
      leads: 1,
      blank_rows: 0,
      ignored_columns: ["Colour"],
      issues: [
        { row: 3, kind: "invalid", column: "Phone", value: null, reason: "phone is required", duplicate_of: null },
        { row: 4, kind: "invalid", column: "Phone", value: "12345", reason: "not a phone number", duplicate_of: null },
        { row: 5, kind: "duplicate", column: null, value: null, reason: "same phone as row 2", duplicate_of: 2 },
      ],
      issues_total: 3,
      issues_truncated: false,
    },
    created: 1,
    merged: 0,
    duplicates: 0,
    ...overrides,
  };
}

export function catalogueEntry(overrides: Partial<DispositionEntry> = {}): DispositionEntry {
  return {
    code: "interested",
    label: "Interested",
    category: "connected",
    requires_follow_up: true,
    hotkey: 1,
    position: 0,
    active: true,
    ...overrides,
  };
}

/** The team half of an Api over plain data; records what it was asked. `overrides` replace methods. */
export function fakeTeam(leads: Lead[] = [], overrides: Partial<TeamApi> = {}) {
  const calls: Array<[string, unknown]> = [];
  let catalogue: DispositionEntry[] = [
    catalogueEntry(),
    catalogueEntry({ code: "no_answer", label: "No answer", category: "not_connected", requires_follow_up: false, hotkey: 2, position: 1 }),
  ];
  const api: TeamApi = {
    teamDashboard: async (args) => {
      calls.push(["teamDashboard", args]);
      return teamDashboard();
    },
    teamMembers: async () => TEAM,
    teamLeads: async (query) => {
      calls.push(["teamLeads", query]);
      return { leads, next_cursor: null };
    },
    assignLeads: async (args) => {
      calls.push(["assignLeads", args]);
      return { assigned: args.lead_ids.length, unchanged: 0, lead_ids: args.lead_ids };
    },
    assignMatching: async (args) => {
      calls.push(["assignMatching", args]);
      return { assigned: 120, unchanged: 0, lead_ids: [] };
    },
    transferLeads: async (args) => {
      calls.push(["transferLeads", args]);
      return { assigned: 2, unchanged: 0, lead_ids: [] };
    },
    leadAudit: async (leadId) => {
      calls.push(["leadAudit", leadId]);
      return { entries: [auditEntry({ lead_id: leadId })], next_cursor: null };
    },
    importCsv: async (args) => {
      calls.push(["importCsv", { ...args, bytes: args.bytes.length }]);
      return importOutcome();
    },
    importSheet: async (args) => {
      calls.push(["importSheet", args]);
      return importOutcome();
    },
    teamGoals: async () => teamDashboard().goals,
    setGoal: async (goal) => {
      calls.push(["setGoal", goal]);
      return {
        team: "Bandra Showroom",
        user_id: goal.user_id ?? undefined,
        daily_calls: goal.daily_calls,
        daily_conversions: goal.daily_conversions,
        updated_at: new Date().toISOString(),
        updated_by: MEERA,
      };
    },
    dispositionCatalogue: async () => catalogue,
    saveDisposition: async (entry) => {
      calls.push(["saveDisposition", entry]);
      catalogue = [...catalogue.filter((d) => d.code !== entry.code), entry];
      return catalogue;
    },
    ...overrides,
  };
  return { api, calls };
}

/** An Api over plain data (the session part records the list queries it got). */
export function fakeAppApi(initial: AppStatus, leads = [lead({ name: "Asha Rao" }), lead({ name: "Meena Iyer" })]) {
  const session = fakeSession(leads);
  const api: Api = {
    appStatus: async () => initial,
    login: async () => {
      throw new IpcError("invalid_credentials", "username or password is wrong");
    },
    syncNow: async () => initial,
    listLeads: async (): Promise<LeadPage> => ({ leads, total: leads.length, truncated: false }),
    onStatus: async () => () => {},
    ...fakePhone().api,
    ...fakeWrapUp().api,
    ...session.api,
  };
  return { api, session };
}
