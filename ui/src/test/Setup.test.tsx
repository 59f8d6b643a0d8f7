// The first-run setup: a new desk goes through the server, microphone and notification steps to the
// sign-in; each server failure reads as what to do; a provisioning file locks the server (also on the
// sign-in); no microphone and unseen notifications let the user go on with help; all of it in Hindi too.
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import axe from "axe-core";
import { afterEach, describe, expect, it } from "vitest";

import { App } from "../App";
import type { FinishSetup } from "../bindings/FinishSetup";
import type { MicLevel } from "../bindings/MicLevel";
import type { MicStart } from "../bindings/MicStart";
import type { NotificationCheck } from "../bindings/NotificationCheck";
import type { ServerProblem } from "../bindings/ServerProblem";
import type { ServerVerdict } from "../bindings/ServerVerdict";
import type { SetupState } from "../bindings/SetupState";
import type { Api } from "../ipc";
import { describeProblem, setupText } from "../setupText";
import { fakeAppApi, status } from "./fixtures";

afterEach(() => {
  cleanup();
  document.documentElement.lang = "en";
});

const NEW_DESK: SetupState = {
  needed: true,
  done: null,
  provisioned: null,
  provisioning_fault: null,
  server_url: null,
};

const PASSED: ServerVerdict = {
  outcome: "passed",
  check: { url: "https://crm.example.in", version: "0.1.0", plain_http: false },
};

/** The app over fakes, signed out, with a setup that records what it was asked. */
function setupApp({
  state = NEW_DESK,
  verdict = async () => PASSED,
  mic = { outcome: "started" },
  notice = { service: "notification-daemon", sent: true, error: null },
  language = "en",
}: {
  state?: SetupState;
  verdict?: (url: string, allowHttp: boolean) => Promise<ServerVerdict>;
  mic?: MicStart;
  notice?: NotificationCheck;
  language?: "en" | "hi";
} = {}) {
  const { api: base, session } = fakeAppApi(status({ signed_in: false, user: null, server_url: null }));
  const calls = {
    checks: [] as Array<[string, boolean]>,
    micStarts: [] as Array<string | null>,
    micStops: 0,
    tones: 0,
    notifications: [] as Array<[string, string]>,
    finished: [] as FinishSetup[],
  };
  let level: ((l: MicLevel) => void) | null = null;
  let current = state;
  const api: Api = {
    ...base,
    preferences: async () => ({ ...(await base.preferences()), language }),
    audioDevices: async () => ({
      inputs: [{ id: "alsa:headset", name: "USB Headset", is_default: false }],
      outputs: [{ id: "alsa:speakers", name: "Speakers", is_default: true }],
    }),
    setupState: async () => current,
    checkServer: async (url, allowHttp) => {
      calls.checks.push([url, allowHttp]);
      return verdict(url, allowHttp);
    },
    startMicTest: async (device) => {
      calls.micStarts.push(device);
      return mic;
    },
    stopMicTest: async () => {
      calls.micStops += 1;
    },
    onMicLevel: async (handler) => {
      level = handler;
      return () => {
        level = null;
      };
    },
    playTestTone: async () => {
      calls.tones += 1;
    },
    testNotification: async (title, body) => {
      calls.notifications.push([title, body]);
      return notice;
    },
    finishSetup: async (args) => {
      calls.finished.push(args);
      current = {
        needed: false,
        done: {
          server_url: args.server_url,
          allow_http: args.allow_http,
          server_version: args.server_version ?? null,
          microphone: args.microphone,
          input_device: args.input_device ?? null,
          notifications: args.notifications,
          completed_at: "2026-11-26T10:00:00Z",
        },
        provisioned: current.provisioned,
        provisioning_fault: null,
        server_url: current.provisioned?.settings.server_url ?? args.server_url,
      };
      return current;
    },
  };
  render(<App api={api} />);
  return { api, calls, session, speak: (l: MicLevel) => act(() => level?.(l)) };
}

const next = () => fireEvent.click(screen.getByTestId("setup-next"));

