import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import type { BulkOutcome } from "../bindings/BulkOutcome";
import { TeamLeads } from "../components/TeamLeads";
import { IpcError } from "../ipc";
import { ARJUN, PRIYA, auditEntry, fakeTeam, lead } from "./fixtures";

afterEach(cleanup);

function last<T>(items: T[]): T {
  return items[items.length - 1]!;
}

const asha = lead({ name: "Asha Rao", assigned_to: PRIYA });
const ravi = lead({ name: "Ravi Kumar", assigned_to: PRIYA });
const meena = lead({ name: "Meena Shah", assigned_to: null });

function assigneeOf(name: string): string {
  const row = screen.getByText(name).closest("tr")!;
  return within(row).getByTestId("assignee-cell").textContent ?? "";
}

async function select(name: string) {
  fireEvent.click(await screen.findByRole("checkbox", { name: `Select ${name}` }));
}

/** Picks the assignee and reason once the bar is there, and presses Assign. */
async function assignTo(value: string, reason: string) {
  await waitFor(() => expect(screen.getByTestId("bulk-to").querySelectorAll("option").length).toBeGreaterThan(2));
  fireEvent.change(screen.getByTestId("bulk-to"), { target: { value } });
  fireEvent.change(screen.getByTestId("bulk-reason"), { target: { value: reason } });
  fireEvent.click(screen.getByTestId("bulk-assign"));
}

