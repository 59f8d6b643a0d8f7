// The only module that talks to the desktop shell. Every command is typed with the declarations ts-rs
// generates from the Rust side (src/bindings/), and every failure becomes an IpcError with a code.
// The UI never talks to the network itself: the shell does, through leadline-sync.

import { invoke as tauriInvoke } from "@tauri-apps/api/core";
import { listen as tauriListen } from "@tauri-apps/api/event";

import type { AppStatus } from "./bindings/AppStatus";
import type { AudioDeviceList } from "./bindings/AudioDeviceList";
import type { CallAction } from "./bindings/CallAction";
import type { CallView } from "./bindings/CallView";
import type { CommandError } from "./bindings/CommandError";
import type { Dashboard } from "./bindings/Dashboard";
import type { DialArgs } from "./bindings/DialArgs";
import type { DialResult } from "./bindings/DialResult";
import type { DeskPreferences } from "./bindings/DeskPreferences";
import type { CallHistoryArgs } from "./bindings/CallHistoryArgs";
import type { ConflictChoice } from "./bindings/ConflictChoice";
import type { ConflictView } from "./bindings/ConflictView";
import type { CallHistoryView } from "./bindings/CallHistoryView";
import type { DeskScreen } from "./bindings/DeskScreen";
import type { LeadDetail } from "./bindings/LeadDetail";
import type { LeadEdit } from "./bindings/LeadEdit";
import type { ReadyScreen } from "./bindings/ReadyScreen";
import type { StartupMark } from "./bindings/StartupMark";
import type { Disposition } from "./bindings/Disposition";
import type { ErrorCode } from "./bindings/ErrorCode";
import type { FollowUpItem } from "./bindings/FollowUpItem";
import type { Lead } from "./bindings/Lead";
import type { ExportLeadsArgs } from "./bindings/ExportLeadsArgs";
import type { LeadListArgs } from "./bindings/LeadListArgs";
import type { LeadListView } from "./bindings/LeadListView";
import type { LeadPage } from "./bindings/LeadPage";
import type { ListLeadsArgs } from "./bindings/ListLeadsArgs";
import type { LoginArgs } from "./bindings/LoginArgs";
import type { OpenLead } from "./bindings/OpenLead";
import type { PhoneEvent } from "./bindings/PhoneEvent";
import type { PhoneSettingsView } from "./bindings/PhoneSettingsView";
import type { PhoneStatus } from "./bindings/PhoneStatus";
import type { SavePhoneSettingsArgs } from "./bindings/SavePhoneSettingsArgs";
import type { UncleanExit } from "./bindings/UncleanExit";
import type { UnloggedCall } from "./bindings/UnloggedCall";
import type { WrapUp } from "./bindings/WrapUp";
import type { AssignMatching } from "./bindings/AssignMatching";
import type { AssignLeads } from "./bindings/AssignLeads";
import type { AuditPage } from "./bindings/AuditPage";
import type { BulkOutcome } from "./bindings/BulkOutcome";
import type { CsvImportArgs } from "./bindings/CsvImportArgs";
import type { DispositionEntry } from "./bindings/DispositionEntry";
import type { Goal } from "./bindings/Goal";
import type { ImportOutcome } from "./bindings/ImportOutcome";
import type { LeadListQuery } from "./bindings/LeadListQuery";
import type { SetGoal } from "./bindings/SetGoal";
import type { SheetsImportRequest } from "./bindings/SheetsImportRequest";
import type { TeamDashboard } from "./bindings/TeamDashboard";
import type { TeamLeadPage } from "./bindings/TeamLeadPage";
import type { TeamRangeArgs } from "./bindings/TeamRangeArgs";
import type { TransferLeads } from "./bindings/TransferLeads";
import type { UserAccount } from "./bindings/UserAccount";
import type { FinishSetup } from "./bindings/FinishSetup";
import type { UpdateState } from "./bindings/UpdateState";
import type { MicLevel } from "./bindings/MicLevel";
import type { MicStart } from "./bindings/MicStart";
import type { NotificationCheck } from "./bindings/NotificationCheck";
import type { ServerVerdict } from "./bindings/ServerVerdict";
import type { SetupState } from "./bindings/SetupState";

