// The screens in Hindi: the lead list (filters, chips, table), the header (sync time, offline banner, errors),
// Today (queue reasons, talk time, chart) and Follow-ups (due times, quick picks, notices, errors). English
// words must not show through.
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { App } from "../App";
import type { AppStatus } from "../bindings/AppStatus";
import type { Dashboard } from "../bindings/Dashboard";
import type { FollowUpItem } from "../bindings/FollowUpItem";
import type { Lead } from "../bindings/Lead";
import type { LeadPage } from "../bindings/LeadPage";
import { FollowUps } from "../components/FollowUps";
import { Home, formatDuration } from "../components/Home";
import { LeadTable } from "../components/LeadTable";
import { formatClock } from "../format";
import { LanguageContext } from "../i18n";
import { IpcError, type Api } from "../ipc";
import {
  dashboard,
  fakeFollowUps,
  fakePhone,
  fakeSession,
  fakeWrapUp,
  lead,
  openLeads,
  phoneStatus,
  status,
} from "./fixtures";

afterEach(() => {
  cleanup();
  document.documentElement.lang = "en";
});

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
const minutesAhead = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

const asha = lead({
  name: "Asha Rao",
  status: "interested",
  priority: "hot",
  source: "walk_in",
  updated_at: minutesAgo(15),
});
const meena = lead({ name: "Meena Iyer", status: "new", source: "website", updated_at: minutesAgo(3 * 24 * 60) });
const ravi = lead({ name: "Ravi Kumar", priority: "high" });

/** The app over fakes, with the desk's preferences saying Hindi; `overrides` replace parts of the Api. */
function hindiApp({
  initial = status(),
  session = fakeSession([asha, meena]),
  overrides = {},
}: {
  initial?: AppStatus;
  session?: ReturnType<typeof fakeSession>;
  overrides?: Partial<Api>;
} = {}) {
  const api: Api = {
    appStatus: async () => initial,
    login: async () => initial,
    syncNow: async () => initial,
    listLeads: async (): Promise<LeadPage> => ({ leads: [asha, meena], total: 2, truncated: false }),
    onStatus: async () => () => {},
    ...fakePhone(phoneStatus({ state: "ready" })).api,
    ...fakeWrapUp().api,
    ...session.api,
    preferences: async () => ({ ...(await session.api.preferences()), theme: "light", language: "hi" }),
    ...overrides,
  };
  render(<App api={api} />);
  return { api, session };
}

/** English words of `words` found in the document's text (should be none). */
function englishShown(words: string[]): string[] {
  const text = document.body.textContent ?? "";
  return words.filter((w) => text.includes(w));
}

/** The texts of a select's options. */
function optionTexts(select: HTMLElement): string[] {
  return Array.from((select as HTMLSelectElement).options).map((o) => o.textContent ?? "");
}

