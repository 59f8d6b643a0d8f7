// Accessibility: axe-core over every main screen and dialog as the app renders them (jsdom has no layout,
// so colour contrast is left to the screenshots; every other rule of WCAG 2.1 A/AA runs).
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import axe from "axe-core";
import { afterEach, expect, it } from "vitest";

import { App } from "../App";
import type { AppStatus } from "../bindings/AppStatus";
import type { LeadPage } from "../bindings/LeadPage";
import type { Api } from "../ipc";
import {
  dashboard,
  fakeFollowUps,
  fakePhone,
  fakeSession,
  fakeWrapUp,
  lead,
  phoneStatus,
  status,
  unloggedCall,
} from "./fixtures";

afterEach(cleanup);

const asha = lead({ name: "Asha Rao", status: "interested", priority: "hot" });
const ravi = lead({ name: "Ravi Kumar" });

function appWith(initial: AppStatus = status(), wrap = fakeWrapUp()) {
  const session = fakeSession([asha, ravi], status({ signed_in: false }), () =>
    dashboard([asha, ravi], { calls_made: 4, connected: 2, goal: { calls: 60, conversions: 3 } }),
  );
  const followUps = fakeFollowUps([
    { id: "f1", lead: asha, note: "bring the catalogue", due_at: new Date(Date.now() - 3_600_000).toISOString() },
  ]);
  const api: Api = {
    appStatus: async () => initial,
    login: async () => initial,
    syncNow: async () => initial,
    listLeads: async (): Promise<LeadPage> => ({ leads: [asha, ravi], total: 2, truncated: false }),
    onStatus: async () => () => {},
    ...fakePhone(phoneStatus({ state: "ready" })).api,
    ...wrap.api,
    ...session.api,
    ...followUps.api,
  };
  render(<App api={api} />);
}

/** The axe violations in the document, as readable lines. */
async function violations(): Promise<string[]> {
  const results = await axe.run(document.body, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    rules: { "color-contrast": { enabled: false } },
  });
  return results.violations.map(
    (v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
  );
}

it("the sign-in screen has no accessibility violations", async () => {
  appWith(status({ signed_in: false, user: null, server_url: null }));
  await screen.findByTestId("login-form");
  expect(await violations()).toEqual([]);
});

it("the Today screen has none", async () => {
  appWith();
  await screen.findAllByTestId("queue-item");
  expect(await violations()).toEqual([]);
});

it("the lead list has none", async () => {
  appWith();
  fireEvent.click(await screen.findByTestId("tab-leads"));
  await waitFor(() => expect(screen.getAllByTestId("lead-row")).toHaveLength(2));
  expect(await violations()).toEqual([]);
});

it("the follow-ups screen has none", async () => {
  appWith();
  fireEvent.click(await screen.findByTestId("tab-follow-ups"));
  await screen.findAllByTestId("follow-up");
  expect(await violations()).toEqual([]);
});

it("the wrap-up form, the preferences and the shortcuts have none", async () => {
  appWith(status(), fakeWrapUp([unloggedCall({ lead: asha, talk_seconds: 42 })]));
  await screen.findByTestId("wrapup");
  expect(await violations()).toEqual([]);
  fireEvent.click(screen.getByRole("button", { name: "Later" }));
  fireEvent.click(screen.getByTestId("open-preferences"));
  await screen.findByTestId("theme-dark");
  expect(await violations()).toEqual([]);
  fireEvent.click(screen.getByRole("button", { name: "Done" }));
  fireEvent.click(screen.getByTestId("open-shortcuts"));
  await screen.findByTestId("shortcuts");
  expect(await violations()).toEqual([]);
});

it("the check itself finds what it should (an unlabelled field, a nameless button)", async () => {
  render(
    <main>
      <input type="text" />
      <button type="button" />
    </main>,
  );
  const found = await violations();
  expect(found.some((v) => v.startsWith("label:"))).toBe(true);
  expect(found.some((v) => v.startsWith("button-name:"))).toBe(true);
});

it("the supervisor's Team screens (dashboard, leads with the bulk bar and audit trail, import report, goals, catalogue) have none", async () => {
  const admin = status({ user: { ...status().user!, role: "admin", username: "asha", name: "Asha Admin" } });
  appWith(admin);
  fireEvent.click(await screen.findByTestId("tab-team"));
  await screen.findByTestId("presence");
  expect(await violations()).toEqual([]);
  fireEvent.click(screen.getByTestId("team-tab-leads"));
  fireEvent.click(await screen.findByRole("checkbox", { name: "Select Asha Rao" }));
  fireEvent.click(screen.getByRole("button", { name: "History of Asha Rao" }));
  await screen.findAllByTestId("audit-entry");
  await screen.findByTestId("bulk-bar");
  expect(await violations()).toEqual([]);
  fireEvent.click(screen.getByTestId("team-tab-import"));
  fireEvent.change(screen.getByTestId("import-file"), {
    target: { files: [new File(["Name,Phone\n"], "leads.csv", { type: "text/csv" })] },
  });
  fireEvent.click(screen.getByTestId("import-submit"));
  await screen.findByTestId("import-issues");
  expect(await violations()).toEqual([]);
  fireEvent.click(screen.getByTestId("team-tab-goals"));
  await screen.findByTestId("team-goals");
  expect(await violations()).toEqual([]);
  fireEvent.click(screen.getByTestId("team-tab-dispositions"));
  await screen.findByTestId("team-dispositions");
  expect(await violations()).toEqual([]);
});