describe("TeamLeads", () => {
  it("shows a skeleton, then the team's leads with their assignees", async () => {
    const team = fakeTeam([asha, ravi, meena]);
    render(<TeamLeads api={team.api} />);
    expect(screen.getByTestId("team-leads-loading").getAttribute("aria-busy")).toBe("true");
    expect(await screen.findAllByTestId("team-lead-row")).toHaveLength(3);
    await waitFor(() => expect(assigneeOf("Asha Rao")).toBe("Priya Raman"));
    expect(assigneeOf("Meena Shah")).toBe("Nobody");
  });

  it("filters on the server by status, assignee and text", async () => {
    const team = fakeTeam([meena]);
    render(<TeamLeads api={team.api} />);
    await screen.findAllByTestId("team-lead-row");
    fireEvent.change(screen.getByTestId("team-status"), { target: { value: "interested" } });
    fireEvent.change(screen.getByTestId("team-priority"), { target: { value: "hot" } });
    fireEvent.change(screen.getByTestId("team-source"), { target: { value: "walk_in" } });
    await waitFor(() => expect(screen.getByTestId("team-assignee").querySelectorAll("option").length).toBe(4));
    fireEvent.change(screen.getByTestId("team-assignee"), { target: { value: "none" } });
    fireEvent.change(screen.getByTestId("team-search"), { target: { value: " 98765 " } });
    fireEvent.submit(screen.getByTestId("team-search").closest("form")!);
    await waitFor(() =>
      expect(last(team.calls)).toEqual([
        "teamLeads",
        {
          status: ["interested"],
          priority: ["hot"],
          source: ["walk_in"],
          limit: 50,
          assigned_to: "unassigned",
          q: "98765",
        },
      ]),
    );
    fireEvent.change(screen.getByTestId("team-assignee"), { target: { value: ARJUN } });
    await waitFor(() =>
      expect((last(team.calls)[1] as { assigned_to: unknown }).assigned_to).toEqual({ user: ARJUN }),
    );
  });

  it("tells what to do when the team has no leads, and when filters match none", async () => {
    const team = fakeTeam([]);
    render(<TeamLeads api={team.api} />);
    expect((await screen.findByTestId("team-leads-empty")).textContent).toContain("Import a CSV file");
    fireEvent.change(screen.getByTestId("team-status"), { target: { value: "converted" } });
    await waitFor(() => expect(screen.getByTestId("team-leads-empty").textContent).toContain("No team leads match"));
  });

  it("assigns the selection at once, with the reason, and keeps it when the server agrees", async () => {
    let answer: (o: BulkOutcome) => void = () => {};
    const team = fakeTeam([asha, ravi, meena], {
      assignLeads: (args) => {
        team.calls.push(["assignLeads", args]);
        return new Promise((resolve) => {
          answer = resolve;
        });
      },
    });
    render(<TeamLeads api={team.api} />);
    await select("Asha Rao");
    await select("Meena Shah");
    expect(screen.getByTestId("bulk-bar").textContent).toContain("2 selected");
    await assignTo(ARJUN, "Priya is on leave");
    // Shown before the server answers.
    await waitFor(() => expect(assigneeOf("Asha Rao")).toBe("Arjun Nair"));
    expect(assigneeOf("Meena Shah")).toBe("Arjun Nair");
    expect(assigneeOf("Ravi Kumar")).toBe("Priya Raman");
    expect(last(team.calls)).toEqual([
      "assignLeads",
      { lead_ids: [asha.id, meena.id], to: ARJUN, reason: "Priya is on leave" },
    ]);
    answer({ assigned: 2, unchanged: 0, lead_ids: [asha.id, meena.id] });
    expect((await screen.findByTestId("team-notice")).textContent).toBe("Assigned 2 leads to Arjun Nair.");
    expect(assigneeOf("Asha Rao")).toBe("Arjun Nair");
    expect(screen.queryByTestId("bulk-bar")).toBeNull();
  });

  it("puts the leads back and says why when the server refuses", async () => {
    let refuse: (e: unknown) => void = () => {};
    const team = fakeTeam([asha, ravi], {
      assignLeads: () =>
        new Promise((_, reject) => {
          refuse = reject;
        }),
    });
    render(<TeamLeads api={team.api} />);
    await select("Asha Rao");
    await assignTo("none", "Back to the pool");
    await waitFor(() => expect(assigneeOf("Asha Rao")).toBe("Nobody"));
    refuse(new IpcError("invalid_input", "reason is longer than 500 characters"));
    const error = await screen.findByTestId("bulk-error");
    expect(error.getAttribute("role")).toBe("alert");
    expect(error.textContent).toContain("The leads were not assigned");
    expect(error.textContent).toContain("reason is longer than 500 characters");
    expect(assigneeOf("Asha Rao")).toBe("Priya Raman");
    // The selection stays for another try.
    expect(screen.getByTestId("bulk-bar").textContent).toContain("1 selected");
  });

  it("cannot assign without a reason", async () => {
    const team = fakeTeam([asha]);
    render(<TeamLeads api={team.api} />);
    await select("Asha Rao");
    await waitFor(() => expect(screen.getByTestId("bulk-to").querySelectorAll("option").length).toBeGreaterThan(2));
    fireEvent.change(screen.getByTestId("bulk-to"), { target: { value: ARJUN } });
    expect((screen.getByTestId("bulk-assign") as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(screen.getByTestId("bulk-reason"), { target: { value: "   " } });
    expect((screen.getByTestId("bulk-assign") as HTMLButtonElement).disabled).toBe(true);
  });

  it("transfers one telecaller's open leads to another with the reason, then reloads", async () => {
    const team = fakeTeam([asha]);
    render(<TeamLeads api={team.api} />);
    await screen.findAllByTestId("team-lead-row");
    fireEvent.click(screen.getByTestId("open-transfer"));
    await waitFor(() => expect(screen.getByTestId("transfer-from").querySelectorAll("option").length).toBe(3));
    fireEvent.change(screen.getByTestId("transfer-from"), { target: { value: PRIYA } });
    fireEvent.change(screen.getByTestId("transfer-to"), { target: { value: ARJUN } });
    fireEvent.change(screen.getByTestId("transfer-reason"), { target: { value: "Priya moved to Andheri" } });
    fireEvent.click(screen.getByTestId("transfer-submit"));
    expect((await screen.findByTestId("team-notice")).textContent).toBe(
      "Moved 2 leads from Priya Raman to Arjun Nair.",
    );
    expect(team.calls).toContainEqual([
      "transferLeads",
      { from: PRIYA, to: ARJUN, reason: "Priya moved to Andheri" },
    ]);
    await waitFor(() => expect(team.calls.filter(([c]) => c === "teamLeads").length).toBe(2));
  });

  it("shows a lead's audit trail with who moved it, when and why", async () => {
    const team = fakeTeam([asha], {
      leadAudit: async (leadId) => ({
        entries: [
          auditEntry({ lead_id: leadId, action: "transferred", reason: "Priya is on leave" }),
          auditEntry({ lead_id: leadId, action: "created", actor_id: null, from_user: null, to_user: null, reason: null }),
        ],
        next_cursor: null,
      }),
    });
    render(<TeamLeads api={team.api} />);
    fireEvent.click(await screen.findByRole("button", { name: "History of Asha Rao" }));
    const entries = await screen.findAllByTestId("audit-entry");
    expect(entries[0]!.textContent).toContain("Transferred from Priya Raman to Arjun Nair");
    expect(entries[0]!.textContent).toContain("by Meera Iyer");
    expect(entries[0]!.textContent).toContain("“Priya is on leave”");
    expect(entries[1]!.textContent).toContain("Created");
    expect(entries[1]!.textContent).toContain("by Leadline");
  });

  it("an empty audit trail says so", async () => {
    const team = fakeTeam([asha], { leadAudit: async () => ({ entries: [], next_cursor: null }) });
    render(<TeamLeads api={team.api} />);
    fireEvent.click(await screen.findByRole("button", { name: "History of Asha Rao" }));
    expect((await screen.findByTestId("audit-empty")).textContent).toContain("No changes recorded");
  });

  it("offline, says the team needs the server and tries again", async () => {
    let fail = true;
    const team = fakeTeam([asha], {
      teamLeads: async () => {
        if (fail) throw new IpcError("network", "Leadline could not connect to the server.");
        return { leads: [asha], next_cursor: null };
      },
    });
    render(<TeamLeads api={team.api} />);
    const offline = await screen.findByTestId("team-offline");
    fail = false;
    fireEvent.click(within(offline).getByRole("button", { name: "Try again" }));
    expect(await screen.findAllByTestId("team-lead-row")).toHaveLength(1);
  });

  it("chooses every lead the filter lists, pages not loaded too, and assigns them on the server", async () => {
    const later = lead({ name: "Later Lead", assigned_to: PRIYA });
    const team = fakeTeam([], {
      teamLeads: async (q) => {
        team.calls.push(["teamLeads", q]);
        return q.cursor ? { leads: [later], next_cursor: null } : { leads: [asha, ravi], next_cursor: "c1" };
      },
    });
    render(<TeamLeads api={team.api} />);
    fireEvent.change(await screen.findByTestId("team-assignee"), { target: { value: PRIYA } });
    await waitFor(() => expect(screen.getAllByTestId("team-lead-row")).toHaveLength(2));
    // Only once the whole page is ticked, and only when there are more pages.
    await select("Asha Rao");
    expect(screen.queryByTestId("bulk-select-matching")).toBeNull();
    fireEvent.click(screen.getByRole("checkbox", { name: "Select every lead on this page" }));
    fireEvent.click(await screen.findByTestId("bulk-select-matching"));
    expect(screen.getByTestId("bulk-whole-filter").textContent).toContain("Every lead that matches the filter");
    // Unticking a row goes back to the ticked rows.
    await select("Ravi Kumar");
    expect(screen.queryByTestId("bulk-whole-filter")).toBeNull();
    await select("Ravi Kumar");
    fireEvent.click(await screen.findByTestId("bulk-select-matching"));
    // A next page loaded is chosen too.
    fireEvent.click(screen.getByTestId("team-more"));
    expect(await screen.findByText("Later Lead")).toBeTruthy();
    expect(screen.getByTestId("bulk-whole-filter")).toBeTruthy();
    const loads = team.calls.filter(([name]) => name === "teamLeads").length;
    await assignTo(ARJUN, "Priya moves to the new showroom");
    expect((await screen.findByTestId("team-notice")).textContent).toBe("Assigned 120 leads to Arjun Nair.");
    const sent = team.calls.find(([name]) => name === "assignMatching");
    expect(sent).toEqual([
      "assignMatching",
      {
        filter: { status: [], priority: [], source: [], assigned_to: { user: PRIYA } },
        to: ARJUN,
        reason: "Priya moves to the new showroom",
      },
    ]);
    expect(team.calls.some(([name]) => name === "assignLeads")).toBe(false);
    // The list is read again: the rows it showed have moved.
    await waitFor(() => expect(team.calls.filter(([name]) => name === "teamLeads").length).toBe(loads + 1));
  });

  it("loads the next page", async () => {
    const later = lead({ name: "Later Lead" });
    const team = fakeTeam([], {
      teamLeads: async (q) =>
        q.cursor ? { leads: [later], next_cursor: null } : { leads: [asha], next_cursor: "c1" },
    });
    render(<TeamLeads api={team.api} />);
    fireEvent.click(await screen.findByTestId("team-more"));
    expect(await screen.findByText("Later Lead")).toBeTruthy();
    expect(screen.queryByTestId("team-more")).toBeNull();
  });
});