/** The event the shell emits when the app status changes (see STATUS_EVENT in src-tauri/src/api.rs). */
export const STATUS_EVENT = "leadline://status";

/** The event the shell emits for everything the softphone does (PHONE_EVENT in src-tauri/src/api.rs). */
export const PHONE_EVENT = "leadline://phone";

/** The event the shell emits when a notification about a lead was clicked (OPEN_LEAD_EVENT). */
export const OPEN_LEAD_EVENT = "leadline://open-lead";

/** The microphone test's readings (MIC_LEVEL_EVENT in src-tauri/src/setup.rs). */
export const MIC_LEVEL_EVENT = "leadline://mic-level";

/** The in-app update's state (UpdateState): a signed release ready, waiting for a call, installing. */
export const UPDATE_EVENT = "leadline://update";

/** Codes the shell sends, plus two the UI adds for failures that never reached a command. */
export type IpcErrorCode = ErrorCode | "ipc_unavailable" | "unknown";

/** A failed command. `code` says what kind of failure; `message` is for people. */
export class IpcError extends Error {
  readonly code: IpcErrorCode;

  constructor(code: IpcErrorCode, message: string) {
    super(message);
    this.name = "IpcError";
    this.code = code;
  }
}

const ERROR_CODES: readonly ErrorCode[] = [
  "invalid_input",
  "invalid_credentials",
  "session_expired",
  "not_signed_in",
  "network",
  "server",
  "storage",
  "phone",
  "internal",
];

function isCommandError(value: unknown): value is CommandError {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.message === "string" && typeof v.code === "string" && ERROR_CODES.includes(v.code as ErrorCode)
  );
}

/** Turns whatever a rejected invoke gave (a CommandError object, a string, an exception) into an IpcError. */
export function toIpcError(raw: unknown): IpcError {
  if (raw instanceof IpcError) return raw;
  if (isCommandError(raw)) return new IpcError(raw.code, raw.message);
  if (typeof raw === "string") return new IpcError("unknown", raw || "The command failed.");
  if (raw instanceof Error) {
    // Outside the Tauri webview (a plain browser) the IPC bridge is missing and invoke throws a TypeError.
    if (raw instanceof TypeError && /__TAURI|ipc|invoke/i.test(raw.message)) {
      return new IpcError("ipc_unavailable", "Leadline's desktop shell is not available.");
    }
    return new IpcError("unknown", raw.message || "The command failed.");
  }
  if (typeof raw === "object" && raw !== null && typeof (raw as { message?: unknown }).message === "string") {
    return new IpcError("unknown", (raw as { message: string }).message);
  }
  return new IpcError("unknown", "The command failed for an unknown reason.");
}

export type InvokeFn = (cmd: string, args?: Record<string, unknown>) => Promise<unknown>;
export type ListenFn = (event: string, handler: (payload: unknown) => void) => Promise<() => void>;

