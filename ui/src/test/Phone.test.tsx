import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { App } from "../App";
import type { CallView } from "../bindings/CallView";
import type { LeadPage } from "../bindings/LeadPage";
import { IpcError, type Api } from "../ipc";
import { callTimer, initialPhone, phoneReducer, qualityGrade } from "../phone";
import { callView, fakePhone, fakeWrapUp, lead, phoneSettings, phoneStatus, status, fakeSession, openLeads } from "./fixtures";

afterEach(cleanup);

const asha = lead({ name: "Asha Rao", phone: "+919876543210", city: "Pune", interest: "Kundan bridal set" });
const meena = lead({ name: "Meena Iyer", phone: "+919812345678", status: "do_not_call" });

function appWith(phone = fakePhone(phoneStatus({ state: "ready" }))) {
  const api: Api = {
    appStatus: async () => status(),
    login: async () => status(),
    syncNow: async () => status(),
    listLeads: async (): Promise<LeadPage> => ({ leads: [asha, meena], total: 2, truncated: false }),
    onStatus: async () => () => {},
    ...phone.api,
    ...fakeWrapUp().api,
    ...fakeSession([asha, meena]).api,
  };
  render(<App api={api} />);
  return phone;
}

const quality = { mos: 4.3, rtt_ms: 42, jitter_ms: 3, loss: 0.001, codec: "opus" };

describe("phoneReducer", () => {
  it("tracks calls by id, remembers the caller's lead, and keeps a failed call's problem", () => {
    const ringing = callView({ direction: "inbound", stage: "ringing" });
    let s = phoneReducer(initialPhone, { type: "event", event: { kind: "incoming", call: ringing, lead: asha } });
    expect(s.calls).toEqual([ringing]);
    expect(s.leads[ringing.call_id]?.name).toBe("Asha Rao");

    const connected: CallView = { ...ringing, stage: "connected", answered_at: "2026-11-25T10:00:05Z" };
    s = phoneReducer(s, { type: "event", event: { kind: "call", call: connected } });
    expect(s.calls).toEqual([connected]);
    s = phoneReducer(s, { type: "event", event: { kind: "dtmf", call_id: ringing.call_id, digit: "4" } });
    s = phoneReducer(s, { type: "event", event: { kind: "dtmf", call_id: ringing.call_id, digit: "#" } });
    expect(s.received).toBe("4#");

    const failed: CallView = {
      ...connected,
      stage: "ended",
      end: "failed",
      problem: "No audio could get through",
      suggests_click_to_call: true,
    };
    s = phoneReducer(s, { type: "event", event: { kind: "call", call: failed } });
    expect(s.calls).toEqual([]);
    expect(s.ended?.call.problem).toContain("No audio");
    expect(s.ended?.lead?.name).toBe("Asha Rao");

    // A call ended normally leaves nothing to say.
    const fine = callView({ stage: "ended", end: "hung_up_there" });
    s = phoneReducer({ ...s, ended: null }, { type: "event", event: { kind: "call", call: fine } });
    expect(s.ended).toBeNull();
  });

  it("never brings back a call whose end came before an older view of it", () => {
    const call = callView({ stage: "dialing" });
    // The call failed at once: its end event beat the dial command's answer.
    let s = phoneReducer(initialPhone, { type: "event", event: { kind: "call", call: { ...call, stage: "ended", end: "failed" } } });
    s = phoneReducer(s, { type: "dialled", result: { via: "softphone", call }, lead: asha });
    expect(s.calls).toEqual([]);
    s = phoneReducer(s, { type: "event", event: { kind: "call", call: { ...call, stage: "connected" } } });
    expect(s.calls).toEqual([]);
    // And the dial answer does not overwrite newer news of the call.
    const next = callView({ stage: "dialing" });
    s = phoneReducer(s, { type: "event", event: { kind: "call", call: { ...next, stage: "ringing" } } });
    s = phoneReducer(s, { type: "dialled", result: { via: "softphone", call: next }, lead: asha });
    expect(s.calls.map((c) => c.stage)).toEqual(["ringing"]);
  });

  it("keeps a call placed before the first status arrived, and lets a later status replace the calls", () => {
    const placed = callView({ stage: "dialing" });
    let s = phoneReducer(initialPhone, { type: "dialled", result: { via: "softphone", call: placed }, lead: asha });
    expect(s.calls).toEqual([placed]);
    // The app's first status, read before the dial but answered after it, lists no call.
    s = phoneReducer(s, { type: "status", status: phoneStatus({ version: 1, state: "ready" }) });
    expect(s.calls).toEqual([placed]);
    // A newer status lists every live call: the call has gone.
    s = phoneReducer(s, { type: "status", status: phoneStatus({ version: 2, state: "ready" }) });
    expect(s.calls).toEqual([]);
  });

  it("keeps the newer phone state when a command's answer arrives after the event it raced", () => {
    let s = phoneReducer(initialPhone, { type: "status", status: phoneStatus({ version: 1, state: "off" }) });
    // The phone registered (event, version 3) before the save command's answer (version 2) came back.
    s = phoneReducer(s, { type: "event", event: { kind: "status", status: phoneStatus({ version: 3, state: "ready" }) } });
    s = phoneReducer(s, { type: "status", status: phoneStatus({ version: 2, state: "connecting" }) });
    expect(s.status?.state).toBe("ready");
    // A status of the same version does not wipe the calls the events brought.
    const call = callView({ stage: "connected" });
    s = phoneReducer(s, { type: "event", event: { kind: "call", call } });
    s = phoneReducer(s, { type: "status", status: phoneStatus({ version: 3, state: "ready", calls: [] }) });
    expect(s.calls).toEqual([call]);
  });

  it("times the call from its answer and grades its quality", () => {
    const call = callView({ stage: "connected", answered_at: "2026-11-25T10:00:00Z" });
    expect(callTimer(call, new Date("2026-11-25T10:01:07Z"))).toBe("1:07");
    expect(callTimer(call, new Date("2026-11-25T11:02:03Z"))).toBe("1:02:03");
    expect(callTimer(callView({ stage: "dialing" }), new Date())).toBe("0:00");
    expect(qualityGrade({ ...quality, mos: 4.3 })).toBe("good");
    expect(qualityGrade({ ...quality, mos: 3.8 })).toBe("fair");
    expect(qualityGrade({ ...quality, mos: 2.9 })).toBe("poor");
  });
});

