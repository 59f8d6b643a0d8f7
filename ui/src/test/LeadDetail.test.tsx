import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import axe from "axe-core";
import { afterEach, describe, expect, it, vi } from "vitest";

import { App } from "../App";
import type { Disposition } from "../bindings/Disposition";
import type { Lead } from "../bindings/Lead";
import type { LeadPage } from "../bindings/LeadPage";
import { LeadDetail } from "../components/LeadDetail";
import type { Api } from "../ipc";
import { callLog, fakeLeadDetail, fakePhone, fakeSession, fakeWrapUp, lead, openLeads, status } from "./fixtures";

afterEach(cleanup);

function last<T>(items: T[]): T | undefined {
  return items[items.length - 1];
}

const DISPOSITIONS: Disposition[] = [
  { code: "interested", label: "Interested", category: "connected", requires_follow_up: false, hotkey: 1 },
  { code: "no_answer", label: "Ringing, no answer", category: "not_connected", requires_follow_up: false, hotkey: 2 },
  { code: "visit_booked", label: "Visit booked", category: "connected", requires_follow_up: false, hotkey: 3 },
] as unknown as Disposition[];

function renderDetail(l: Lead, calls = [] as ReturnType<typeof callLog>[], pageSize = 50) {
  const fake = fakeLeadDetail([l], calls, pageSize);
  const onCall = vi.fn<(l: Lead) => void>();
  const onClose = vi.fn();
  const onChanged = vi.fn<(l: Lead) => void>();
  render(
    <LeadDetail
      api={fake.api}
      leadId={l.id}
      dispositions={DISPOSITIONS}
      now={new Date("2026-11-25T10:00:00Z")}
      onCall={onCall}
      onClose={onClose}
      onChanged={onChanged}
    />,
  );
  return { fake, onCall, onClose, onChanged };
}

