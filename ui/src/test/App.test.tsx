import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";

import { App } from "../App";
import type { AppStatus } from "../bindings/AppStatus";
import { ErrorBoundary } from "../components/ErrorBoundary";
import { fakeAppApi, lead, status, openLeads } from "./fixtures";

afterEach(cleanup);


it("asks to sign in when there is no session, and explains a refused password", async () => {
  const { api, session } = fakeAppApi(status({ signed_in: false, user: null, server_url: null }));
  render(<App api={api} />);
  await screen.findByTestId("login-form");
  await waitFor(() => expect(session.ready()).toEqual(["sign-in"]));

  fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
  expect((await screen.findByTestId("login-error")).textContent).toContain("Enter your server address");

  fireEvent.change(screen.getByTestId("login-server"), { target: { value: "http://127.0.0.1:9" } });
  fireEvent.change(screen.getByTestId("login-username"), { target: { value: "priya" } });
  fireEvent.change(screen.getByTestId("login-password"), { target: { value: "nope" } });
  fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
  await waitFor(() =>
    expect(screen.getByTestId("login-error").textContent).toContain("Wrong username or password"),
  );
});

it("shows the user's leads and filters them by search, status and priority", async () => {
  const leads = [
    lead({ name: "Asha Rao", status: "interested", priority: "hot" }),
    lead({ name: "Meena Iyer", status: "new" }),
    lead({ name: "Meera Shah", status: "interested" }),
  ];
  const { api, session } = fakeAppApi(status({ lead_count: 3 }), leads);
  render(<App api={api} />);

  expect((await screen.findByTestId("user-name")).textContent).toBe("Priya Raman");
  await openLeads();
  await waitFor(() => expect(screen.getAllByTestId("lead-row")).toHaveLength(3));
  expect(screen.getByTestId("lead-count").textContent).toBe("3");
  expect(screen.getByTestId("shown-count").textContent).toBe("3 leads");
  expect(screen.getByTestId("status-chip-interested").textContent).toContain("2");

  fireEvent.change(screen.getByTestId("search"), { target: { value: "mee" } });
  await waitFor(() => expect(screen.getAllByTestId("lead-row")).toHaveLength(2));
  expect(screen.getByTestId("shown-count").textContent).toContain("2 leads match");
  expect(session.list.queries[session.list.queries.length - 1]).toMatchObject({ search: "mee" });

  fireEvent.click(screen.getByTestId("status-chip-interested"));
  await waitFor(() => expect(screen.getAllByTestId("lead-row")).toHaveLength(1));
  expect(screen.getByText("Meera Shah")).toBeTruthy();
  expect(screen.getByTestId("status-chip-interested").getAttribute("aria-pressed")).toBe("true");

  fireEvent.change(screen.getByTestId("search"), { target: { value: "" } });
  fireEvent.change(screen.getByTestId("priority-filter"), { target: { value: "hot" } });
  await waitFor(() => expect(screen.getByText("Asha Rao")).toBeTruthy());
  expect(screen.getAllByTestId("lead-row")).toHaveLength(1);
  expect(session.list.queries[session.list.queries.length - 1]).toMatchObject({
    statuses: ["interested"],
    priorities: ["hot"],
  });

  fireEvent.change(screen.getByTestId("priority-filter"), { target: { value: "low" } });
  expect((await screen.findByTestId("lead-empty")).textContent).toContain("No leads match these filters");
});