describe("the lead list in Hindi", () => {
  it("labels filters, chips, columns and rows in Hindi, with Hindi relative times", async () => {
    const { session } = hindiApp();
    await openLeads();
    await waitFor(() => expect(screen.getAllByTestId("lead-row")).toHaveLength(2));

    expect(screen.getByTestId("status-chip-interested").textContent).toBe("इच्छुक 1");
    expect(screen.getByTestId("status-chip-new").textContent).toBe("नई 1");
    expect(screen.getByTestId("status-chip-do_not_call").textContent).toBe("कॉल न करें 0");
    expect(screen.getByRole("group", { name: "स्थिति" })).toBeTruthy();
    expect(optionTexts(screen.getByLabelText("प्राथमिकता से छाँटें"))).toEqual([
      "कोई भी प्राथमिकता",
      "कम",
      "सामान्य",
      "ऊँची",
      "हॉट",
    ]);
    expect(optionTexts(screen.getByLabelText("स्रोत से छाँटें"))).toEqual([
      "कोई भी स्रोत",
      "वॉक-इन",
      "वेबसाइट",
      "इंस्टाग्राम",
      "फ़ेसबुक",
      "गूगल शीट",
      "रेफ़रल",
      "अन्य",
    ]);

    const headers = screen.getAllByRole("columnheader").map((h) => h.textContent);
    expect(headers).toEqual(["", "नाम", "फ़ोन", "शहर", "रुचि", "प्राथमिकता", "स्थिति", "आख़िरी बदलाव", "कॉल करें"]);
    expect(screen.getByLabelText("सूची की सभी लीड्स चुनें")).toBe(screen.getByTestId("select-all"));

    const [first, second] = screen.getAllByTestId("lead-row");
    expect(within(first!).getByTestId("lead-name").textContent).toBe("Asha Rao");
    expect(first!.textContent).toContain("वॉक-इन");
    expect(first!.textContent).toContain("15 मिनट पहले");
    expect(first!.textContent).toContain("हॉट");
    expect(first!.textContent).toContain("इच्छुक");
    expect(within(first!).getByRole("button", { name: "Asha Rao को कॉल करें" }).textContent).toBe("कॉल करें");
    expect(within(first!).getByLabelText("Asha Rao को चुनें")).toBeTruthy();
    const updated = first!.querySelector("td.num")!;
    expect(updated.getAttribute("title")).toBe(new Date(asha.updated_at).toLocaleString("hi-IN"));
    expect(second!.textContent).toContain("वेबसाइट");
    expect(second!.textContent).toContain("3 दिन पहले");

    expect(
      englishShown(["Interested", "Walk-in", "Website", "min ago", "days ago", "Any priority", "Updated", "Name", "Hot"]),
    ).toEqual([]);
    expect(screen.queryByLabelText("Select all listed leads")).toBeNull();
    expect(screen.queryByLabelText("Call Asha Rao")).toBeNull();

    // A chip filters, and the count says so in Hindi.
    fireEvent.click(screen.getByTestId("status-chip-interested"));
    await waitFor(() => expect(screen.getByTestId("shown-count").textContent).toBe("1 लीड्स मिलीं"));
    expect(session.list.queries[session.list.queries.length - 1]!.statuses).toEqual(["interested"]);
  });

  it("says in Hindi why the list could not be read", async () => {
    const session = fakeSession([asha, meena]);
    const leadPage = session.api.leadPage;
    session.api.leadPage = async (args) => {
      if (args.search === "zzz") throw new IpcError("storage", "disk full");
      return leadPage(args);
    };
    hindiApp({ session });
    await openLeads();
    await waitFor(() => expect(screen.getAllByTestId("lead-row")).toHaveLength(2));
    fireEvent.change(screen.getByTestId("search"), { target: { value: "zzz" } });
    expect((await screen.findByRole("alert")).textContent).toBe(
      "लोकल डेटाबेस में गड़बड़ी हुई। Leadline बंद करके फिर खोलें; समस्या बनी रहे तो यह संदेश सहायता टीम को बताएँ। संदेश: disk full",
    );
    expect(englishShown(["The local database failed"])).toEqual([]);
  });

  it("draws the lead table's loading row and do-not-call hint in Hindi", () => {
    const dnc = lead({ name: "Kavya Nair", status: "do_not_call" });
    render(
      <LanguageContext.Provider value="hi">
        <LeadTable leads={[dnc]} now={new Date()} emptyText="—" onCall={() => {}} more />
      </LanguageContext.Provider>,
    );
    expect(screen.getByText("और लीड्स लोड हो रही हैं…")).toBeTruthy();
    const call = screen.getByRole("button", { name: "Kavya Nair को कॉल करें" });
    expect(call.getAttribute("title")).toBe("इस लीड ने कॉल न करने को कहा है");
    expect(englishShown(["Loading more", "Call"])).toEqual([]);
  });
});

