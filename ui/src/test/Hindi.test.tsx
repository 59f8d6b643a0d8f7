// The app in Hindi: the sign-in screen, the call bar and the incoming popup, the call-logging form, the
// dialogs, errors and labels, with the desk's language set to Hindi. English words must not show through.
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import axe from "axe-core";
import { afterEach, describe, expect, it } from "vitest";

import { App } from "../App";
import type { AppStatus } from "../bindings/AppStatus";
import type { LeadPage } from "../bindings/LeadPage";
import { ErrorBoundary } from "../components/ErrorBoundary";
import { describeCommandError, describeError } from "../errors";
import { formatClock, formatRelative, priorityLabel, sourceLabel, statusLabel } from "../format";
import { LanguageContext } from "../i18n";
import { IpcError, type Api } from "../ipc";
import { endWords, phoneStateLabel, qualityText, stageText } from "../phone";
import { QUICK_PICKS, formatTalk, quickPickLabel, tagLabel } from "../wrapup";
import {
  callView,
  fakePhone,
  fakeSession,
  fakeWrapUp,
  lead,
  phoneSettings,
  phoneStatus,
  status,
  unloggedCall,
} from "./fixtures";

afterEach(() => {
  cleanup();
  document.documentElement.lang = "en";
});

const asha = lead({ name: "Asha Rao", phone: "+919876543210", city: "Pune", interest: "Kundan bridal set" });

/** The app over fakes, with the desk's preferences saying Hindi. */
function hindiApp({
  initial = status(),
  phone = fakePhone(phoneStatus({ state: "ready" })),
  wrap = fakeWrapUp(),
  session = fakeSession([asha]),
  login,
}: {
  initial?: AppStatus;
  phone?: ReturnType<typeof fakePhone>;
  wrap?: ReturnType<typeof fakeWrapUp>;
  session?: ReturnType<typeof fakeSession>;
  login?: Api["login"];
} = {}) {
  const api: Api = {
    appStatus: async () => initial,
    login: login ?? (async () => initial),
    syncNow: async () => initial,
    listLeads: async (): Promise<LeadPage> => ({ leads: [asha], total: 1, truncated: false }),
    onStatus: async () => () => {},
    ...phone.api,
    ...wrap.api,
    ...session.api,
    preferences: async () => ({ ...(await session.api.preferences()), theme: "light", language: "hi" }),
  };
  render(<App api={api} />);
  return { api, phone, wrap, session };
}

/** English words of `words` found in the document's text (should be none). */
function englishShown(words: string[]): string[] {
  const text = document.body.textContent ?? "";
  return words.filter((w) => text.includes(w));
}

/** The axe violations in the document (colour contrast is left to the screenshots). */
async function violations(): Promise<string[]> {
  const results = await axe.run(document.body, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    rules: { "color-contrast": { enabled: false } },
  });
  return results.violations.map((v) => `${v.id}: ${v.help}`);
}