it("scrolls through many leads page by page, drawing only what is in view, and exports a selection", async () => {
  const many = Array.from({ length: 950 }, (_, i) => lead({ name: `Lead ${String(i).padStart(4, "0")}` }));
  const { api, session } = fakeAppApi(status({ lead_count: 950 }), many);
  let statusHandler: ((s: AppStatus) => void) | null = null;
  api.onStatus = async (h) => {
    statusHandler = (s) => act(() => h(s));
    return () => {};
  };
  render(<App api={api} />);
  await openLeads();
  await waitFor(() => expect(screen.getByTestId("shown-count").textContent).toBe("950 leads"));
  // Without layout (jsdom) the table draws its first screenful, not 200 or 950 rows.
  const drawn = screen.getAllByTestId("lead-row").length;
  expect(drawn).toBeGreaterThan(10);
  expect(drawn).toBeLessThan(100);
  // The last rows of the loaded page ask for the next one.
  const scroller = screen.getByTestId("lead-scroller");
  Object.defineProperty(scroller, "clientHeight", { value: 560, configurable: true });
  scroller.scrollTop = 190 * 56;
  fireEvent.scroll(scroller);
  await waitFor(() => expect(session.list.queries.some((q) => q.cursor === "200")).toBe(true));
  await waitFor(() =>
    expect(screen.getByTestId("lead-table").getAttribute("aria-rowcount")).toBe(String(400 + 1)),
  );

  // A sync under the same filter reloads every loaded row, not just the first page.
  const before = session.list.queries.length;
  statusHandler!(status({ lead_count: 950, last_sync_at: "2026-11-25T10:30:00Z" }));
  await waitFor(() => expect(session.list.queries.length).toBeGreaterThan(before));
  const reload = session.list.queries[session.list.queries.length - 1]!;
  expect(reload.limit).toBe(400);
  expect(reload.cursor).toBeUndefined();
  await waitFor(() =>
    expect(screen.getByTestId("lead-table").getAttribute("aria-rowcount")).toBe(String(400 + 1)),
  );

  scroller.scrollTop = 0;
  fireEvent.scroll(scroller);
  const rows = await screen.findAllByTestId("lead-row");
  fireEvent.click(within(rows[0]!).getByRole("checkbox"));
  fireEvent.click(within(rows[2]!).getByRole("checkbox"));
  expect(screen.getByTestId("selection-bar").textContent).toContain("2 selected");
  fireEvent.click(screen.getByTestId("export-selected"));
  expect((await screen.findByTestId("export-notice")).textContent).toContain("Saved 2 leads");
  expect(session.list.exports[0]!.only).toEqual([many[0]!.id, many[2]!.id]);
  fireEvent.click(screen.getByTestId("export-list"));
  await waitFor(() => expect(session.list.exports).toHaveLength(2));
  expect(session.list.exports[1]!.only).toBeUndefined();
});

it("shows a sync failure in a banner and the header as offline", async () => {
  const { api } = fakeAppApi(status({ last_error: { code: "network", message: "cannot reach 127.0.0.1:9" } }));
  render(<App api={api} />);
  expect((await screen.findByRole("alert")).textContent).toContain("You're offline");
  expect(screen.getByTestId("sync-status").textContent).toContain("Offline");
});

it("shows a message, not a blank window, when rendering fails", () => {
  const Thrower = () => {
    throw new Error("render exploded");
  };
  const original = console.error;
  console.error = () => {};
  try {
    render(
      <ErrorBoundary>
        <Thrower />
      </ErrorBoundary>,
    );
  } finally {
    console.error = original;
  }
  expect(screen.getByRole("alert").textContent).toContain("render exploded");
  expect(screen.getByRole("button", { name: "Reload Leadline" })).toBeTruthy();
});

it("says offline from the engine's status, with what waits and when it retries", async () => {
  const { api } = fakeAppApi(
    status({
      connection: "offline",
      pending: 2,
      next_retry_at: "2026-11-25T10:15:00Z",
      last_error: { code: "network", message: "Leadline could not connect to the server." },
    }),
  );
  render(<App api={api} />);
  const banner = (await screen.findByRole("alert")).textContent ?? "";
  expect(banner).toContain("You're offline");
  expect(banner).toContain("2 changes wait to be sent");
  expect(banner).toMatch(/tries again at \d{1,2}:\d{2}/);
  expect(screen.getByTestId("sync-status").textContent).toContain("Offline");
  expect(screen.getByTestId("pending-count").textContent).toContain("2");
});

it("says online when the engine reached the server", async () => {
  const { api } = fakeAppApi(status({ connection: "online" }));
  render(<App api={api} />);
  await screen.findByTestId("user-name");
  expect(screen.getByTestId("sync-status").textContent).toContain("Online");
  expect(screen.queryByRole("alert")).toBeNull();
});

it("brings the lead of a clicked notification to the top, and says when it is gone", async () => {
  const asha = lead({ name: "Asha Rao", city: "Pune", interest: "Kundan bridal set", tags: ["wedding"] });
  const { api, session } = fakeAppApi(status(), [asha]);
  render(<App api={api} />);
  await openLeads();
  await screen.findByTestId("lead-table");
  session.openLead(asha.id);
  const card = await screen.findByTestId("focused-lead");
  expect(screen.getByTestId("focused-lead-name").textContent).toBe("Asha Rao");
  expect(card.textContent).toContain("Kundan bridal set");
  expect(card.textContent).toContain("wedding");
  expect(screen.getByTestId("focused-lead-call").textContent).toBe("Call Asha");
  fireEvent.click(screen.getByRole("button", { name: "Close the lead card" }));
  expect(screen.queryByTestId("focused-lead")).toBeNull();

  session.openLead("01936f4e-8c2a-7000-8000-0000000dead0");
  expect((await screen.findByRole("alert")).textContent).toContain("no longer on this computer");
});

it("signs out to the sign-in screen", async () => {
  const { api, session } = fakeAppApi(status());
  render(<App api={api} />);
  fireEvent.click(await screen.findByTestId("sign-out"));
  await screen.findByTestId("login-form");
  expect(session.logouts()).toBe(1);
});

