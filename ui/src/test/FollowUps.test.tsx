import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";

import type { FollowUpItem } from "../bindings/FollowUpItem";
import type { Lead } from "../bindings/Lead";
import { FollowUps, groupOf } from "../components/FollowUps";
import { IpcError, type Api } from "../ipc";
import { fakeFollowUps, lead } from "./fixtures";

afterEach(cleanup);

const asha = lead({ name: "Asha Rao" });
const ravi = lead({ name: "Ravi Kumar" });
const meena = lead({ name: "Meena Iyer" });

function item(id: string, l: Lead, dueInMinutes: number, note: string | null = null): FollowUpItem {
  return { id, lead: l, note, due_at: new Date(Date.now() + dueInMinutes * 60_000).toISOString() };
}

function renderWith(items: FollowUpItem[]) {
  const fake = fakeFollowUps(items);
  const onCall = vi.fn<(l: Lead) => void>();
  const onOpen = vi.fn<(l: Lead) => void>();
  const onChanged = vi.fn();
  render(
    <FollowUps api={fake.api as unknown as Api} refreshKey="" onCall={onCall} onOpen={onOpen} onChanged={onChanged} />,
  );
  return { fake, onCall, onOpen, onChanged };
}

it("groups overdue, later today and upcoming", async () => {
  // Late evening the "later today" group may be empty; only its order and membership are checked.
  const later = new Date();
  later.setHours(23, 59, 0, 0);
  const minutesToLater = Math.max(1, Math.floor((later.getTime() - Date.now()) / 60_000));
  renderWith([
    item("f1", asha, -120, "bring the catalogue"),
    item("f2", ravi, 3 * 24 * 60),
    item("f3", meena, Math.min(minutesToLater, 1)),
  ]);
  const overdue = await screen.findByTestId("follow-ups-overdue");
  expect(overdue.textContent).toContain("Asha Rao");
  expect(overdue.textContent).toContain("bring the catalogue");
  expect(overdue.textContent).toContain("Due 2 h ago");
  expect(screen.getByTestId("follow-ups-upcoming").textContent).toContain("Ravi Kumar");
  expect(groupOf(new Date(Date.now() - 1000).toISOString(), new Date())).toBe("overdue");
  const tomorrow = new Date();
  tomorrow.setDate(tomorrow.getDate() + 1);
  expect(groupOf(tomorrow.toISOString(), new Date())).toBe("upcoming");
});

it("marks one done, moves one, saves one to the calendar and calls one", async () => {
  const { fake, onCall, onOpen, onChanged } = renderWith([item("f1", asha, -30), item("f2", ravi, 600)]);
  const rows = await screen.findAllByTestId("follow-up");
  expect(rows).toHaveLength(2);

  fireEvent.click(screen.getByRole("button", { name: "Mark the follow-up with Asha Rao done" }));
  await waitFor(() => expect(screen.getAllByTestId("follow-up")).toHaveLength(1));
  // Gone at once (optimistic); the shell's answer follows.
  await waitFor(() => expect(screen.getByTestId("follow-ups-notice").textContent).toContain("Done: Asha Rao"));
  expect(fake.log).toContain("done f1");
  expect(onChanged).toHaveBeenCalledTimes(1);

  const row = screen.getByTestId("follow-up");
  fireEvent.click(within(row).getByRole("button", { name: "Move" }));
  fireEvent.click(within(row).getByRole("button", { name: "Next week" }));
  await waitFor(() => expect(fake.log.some((l) => l.startsWith("move f2 "))).toBe(true));
  const moved = new Date(fake.log.find((l) => l.startsWith("move f2 "))!.split(" ")[2]!);
  expect(moved.getTime() - Date.now()).toBeGreaterThan(6 * 24 * 3600_000);
  expect(moved.getHours()).toBe(11);

  fireEvent.click(screen.getByRole("button", { name: "Add the follow-up with Ravi Kumar to the calendar" }));
  expect((await screen.findByText(/call-back-f2\.ics/)).textContent).toContain("open it to add");

  fireEvent.click(screen.getByRole("button", { name: "Call Ravi Kumar" }));
  expect(onCall).toHaveBeenCalledWith(ravi);
  fireEvent.click(screen.getByText("Ravi Kumar"));
  expect(onOpen).toHaveBeenCalledWith(ravi);
});

it("says what to do when there are none, and shows a refusal", async () => {
  const { fake } = renderWith([]);
  expect((await screen.findByTestId("follow-ups-empty")).textContent).toContain("No follow-ups waiting");
  fake.api.followUps = async () => [item("gone", asha, -5)];
  cleanup();
  render(
    <FollowUps api={fake.api as unknown as Api} refreshKey="" onCall={() => {}} onOpen={() => {}} onChanged={() => {}} />,
  );
  fireEvent.click(await screen.findByRole("button", { name: "Mark the follow-up with Asha Rao done" }));
  expect((await screen.findByRole("alert")).textContent).toContain("done or no longer yours");
});

it("shows a change at once and puts it back when the shell refuses it", async () => {
  const { fake } = renderWith([item("f1", asha, -30), item("f2", ravi, 600)]);
  await screen.findAllByTestId("follow-up");
  let release: (() => void) | null = null;
  fake.api.completeFollowUp = () =>
    new Promise<void>((_, reject) => {
      release = () => reject(new IpcError("storage", "the cache is locked"));
    });
  fireEvent.click(screen.getByRole("button", { name: "Mark the follow-up with Asha Rao done" }));
  // Gone at once, before the shell answers.
  await waitFor(() => expect(screen.getAllByTestId("follow-up")).toHaveLength(1));
  release!();
  expect((await screen.findByRole("alert")).textContent).toContain("the cache is locked");
  await waitFor(() => expect(screen.getAllByTestId("follow-up")).toHaveLength(2));
});