describe("a new desk", () => {
  it("is set up step by step and then signs in on the server it checked", async () => {
    const { calls, speak } = setupApp();
    const url = await screen.findByTestId("setup-url");
    expect((screen.getByTestId("setup-next") as HTMLButtonElement).disabled).toBe(true);
    // Checked live, as typed.
    fireEvent.change(url, { target: { value: "https://crm.example.in" } });
    await screen.findByTestId("setup-server-ok");
    expect(calls.checks).toEqual([["https://crm.example.in", false]]);
    expect(screen.getByTestId("setup-server-ok").textContent).toContain("Leadline 0.1.0 answers at https://crm.example.in");
    next();

    // The microphone: the meter follows the real device's levels; a voice passes the test.
    await screen.findByTestId("setup-meter");
    await waitFor(() => expect(calls.micStarts).toEqual([null]));
    speak({ dbfs: -30, meter: 0.5, heard: false });
    expect(screen.getByTestId("setup-meter").getAttribute("aria-valuenow")).toBe("50");
    expect(screen.getByTestId("setup-mic-result").textContent).toBe("Nothing heard yet.");
    // Another microphone chosen: the test starts again on it.
    await screen.findByRole("option", { name: "USB Headset" });
    fireEvent.change(screen.getByTestId("setup-mic-device"), { target: { value: "alsa:headset" } });
    await waitFor(() => expect(calls.micStarts).toEqual([null, "alsa:headset"]));
    speak({ dbfs: -18, meter: 0.7, heard: true });
    expect(screen.getByTestId("setup-mic-result").textContent).toContain("The microphone hears you.");
    fireEvent.click(screen.getByTestId("setup-tone"));
    await waitFor(() => expect(calls.tones).toBe(1));
    next();
    await waitFor(() => expect(calls.micStops).toBeGreaterThan(0));

    // Notifications: a real one is sent, its service named; the user saw it.
    fireEvent.click(await screen.findByTestId("setup-notify"));
    expect((await screen.findByTestId("setup-notify-service")).textContent).toBe(
      "Notifications on this computer are shown by notification-daemon.",
    );
    expect(calls.notifications).toEqual([
      ["Leadline test notification", "If you can read this, Leadline's notifications reach you."],
    ]);
    fireEvent.click(screen.getByTestId("setup-notify-seen"));
    fireEvent.click(screen.getByTestId("setup-finish"));

    // Kept, then the sign-in with the server filled in.
    const server = await screen.findByTestId("login-server");
    expect(calls.finished).toEqual([
      {
        server_url: "https://crm.example.in",
        allow_http: false,
        server_version: "0.1.0",
        microphone: "passed",
        input_device: "alsa:headset",
        output_device: undefined,
        notifications: "passed",
      },
    ]);
    expect((server as HTMLInputElement).value).toBe("https://crm.example.in");
    expect(server.hasAttribute("readonly")).toBe(false);
  });

  it("goes on without a microphone and with notifications unseen, with help for each", async () => {
    const { calls } = setupApp({ mic: { outcome: "no_microphone" } });
    fireEvent.change(await screen.findByTestId("setup-url"), { target: { value: "https://crm.example.in" } });
    fireEvent.click(screen.getByTestId("setup-check"));
    await screen.findByTestId("setup-server-ok");
    next();
    expect((await screen.findByTestId("setup-no-mic")).textContent).toContain("calls will ring your mobile instead");
    expect(screen.getByTestId("setup-next").textContent).toBe("Skip this check");
    next();
    fireEvent.click(await screen.findByTestId("setup-notify"));
    fireEvent.click(await screen.findByTestId("setup-notify-unseen"));
    const help = screen.getByTestId("setup-notify-help").textContent ?? "";
    for (const desktop of ["GNOME", "KDE Plasma", "Xfce"]) expect(help).toContain(desktop);
    fireEvent.click(screen.getByTestId("setup-finish"));
    await screen.findByTestId("login-server");
    expect(calls.finished[0]).toMatchObject({ microphone: "failed", notifications: "failed" });
  });

  it("says when nothing shows notifications here", async () => {
    setupApp({ notice: { service: null, sent: false, error: "org.freedesktop.Notifications was not provided" } });
    fireEvent.change(await screen.findByTestId("setup-url"), { target: { value: "https://crm.example.in" } });
    fireEvent.click(screen.getByTestId("setup-check"));
    await screen.findByTestId("setup-server-ok");
    next();
    next();
    fireEvent.click(await screen.findByTestId("setup-notify"));
    expect((await screen.findByTestId("setup-no-notifications")).textContent).toContain("No notification service answers");
    // Not the do-not-disturb advice: there is nothing to un-pause, a service has to be installed.
    const help = screen.getByTestId("setup-notify-help").textContent ?? "";
    expect(help).toContain("notification-daemon");
    expect(help).not.toContain("Do Not Disturb");
  });
});