describe("the header in Hindi", () => {
  it("says when the last sync was, and the user's role, in Hindi", async () => {
    hindiApp({ initial: status({ last_sync_at: minutesAgo(5) }) });
    await screen.findByTestId("user-name");
    const sync = screen.getByTestId("sync-status");
    expect(sync.textContent).toContain("सिंक हुआ 5 मिनट पहले");
    expect(sync.textContent).toContain("ऑनलाइन");
    expect(document.querySelector(".user-role")!.textContent).toBe("टेलीकॉलर");
    expect(screen.getByTestId("open-shortcuts").getAttribute("title")).toBe("कीबोर्ड शॉर्टकट (?)");
    expect(englishShown(["Synced", "min ago", "telecaller", "Online", "Sign out"])).toEqual([]);
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows the offline banner in Hindi, with what waits and when it retries", async () => {
    const retryAt = minutesAhead(4);
    hindiApp({
      initial: status({
        connection: "offline",
        pending: 2,
        next_retry_at: retryAt,
        last_error: { code: "network", message: "Leadline could not connect to the server." },
      }),
    });
    const banner = await screen.findByRole("alert");
    expect(banner.textContent).toBe(
      "आप ऑफ़लाइन हैं। सर्वर से संपर्क नहीं हो पा रहा। काम जारी रखें: लीड्स इसी कंप्यूटर से पढ़ी जाती हैं, और आपकी दर्ज " +
        "की गई कॉल यहीं सहेजी जाती हैं और कनेक्शन लौटते ही भेज दी जाएँगी। 2 बदलाव भेजे जाने बाकी हैं। " +
        `Leadline ${formatClock(retryAt, "hi")} पर फिर कोशिश करेगा।`,
    );
    expect(screen.getByTestId("sync-status").textContent).toContain("ऑफ़लाइन");
    expect(englishShown(["You're offline", "changes wait", "tries again", "Keep working"])).toEqual([]);
  });

  it("says in Hindi that one change waits, without a retry time", async () => {
    hindiApp({
      initial: status({ connection: "offline", pending: 1, last_error: { code: "network", message: "unreachable" } }),
    });
    const banner = await screen.findByRole("alert");
    expect(banner.textContent).toMatch(/^आप ऑफ़लाइन हैं। /);
    expect(banner.textContent).toMatch(/ 1 बदलाव भेजा जाना बाकी है।$/);
    expect(englishShown(["change waits", "tries again"])).toEqual([]);
  });

  it("shows the shell's last error, a failed sync and a vanished lead in Hindi", async () => {
    const { session } = hindiApp({
      initial: status({ last_error: { code: "session_expired", message: "the server ended the session" } }),
      overrides: {
        syncNow: async () => {
          throw new IpcError("server", "HTTP 502");
        },
      },
    });
    expect((await screen.findByRole("alert")).textContent).toBe(
      "आपका सेशन खत्म हो गया है। सिंक जारी रखने के लिए फिर से साइन इन करें।",
    );
    fireEvent.click(screen.getByRole("button", { name: "अभी सिंक करें" }));
    await waitFor(() =>
      expect(screen.getByRole("alert").textContent).toBe(
        "सर्वर ने समस्या बताई। थोड़ी देर बाद फिर कोशिश करें; बार-बार हो तो यह संदेश अपने सुपरवाइज़र या सहायता टीम को बताएँ। संदेश: HTTP 502",
      ),
    );

    await waitFor(() => {
      session.openLead("01936f4e-8c2a-7000-8000-0000000dead0");
      expect(screen.getAllByRole("alert").map((a) => a.textContent)).toContain(
        "फ़ॉर्म जाँचें। नीचे लिखी बात ठीक करके फिर कोशिश करें। संदेश: That lead is no longer on this computer.",
      );
    });
    expect(englishShown(["Your session has ended", "The server reported a problem", "Check the form"])).toEqual([]);
  });
});