/** The typed command surface of the shell. */
export interface Api {
  appStatus(): Promise<AppStatus>;
  login(args: LoginArgs): Promise<AppStatus>;
  /** Ends the session; the cache stays (with anything not sent yet). */
  logout(): Promise<AppStatus>;
  syncNow(): Promise<AppStatus>;
  getLead(leadId: string): Promise<Lead>;
  /** How the last run ended when it did not end cleanly (asked once at start). */
  uncleanExit(): Promise<UncleanExit | null>;
  /** Saves a report of that exit for support; answers the file's path. */
  saveCrashReport(exit: UncleanExit): Promise<string>;
  /** This user's open follow-ups, soonest first. */
  followUps(): Promise<FollowUpItem[]>;
  completeFollowUp(id: string): Promise<void>;
  rescheduleFollowUp(id: string, dueAt: string): Promise<void>;
  /** Saves the follow-up as a calendar file (.ics); answers its path. */
  exportFollowUp(id: string): Promise<string>;
  preferences(): Promise<DeskPreferences>;
  savePreferences(preferences: DeskPreferences): Promise<DeskPreferences>;
  /** Keeps the screen the user went to: the next start opens on it. */
  rememberScreen(screen: DeskScreen): Promise<void>;
  /** Tells the shell a screen first showed its content (its start-up time goes to the log). */
  /** The screen first showed; `marks` are the start-up's moments (see startup.ts), sent once. */
  screenReady(screen: ReadyScreen, marks: StartupMark[]): Promise<void>;
  /** Edits that lost to someone else's, oldest first. */
  conflicts(): Promise<ConflictView[]>;
  /** Keeps the user's edit (sent again) or the server's values. */
  resolveConflict(id: string, keep: ConflictChoice): Promise<void>;
  /** A lead with its open follow-ups. */
  leadDetail(leadId: string): Promise<LeadDetail>;
  /** Checks and saves an edit (offline too: it is queued); answers the lead as it now is. */
  editLead(leadId: string, edit: LeadEdit): Promise<Lead>;
  /** A page of a lead's calls, newest first, as filtered. */
  callHistory(args: CallHistoryArgs): Promise<CallHistoryView>;
  /** Saves the lead's calls (as filtered) as CSV in Downloads; answers the path and the count. */
  exportCallHistory(args: CallHistoryArgs): Promise<[string, number]>;
  /** A call's recording (through the server: online only). */
  recording(callLogId: string): Promise<ArrayBuffer>;
  /** Today's figures, goal, charts and call queue (from the cache). */
  dashboard(): Promise<Dashboard>;
  /** Calls `handler` when a notification about a lead was clicked; resolves to an unsubscribe function. */
  onOpenLead(handler: (event: OpenLead) => void): Promise<() => void>;
  listLeads(query: ListLeadsArgs): Promise<LeadPage>;
  /** One page of the lead list (filters, order, cursor); the first page also counts the matches. */
  leadPage(args: LeadListArgs): Promise<LeadListView>;
  /** Saves the list (or `only` those leads) as CSV in Downloads; answers the path and the count. */
  exportLeads(args: ExportLeadsArgs): Promise<[string, number]>;
  /** Calls `handler` with every status the shell emits; resolves to an unsubscribe function. */
  onStatus(handler: (status: AppStatus) => void): Promise<() => void>;
  phoneStatus(): Promise<PhoneStatus>;
  phoneSettings(): Promise<PhoneSettingsView>;
  savePhoneSettings(args: SavePhoneSettingsArgs): Promise<PhoneStatus>;
  audioDevices(): Promise<AudioDeviceList>;
  /** Calls through the softphone, or through the telecaller's mobile when the softphone cannot. */
  dial(args: DialArgs): Promise<DialResult>;
  clickToCall(leadId: string): Promise<DialResult>;
  callAction(callId: string, action: CallAction): Promise<CallView>;
  /** Calls `handler` with every phone event; resolves to an unsubscribe function. */
  onPhone(handler: (event: PhoneEvent) => void): Promise<() => void>;
  /** Calls waiting for their wrap-up, oldest first. */
  unloggedCalls(): Promise<UnloggedCall[]>;
  dispositions(): Promise<Disposition[]>;
  /** Logs the call (offline too; the next sync sends it). */
  wrapUp(logId: string, args: WrapUp): Promise<void>;
  // The supervisor's screens: they ask the server (through the shell), so they work online only.
  /** The team's figures, leaderboard, hourly series, live status and goals over a date range. */
  teamDashboard(args: TeamRangeArgs): Promise<TeamDashboard>;
  /** The users the supervisor manages (their team), for the assignee pickers. */
  teamMembers(): Promise<UserAccount[]>;
  /** A page of the whole team's leads, filtered on the server. */
  teamLeads(query: LeadListQuery): Promise<TeamLeadPage>;
  /** Assigns the leads (or unassigns them, `to: null`) with the reason; all or nothing. */
  assignLeads(args: AssignLeads): Promise<BulkOutcome>;
  /** Assigns every team lead the filter lists (the server's pages not loaded too). */
  assignMatching(args: AssignMatching): Promise<BulkOutcome>;
  /** Moves one telecaller's open leads to another, with the reason. */
  transferLeads(args: TransferLeads): Promise<BulkOutcome>;
  /** A page of a lead's audit trail, newest first. */
  leadAudit(leadId: string, cursor: string | null): Promise<AuditPage>;
  importCsv(args: CsvImportArgs): Promise<ImportOutcome>;
  importSheet(args: SheetsImportRequest): Promise<ImportOutcome>;
  /** The goals of the team: its default and each telecaller's own. */
  teamGoals(): Promise<Goal[]>;
  setGoal(goal: SetGoal): Promise<Goal>;
  /** The disposition catalogue as the server keeps it (admins: inactive entries too). */
  dispositionCatalogue(): Promise<DispositionEntry[]>;
  /** Creates or replaces an entry (admins); answers the whole catalogue. */
  saveDisposition(entry: DispositionEntry): Promise<DispositionEntry[]>;
  // The first-run setup (src-tauri/src/setup.rs). Optional: a UI without them never shows the setup.
  /** Whether the setup shows, the provisioning file, the server the sign-in uses. */
  setupState?(): Promise<SetupState>;
  /** Checks a server address live: a Leadline server this app can use, or why not. */
  checkServer?(url: string, allowHttp: boolean): Promise<ServerVerdict>;
  /** Opens the microphone (`null`: the default) and sends its levels to `onMicLevel`'s handler. */
  startMicTest?(device: string | null): Promise<MicStart>;
  stopMicTest?(): Promise<void>;
  onMicLevel?(handler: (level: MicLevel) => void): Promise<() => void>;
  playTestTone?(device: string | null): Promise<void>;
  /** Sends a real notification saying `title` and `body`; answers who shows notifications here. */
  testNotification?(title: string, body: string): Promise<NotificationCheck>;
  finishSetup?(args: FinishSetup): Promise<SetupState>;
  /** The in-app update: what to show now, its changes, and the user's "Restart to update". */
  updateState?(): Promise<UpdateState>;
  onUpdate?(handler: (state: UpdateState) => void): Promise<() => void>;
  /** Installs the ready update and restarts; `anyway`: even with changes waiting for the server. */
  installUpdate?(anyway: boolean): Promise<void>;
}