describe("the server step", () => {
  const PROBLEMS: Array<[ServerProblem, string]> = [
    [{ kind: "dns", host: "crm.exmaple.in" }, "The name crm.exmaple.in is not known"],
    [{ kind: "refused", host: "10.0.0.5", port: 8080 }, "nothing listens on port 8080"],
    [{ kind: "timeout", host: "crm.example.in" }, "does not answer"],
    [{ kind: "certificate", host: "crm.example.in", reason: "untrusted", detail: "x" }, "not trusted by this computer"],
    [{ kind: "certificate", host: "crm.example.in", reason: "expired", detail: "x" }, "has expired"],
    [{ kind: "certificate", host: "crm.example.in", reason: "wrong_name", detail: "x" }, "made out for another name"],
    [{ kind: "not_leadline", detail: "GET /healthz answered HTTP 404 (a web page)" }, "it is not a Leadline server"],
    [{ kind: "unhealthy", status: 502 }, "HTTP 502"],
    [
      { kind: "incompatible", server_version: "9.0.0", server_protocol: 9, client_protocol: 1 },
      "version 9.0.0) is not compatible",
    ],
    [{ kind: "incompatible", server_version: null, server_protocol: null, client_protocol: 1 }, "older than this app"],
  ];

  it("says what each failure means and does not go on", async () => {
    let answer: ServerProblem = PROBLEMS[0]![0];
    setupApp({ verdict: async () => ({ outcome: "failed", problem: answer }) });
    const url = await screen.findByTestId("setup-url");
    fireEvent.change(url, { target: { value: "https://crm.example.in" } });
    for (const [problem, words] of PROBLEMS) {
      answer = problem;
      fireEvent.click(screen.getByTestId("setup-check"));
      await waitFor(() => {
        const shown = screen.getByTestId("setup-server-problem");
        expect(shown.getAttribute("data-kind")).toBe(problem.kind);
        expect(shown.textContent).toContain(words);
      });
      expect((screen.getByTestId("setup-next") as HTMLButtonElement).disabled).toBe(true);
    }
  });

  it("refuses plain http to another computer until the user accepts it", async () => {
    const { calls } = setupApp({
      verdict: async (url, allowHttp) =>
        allowHttp
          ? { outcome: "passed", check: { url, version: "0.1.0", plain_http: true } }
          : { outcome: "failed", problem: { kind: "bad_address", reason: "plain_http" } },
    });
    fireEvent.change(await screen.findByTestId("setup-url"), { target: { value: "http://192.168.1.10:8080" } });
    fireEvent.click(screen.getByTestId("setup-check"));
    expect((await screen.findByTestId("setup-server-problem")).textContent).toContain("not encrypted");
    fireEvent.click(screen.getByTestId("setup-allow-http"));
    expect((await screen.findByTestId("setup-server-ok")).textContent).toContain("not encrypted (http)");
    expect(calls.checks[calls.checks.length - 1]).toEqual(["http://192.168.1.10:8080", true]);
    expect((screen.getByTestId("setup-next") as HTMLButtonElement).disabled).toBe(false);
  });

  it("is locked by a provisioning file, with who set it, also on the sign-in", async () => {
    const provisioned: SetupState = {
      ...NEW_DESK,
      server_url: "https://crm.bandra.example.in",
      provisioned: {
        file: "/etc/leadline/provisioning.json",
        settings: {
          version: 1,
          server_url: "https://crm.bandra.example.in",
          managed_by: "Bandra IT (022 5555 0101)",
          team: "Bandra Showroom",
        },
      },
    };
    // Even unreachable now, the admin's server is kept: the user may go on.
    const { calls } = setupApp({
      state: provisioned,
      verdict: async () => ({ outcome: "failed", problem: { kind: "timeout", host: "crm.bandra.example.in" } }),
    });
    const url = (await screen.findByTestId("setup-url")) as HTMLInputElement;
    expect(url.value).toBe("https://crm.bandra.example.in");
    expect(url.hasAttribute("readonly")).toBe(true);
    expect(screen.getByTestId("setup-url-note").textContent).toBe(
      "Set by Bandra IT (022 5555 0101) in /etc/leadline/provisioning.json.",
    );
    expect(screen.queryByTestId("setup-check")).toBeNull();
    await screen.findByTestId("setup-server-problem");
    expect(calls.checks).toEqual([["https://crm.bandra.example.in", false]]);
    next();
    next();
    fireEvent.click(await screen.findByTestId("setup-finish"));
    const server = (await screen.findByTestId("login-server")) as HTMLInputElement;
    expect(server.value).toBe("https://crm.bandra.example.in");
    expect(server.hasAttribute("readonly")).toBe(true);
    expect(screen.getByTestId("provisioned-note").textContent).toContain("This computer belongs to Bandra Showroom.");
  });

  it("shows a provisioning file that cannot be used, and lets the user type the address", async () => {
    setupApp({
      state: {
        ...NEW_DESK,
        provisioning_fault: { file: "/etc/leadline/provisioning.json", message: "unknown field `sever` at line 3" },
      },
    });
    const fault = await screen.findByTestId("setup-provisioning-fault");
    expect(fault.textContent).toContain("/etc/leadline/provisioning.json: unknown field `sever` at line 3");
    expect(screen.getByTestId("setup-url").hasAttribute("readonly")).toBe(false);
  });
});