it("keeps saying offline while the engine retries in the background, and Sync now stays available", async () => {
  const { api } = fakeAppApi(
    status({ connection: "offline", syncing: true, last_error: { code: "network", message: "unreachable" } }),
  );
  render(<App api={api} />);
  await screen.findByTestId("user-name");
  expect(screen.getByTestId("sync-status").textContent).toContain("Offline");
  expect(screen.getByTestId("sync-status").textContent).not.toContain("Syncing");
  const button = screen.getByTestId("sync-now") as HTMLButtonElement;
  expect(button.disabled).toBe(false);
  expect(button.textContent).toBe("Sync now");
});

it("says syncing while the first download runs", async () => {
  const { api } = fakeAppApi(status({ syncing: true, last_sync_at: null, lead_count: 0 }), []);
  render(<App api={api} />);
  await screen.findByTestId("user-name");
  expect(screen.getByTestId("sync-status").textContent).toContain("Syncing…");
  expect((screen.getByTestId("sync-now") as HTMLButtonElement).disabled).toBe(true);
});

it("after an unclean exit, says the work is safe and saves a report once", async () => {
  const { api } = fakeAppApi(status());
  let asked = 0;
  const saved: unknown[] = [];
  api.uncleanExit = async () => {
    asked += 1;
    return { started_at: "2026-11-25T04:30:00Z" };
  };
  api.saveCrashReport = async (exit) => {
    saved.push(exit);
    return "/home/priya/.local/share/in.leadline.desktop/crash-reports/leadline-report.txt";
  };
  render(<App api={api} />);
  const prompt = await screen.findByTestId("crash-prompt");
  expect(prompt.textContent).toContain("Your work is safe");
  expect(prompt.textContent).toContain("25 Nov 2026");
  fireEvent.click(screen.getByTestId("crash-save"));
  expect((await screen.findByTestId("crash-report-path")).textContent).toContain("crash-reports/leadline-report.txt");
  expect(saved).toEqual([{ started_at: "2026-11-25T04:30:00Z" }]);
  fireEvent.click(screen.getByRole("button", { name: "Done" }));
  expect(screen.queryByTestId("crash-prompt")).toBeNull();
  expect(asked).toBe(1);
});

it("shows no crash prompt after a clean exit", async () => {
  const { api } = fakeAppApi(status());
  render(<App api={api} />);
  await screen.findByTestId("user-name");
  expect(screen.queryByTestId("crash-prompt")).toBeNull();
});

it("a screen that fails shows a recoverable message; the header and the other screens go on", async () => {
  const { api } = fakeAppApi(status());
  let broken = true;
  const good = api.dashboard;
  api.dashboard = async () => {
    const d = await good();
    // A malformed answer (no queue) makes the Today screen throw while drawing.
    return broken ? ({ ...d, queue: undefined } as unknown as typeof d) : d;
  };
  const original = console.error;
  console.error = () => {};
  try {
    render(<App api={api} />);
    const problem = await screen.findByTestId("screen-error");
    expect(problem.textContent).toContain("The Today screen hit a problem");
    expect(screen.getByTestId("user-name").textContent).toBe("Priya Raman");
    fireEvent.click(screen.getByTestId("tab-leads"));
    await waitFor(() => expect(screen.getAllByTestId("lead-row")).toHaveLength(2));
    fireEvent.click(screen.getByTestId("tab-home"));
    const again = await screen.findByRole("button", { name: "Try again" });
    broken = false;
    fireEvent.click(again);
    await screen.findAllByTestId("queue-item");
    expect(screen.queryByTestId("screen-error")).toBeNull();
  } finally {
    console.error = original;
  }
});

it("opens on the screen it was left on, remembers a new one, and tells the shell when the list is ready", async () => {
  const { api, session } = fakeAppApi(status({ lead_count: 2 }));
  await api.rememberScreen("leads");
  const first = render(<App api={api} />);
  await waitFor(() => expect(screen.getAllByTestId("lead-row")).toHaveLength(2));
  expect(screen.getByTestId("tab-leads").getAttribute("aria-current")).toBe("page");
  expect(screen.queryByTestId("home-loading")).toBeNull();
  await waitFor(() => expect(session.ready()).toEqual(["leads"]));

  fireEvent.click(screen.getByTestId("tab-follow-ups"));
  await waitFor(() => expect(session.prefs().screen).toBe("follow-ups"));
  expect(session.prefs().language).toBe("en");
  first.unmount();

  render(<App api={api} />);
  await waitFor(() => expect(screen.getByTestId("tab-follow-ups").getAttribute("aria-current")).toBe("page"));
});
