// The wrap-up limit: a finished call's form counts down; untouched at zero it closes and the call stays
// listed to log; a form being filled in stays open and counts the time over.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { App } from "../App";
import type { LeadPage } from "../bindings/LeadPage";
import { WrapUpDialog } from "../components/WrapUpDialog";
import type { Api } from "../ipc";
import { CATALOGUE, fakePhone, fakeSession, fakeWrapUp, lead, phoneStatus, status, unloggedCall } from "./fixtures";

beforeEach(() => {
  // Only the countdown's clock is faked; promises and React's own timers run as usual.
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
});
afterEach(() => {
  vi.useRealTimers();
  cleanup();
});

const asha = lead({ name: "Asha Rao" });

function dialog(limitSeconds: number | undefined, ongoing = false) {
  const onTimeUp = vi.fn();
  const wrap = fakeWrapUp();
  render(
    <WrapUpDialog
      api={{ ...wrap.api, listLeads: async () => ({ leads: [], total: 0, truncated: false }) } as unknown as Api}
      call={unloggedCall({ lead: asha, ongoing })}
      dispositions={CATALOGUE}
      onLogged={() => {}}
      onLater={() => {}}
      limitSeconds={limitSeconds}
      onTimeUp={onTimeUp}
    />,
  );
  return { onTimeUp };
}

function tick(seconds: number) {
  act(() => {
    vi.advanceTimersByTime(seconds * 1000);
  });
}

describe("the wrap-up limit", () => {
  it("counts down and closes an untouched form once, at zero", () => {
    const { onTimeUp } = dialog(60);
    const timer = screen.getByTestId("wrapup-timer");
    expect(timer.textContent).toBe("1:00 left to log this call");
    tick(31);
    expect(timer.textContent).toBe("0:29 left to log this call");
    expect(timer.className).toContain("wrapup-soon");
    expect(onTimeUp).not.toHaveBeenCalled();
    tick(29);
    expect(onTimeUp).toHaveBeenCalledTimes(1);
  });

  it("keeps a form being filled in open and counts the time over", () => {
    const { onTimeUp } = dialog(60);
    fireEvent.click(screen.getByTestId(`disposition-${CATALOGUE[0]!.code}`));
    tick(65);
    expect(onTimeUp).not.toHaveBeenCalled();
    const timer = screen.getByTestId("wrapup-timer");
    expect(timer.textContent).toBe("0:05 over the time to log a call");
    expect(timer.className).toContain("wrapup-over");
  });

  it("does not run while the call goes on, nor without a limit", () => {
    dialog(60, true);
    expect(screen.queryByTestId("wrapup-timer")).toBeNull();
    cleanup();
    const { onTimeUp } = dialog(undefined);
    tick(600);
    expect(screen.queryByTestId("wrapup-timer")).toBeNull();
    expect(onTimeUp).not.toHaveBeenCalled();
  });
});

it("in the app: the form that opened by itself closes at the limit, says so, and the call stays to log", async () => {
  const wrap = fakeWrapUp([unloggedCall({ lead: asha })]);
  const session = fakeSession([asha]);
  await session.api.savePreferences({ ...(await session.api.preferences()), wrap_up_limit_s: 60 });
  const api: Api = {
    appStatus: async () => status(),
    login: async () => status(),
    syncNow: async () => status(),
    listLeads: async (): Promise<LeadPage> => ({ leads: [asha], total: 1, truncated: false }),
    onStatus: async () => () => {},
    ...fakePhone(phoneStatus({ state: "ready" })).api,
    ...wrap.api,
    ...session.api,
  };
  render(<App api={api} />);
  await screen.findByTestId("wrapup");
  expect(screen.getByTestId("wrapup-timer").textContent).toBe("1:00 left to log this call");
  // The form's clock starts in an effect, which a loaded machine may run just after the form is first seen.
  await act(async () => {});
  tick(60);
  expect((await screen.findByTestId("wrapup-time-up")).textContent).toContain(
    "Time's up for logging the call with Asha Rao",
  );
  expect(screen.queryByTestId("wrapup")).toBeNull();
  expect(screen.getByTestId("unlogged-count").textContent).toBe("1 call to log");
  expect(wrap.logged).toHaveLength(0);
  // Opened again by hand, the form has no clock: the telecaller chose to log it now.
  fireEvent.click(screen.getByTestId("unlogged-count"));
  await screen.findByTestId("wrapup");
  expect(screen.queryByTestId("wrapup-timer")).toBeNull();
});

it("the limit is chosen in the preferences", async () => {
  const session = fakeSession([asha]);
  const api: Api = {
    appStatus: async () => status(),
    login: async () => status(),
    syncNow: async () => status(),
    listLeads: async (): Promise<LeadPage> => ({ leads: [asha], total: 1, truncated: false }),
    onStatus: async () => () => {},
    ...fakePhone(phoneStatus({ state: "ready" })).api,
    ...fakeWrapUp().api,
    ...session.api,
  };
  render(<App api={api} />);
  fireEvent.click(await screen.findByTestId("open-preferences"));
  const select = (await screen.findByTestId("wrap-up-limit")) as HTMLSelectElement;
  expect(select.value).toBe("120");
  expect(Array.from(select.options).map((o) => o.textContent)).toEqual([
    "1 min",
    "2 min",
    "3 min",
    "5 min",
    "10 min",
    "No limit",
  ]);
  fireEvent.change(select, { target: { value: "0" } });
  await vi.waitFor(() => expect(session.prefs().wrap_up_limit_s).toBe(0));
});