describe("a desk set up already", () => {
  it("opens on the sign-in, and the setup opens again from there", async () => {
    setupApp({
      state: {
        ...NEW_DESK,
        needed: false,
        server_url: "https://crm.example.in",
        done: {
          server_url: "https://crm.example.in",
          allow_http: false,
          server_version: "0.1.0",
          microphone: "passed",
          input_device: null,
          notifications: "passed",
          completed_at: "2026-11-26T10:00:00Z",
        },
      },
    });
    expect(((await screen.findByTestId("login-server")) as HTMLInputElement).value).toBe("https://crm.example.in");
    fireEvent.click(screen.getByTestId("setup-again"));
    expect(((await screen.findByTestId("setup-url")) as HTMLInputElement).value).toBe("https://crm.example.in");
    fireEvent.click(screen.getByTestId("setup-cancel"));
    await screen.findByTestId("login-server");
  });
});

const DEVANAGARI = /[\u0900-\u097F]/;

describe("the setup in Hindi", () => {
  it("reads in Hindi at every step, with no English sentence left", async () => {
    setupApp({ language: "hi", mic: { outcome: "no_microphone" } });
    await screen.findByTestId("setup-url");
    const english = (keys: Parameters<typeof setupText>[1][]) =>
      keys.map((k) => setupText("en", k)).filter((s) => (document.body.textContent ?? "").includes(s));
    expect(screen.getByText(setupText("hi", "setup.title"))).toBeTruthy();
    expect(english(["setup.title", "setup.intro", "server.label", "server.hint", "server.check"])).toEqual([]);
    fireEvent.change(screen.getByTestId("setup-url"), { target: { value: "https://crm.example.in" } });
    fireEvent.click(screen.getByTestId("setup-check"));
    expect((await screen.findByTestId("setup-server-ok")).textContent).toMatch(DEVANAGARI);
    const results = await axe.run(document.body, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
      rules: { "color-contrast": { enabled: false } },
    });
    expect(results.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
    next();
    expect((await screen.findByTestId("setup-no-mic")).textContent).toMatch(DEVANAGARI);
    expect(english(["mic.none", "mic.label", "speaker.test", "setup.skip"])).toEqual([]);
    next();
    fireEvent.click(await screen.findByTestId("setup-notify"));
    fireEvent.click(await screen.findByTestId("setup-notify-unseen"));
    expect(english(["notify.intro", "notify.help", "notify.gnome", "setup.finish"])).toEqual([]);
    expect(screen.getByTestId("setup-notify-help").textContent).toMatch(DEVANAGARI);
  });

  it("has Hindi for every failure of the server check", () => {
    const all: ServerProblem[] = [
      { kind: "bad_address", reason: "empty" },
      { kind: "bad_address", reason: "malformed" },
      { kind: "bad_address", reason: "scheme" },
      { kind: "bad_address", reason: "plain_http" },
      { kind: "bad_address", reason: "extra" },
      { kind: "dns", host: "h" },
      { kind: "refused", host: "h", port: 1 },
      { kind: "timeout", host: "h" },
      { kind: "unreachable", host: "h", detail: "d" },
      ...(["untrusted", "wrong_name", "expired", "not_yet_valid", "other"] as const).map(
        (reason): ServerProblem => ({ kind: "certificate", host: "h", reason, detail: "d" }),
      ),
      { kind: "not_leadline", detail: "d" },
      { kind: "unhealthy", status: 502 },
      { kind: "incompatible", server_version: "9", server_protocol: 9, client_protocol: 1 },
      { kind: "incompatible", server_version: null, server_protocol: null, client_protocol: 1 },
    ];
    for (const problem of all) {
      const hi = describeProblem(problem, "hi");
      const en = describeProblem(problem, "en");
      expect(hi, JSON.stringify(problem)).toMatch(DEVANAGARI);
      expect(hi).not.toBe(en);
      // Every placeholder filled.
      expect(hi).not.toMatch(/\{\w+\}/);
      expect(en).not.toMatch(/\{\w+\}/);
    }
  });

  it("starts in the provisioned language", async () => {
    setupApp({
      state: {
        ...NEW_DESK,
        provisioned: {
          file: "/etc/leadline/provisioning.json",
          settings: { version: 1, server_url: "https://crm.example.in", language: "hi" },
        },
      },
    });
    await waitFor(() => expect(screen.getByText(setupText("hi", "setup.title"))).toBeTruthy());
    expect(screen.getByTestId("setup-url-note").textContent).toBe(
      "आपके एडमिन ने /etc/leadline/provisioning.json में तय किया है।",
    );
  });
});