describe("calling", () => {
  it("calls a lead from the list, shows the call live, and drives it with the buttons", async () => {
    const phone = appWith();
    await waitFor(() => expect(screen.getByTestId("phone-state").textContent).toContain("Phone ready"));
    await openLeads();
    const rows = await screen.findAllByTestId("lead-row");
    // A lead who asked not to be called cannot be called.
    expect((within(rows[1]!).getByTestId("call-lead") as HTMLButtonElement).disabled).toBe(true);

    fireEvent.click(within(rows[0]!).getByRole("button", { name: "Call Asha Rao" }));
    const bar = await screen.findByTestId("active-call");
    expect(phone.calls[0]).toEqual(["dial", { number: "+919876543210", lead_id: asha.id }]);
    expect(within(bar).getByTestId("call-name").textContent).toBe("Asha Rao");
    expect(within(bar).getByTestId("call-stage").textContent).toBe("Calling…");

    // The shell reports the answer, then live quality.
    expect(screen.getByRole("region", { name: "Call with Asha Rao" })).toBeTruthy();
    const callId = (await lastDialledCall(phone)).call_id;
    await phone.ready();
    act(() =>
      phone.emit({
        kind: "call",
        call: callView({
          call_id: callId,
          lead_id: asha.id,
          stage: "connected",
          answered_at: new Date(Date.now() - 65_000).toISOString(),
          quality,
        }),
      }),
    );
    await waitFor(() => expect(screen.getByTestId("call-stage").textContent).toBe("Connected"));
    expect(screen.getByTestId("call-timer").textContent).toMatch(/^1:0[4-9]$/);
    expect(screen.getByTestId("call-quality").textContent).toContain("Clear");
    expect(screen.getByTestId("call-quality").getAttribute("title")).toContain("MOS 4.3");

    fireEvent.click(screen.getByRole("button", { name: "Mute" }));
    fireEvent.click(screen.getByRole("button", { name: "Keypad" }));
    fireEvent.click(within(screen.getByTestId("keypad")).getByRole("button", { name: "5" }));
    fireEvent.click(screen.getByTestId("hang-up"));
    await waitFor(() =>
      expect(phone.calls.filter((c) => c[0] === "callAction").map((c) => (c[1] as { action: unknown }).action)).toEqual([
        { action: "mute" },
        { action: "dtmf", digits: "5" },
        { action: "hang_up" },
      ]),
    );

    act(() => phone.emit({ kind: "call", call: callView({ call_id: callId, stage: "ended", end: "hung_up_here" }) }));
    await waitFor(() => expect(screen.queryByTestId("active-call")).toBeNull());
    expect(screen.queryByTestId("call-problem")).toBeNull();
  });

  it("says when a call went to the telecaller's mobile instead, and why", async () => {
    const phone = fakePhone(phoneStatus({ state: "off" }));
    phone.api.dial = async (args) => {
      phone.calls.push(["dial", args]);
      return { via: "click_to_call", why: "not_registered", call_log_id: "01936f4e-8c2a-7000-9000-000000000777" };
    };
    appWith(phone);
    await waitFor(() => expect(screen.getByTestId("phone-state").textContent).toContain("Phone off"));
    fireEvent.click((await screen.findAllByRole("button", { name: "Call Asha Rao" }))[0]!);
    const notice = await screen.findByTestId("phone-notice");
    expect(notice.textContent).toContain("Calling Asha Rao through your mobile");
    expect(notice.textContent).toContain("not connected");
    expect(screen.queryByTestId("active-call")).toBeNull();
  });

  it("offers the mobile when a call could not get its audio through", async () => {
    const phone = appWith();
    fireEvent.click((await screen.findAllByRole("button", { name: "Call Asha Rao" }))[0]!);
    const callId = (await lastDialledCall(phone)).call_id;
    await phone.ready();
    act(() =>
      phone.emit({
        kind: "call",
        call: callView({
          call_id: callId,
          stage: "ended",
          end: "failed",
          problem: "No audio could get through (the network may block calls from this computer)",
          suggests_click_to_call: true,
        }),
      }),
    );
    const problem = await screen.findByTestId("call-problem");
    expect(problem.textContent).toContain("Call failed");
    fireEvent.click(within(problem).getByRole("button", { name: "Call Asha Rao through my mobile" }));
    await waitFor(() => expect(phone.calls.some((c) => c[0] === "clickToCall" && c[1] === asha.id)).toBe(true));
    expect((await screen.findByTestId("phone-notice")).textContent).toContain("through your mobile");
  });

  it("shows a refused command's reason", async () => {
    const phone = fakePhone(phoneStatus({ state: "ready" }));
    phone.api.dial = async () => {
      throw new IpcError("phone", "The softphone cannot call now (no microphone), and only a lead's number can be called");
    };
    appWith(phone);
    fireEvent.change(await screen.findByTestId("dial-number"), { target: { value: "+91 99999 99999" } });
    fireEvent.click(screen.getByRole("button", { name: "Call" }));
    const notice = await screen.findByTestId("phone-notice");
    expect(notice.getAttribute("role")).toBe("alert");
    expect(notice.textContent).toContain("no microphone");
  });
});