describe("Today in Hindi", () => {
  it("gives the queue's reasons, talk time and the chart in Hindi", async () => {
    const dueToday = minutesAhead(30);
    const hourly = Array.from({ length: 24 }, () => 0);
    hourly[10] = 4;
    hourly[11] = 2;
    const home = (): Dashboard =>
      dashboard([], {
        calls_made: 6,
        talk_time_s: 754,
        hourly,
        queue: [
          { lead: asha, why: "overdue_follow_up", follow_up_due_at: minutesAgo(120) },
          { lead: ravi, why: "follow_up_today", follow_up_due_at: dueToday },
          { lead: meena, why: "new", follow_up_due_at: null },
        ],
      });
    hindiApp({ session: fakeSession([asha, meena, ravi], undefined, home) });
    const items = await screen.findAllByTestId("queue-item");
    expect(items[0]!.textContent).toContain("फ़ॉलो-अप बाकी: 2 घंटे पहले");
    expect(items[1]!.textContent).toContain(`फ़ॉलो-अप ${formatClock(dueToday, "hi")} पर`);
    expect(items[2]!.textContent).toContain("नई लीड");
    expect(screen.getByTestId("tile-talk").textContent).toContain("12 मिनट 34 सेकंड");
    expect(screen.getByTestId("hourly-chart").getAttribute("aria-label")).toBe(
      "घंटे के हिसाब से कॉल। सुबह 10: 4, सुबह 11: 2",
    );
    expect(screen.getByTestId("call-next").getAttribute("title")).toBe("शॉर्टकट: N");
    expect(englishShown(["Follow-up due", "h ago", "12m 34s", "New lead", "Follow-up at"])).toEqual([]);
  });

  it("says in Hindi when the day could not be read, with a Hindi way to try again", async () => {
    let fail = true;
    const api = {
      dashboard: async () => {
        if (fail) throw new IpcError("storage", "the cache is locked");
        return dashboard([asha]);
      },
      screenReady: async () => {},
    } as unknown as Api;
    render(
      <LanguageContext.Provider value="hi">
        <Home api={api} status={status()} callsSeen={0} onCall={() => {}} onOpen={() => {}} busy={false} />
      </LanguageContext.Provider>,
    );
    expect((await screen.findByRole("alert")).textContent).toBe(
      "लोकल डेटाबेस में गड़बड़ी हुई। Leadline बंद करके फिर खोलें; समस्या बनी रहे तो यह संदेश सहायता टीम को बताएँ। संदेश: the cache is locked फिर कोशिश करें",
    );
    fail = false;
    fireEvent.click(screen.getByRole("button", { name: "फिर कोशिश करें" }));
    await waitFor(() => expect(screen.getAllByTestId("queue-item")).toHaveLength(1));
    expect(screen.getByTestId("hourly-chart").getAttribute("aria-label")).toBe(
      "घंटे के हिसाब से कॉल। आज अभी कोई कॉल नहीं",
    );
  });

  it("formats talk time in Hindi, and in English as before", () => {
    expect(formatDuration(0, "hi")).toBe("0 सेकंड");
    expect(formatDuration(754, "hi")).toBe("12 मिनट 34 सेकंड");
    expect(formatDuration(3 * 3600 + 120, "hi")).toBe("3 घंटे 2 मिनट");
    expect(formatDuration(754)).toBe("12m 34s");
  });
});