describe("the sign-in screen in Hindi", () => {
  it("labels the form in Hindi, says what is missing and why a password was refused", async () => {
    hindiApp({
      initial: status({ signed_in: false, user: null, server_url: null }),
      login: async () => {
        throw new IpcError("invalid_credentials", "username or password is wrong");
      },
    });
    const form = await screen.findByTestId("login-form");
    expect(document.documentElement.lang).toBe("hi");
    expect(form.textContent).toContain("कॉल शुरू करने के लिए साइन इन करें");
    expect(within(form).getByLabelText("सर्वर का पता")).toBe(screen.getByTestId("login-server"));
    expect(within(form).getByLabelText("यूज़रनेम")).toBe(screen.getByTestId("login-username"));
    expect(within(form).getByLabelText("पासवर्ड")).toBe(screen.getByTestId("login-password"));
    expect(englishShown(["Sign in", "Server address", "Username", "Password"])).toEqual([]);

    fireEvent.click(screen.getByRole("button", { name: "साइन इन करें" }));
    expect((await screen.findByTestId("login-error")).textContent).toBe(
      "फ़ॉर्म जाँचें। सर्वर का पता, यूज़रनेम, पासवर्ड भरें।",
    );

    fireEvent.change(screen.getByTestId("login-server"), { target: { value: "http://127.0.0.1:9" } });
    fireEvent.change(screen.getByTestId("login-username"), { target: { value: "priya" } });
    fireEvent.change(screen.getByTestId("login-password"), { target: { value: "nope" } });
    fireEvent.click(screen.getByRole("button", { name: "साइन इन करें" }));
    await waitFor(() =>
      expect(screen.getByTestId("login-error").textContent).toBe(
        "यूज़रनेम या पासवर्ड गलत है। दोनों जाँचकर फिर कोशिश करें।",
      ),
    );
    expect(await violations()).toEqual([]);
  });

  it("opens with a Hindi splash", async () => {
    const { api } = hindiApp();
    cleanup();
    render(<App api={{ ...api, appStatus: () => new Promise<AppStatus>(() => {}) }} />);
    expect(await screen.findByText("Leadline खुल रहा है…")).toBeTruthy();
  });

  it("shows the shell's last error in Hindi", async () => {
    hindiApp({
      initial: status({
        signed_in: false,
        last_error: { code: "session_expired", message: "the server ended the session" },
      }),
    });
    expect((await screen.findByTestId("login-error")).textContent).toBe(
      "आपका सेशन खत्म हो गया है। सिंक जारी रखने के लिए फिर से साइन इन करें।",
    );
  });

  it("says in Hindi when the desktop shell cannot be reached", async () => {
    const session = fakeSession();
    const api = {
      ...session.api,
      preferences: async () => ({ ...(await session.api.preferences()), language: "hi" as const }),
      onStatus: async () => {
        throw new IpcError("ipc_unavailable", "no shell");
      },
    } as unknown as Api;
    render(<App api={api} />);
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("Leadline का डेस्कटॉप ऐप नहीं चल रहा"));
    expect(screen.getByRole("alert").textContent).toContain("Leadline को उसके ऐप आइकन से खोलें।");
  });
});

