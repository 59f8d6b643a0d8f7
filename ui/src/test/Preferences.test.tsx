import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";

import { App } from "../App";
import type { LeadPage } from "../bindings/LeadPage";
import type { Api } from "../ipc";
import { translate } from "../i18n";
import { applyTheme, isDark } from "../theme";
import { fakePhone, fakeSession, fakeWrapUp, status } from "./fixtures";

afterEach(cleanup);

function appWith(session = fakeSession()) {
  const api: Api = {
    appStatus: async () => status(),
    login: async () => status(),
    syncNow: async () => status(),
    listLeads: async (): Promise<LeadPage> => ({ leads: [], total: 0, truncated: false }),
    onStatus: async () => () => {},
    ...fakePhone().api,
    ...fakeWrapUp().api,
    ...session.api,
  };
  render(<App api={api} />);
  return session;
}

it("switches the theme at once and keeps it with the start-minimised choice", async () => {
  const session = appWith();
  await waitFor(() => expect(document.documentElement.dataset.theme).toBe("light"));
  fireEvent.click(await screen.findByTestId("open-preferences"));
  fireEvent.click(await screen.findByTestId("theme-dark"));
  expect(document.documentElement.dataset.theme).toBe("dark");
  fireEvent.click(screen.getByTestId("start-minimised"));
  await waitFor(() => expect(session.prefs()).toEqual({ theme: "dark", start_minimised: true, language: "en", screen: "today", wrap_up_limit_s: 120 }));
  fireEvent.click(screen.getByRole("button", { name: "Done" }));
  expect(screen.queryByTestId("preferences")).toBeNull();
});

it("follows the computer when the theme is 'system'", () => {
  const listeners: Array<() => void> = [];
  let dark = false;
  const original = window.matchMedia;
  window.matchMedia = ((query: string) => ({
    matches: query.includes("dark") && dark,
    addEventListener: (_: string, f: () => void) => listeners.push(f),
    removeEventListener: () => {},
  })) as unknown as typeof window.matchMedia;
  try {
    applyTheme("system");
    expect(document.documentElement.dataset.theme).toBe("light");
    dark = true;
    listeners.forEach((f) => f());
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect(isDark("light")).toBe(false);
    expect(isDark("dark")).toBe(true);
  } finally {
    window.matchMedia = original;
  }
});

it("speaks Hindi when asked: tabs, header and the Today screen", async () => {
  appWith();
  expect((await screen.findByTestId("tab-home")).textContent).toBe("Today");
  fireEvent.click(screen.getByTestId("open-preferences"));
  fireEvent.click(await screen.findByTestId("language-hi"));
  // The dialog itself switches at once.
  fireEvent.click(await screen.findByRole("button", { name: "हो गया" }));
  await waitFor(() => expect(screen.getByTestId("tab-home").textContent).toBe("आज"));
  expect(screen.getByTestId("tab-leads").textContent).toBe("लीड्स");
  expect(screen.getByTestId("sync-now").textContent).toBe("अभी सिंक करें");
  expect((await screen.findByTestId("tile-calls")).textContent).toContain("आज की कॉल");
  fireEvent.click(screen.getByTestId("tab-leads"));
  expect((await screen.findByRole("heading", { name: "मेरी लीड्स" })).tagName).toBe("H1");
  await waitFor(() => expect(screen.getByTestId("shown-count").textContent).toBe("0 लीड्स"));
  expect(screen.getByTestId("export-list").textContent).toBe("CSV निकालें");
});

it("has every Hindi string and fills placeholders", () => {
  expect(translate("hi", "action.callName", { name: "आशा" })).toBe("आशा को कॉल करें");
  expect(translate("en", "status.callsToLog", { n: 3 })).toBe("3 calls to log");
  expect(translate("en", "status.synced", {})).toBe("Synced {when}");
});