describe("incoming calls", () => {
  it("pops up with the caller's lead card and answers or declines", async () => {
    const phone = appWith();
    await screen.findByTestId("phone-state");
    const ringing = callView({ direction: "inbound", stage: "ringing", remote: asha.phone });
    await phone.ready();
    act(() => phone.emit({ kind: "incoming", call: ringing, lead: asha }));
    const popup = await screen.findByTestId("incoming-call");
    expect(popup.textContent).toContain("Asha Rao");
    expect(within(popup).getByTestId("incoming-lead").textContent).toContain("Pune");
    expect(within(popup).getByTestId("incoming-lead").textContent).toContain("Kundan bridal set");
    fireEvent.click(within(popup).getByRole("button", { name: "Answer" }));
    await waitFor(() =>
      expect(phone.calls).toContainEqual(["callAction", { callId: ringing.call_id, action: { action: "answer" } }]),
    );
    act(() => phone.emit({ kind: "call", call: { ...ringing, stage: "connected", answered_at: new Date().toISOString() } }));
    // Answered: the popup gives way to the call bar.
    await waitFor(() => expect(screen.queryByTestId("incoming-call")).toBeNull());
    expect(screen.getByTestId("active-call").textContent).toContain("Asha Rao");

    const stranger = callView({ direction: "inbound", stage: "ringing", remote: "+918000000001" });
    act(() => phone.emit({ kind: "incoming", call: stranger, lead: null }));
    const second = await screen.findByTestId("incoming-call");
    expect(second.textContent).toContain("+91 80000 00001");
    expect(second.textContent).toContain("Not one of your leads");
    fireEvent.click(within(second).getByRole("button", { name: "Decline" }));
    await waitFor(() =>
      expect(phone.calls).toContainEqual(["callAction", { callId: stranger.call_id, action: { action: "reject" } }]),
    );
  });

  it("follows the phone's state in the header", async () => {
    const phone = appWith(fakePhone(phoneStatus({ state: "connecting" })));
    await waitFor(() => expect(screen.getByTestId("phone-state").textContent).toContain("connecting"));
    await phone.ready();
    act(() =>
      phone.emit({
        kind: "status",
        status: phoneStatus({ version: 2, state: "failed", detail: "authentication failed for realm \"x\"" }),
      }),
    );
    await waitFor(() => expect(screen.getByTestId("phone-state").getAttribute("data-state")).toBe("failed"));
    expect(screen.getByTestId("phone-state").getAttribute("title")).toContain("authentication failed");
  });
});