describe("LeadDetail", () => {
  it("shows a skeleton, then the lead with its pipeline, fields and an empty history that says what to do", async () => {
    const asha = lead({ name: "Asha Rao", status: "interested", tags: ["wedding"] });
    renderDetail(asha);
    expect(screen.getByTestId("lead-detail-loading").getAttribute("aria-busy")).toBe("true");
    expect((await screen.findByTestId("lead-detail-name")).textContent).toBe("Asha Rao");
    expect(screen.getByTestId("status-interested").getAttribute("aria-current")).toBe("step");
    expect(screen.getByTestId("status-contacted").className).toContain("pipeline-done");
    expect(screen.getByTestId("status-converted").className).not.toContain("pipeline-done");
    expect((screen.getByTestId("field-city") as HTMLInputElement).value).toBe("Chennai");
    expect(screen.getAllByTestId("lead-tag").map((t) => t.firstChild?.textContent)).toEqual(["wedding"]);
    expect((await screen.findByTestId("history-empty")).textContent).toContain("No calls with this lead yet");
  });

  it("moves the lead along the pipeline at once, and back when saving fails", async () => {
    const asha = lead({ name: "Asha Rao", status: "contacted" });
    const { fake, onChanged } = renderDetail(asha);
    await screen.findByTestId("lead-detail-name");
    fireEvent.click(screen.getByTestId("status-visit_scheduled"));
    await screen.findByTestId("lead-detail-saved");
    expect(last(fake.edits)?.edit.status).toBe("visit_scheduled");
    expect(last(fake.edits)?.edit.city).toBeNull();
    expect(onChanged).toHaveBeenCalledWith(expect.objectContaining({ status: "visit_scheduled" }));

    fake.state.failEdits = true;
    fireEvent.change(screen.getByTestId("status-other"), { target: { value: "not_interested" } });
    // Shown at once (optimistic)...
    expect(screen.getByTestId("status-other")).toHaveProperty("value", "not_interested");
    // ...and put back with the reason when the shell refuses.
    expect((await screen.findByTestId("lead-detail-error")).textContent).toContain("disk full");
    expect(screen.getByTestId("status-visit_scheduled").getAttribute("aria-current")).toBe("step");
    expect(screen.getByTestId("status-other")).toHaveProperty("value", "");
  });

  it("checks the second number, then saves the fields and tags as typed", async () => {
    const asha = lead({ name: "Asha Rao", tags: ["wedding"] });
    const { fake } = renderDetail(asha);
    await screen.findByTestId("lead-detail-name");
    fireEvent.change(screen.getByTestId("field-alternate-phone"), { target: { value: "12345" } });
    fireEvent.click(screen.getByTestId("lead-detail-save"));
    expect((await screen.findByTestId("lead-detail-error")).textContent).toContain("not a phone number");
    expect(screen.queryByTestId("lead-detail-saved")).toBeNull();

    fireEvent.change(screen.getByTestId("field-alternate-phone"), { target: { value: "+91 98200 12345" } });
    fireEvent.change(screen.getByTestId("field-email"), { target: { value: "asha@example.in" } });
    fireEvent.change(screen.getByTestId("field-budget"), { target: { value: "3,50,000" } });
    fireEvent.change(screen.getByTestId("field-priority"), { target: { value: "hot" } });
    const input = screen.getByTestId("tag-input");
    fireEvent.change(input, { target: { value: "gold coins" } });
    fireEvent.keyDown(input, { key: "Enter" });
    fireEvent.change(input, { target: { value: "Wedding" } });
    fireEvent.keyDown(input, { key: "Enter" });
    fireEvent.click(screen.getByRole("button", { name: "Remove the tag wedding" }));
    fireEvent.click(screen.getByTestId("lead-detail-save"));
    await screen.findByTestId("lead-detail-saved");
    const edit = last(fake.edits)!.edit;
    expect(edit).toMatchObject({
      alternate_phone: "+91 98200 12345",
      email: "asha@example.in",
      budget_inr: 350000,
      priority: "hot",
      tags: ["gold coins"],
      status: null,
    });
    expect(screen.queryByTestId("lead-detail-error")).toBeNull();
    expect(screen.getAllByTestId("lead-tag").map((t) => t.firstChild?.textContent)).toEqual(["gold coins"]);
  });

  it("refuses a budget that is not a number before asking the shell", async () => {
    const { fake } = renderDetail(lead({ name: "Asha Rao" }));
    await screen.findByTestId("lead-detail-name");
    fireEvent.change(screen.getByTestId("field-budget"), { target: { value: "two lakh" } });
    fireEvent.click(screen.getByTestId("lead-detail-save"));
    expect((await screen.findByTestId("lead-detail-error")).textContent).toContain("digits only");
    expect(fake.edits).toHaveLength(0);
  });

  it("lists the calls newest first, filters and searches them, pages and exports what is shown", async () => {
    const asha = lead({ name: "Asha Rao" });
    const calls = [
      callLog(asha, { started_at: "2026-11-20T10:00:00Z", disposition: "no_answer", duration_s: 0, notes: "" }),
      callLog(asha, { started_at: "2026-11-22T10:00:00Z", notes: "Wants a **kundan** set", outcome_tags: ["wedding"] }),
      callLog(asha, { started_at: "2026-11-24T10:00:00Z", direction: "inbound", disposition: "visit_booked", notes: "Coming Sunday" }),
    ];
    const { fake } = renderDetail(asha, calls, 2);
    await waitFor(() => expect(screen.getAllByTestId("history-call")).toHaveLength(2));
    let shown = screen.getAllByTestId("history-call");
    expect(within(shown[0]!).getByText("Visit booked")).toBeTruthy();
    expect(shown[0]!.textContent).toContain("Incoming");
    expect(within(shown[1]!).getByText("kundan").tagName).toBe("STRONG");
    fireEvent.click(screen.getByTestId("history-more"));
    await waitFor(() => expect(screen.getAllByTestId("history-call")).toHaveLength(3));
    shown = screen.getAllByTestId("history-call");
    expect(shown[2]!.textContent).toContain("not answered");
    expect(screen.queryByTestId("history-more")).toBeNull();

    fireEvent.change(screen.getByTestId("history-direction"), { target: { value: "outbound" } });
    fireEvent.change(screen.getByTestId("history-disposition"), { target: { value: "interested" } });
    await waitFor(() => expect(screen.getAllByTestId("history-call")).toHaveLength(1));
    expect(last(fake.histories)).toMatchObject({ direction: "outbound", dispositions: ["interested"], cursor: null });

    fireEvent.change(screen.getByTestId("history-search"), { target: { value: "sunday" } });
    expect((await screen.findByTestId("history-empty")).textContent).toContain("No call matches");
    expect(last(fake.histories)?.search).toBe("sunday");

    fireEvent.click(screen.getByTestId("history-export"));
    expect((await screen.findByTestId("history-notice")).textContent).toContain("/home/priya/Downloads/calls.csv");
    expect(last(fake.exports)).toMatchObject({
      lead_id: asha.id,
      search: "sunday",
      direction: "outbound",
      dispositions: ["interested"],
    });
  });

  it("plays a recording when asked, and says why when it cannot", async () => {
    const asha = lead({ name: "Asha Rao" });
    const recorded = callLog(asha, { recording_url: "https://recordings.exotel.com/x.mp3" });
    const silent = callLog(asha, { started_at: "2026-11-23T10:00:00Z" });
    const { fake } = renderDetail(asha, [recorded, silent]);
    await waitFor(() => expect(screen.getAllByTestId("history-call")).toHaveLength(2));
    expect(screen.getAllByTestId("recording-play")).toHaveLength(1);
    fireEvent.click(screen.getByTestId("recording-play"));
    expect((await screen.findByTestId("recording-error")).textContent).toContain("could not connect");
    const created = vi.fn(() => "blob:recording");
    URL.createObjectURL = created;
    URL.revokeObjectURL = vi.fn();
    fake.state.recording = new Uint8Array([0x49, 0x44, 0x33]).buffer;
    fireEvent.click(screen.getByTestId("recording-play"));
    const player = await screen.findByTestId("recording-player");
    expect(player.getAttribute("src")).toBe("blob:recording");
    expect(created).toHaveBeenCalledTimes(1);
  });

  it("says when the lead is gone, with a way to try again and close", async () => {
    const fake = fakeLeadDetail([]);
    const onClose = vi.fn();
    render(
      <LeadDetail
        api={fake.api}
        leadId="01936f4e-8c2a-7000-8000-999999999999"
        dispositions={[]}
        now={new Date()}
        onCall={() => {}}
        onClose={onClose}
      />,
    );
    expect((await screen.findByTestId("lead-detail-failed")).textContent).toContain("no longer on this computer");
    fireEvent.keyDown(window, { key: "Escape" });
    expect(onClose).toHaveBeenCalled();
  });

  it("has no accessibility violations", async () => {
    const asha = lead({ name: "Asha Rao" });
    renderDetail(asha, [callLog(asha, { notes: "hello", recording_url: "https://x/y.mp3" })]);
    await screen.findAllByTestId("history-call");
    const results = await axe.run(document.body, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
      rules: { "color-contrast": { enabled: false } },
    });
    expect(results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
  });
});

