import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import axe from "axe-core";
import { afterEach, expect, it, vi } from "vitest";

import { App } from "../App";
import type { AppStatus } from "../bindings/AppStatus";
import type { LeadPage } from "../bindings/LeadPage";
import { ConflictsDialog } from "../components/ConflictsDialog";
import type { Api } from "../ipc";
import { conflict, fakeConflicts, fakePhone, fakeSession, fakeWrapUp, lead, status } from "./fixtures";

afterEach(cleanup);

const asha = lead({ name: "Asha Rao" });
const ravi = lead({ name: "Ravi Kumar" });

it("the header counts the conflicts and opens the list; each is settled either way and the count follows", async () => {
  const conflicts = fakeConflicts([conflict(asha), conflict(ravi, "city", "Pune", "")]);
  let current: AppStatus = status({ conflicts: 2 });
  const api: Api = {
    appStatus: async () => current,
    login: async () => current,
    syncNow: async () => current,
    listLeads: async (): Promise<LeadPage> => ({ leads: [], total: 0, truncated: false }),
    onStatus: async () => () => {},
    ...fakePhone().api,
    ...fakeWrapUp().api,
    ...fakeSession([asha, ravi]).api,
    ...conflicts.api,
    resolveConflict: async (id, keep) => {
      await conflicts.api.resolveConflict(id, keep);
      current = status({ conflicts: conflicts.open().length });
    },
  };
  render(<App api={api} />);
  fireEvent.click(await screen.findByTestId("conflict-count"));
  expect(screen.getByTestId("conflict-count").textContent).toBe("2 conflicts");
  const items = await screen.findAllByTestId("conflict");
  expect(items).toHaveLength(2);
  expect(within(items[0]!).getByRole("heading").textContent).toBe("Asha Rao");
  const row = within(items[0]!).getAllByRole("row")[1]!;
  expect(Array.from(row.children).map((c) => c.textContent)).toEqual(["status", "new", "interested", "not_interested"]);
  expect(within(items[1]!).getAllByRole("row")[1]!.textContent).toContain("(empty)");

  fireEvent.click(within(items[0]!).getByTestId("keep-mine"));
  await waitFor(() => expect(screen.getAllByTestId("conflict")).toHaveLength(1));
  await waitFor(() => expect(screen.getByTestId("conflict-count").textContent).toBe("1 conflict"));
  fireEvent.click(screen.getByTestId("keep-theirs"));
  expect((await screen.findByTestId("conflicts-none")).textContent).toContain("No conflicts left");
  expect(conflicts.resolved.map(([, keep]) => keep)).toEqual(["mine", "theirs"]);
  await waitFor(() => expect(screen.queryByTestId("conflict-count")).toBeNull());
  fireEvent.click(screen.getByTestId("conflicts-close"));
  expect(screen.queryByTestId("conflicts")).toBeNull();
});

it("a failure to settle keeps the conflict and says why", async () => {
  const conflicts = fakeConflicts([conflict(asha)]);
  conflicts.state.failResolve = true;
  const onResolved = vi.fn();
  render(<ConflictsDialog api={conflicts.api} onClose={() => {}} onResolved={onResolved} />);
  fireEvent.click(await screen.findByTestId("keep-mine"));
  expect((await screen.findByRole("alert")).textContent).toContain("disk full");
  expect(screen.getAllByTestId("conflict")).toHaveLength(1);
  expect(onResolved).not.toHaveBeenCalled();
});

it("the list has no accessibility violations", async () => {
  render(<ConflictsDialog api={fakeConflicts([conflict(asha)]).api} onClose={() => {}} />);
  await screen.findByTestId("conflict");
  const results = await axe.run(document.body, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    rules: { "color-contrast": { enabled: false } },
  });
  expect(results.violations.map((v) => v.id)).toEqual([]);
});
