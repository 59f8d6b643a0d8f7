import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { App } from "../App";
import type { LeadPage } from "../bindings/LeadPage";
import type { TeamDashboard } from "../bindings/TeamDashboard";
import type { TeamRangeArgs } from "../bindings/TeamRangeArgs";
import { TeamDashboardView, rangeOf, tzOffsetMinutes } from "../components/TeamDashboard";
import { TeamScreen } from "../components/TeamScreen";
import { IpcError, type Api } from "../ipc";
import { fakePhone, fakeSession, fakeTeam, fakeWrapUp, lead, phoneStatus, status, teamDashboard } from "./fixtures";

afterEach(cleanup);

function renderDashboard(load: (args: TeamRangeArgs) => Promise<TeamDashboard>) {
  const teamDashboard = vi.fn(load);
  render(<TeamDashboardView api={{ teamDashboard }} />);
  return teamDashboard;
}

describe("TeamDashboard", () => {
  it("shows skeletons while the server answers", () => {
    renderDashboard(() => new Promise(() => {}));
    expect(screen.getByTestId("team-dashboard-loading").getAttribute("aria-busy")).toBe("true");
  });

  it("shows each telecaller's live status, the figures against the goals, the leaderboard and the chart", async () => {
    renderDashboard(async () => teamDashboard());
    const priya = await screen.findByTestId("presence-priya");
    expect(priya.textContent).toContain("On a call");
    expect(priya.textContent).toMatch(/since [12] min ago/);
    expect(screen.getByTestId("presence-arjun").textContent).toContain("Offline");
    expect(screen.getByTestId("presence-arjun").textContent).toContain("not signed in yet");
    expect(screen.getByTestId("team-tile-calls").textContent).toContain("60 / 120");
    const bar = within(screen.getByTestId("team-tile-calls")).getByRole("progressbar");
    expect(bar.getAttribute("aria-valuenow")).toBe("50");
    const row = screen.getByTestId("figures-priya");
    expect(row.textContent).toContain("42");
    expect(row.textContent).toContain("1h 2m");
    const board = screen.getByTestId("leaderboard");
    expect(board.textContent).toMatch(/Priya Raman.*42.*Arjun Nair.*18/);
    const chart = screen.getByTestId("team-chart");
    expect(chart.getAttribute("aria-label")).toContain("10: 12, 11: 20");
  });

  it("asks for the range and metric chosen, and draws a longer range by day", async () => {
    const load = renderDashboard(async (args) =>
      teamDashboard({ summary: { ...teamDashboard().summary, days: args.metric === "conversions" ? 7 : 1 } }),
    );
    await screen.findByTestId("presence");
    const first = load.mock.calls[0]![0];
    expect(first.metric).toBe("calls");
    expect(first.tz_offset_minutes).toBe(tzOffsetMinutes());
    fireEvent.click(screen.getByTestId("range-7d"));
    await waitFor(() => expect(load).toHaveBeenCalledTimes(2));
    const week = load.mock.calls[1]![0];
    expect(new Date(week.to).getTime() - new Date(week.from).getTime()).toBeGreaterThan(6 * 86_400_000);
    fireEvent.change(screen.getByTestId("metric"), { target: { value: "conversions" } });
    await waitFor(() => expect(load).toHaveBeenCalledTimes(3));
    expect(load.mock.calls[2]![0].metric).toBe("conversions");
    expect(await screen.findByText("Calls by day")).toBeTruthy();
    expect(screen.getByTestId("team-chart").getAttribute("aria-label")).toContain("26/11: 32");
  });

  it("custom dates cover whole days and never the future", () => {
    const now = new Date(2026, 10, 26, 15, 0);
    const r = rangeOf("custom", "2026-11-20", "2026-11-26", now, "calls");
    expect(new Date(r.from).getTime()).toBe(new Date(2026, 10, 20).getTime());
    expect(new Date(r.to).getTime()).toBe(now.getTime());
    const past = rangeOf("custom", "2026-11-01", "2026-11-02", now, "calls");
    expect(new Date(past.to).getTime()).toBe(new Date(2026, 10, 3).getTime());
  });

  it("tells what to do when the team has nobody yet", async () => {
    renderDashboard(async () =>
      teamDashboard({
        summary: { ...teamDashboard().summary, telecallers: [] },
        presence: { timeout_s: 90, agents: [] },
      }),
    );
    expect((await screen.findByTestId("team-empty")).textContent).toContain("Ask an admin");
  });

  it("says the team needs the server when it cannot be reached, and tries again", async () => {
    let fail = true;
    const load = renderDashboard(async () => {
      if (fail) throw new IpcError("network", "Leadline could not connect to the server.");
      return teamDashboard();
    });
    const offline = await screen.findByTestId("team-offline");
    expect(offline.textContent).toContain("need the server");
    fail = false;
    fireEvent.click(within(offline).getByRole("button", { name: "Try again" }));
    await screen.findByTestId("presence");
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("shows a refusal with Try again", async () => {
    let fail = true;
    renderDashboard(async () => {
      if (fail) throw new IpcError("server", "Only supervisors and admins can do this (the server refused it).");
      return teamDashboard();
    });
    const error = await screen.findByTestId("team-error");
    expect(error.getAttribute("role")).toBe("alert");
    expect(error.textContent).toContain("Only supervisors");
    fail = false;
    fireEvent.click(within(error).getByRole("button", { name: "Try again" }));
    await screen.findByTestId("presence");
  });
});

describe("TeamScreen", () => {
  it("offline, says so and asks the server nothing", async () => {
    const team = fakeTeam();
    render(<TeamScreen api={team.api as unknown as Api} status={status({ connection: "offline" })} />);
    expect(screen.getByTestId("team-offline").textContent).toContain("your own leads and calls keep working");
    await new Promise((r) => setTimeout(r, 20));
    expect(team.calls).toEqual([]);
  });

  it("shows the catalogue editor to admins only", () => {
    const team = fakeTeam();
    const supervisor = status({ user: { ...status().user!, role: "supervisor" } });
    const view = render(<TeamScreen api={team.api as unknown as Api} status={supervisor} />);
    expect(screen.queryByTestId("team-tab-dispositions")).toBeNull();
    view.unmount();
    render(<TeamScreen api={team.api as unknown as Api} status={status({ user: { ...status().user!, role: "admin" } })} />);
    expect(screen.getByTestId("team-tab-dispositions")).toBeTruthy();
  });
});

describe("the Team tab", () => {
  function app(role: "telecaller" | "supervisor") {
    const initial = status({ user: { ...status().user!, role, username: "meera", name: "Meera Iyer" } });
    const session = fakeSession([lead({ name: "Asha Rao" })]);
    const api: Api = {
      appStatus: async () => initial,
      login: async () => initial,
      syncNow: async () => initial,
      listLeads: async (): Promise<LeadPage> => ({ leads: [], total: 0, truncated: false }),
      onStatus: async () => () => {},
      ...fakePhone(phoneStatus({ state: "ready" })).api,
      ...fakeWrapUp().api,
      ...session.api,
    };
    render(<App api={api} />);
  }

  it("is there for a supervisor and opens the team dashboard", async () => {
    app("supervisor");
    fireEvent.click(await screen.findByTestId("tab-team"));
    expect(await screen.findByTestId("presence-priya")).toBeTruthy();
    expect(screen.getByTestId("tab-team").getAttribute("aria-current")).toBe("page");
    fireEvent.click(screen.getByTestId("tab-leads"));
    await waitFor(() => expect(screen.queryByTestId("team")).toBeNull());
  });

  it("is not there for a telecaller", async () => {
    app("telecaller");
    await screen.findByTestId("tab-home");
    expect(screen.queryByTestId("tab-team")).toBeNull();
  });
});