describe("the phone in Hindi", () => {
  it("shows the call bar in Hindi, with Hindi button names", async () => {
    const { phone } = hindiApp();
    await waitFor(() => expect(screen.getByTestId("phone-state").textContent).toBe("फ़ोन तैयार"));
    expect(screen.getByRole("region", { name: "फ़ोन" })).toBeTruthy();
    fireEvent.change(screen.getByLabelText("कॉल करने के लिए नंबर"), { target: { value: "+919876543210" } });
    fireEvent.click(screen.getByRole("button", { name: "कॉल करें" }));
    const bar = await screen.findByTestId("active-call");
    expect(within(bar).getByTestId("call-stage").textContent).toBe("कॉल लग रही है…");
    expect(within(bar).getByRole("button", { name: "रद्द करें" })).toBe(screen.getByTestId("hang-up"));
    const call = phone.dialled[phone.dialled.length - 1]!;

    await phone.ready();
    act(() =>
      phone.emit({
        kind: "call",
        call: {
          ...call,
          stage: "connected",
          answered_at: new Date(Date.now() - 5_000).toISOString(),
          quality: { mos: 4.3, rtt_ms: 42, jitter_ms: 3, loss: 0.001, codec: "opus" },
        },
      }),
    );
    await waitFor(() => expect(screen.getByTestId("call-stage").textContent).toBe("कॉल जुड़ी"));
    expect(screen.getByRole("region", { name: "+91 98765 43210 के साथ कॉल" })).toBeTruthy();
    expect(screen.getByTestId("call-quality").textContent).toBe("आवाज़ साफ़");
    expect(screen.getByTestId("call-quality").getAttribute("title")).toBe(
      "MOS 4.3 · देरी 42 ms · जिटर 3 ms · पैकेट लॉस 0.1 % · opus",
    );
    for (const name of ["म्यूट", "होल्ड", "कीपैड", "ट्रांसफ़र", "कॉल खत्म करें"]) {
      expect(screen.getByRole("button", { name })).toBeTruthy();
    }
    fireEvent.click(screen.getByRole("button", { name: "कीपैड" }));
    expect(screen.getByRole("group", { name: "कीपैड" })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "ट्रांसफ़र" }));
    expect(screen.getByLabelText("किसे ट्रांसफ़र करें").getAttribute("placeholder")).toBe("नंबर या SIP पता");
    act(() => phone.emit({ kind: "dtmf", call_id: call.call_id, digit: "4" }));
    await waitFor(() => expect(screen.getByTestId("dtmf-received").textContent).toBe("उन्होंने दबाया: 4"));
    act(() => phone.emit({ kind: "call", call: { ...call, stage: "connected", muted: true, answered_at: new Date().toISOString() } }));
    await waitFor(() => expect(screen.getByTestId("call-stage").textContent).toBe("कॉल जुड़ी · म्यूट"));
    expect(screen.getByRole("button", { name: "अनम्यूट" })).toBeTruthy();
    expect(englishShown(["Connected", "Hang up", "Keypad", "Transfer", "Mute", "Hold"])).toEqual([]);
  });

  it("pops up an incoming call in Hindi, with the caller's lead card", async () => {
    const { phone } = hindiApp();
    await screen.findByTestId("phone-state");
    const ringing = callView({ direction: "inbound", stage: "ringing", remote: asha.phone });
    await phone.ready();
    act(() => phone.emit({ kind: "incoming", call: ringing, lead: asha }));
    const popup = await screen.findByRole("alertdialog", { name: "आती कॉल" });
    const card = within(popup).getByTestId("incoming-lead");
    expect(card.textContent).toBe("स्थितिनईशहरPuneरुचिKundan bridal set");
    fireEvent.click(within(popup).getByRole("button", { name: "उठाएँ" }));
    await waitFor(() =>
      expect(phone.calls).toContainEqual(["callAction", { callId: ringing.call_id, action: { action: "answer" } }]),
    );
    act(() => phone.emit({ kind: "call", call: { ...ringing, stage: "connected", answered_at: new Date().toISOString() } }));
    await waitFor(() => expect(screen.queryByTestId("incoming-call")).toBeNull());

    const stranger = callView({ direction: "inbound", stage: "ringing", remote: "+918000000001" });
    act(() => phone.emit({ kind: "incoming", call: stranger, lead: null }));
    const second = await screen.findByTestId("incoming-call");
    expect(second.textContent).toContain("यह आपकी लीड्स में नहीं है।");
    fireEvent.click(within(second).getByRole("button", { name: "काटें" }));
    await waitFor(() =>
      expect(phone.calls).toContainEqual(["callAction", { callId: stranger.call_id, action: { action: "reject" } }]),
    );
  });

  it("says in Hindi why a call failed and that it goes through the mobile", async () => {
    const phone = fakePhone(phoneStatus({ state: "ready" }));
    const dial = phone.api.dial;
    let refuse = false;
    phone.api.dial = async (args) => {
      if (refuse) throw new IpcError("phone", "no microphone");
      return dial(args);
    };
    hindiApp({ phone });
    fireEvent.change(await screen.findByTestId("dial-number"), { target: { value: asha.phone } });
    fireEvent.click(screen.getByRole("button", { name: "कॉल करें" }));
    await screen.findByTestId("active-call");
    const call = phone.dialled[phone.dialled.length - 1]!;
    await phone.ready();
    act(() =>
      phone.emit({
        kind: "call",
        call: { ...call, stage: "ended", end: "failed", problem: "No audio could get through", suggests_click_to_call: true },
      }),
    );
    const problem = await screen.findByTestId("call-problem");
    expect(problem.textContent).toContain("कॉल नहीं लगी। No audio could get through");
    expect(within(problem).getByRole("button", { name: "हटाएँ" })).toBeTruthy();

    // A refused command: the title in Hindi, the shell's reason after it.
    refuse = true;
    fireEvent.change(await screen.findByTestId("dial-number"), { target: { value: "+919999999999" } });
    fireEvent.click(screen.getByRole("button", { name: "कॉल करें" }));
    await waitFor(() =>
      expect(screen.getByTestId("phone-notice").textContent).toBe(
        "फ़ोन यह नहीं कर पाया: फ़ोन की सेटिंग्स (खाता, पासवर्ड, माइक्रोफ़ोन) जाँचें, फिर दोबारा कोशिश करें। संदेश: no microphone×",
      ),
    );
  });

  it("tells the click-to-call fallback in Hindi", async () => {
    const phone = fakePhone(phoneStatus({ state: "off" }));
    phone.api.dial = async () => ({
      via: "click_to_call",
      why: "no_microphone",
      call_log_id: "01936f4e-8c2a-7000-9000-000000000777",
    });
    hindiApp({ phone });
    await waitFor(() => expect(screen.getByTestId("phone-state").textContent).toBe("फ़ोन बंद"));
    fireEvent.change(screen.getByTestId("dial-number"), { target: { value: asha.phone } });
    fireEvent.click(screen.getByRole("button", { name: "कॉल करें" }));
    expect((await screen.findByTestId("phone-notice")).textContent).toBe(
      "लीड को आपके मोबाइल से कॉल कर रहे हैं: पहले आपका मोबाइल बजेगा, फिर लीड को कॉल जाएगी। (इस कंप्यूटर पर कोई माइक्रोफ़ोन नहीं मिला।)×",
    );
  });

  it("shows the phone settings in Hindi", async () => {
    const phone = fakePhone(phoneStatus({ state: "off" }));
    phone.api.phoneSettings = async () => ({ settings: phoneSettings({ enabled: true }), has_password: true });
    hindiApp({ phone });
    fireEvent.click(await screen.findByTestId("phone-state"));
    const form = await screen.findByTestId("phone-settings");
    expect(form.getAttribute("aria-label")).toBe("फ़ोन सेटिंग्स");
    await waitFor(() => expect(within(form).getByRole("option", { name: "USB Headset" })).toBeTruthy());
    expect(within(form).getByLabelText("SIP डोमेन")).toBe(screen.getByTestId("phone-domain"));
    expect((within(form).getByLabelText("पासवर्ड") as HTMLInputElement).placeholder).toBe(
      "सिस्टम कीरिंग में सहेजा है (बदलने के लिए नया लिखें)",
    );
    expect(within(form).getByLabelText("माइक्रोफ़ोन")).toBe(screen.getByTestId("phone-input"));
    // Speakers and ringtone both list the speakers.
    expect(within(form).getAllByRole("option", { name: "Speakers (डिफ़ॉल्ट)" })).toHaveLength(2);
    expect(within(form).getAllByRole("option", { name: "सिस्टम डिफ़ॉल्ट" })).toHaveLength(2);
    expect(within(form).getByRole("option", { name: "स्पीकर वाला ही" })).toBeTruthy();
    expect(within(form).getByRole("button", { name: "सहेजें" })).toBeTruthy();
    expect(within(form).getByRole("button", { name: "रद्द करें" })).toBeTruthy();
    expect(englishShown(["Microphone", "Advanced", "Echo cancellation", "Save", "Cancel"])).toEqual([]);
  });
});