/** Builds the API over an invoke/listen pair (the real ones in the app; plain functions in tests). */
export function makeApi(invoke: InvokeFn, listen: ListenFn): Api {
  async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
    try {
      return (await invoke(cmd, args)) as T;
    } catch (raw) {
      throw toIpcError(raw);
    }
  }
  return {
    appStatus: () => call<AppStatus>("app_status"),
    login: (args) => call<AppStatus>("login", { args }),
    logout: () => call<AppStatus>("logout"),
    syncNow: () => call<AppStatus>("sync_now"),
    getLead: (leadId) => call<Lead>("get_lead", { leadId }),
    dashboard: () => call<Dashboard>("dashboard"),
    uncleanExit: () => call<UncleanExit | null>("unclean_exit"),
    followUps: () => call<FollowUpItem[]>("follow_ups"),
    completeFollowUp: (id) => call<void>("complete_follow_up", { id }),
    rescheduleFollowUp: (id, dueAt) => call<void>("reschedule_follow_up", { id, dueAt }),
    exportFollowUp: (id) => call<string>("export_follow_up", { id }),
    preferences: () => call<DeskPreferences>("preferences"),
    savePreferences: (preferences) => call<DeskPreferences>("save_preferences", { preferences }),
    conflicts: () => call<ConflictView[]>("conflicts"),
    resolveConflict: (id, keep) => call<void>("resolve_conflict", { id, keep }),
    leadDetail: (leadId) => call<LeadDetail>("lead_detail", { leadId }),
    editLead: (leadId, edit) => call<Lead>("edit_lead", { leadId, edit }),
    callHistory: (args) => call<CallHistoryView>("call_history", { args }),
    exportCallHistory: (args) => call<[string, number]>("export_call_history", { args }),
    recording: (callLogId) => call<ArrayBuffer>("recording", { callLogId }),
    rememberScreen: (screen) => call<void>("remember_screen", { screen }),
    screenReady: (screen, marks) => call<void>("screen_ready", { screen, marks }),
    saveCrashReport: (exit) => call<string>("save_crash_report", { exit }),
    onOpenLead: async (handler) => {
      try {
        return await listen(OPEN_LEAD_EVENT, (payload) => handler(payload as OpenLead));
      } catch (raw) {
        throw toIpcError(raw);
      }
    },
    listLeads: (query) => call<LeadPage>("list_leads", { query }),
    leadPage: (args) => call<LeadListView>("lead_page", { args }),
    exportLeads: (args) => call<[string, number]>("export_leads", { args }),
    updateState: () => call<UpdateState>("update_state"),
    onUpdate: async (handler) => {
      try {
        return await listen(UPDATE_EVENT, (payload) => handler(payload as UpdateState));
      } catch (raw) {
        throw toIpcError(raw);
      }
    },
    installUpdate: (anyway) => call<void>("install_update", { anyway }),
    onStatus: async (handler) => {
      try {
        return await listen(STATUS_EVENT, (payload) => handler(payload as AppStatus));
      } catch (raw) {
        throw toIpcError(raw);
      }
    },
    phoneStatus: () => call<PhoneStatus>("phone_status"),
    phoneSettings: () => call<PhoneSettingsView>("phone_settings"),
    savePhoneSettings: (args) => call<PhoneStatus>("save_phone_settings", { args }),
    audioDevices: () => call<AudioDeviceList>("audio_devices"),
    dial: (args) => call<DialResult>("dial", { args }),
    clickToCall: (leadId) => call<DialResult>("click_to_call", { leadId }),
    callAction: (callId, action) => call<CallView>("call_action", { callId, action }),
    unloggedCalls: () => call<UnloggedCall[]>("unlogged_calls"),
    dispositions: () => call<Disposition[]>("dispositions"),
    wrapUp: (logId, args) => call<void>("wrap_up", { logId, args }),
    teamDashboard: (args) => call<TeamDashboard>("team_dashboard", { args }),
    teamMembers: () => call<UserAccount[]>("team_members"),
    teamLeads: (query) => call<TeamLeadPage>("team_leads", { query }),
    assignLeads: (args) => call<BulkOutcome>("assign_leads", { args }),
    assignMatching: (args) => call<BulkOutcome>("assign_matching", { args }),
    transferLeads: (args) => call<BulkOutcome>("transfer_leads", { args }),
    leadAudit: (leadId, cursor) => call<AuditPage>("lead_audit", { leadId, cursor }),
    // The file crosses raw, not as a JSON array of numbers (20 MB would be ~80 MB of text): a line of JSON
    // with the other arguments, "\n", then the bytes (CsvImportArgs::from_ipc_body in src-tauri/src/team.rs).
    // Tauri sends a Uint8Array argument as the request's body as it is.
    importCsv: ({ bytes, ...head }) => {
      const file = Array.isArray(bytes) ? Uint8Array.from(bytes) : bytes;
      const line = new TextEncoder().encode(`${JSON.stringify(head)}\n`);
      const body = new Uint8Array(line.length + file.length);
      body.set(line);
      body.set(file, line.length);
      return call<ImportOutcome>("import_csv", body as unknown as Record<string, unknown>);
    },
    importSheet: (args) => call<ImportOutcome>("import_sheet", { args }),
    teamGoals: () => call<Goal[]>("team_goals"),
    setGoal: (goal) => call<Goal>("set_goal", { goal }),
    dispositionCatalogue: () => call<DispositionEntry[]>("disposition_catalogue"),
    saveDisposition: (entry) => call<DispositionEntry[]>("save_disposition", { entry }),
    setupState: () => call<SetupState>("setup_state"),
    checkServer: (url, allowHttp) => call<ServerVerdict>("check_server", { url, allowHttp }),
    startMicTest: (device) => call<MicStart>("start_mic_test", { device }),
    stopMicTest: () => call<void>("stop_mic_test"),
    onMicLevel: async (handler) => {
      try {
        return await listen(MIC_LEVEL_EVENT, (payload) => handler(payload as MicLevel));
      } catch (raw) {
        throw toIpcError(raw);
      }
    },
    playTestTone: (device) => call<void>("play_test_tone", { device }),
    testNotification: (title, body) => call<NotificationCheck>("test_notification", { title, body }),
    finishSetup: (args) => call<SetupState>("finish_setup", { args }),
    onPhone: async (handler) => {
      try {
        return await listen(PHONE_EVENT, (payload) => handler(payload as PhoneEvent));
      } catch (raw) {
        throw toIpcError(raw);
      }
    },
  };
}

export const api: Api = makeApi(
  (cmd, args) => tauriInvoke(cmd, args),
  (event, handler) => tauriListen(event, (e) => handler(e.payload)),
);
