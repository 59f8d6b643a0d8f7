import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { TeamDispositions } from "../components/TeamDispositions";
import { TeamGoals } from "../components/TeamGoals";
import { IpcError } from "../ipc";
import { ARJUN, catalogueEntry, fakeTeam } from "./fixtures";

afterEach(cleanup);

describe("TeamGoals", () => {
  it("shows a skeleton, then the team default and each telecaller (using the default until set)", async () => {
    const team = fakeTeam();
    render(<TeamGoals api={team.api} />);
    expect(screen.getByTestId("goals-loading").getAttribute("aria-busy")).toBe("true");
    const arjun = await screen.findByTestId(`goal-${ARJUN}`);
    expect(arjun.textContent).toContain("(team default)");
    expect((screen.getByRole("textbox", { name: "Daily calls for Team default" }) as HTMLInputElement).value).toBe("60");
    expect((within(arjun).getByRole("textbox", { name: "Daily calls for Arjun Nair" }) as HTMLInputElement).value).toBe("60");
    // Supervisors are not given goals.
    expect(screen.queryByText("Meera Iyer")).toBeNull();
  });

  it("saves one telecaller's own goal", async () => {
    const team = fakeTeam();
    render(<TeamGoals api={team.api} />);
    const calls = await screen.findByRole("textbox", { name: "Daily calls for Arjun Nair" });
    fireEvent.change(calls, { target: { value: "80" } });
    fireEvent.change(screen.getByRole("textbox", { name: "Daily conversions for Arjun Nair" }), {
      target: { value: "5" },
    });
    fireEvent.click(screen.getByRole("button", { name: "Save the goal for Arjun Nair" }));
    await waitFor(() =>
      expect(team.calls).toContainEqual(["setGoal", { user_id: ARJUN, daily_calls: 80, daily_conversions: 5 }]),
    );
    await waitFor(() => expect(screen.getByTestId(`goal-${ARJUN}`).textContent).not.toContain("(team default)"));
  });

  it("will not send a goal that is not a number", async () => {
    render(<TeamGoals api={fakeTeam().api} />);
    const calls = await screen.findByRole("textbox", { name: "Daily calls for Team default" });
    fireEvent.change(calls, { target: { value: "lots" } });
    expect(
      (screen.getByRole("button", { name: "Save the goal for Team default" }) as HTMLButtonElement).disabled,
    ).toBe(true);
  });

  it("says when no team goal is set yet, and shows a refusal", async () => {
    const team = fakeTeam([], {
      teamGoals: async () => [],
      setGoal: async () => {
        throw new IpcError("server", "Only supervisors and admins can do this (the server refused it).");
      },
    });
    render(<TeamGoals api={team.api} />);
    expect((await screen.findByTestId("goals-empty")).textContent).toContain("set the default below");
    fireEvent.change(screen.getByRole("textbox", { name: "Daily calls for Team default" }), { target: { value: "50" } });
    fireEvent.change(screen.getByRole("textbox", { name: "Daily conversions for Team default" }), {
      target: { value: "3" },
    });
    fireEvent.click(screen.getByRole("button", { name: "Save the goal for Team default" }));
    expect((await screen.findByRole("alert")).textContent).toContain("Only supervisors and admins");
  });

  it("offline, says the team needs the server", async () => {
    const team = fakeTeam([], {
      teamGoals: async () => {
        throw new IpcError("network", "no server");
      },
    });
    render(<TeamGoals api={team.api} />);
    expect(await screen.findByTestId("team-offline")).toBeTruthy();
  });
});

describe("TeamDispositions", () => {
  it("edits an entry and adds a new code", async () => {
    const team = fakeTeam();
    render(<TeamDispositions api={team.api} />);
    expect(screen.getByTestId("catalogue-loading")).toBeTruthy();
    const label = await screen.findByRole("textbox", { name: "Label of Interested" });
    fireEvent.change(label, { target: { value: "Interested, wants a visit" } });
    fireEvent.click(screen.getByRole("checkbox", { name: "Interested in use" }));
    fireEvent.click(screen.getByRole("button", { name: "Save Interested" }));
    await waitFor(() =>
      expect(team.calls).toContainEqual([
        "saveDisposition",
        catalogueEntry({ label: "Interested, wants a visit", active: false }),
      ]),
    );
    fireEvent.change(screen.getByRole("textbox", { name: "New code (a-z, 0-9, _)" }), {
      target: { value: "Visit_Done" },
    });
    fireEvent.change(screen.getByRole("textbox", { name: "Label of the new disposition" }), {
      target: { value: "Visited the store" },
    });
    fireEvent.change(screen.getByRole("combobox", { name: "Key of the new disposition" }), { target: { value: "7" } });
    fireEvent.click(screen.getByRole("button", { name: "Add" }));
    await waitFor(() =>
      expect(team.calls).toContainEqual([
        "saveDisposition",
        {
          code: "visit_done",
          label: "Visited the store",
          category: "connected",
          requires_follow_up: false,
          hotkey: 7,
          position: 2,
          active: true,
        },
      ]),
    );
    expect(await screen.findByTestId("dispo-visit_done")).toBeTruthy();
  });

  it("shows the server's refusal next to the entry (a hotkey already taken)", async () => {
    const team = fakeTeam([], {
      saveDisposition: async () => {
        throw new IpcError("invalid_input", "another active disposition uses hotkey 2");
      },
    });
    render(<TeamDispositions api={team.api} />);
    const key = await screen.findByRole("combobox", { name: "Key of Interested" });
    fireEvent.change(key, { target: { value: "2" } });
    fireEvent.click(screen.getByRole("button", { name: "Save Interested" }));
    const alert = await within(screen.getByTestId("dispo-interested")).findByRole("alert");
    expect(alert.textContent).toContain("another active disposition uses hotkey 2");
  });

  it("an empty catalogue says how to start", async () => {
    render(<TeamDispositions api={fakeTeam([], { dispositionCatalogue: async () => [] }).api} />);
    expect((await screen.findByTestId("catalogue-empty")).textContent).toContain("add the first");
  });

  it("a failure to load offers Try again", async () => {
    let fail = true;
    const team = fakeTeam([], {
      dispositionCatalogue: async () => {
        if (fail) throw new IpcError("server", "the server refused the request");
        return [catalogueEntry()];
      },
    });
    render(<TeamDispositions api={team.api} />);
    const error = await screen.findByTestId("team-error");
    fail = false;
    fireEvent.click(within(error).getByRole("button", { name: "Try again" }));
    expect(await screen.findByRole("textbox", { name: "Label of Interested" })).toBeTruthy();
  });
});