describe("the call-logging form in Hindi", () => {
  it("asks in Hindi, shows tags in Hindi but logs them as saved before", async () => {
    const wrap = fakeWrapUp([unloggedCall({ lead: asha, talk_seconds: 65 })]);
    hindiApp({ wrap });
    const form = await screen.findByRole("dialog", { name: "कॉल फ़ॉर्म" });
    expect(within(form).getByRole("heading").textContent).toBe("Asha Rao के साथ कॉल दर्ज करें");
    expect(within(form).getByTestId("wrapup-facts").textContent).toBe("की गई कॉल · कॉल खत्म · 1 मिनट 05 सेकंड बात हुई");
    expect(within(form).getByRole("radiogroup", { name: "नतीजा" })).toBeTruthy();
    expect(within(form).getAllByRole("group", { name: "नतीजे के टैग" }).length).toBeGreaterThan(0);
    for (const name of ["1 घंटे बाद", "कल सुबह 11 बजे", "अगले हफ़्ते", "बाद में", "कॉल दर्ज करें", "झलक"]) {
      expect(within(form).getByRole("button", { name })).toBeTruthy();
    }
    expect(within(form).getByLabelText("नोट्स")).toBe(screen.getByTestId("wrapup-notes"));
    expect(within(form).getByLabelText("फ़ॉलो-अप का समय")).toBe(screen.getByTestId("wrapup-due"));
    const statusSelect = within(form).getByLabelText("लीड की स्थिति") as HTMLSelectElement;
    expect(statusSelect.options[0]!.textContent).toBe("यही रहे: नई");
    expect(Array.from(statusSelect.options).map((o) => o.textContent)).toContain("विज़िट तय");

    fireEvent.click(within(form).getByTestId("wrapup-save"));
    expect((await screen.findByTestId("wrapup-error")).textContent).toBe("नतीजा चुनें। कॉल का नतीजा चुनें (कुंजी 1–9)।");

    fireEvent.click(within(form).getByTestId("disposition-visit_booked"));
    expect(form.textContent).toContain("फ़ॉलो-अप (ज़रूरी)");
    fireEvent.click(within(form).getByRole("button", { name: "सोने का भाव" }));
    fireEvent.click(within(form).getByRole("button", { name: "कल सुबह 11 बजे" }));
    expect((within(form).getByTestId("wrapup-due") as HTMLInputElement).value).toMatch(/T11:00$/);
    expect(englishShown(["Log the call", "Outcome tags", "Notes", "Later", "gold rate", "Keep:"])).toEqual([]);
    expect(await violations()).toEqual([]);

    fireEvent.click(within(form).getByTestId("wrapup-save"));
    await waitFor(() => expect(wrap.logged).toHaveLength(1));
    expect(wrap.logged[0]![1].outcome_tags).toEqual(["gold rate"]);
  });
});

