import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Dashboard } from "../bindings/Dashboard";
import type { Lead } from "../bindings/Lead";
import { Home, formatDuration } from "../components/Home";
import { IpcError, type Api } from "../ipc";
import { dashboard, lead, status } from "./fixtures";

afterEach(cleanup);

const asha = lead({ name: "Asha Rao", city: "Pune" });
const ravi = lead({ name: "Ravi Kumar", priority: "hot" });

function renderHome(load: () => Promise<Dashboard>, busy = false) {
  const onCall = vi.fn<(l: Lead) => void>();
  const onOpen = vi.fn<(l: Lead) => void>();
  const ready = vi.fn(async (_screen: string) => {});
  const api = { dashboard: load, screenReady: ready } as unknown as Api;
  const view = render(
    <Home api={api} status={status()} callsSeen={0} onCall={onCall} onOpen={onOpen} busy={busy} />,
  );
  return { onCall, onOpen, view, ready, api };
}

describe("Home", () => {
  it("shows skeletons while loading", async () => {
    const { ready } = renderHome(() => new Promise(() => {}));
    expect(screen.getByTestId("home-loading").getAttribute("aria-busy")).toBe("true");
    await new Promise((r) => setTimeout(r, 50));
    expect(ready).not.toHaveBeenCalled();
  });

  it("tells the shell once that the screen is ready, when the day is shown", async () => {
    const { ready, view, api } = renderHome(async () => dashboard([asha]));
    await waitFor(() => expect(ready).toHaveBeenCalledWith("today", expect.any(Array)));
    view.rerender(
      <Home
        api={api}
        status={status()}
        callsSeen={1}
        onCall={() => {}}
        onOpen={() => {}}
        busy={false}
      />,
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(ready.mock.calls.filter(([s]) => s === "today").length).toBe(1);
  });

  it("measures the day against the goal and draws the charts", async () => {
    const hourly = Array.from({ length: 24 }, () => 0);
    hourly[10] = 4;
    hourly[11] = 2;
    renderHome(async () =>
      dashboard([asha], {
        calls_made: 6,
        connected: 3,
        talk_time_s: 754,
        conversions: 1,
        follow_ups_done: 2,
        follow_ups_overdue: 3,
        follow_ups_due_today: 1,
        goal: { calls: 60, conversions: 4 },
        hourly,
        dispositions: [
          { code: "no_answer", label: "Ringing, no answer", count: 3 },
          { code: "converted", label: "Purchased / order placed", count: 1 },
        ],
      }),
    );
    const calls = await screen.findByTestId("tile-calls");
    expect(calls.textContent).toContain("6 / 60");
    expect(within(calls).getByRole("progressbar").getAttribute("aria-valuenow")).toBe("10");
    expect(screen.getByTestId("tile-conversions").textContent).toContain("1 / 4");
    expect(screen.getByTestId("tile-connected").textContent).toContain("50% of calls");
    expect(screen.getByTestId("tile-talk").textContent).toContain("12m 34s");
    expect(screen.getByTestId("tile-follow-ups").textContent).toContain("3 overdue · 1 due today");
    expect(screen.getByTestId("hourly-chart").getAttribute("aria-label")).toBe("Calls by hour. 10 am: 4, 11 am: 2");
    const bars = screen.getByTestId("hourly-chart").querySelectorAll("rect");
    expect(Array.from(bars).map((b) => b.getAttribute("data-count"))).toContain("4");
    expect(screen.getByTestId("disposition-chart").textContent).toContain("Ringing, no answer3");
    expect(screen.queryByText(/has not set a daily goal/)).toBeNull();
  });

  it("says when no goal is set and nobody waits", async () => {
    renderHome(async () => dashboard([]));
    expect((await screen.findByTestId("queue-empty")).textContent).toContain("Nobody is waiting");
    expect(screen.getByText(/has not set a daily goal/)).toBeTruthy();
    expect((screen.getByTestId("call-next") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId("hourly-chart").getAttribute("aria-label")).toBe("Calls by hour. No calls yet today");
  });

  it("calls the next lead by button or the N key, but not from a text field or during a call", async () => {
    const { onCall, onOpen } = renderHome(async () =>
      dashboard([], {
        queue: [
          { lead: asha, why: "overdue_follow_up", follow_up_due_at: new Date(Date.now() - 7_200_000).toISOString() },
          { lead: ravi, why: "hot", follow_up_due_at: null },
        ],
      }),
    );
    const items = await screen.findAllByTestId("queue-item");
    expect(items[0]!.textContent).toContain("Follow-up due 2 h ago");
    expect(items[1]!.textContent).toContain("Hot lead");
    expect(screen.getByTestId("call-next").textContent).toContain("Call Asha");
    fireEvent.click(screen.getByTestId("call-next"));
    expect(onCall).toHaveBeenLastCalledWith(asha);
    // The key handler follows the queue once effects ran after the render that shows it.
    await waitFor(() => {
      if (onCall.mock.calls.length < 2) fireEvent.keyDown(window, { key: "n" });
      expect(onCall).toHaveBeenCalledTimes(2);
    });
    const input = document.createElement("input");
    document.body.appendChild(input);
    fireEvent.keyDown(input, { key: "n" });
    expect(onCall).toHaveBeenCalledTimes(2);
    input.remove();
    fireEvent.click(within(items[1]!).getByRole("button", { name: "Call Ravi Kumar" }));
    expect(onCall).toHaveBeenLastCalledWith(ravi);
    fireEvent.click(within(items[1]!).getByText("Ravi Kumar"));
    expect(onOpen).toHaveBeenCalledWith(ravi);
  });

  it("does not call next while a call or a form is open", async () => {
    const { onCall } = renderHome(async () => dashboard([asha]), true);
    await screen.findAllByTestId("queue-item");
    expect((screen.getByTestId("call-next") as HTMLButtonElement).disabled).toBe(true);
    fireEvent.keyDown(window, { key: "n" });
    expect(onCall).not.toHaveBeenCalled();
  });

  it("shows a failure with a way to try again", async () => {
    let fail = true;
    renderHome(async () => {
      if (fail) throw new IpcError("storage", "the cache is locked");
      return dashboard([asha]);
    });
    expect((await screen.findByRole("alert")).textContent).toContain("the cache is locked");
    fail = false;
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    await waitFor(() => expect(screen.getAllByTestId("queue-item")).toHaveLength(1));
  });
});

it("formats talk time", () => {
  expect(formatDuration(0)).toBe("0s");
  expect(formatDuration(59)).toBe("59s");
  expect(formatDuration(754)).toBe("12m 34s");
  expect(formatDuration(3 * 3600 + 120)).toBe("3h 2m");
});