describe("Follow-ups in Hindi", () => {
  function item(id: string, l: Lead, dueInMinutes: number, note: string | null = null): FollowUpItem {
    return { id, lead: l, note, due_at: minutesAhead(dueInMinutes) };
  }

  function renderHindi(items: FollowUpItem[]) {
    const fake = fakeFollowUps(items);
    const onChanged = vi.fn();
    render(
      <LanguageContext.Provider value="hi">
        <FollowUps api={fake.api as unknown as Api} refreshKey="" onCall={() => {}} onOpen={() => {}} onChanged={onChanged} />
      </LanguageContext.Provider>,
    );
    return { fake, onChanged };
  }

  it("says when each is due, and marks done, moves and saves to the calendar in Hindi", async () => {
    const upcoming = item("f2", ravi, 3 * 24 * 60);
    const { fake } = renderHindi([item("f1", asha, -120, "catalogue"), upcoming]);
    const overdue = await screen.findByTestId("follow-ups-overdue");
    expect(within(overdue).getByRole("heading").textContent).toBe("बाकी 1");
    expect(overdue.textContent).toContain("बाकी: 2 घंटे पहले");
    const later = screen.getByTestId("follow-ups-upcoming");
    expect(within(later).getByRole("heading").textContent).toBe("आने वाले 1");
    expect(later.textContent).toContain(
      new Date(upcoming.due_at).toLocaleString("hi-IN", {
        weekday: "short",
        day: "numeric",
        month: "short",
        hour: "numeric",
        minute: "2-digit",
      }),
    );
    expect(englishShown(["Due", "h ago", "Overdue", "Upcoming"])).toEqual([]);

    fireEvent.click(screen.getByRole("button", { name: "Asha Rao के साथ फ़ॉलो-अप पूरा करें" }));
    await waitFor(() => expect(screen.getByTestId("follow-ups-notice").textContent).toBe("पूरा हुआ: Asha Rao।"));
    expect(fake.log).toContain("done f1");

    const row = screen.getByTestId("follow-up");
    fireEvent.click(within(row).getByRole("button", { name: "आगे करें" }));
    const picks = within(row).getByRole("group", { name: "Ravi Kumar के साथ फ़ॉलो-अप आगे करें" });
    expect(within(picks).getAllByRole("button").map((b) => b.textContent)).toEqual([
      "1 घंटे बाद",
      "कल सुबह 11 बजे",
      "अगले हफ़्ते",
    ]);
    fireEvent.click(within(picks).getByRole("button", { name: "अगले हफ़्ते" }));
    await waitFor(() => expect(fake.log.some((l) => l.startsWith("move f2 "))).toBe(true));
    const moved = new Date(fake.log.find((l) => l.startsWith("move f2 "))!.split(" ")[2]!);
    const when = moved.toLocaleString("hi-IN", { dateStyle: "medium", timeStyle: "short" });
    await waitFor(() =>
      expect(screen.getByTestId("follow-ups-notice").textContent).toBe(`Ravi Kumar का फ़ॉलो-अप ${when} पर कर दिया गया।`),
    );

    fireEvent.click(screen.getByRole("button", { name: "Ravi Kumar के साथ फ़ॉलो-अप कैलेंडर में जोड़ें" }));
    await waitFor(() =>
      expect(screen.getByTestId("follow-ups-notice").textContent).toBe(
        "/home/priya/Downloads/call-back-f2.ics सहेजी गई: कॉल-बैक अपने कैलेंडर में जोड़ने के लिए इसे खोलें।",
      ),
    );
    expect(englishShown(["Done:", "Moved", "Next week", "Saved", "open it"])).toEqual([]);
    expect(screen.queryByLabelText(/Mark the follow-up/)).toBeNull();
  });

  it("shows a refusal in Hindi", async () => {
    const { fake } = renderHindi([item("f1", asha, -5)]);
    fake.list.splice(0, 1);
    fireEvent.click(await screen.findByRole("button", { name: "Asha Rao के साथ फ़ॉलो-अप पूरा करें" }));
    expect((await screen.findByRole("alert")).textContent).toBe(
      "फ़ॉर्म जाँचें। यह फ़ॉलो-अप पूरा हो चुका है या अब आपका नहीं है; सूची में बाकी फ़ॉलो-अप देखें।",
    );
    expect(englishShown(["Check the form"])).toEqual([]);
  });

  it("opens on the Follow-ups tab of the Hindi app", async () => {
    const session = fakeSession([asha]);
    Object.assign(session.api, fakeFollowUps([item("f1", asha, -30)]).api);
    hindiApp({ session });
    fireEvent.click(await screen.findByTestId("tab-follow-ups"));
    const overdue = await screen.findByTestId("follow-ups-overdue");
    expect(overdue.textContent).toContain("बाकी: 30 मिनट पहले");
    expect(within(overdue).getByRole("button", { name: "Asha Rao के साथ फ़ॉलो-अप कैलेंडर में जोड़ें" })).toBeTruthy();
  });
});