describe("phone settings", () => {
  it("loads, refuses a bad value with the shell's reason, and saves the password to the keyring", async () => {
    const phone = fakePhone(phoneStatus({ state: "off" }));
    phone.api.phoneSettings = async () => ({
      settings: phoneSettings({ enabled: true, domain: "acme.voip.exotel.com", username: "agent7" }),
      has_password: true,
    });
    let refuse = true;
    phone.api.savePhoneSettings = async (args) => {
      phone.calls.push(["savePhoneSettings", args]);
      if (refuse) throw new IpcError("invalid_input", "The server address must start with wss://");
      return phoneStatus({ version: 2, state: "connecting" });
    };
    appWith(phone);
    fireEvent.click(await screen.findByTestId("phone-state"));
    const form = await screen.findByTestId("phone-settings");
    expect((within(form).getByTestId("phone-domain") as HTMLInputElement).value).toBe("acme.voip.exotel.com");
    expect((within(form).getByTestId("phone-password") as HTMLInputElement).placeholder).toContain("keyring");
    await waitFor(() => expect(within(form).getByRole("option", { name: "USB Headset" })).toBeTruthy());

    fireEvent.change(within(form).getByTestId("phone-ws-url"), { target: { value: "voip.exotel.in" } });
    fireEvent.click(within(form).getByTestId("phone-save"));
    expect((await screen.findByTestId("phone-settings-error")).textContent).toContain("wss://");

    refuse = false;
    fireEvent.change(within(form).getByTestId("phone-ws-url"), { target: { value: "wss://voip.exotel.in:443/wss" } });
    fireEvent.change(within(form).getByTestId("phone-password"), { target: { value: "s3cret" } });
    fireEvent.change(within(form).getByTestId("phone-input"), { target: { value: "alsa:headset" } });
    fireEvent.click(within(form).getByTestId("phone-save"));
    await waitFor(() => expect(screen.queryByTestId("phone-settings")).toBeNull());
    const saved = phone.calls.filter((c) => c[0] === "savePhoneSettings").pop()![1] as {
      settings: { ws_url: string; input_device: string | null; stun_servers: string[] };
      password?: string;
    };
    expect(saved.password).toBe("s3cret");
    expect(saved.settings.ws_url).toBe("wss://voip.exotel.in:443/wss");
    expect(saved.settings.input_device).toBe("alsa:headset");
    expect(saved.settings.stun_servers).toEqual(["stun:stun.l.google.com:19302"]);
    expect(screen.getByTestId("phone-state").textContent).toContain("connecting");
  });

  it("keeps the saved password when the field is left empty", async () => {
    const phone = fakePhone(phoneStatus({ state: "off" }));
    appWith(phone);
    fireEvent.click(await screen.findByTestId("phone-state"));
    fireEvent.click(await screen.findByTestId("phone-save"));
    await waitFor(() => expect(phone.calls.some((c) => c[0] === "savePhoneSettings")).toBe(true));
    const saved = phone.calls.find((c) => c[0] === "savePhoneSettings")![1] as { password?: string };
    expect(saved.password).toBeUndefined();
  });
});