describe("dialogs and labels in Hindi", () => {
  it("brings a notified lead up as a Hindi card with Hindi badges", async () => {
    const session = fakeSession([asha]);
    hindiApp({ session });
    await screen.findByTestId("user-name");
    await waitFor(() => {
      session.openLead(asha.id);
      expect(screen.getByTestId("focused-lead")).toBeTruthy();
    });
    const card = screen.getByRole("region", { name: "लीड Asha Rao" });
    expect(card.textContent).toContain("वेबसाइट");
    expect(card.textContent).toContain("सामान्य");
    expect(card.textContent).toContain("नई");
    expect(within(card).getByTestId("focused-lead-call").textContent).toBe("Asha को कॉल करें");
    fireEvent.click(within(card).getByRole("button", { name: "लीड कार्ड बंद करें" }));
    expect(screen.queryByTestId("focused-lead")).toBeNull();
  });

  it("shows the preferences in Hindi, naming each language in its own script", async () => {
    hindiApp();
    fireEvent.click(await screen.findByTestId("open-preferences"));
    const dialog = await screen.findByRole("dialog", { name: "सेटिंग्स" });
    await within(dialog).findByTestId("theme-dark");
    expect(dialog.textContent).toContain("भाषा (Language)");
    expect(dialog.textContent).toContain("English");
    expect(within(dialog).getByLabelText("डार्क")).toBe(screen.getByTestId("theme-dark"));
    expect(within(dialog).getByLabelText("कंप्यूटर के हिसाब से")).toBe(screen.getByTestId("theme-system"));
    fireEvent.click(within(dialog).getByRole("button", { name: "हो गया" }));
    expect(screen.queryByTestId("preferences")).toBeNull();
  });

  it("after a crash, says in Hindi that the work is safe", async () => {
    const session = fakeSession([asha]);
    session.api.uncleanExit = async () => ({ started_at: "2026-11-25T04:30:00Z" });
    session.api.saveCrashReport = async () => "/tmp/leadline-report.txt";
    hindiApp({ session });
    const prompt = await screen.findByRole("alertdialog", { name: "Leadline अचानक बंद हो गया था" });
    expect(prompt.textContent).toContain("आपका काम सुरक्षित है");
    // The date as the hi-IN locale writes it.
    const when = new Intl.DateTimeFormat("hi-IN", { dateStyle: "medium", timeStyle: "short" }).format(
      new Date("2026-11-25T04:30:00Z"),
    );
    expect(prompt.textContent).toContain(`(${when} को शुरू हुआ)`);
    fireEvent.click(within(prompt).getByRole("button", { name: "रिपोर्ट सहेजें" }));
    expect((await screen.findByTestId("crash-report-path")).textContent).toBe("रिपोर्ट यहाँ सहेजी गई: /tmp/leadline-report.txt");
    fireEvent.click(within(prompt).getByRole("button", { name: "हो गया" }));
    expect(screen.queryByTestId("crash-prompt")).toBeNull();
  });

  it("says in Hindi that a screen or the window could not be drawn", () => {
    const Thrower = () => {
      throw new Error("render exploded");
    };
    const original = console.error;
    console.error = () => {};
    try {
      render(
        <LanguageContext.Provider value="hi">
          <ErrorBoundary screen="Today">
            <Thrower />
          </ErrorBoundary>
          <ErrorBoundary>
            <Thrower />
          </ErrorBoundary>
        </LanguageContext.Provider>,
      );
    } finally {
      console.error = original;
    }
    expect(screen.getByTestId("screen-error").textContent).toContain("आज स्क्रीन में कोई समस्या आई।");
    expect(screen.getByRole("button", { name: "फिर कोशिश करें" })).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Leadline में कोई समस्या आई" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "Leadline फिर से खोलें" })).toBeTruthy();
  });
});