it("opens from the lead list, and the list shows the edit", async () => {
  const asha = lead({ name: "Asha Rao", status: "new" });
  const session = fakeSession([asha, lead({ name: "Ravi Kumar" })]);
  const api: Api = {
    appStatus: async () => status({ lead_count: 2 }),
    login: async () => status(),
    syncNow: async () => status(),
    listLeads: async (): Promise<LeadPage> => ({ leads: [], total: 0, truncated: false }),
    onStatus: async () => () => {},
    ...fakePhone().api,
    ...fakeWrapUp().api,
    ...session.api,
  };
  render(<App api={api} />);
  await openLeads();
  await waitFor(() => expect(screen.getAllByTestId("lead-row")).toHaveLength(2));
  fireEvent.click(screen.getAllByTestId("lead-name").find((b) => b.textContent === "Asha Rao")!);
  const dialog = await screen.findByTestId("lead-detail");
  await within(dialog).findByTestId("lead-detail-name");
  fireEvent.click(within(dialog).getByTestId("status-interested"));
  await within(dialog).findByTestId("lead-detail-saved");
  fireEvent.click(within(dialog).getByTestId("lead-detail-close"));
  expect(screen.queryByTestId("lead-detail")).toBeNull();
  const row = (await screen.findAllByTestId("lead-row")).find((r) => r.textContent?.includes("Asha Rao"))!;
  await waitFor(() => expect(row.textContent).toContain("Interested"));
});