/** The call the fake's `dial` answered last, once the call bar shows it (later events name its id). */
async function lastDialledCall(phone: ReturnType<typeof fakePhone>): Promise<CallView> {
  await waitFor(() => expect(screen.getByTestId("active-call")).toBeTruthy());
  return phone.dialled[phone.dialled.length - 1]!;
}

describe("call shortcuts", () => {
  it("answers, declines, mutes and hangs up from the keyboard", async () => {
    const phone = appWith();
    const acts = () =>
      phone.calls
        .filter(([name]) => name === "callAction")
        .map(([, a]) => {
          const { callId, action } = a as { callId: string; action: { action: string } };
          return [callId, action.action];
        });
    await waitFor(() => expect(screen.getByTestId("phone-state").textContent).toContain("Phone ready"));
    const ringing = callView({ direction: "inbound", stage: "ringing", remote: asha.phone });
    await phone.ready();
    phone.emit({ kind: "incoming", call: ringing, lead: asha });
    await screen.findByTestId("incoming-call");
    // The keys act once the panel's key handler follows the call (effects run after the render shows it).
    const press = (key: string, call: string, action: string) =>
      waitFor(() => {
        if (!acts().some(([c, a]) => c === call && a === action)) fireEvent.keyDown(window, { key, ctrlKey: true });
        expect(acts()).toContainEqual([call, action]);
      });
    await press("Enter", ringing.call_id, "answer");

    phone.emit({ kind: "call", call: { ...ringing, stage: "connected", answered_at: new Date().toISOString() } });
    await waitFor(() => expect(screen.getByTestId("active-call").getAttribute("data-stage")).toBe("connected"));
    await press("m", ringing.call_id, "mute");
    await press("h", ringing.call_id, "hang_up");
    // Plain letters are not shortcuts.
    const before = acts().length;
    fireEvent.keyDown(window, { key: "h" });
    expect(acts().length).toBe(before);

    const second = callView({ direction: "inbound", stage: "ringing", remote: meena.phone });
    phone.emit({ kind: "incoming", call: second, lead: meena });
    await screen.findByTestId("incoming-call");
    await press("d", second.call_id, "reject");
  });
});

it("lists the shortcuts on ?", async () => {
  appWith();
  await screen.findByTestId("user-name");
  // Pressed until the screen's key handler is in place (effects run after the render that shows it).
  await waitFor(() => {
    if (!screen.queryByTestId("shortcuts")) fireEvent.keyDown(window, { key: "?" });
    expect(screen.getByTestId("shortcuts")).toBeTruthy();
  });
  const sheet = screen.getByTestId("shortcuts");
  expect(sheet.textContent).toContain("Ctrl+H");
  expect(sheet.textContent).toContain("Call the next lead");
  fireEvent.click(screen.getByRole("button", { name: "Close" }));
  expect(screen.queryByTestId("shortcuts")).toBeNull();
});