describe("texts made outside components", () => {
  it("describes every error code in Hindi, and in English as before", () => {
    const codes = [
      "invalid_credentials",
      "network",
      "session_expired",
      "not_signed_in",
      "invalid_input",
      "server",
      "storage",
      "phone",
      "ipc_unavailable",
      "something_new",
    ];
    for (const code of codes) {
      const hi = describeError(new IpcError(code as never, "shell says"), "hi");
      expect(hi.title).toMatch(/[\u0900-\u097F]/);
      expect(hi.title).not.toBe(describeError(new IpcError(code as never, "shell says")).title);
    }
    expect(describeError(new IpcError("network", "connection refused"), "hi")).toEqual({
      title: "सर्वर से संपर्क नहीं हो पा रहा",
      detail:
        "सर्वर का पता और इस कंप्यूटर का इंटरनेट कनेक्शन जाँचें, फिर दोबारा कोशिश करें। आपका काम इस कंप्यूटर पर सहेजा रहता है।",
    });
    expect(describeCommandError({ code: "storage", message: "disk full" }, "hi").title).toBe("लोकल डेटाबेस में गड़बड़ी हुई");
    expect(describeError(new IpcError("network", "connection refused"))).toEqual({
      title: "Can't reach the server",
      detail: "connection refused",
    });
  });

  it("gives relative times and clock times in Hindi through Intl", () => {
    const now = new Date("2026-11-25T10:00:00Z");
    expect(formatRelative("2026-11-25T09:59:40Z", now, "hi")).toBe("अभी");
    expect(formatRelative("2026-11-25T09:45:00Z", now, "hi")).toBe("15 मिनट पहले");
    expect(formatRelative("2026-11-25T07:00:00Z", now, "hi")).toBe("3 घंटे पहले");
    expect(formatRelative("2026-11-24T08:00:00Z", now, "hi")).toBe("कल");
    expect(formatRelative("2026-11-21T10:00:00Z", now, "hi")).toBe("4 दिन पहले");
    expect(formatRelative("2026-11-25T10:05:00Z", now, "hi")).toBe("5 मिनट में");
    expect(formatRelative("2026-03-12T10:00:00Z", now, "hi")).toBe("12 मार्च 2026");
    expect(formatRelative("not a date", now, "hi")).toBe("—");
    // English is as it was.
    expect(formatRelative("2026-11-25T09:45:00Z", now)).toBe("15 min ago");
    expect(formatRelative("2026-11-24T08:00:00Z", now, "en")).toBe("yesterday");
    const iso = "2026-11-25T10:05:00Z";
    expect(formatClock(iso, "hi")).toBe(new Date(iso).toLocaleTimeString("hi-IN", { hour: "numeric", minute: "2-digit" }));
    expect(formatClock(iso)).toBe(new Date(iso).toLocaleTimeString("en-IN", { hour: "numeric", minute: "2-digit" }));
  });

  it("labels statuses, priorities, sources, call stages and talk time in Hindi", () => {
    expect(statusLabel("interested", "hi")).toBe("इच्छुक");
    expect(statusLabel("do_not_call", "hi")).toBe("कॉल न करें");
    expect(statusLabel("interested")).toBe("Interested");
    expect(priorityLabel("hot", "hi")).toBe("हॉट");
    expect(sourceLabel("walk_in", "hi")).toBe("वॉक-इन");
    expect(phoneStateLabel("no_password", "hi")).toBe("फ़ोन: पासवर्ड चाहिए");
    expect(phoneStateLabel("no_password")).toBe("Phone: password needed");
    expect(endWords("busy", "hi")).toBe("व्यस्त");
    expect(stageText(callView({ stage: "on_hold", held_here: false }), "hi")).toBe("सामने वाले ने होल्ड पर रखा है");
    expect(stageText(callView({ stage: "ringing", direction: "inbound" }))).toBe("Incoming call");
    expect(qualityText({ mos: 3.1, rtt_ms: null, jitter_ms: 12.4, loss: 0.034, codec: null }, "hi")).toBe(
      "MOS 3.1 · जिटर 12 ms · पैकेट लॉस 3.4 %",
    );
    expect(formatTalk(42, "hi")).toBe("42 सेकंड");
    expect(formatTalk(65, "hi")).toBe("1 मिनट 05 सेकंड");
    expect(QUICK_PICKS.map((q) => quickPickLabel(q, "hi"))).toEqual(["1 घंटे बाद", "कल सुबह 11 बजे", "अगले हफ़्ते"]);
    expect(QUICK_PICKS.map((q) => quickPickLabel(q))).toEqual(QUICK_PICKS.map((q) => q.label));
    expect(tagLabel("wedding", "hi")).toBe("शादी");
    expect(tagLabel("Akshaya Tritiya", "hi")).toBe("Akshaya Tritiya");
    expect(tagLabel("constructor", "hi")).toBe("constructor");
  });
});
