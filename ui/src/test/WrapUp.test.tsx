import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { App } from "../App";
import type { LeadPage } from "../bindings/LeadPage";
import { Markdown } from "../components/Markdown";
import { STATUS_LABELS } from "../format";
import { IpcError, type Api } from "../ipc";
import { QUICK_PICKS, formatTalk, fromLocalInput, toLocalInput, toggleTag } from "../wrapup";
import { callView, fakePhone, fakeWrapUp, lead, phoneStatus, status, unloggedCall, fakeSession, openLeads } from "./fixtures";

afterEach(cleanup);

const asha = lead({ name: "Asha Rao", phone: "+919876543210" });

function appWith(wrap = fakeWrapUp(), phone = fakePhone(phoneStatus({ state: "ready" })), statusOverrides = {}) {
  let syncs = 0;
  const api: Api = {
    appStatus: async () => status(statusOverrides),
    login: async () => status(),
    syncNow: async () => {
      syncs += 1;
      return status();
    },
    listLeads: async (q): Promise<LeadPage> => {
      const hits = q.search ? [asha].filter((l) => l.name.toLowerCase().includes(q.search!.toLowerCase())) : [asha];
      return { leads: hits, total: 1, truncated: false };
    },
    onStatus: async () => () => {},
    ...phone.api,
    ...wrap.api,
    ...fakeSession([asha]).api,
  };
  render(<App api={api} />);
  return { wrap, phone, syncs: () => syncs };
}

describe("wrap-up helpers", () => {
  it("toggles outcome tags once each, whatever their case", () => {
    expect(toggleTag([], " EMI ")).toEqual(["EMI"]);
    expect(toggleTag(["EMI"], "emi")).toEqual([]);
    expect(toggleTag(["EMI"], "   ")).toEqual(["EMI"]);
  });

  it("picks follow-up times telecallers use and round-trips the time field", () => {
    const now = new Date(2026, 10, 25, 15, 42, 30);
    const [hour, tomorrow, week] = QUICK_PICKS.map((q) => q.at(now));
    expect(toLocalInput(hour!)).toBe("2026-11-25T16:42");
    expect(toLocalInput(tomorrow!)).toBe("2026-11-26T11:00");
    expect(toLocalInput(week!)).toBe("2026-12-02T11:00");
    expect(fromLocalInput("2026-11-26T11:00")?.getHours()).toBe(11);
    expect(fromLocalInput("tomorrow")).toBeNull();
    expect(formatTalk(42)).toBe("42 s");
    expect(formatTalk(65)).toBe("1 min 05 s");
  });

  it("renders notes as safe Markdown", () => {
    render(<Markdown text={"Wants the **kundan** set\n- budget *2 lakh*\n- visit Saturday\n<img src=x onerror=alert(1)>"} />);
    expect(screen.getByText("kundan").tagName).toBe("STRONG");
    expect(screen.getByText("2 lakh").tagName).toBe("EM");
    expect(screen.getAllByRole("listitem")).toHaveLength(2);
    expect(document.querySelector("img")).toBeNull();
    expect(screen.getByText("<img src=x onerror=alert(1)>")).toBeTruthy();
  });
});

describe("the wrap-up form", () => {
  it("opens by itself when a call ends, takes a disposition by hotkey, a note and a quick follow-up, and logs", async () => {
    const ended = unloggedCall({ lead: asha, talk_seconds: 65 });
    const wrap = fakeWrapUp();
    const phone = fakePhone(phoneStatus({ state: "ready" }));
    const app = appWith(wrap, phone);
    await openLeads();
    await screen.findAllByTestId("lead-row");
    expect(screen.queryByTestId("wrapup")).toBeNull();

    // The call ends: its draft is now among the calls to log, and the form opens on it.
    wrap.list.push(ended);
    await phone.ready();
    act(() => phone.emit({ kind: "call", call: callView({ stage: "ended", end: "hung_up_here" }) }));
    const form = await screen.findByTestId("wrapup");
    expect(form.textContent).toContain("Log the call with Asha Rao");
    expect(within(form).getByTestId("wrapup-facts").textContent).toContain("talked 1 min 05 s");

    // Saving without a disposition says what is missing.
    fireEvent.click(within(form).getByTestId("wrapup-save"));
    expect((await screen.findByTestId("wrapup-error")).textContent).toContain("Choose a disposition");

    // Key 2 picks "Store visit booked", which needs a follow-up (the legend says so).
    fireEvent.keyDown(window, { key: "2" });
    await waitFor(() => expect(within(form).getByTestId("disposition-visit_booked").getAttribute("aria-checked")).toBe("true"));
    expect(form.textContent).toContain("Follow-up (needed)");
    // Typing digits into the notes does not change the disposition.
    const notes = within(form).getByTestId("wrapup-notes");
    fireEvent.change(notes, { target: { value: "Coming **Saturday** with 2 friends" } });
    fireEvent.keyDown(notes, { key: "6" });
    expect(within(form).getByTestId("disposition-visit_booked").getAttribute("aria-checked")).toBe("true");
    fireEvent.click(within(form).getByRole("button", { name: "Preview" }));
    expect(within(form).getByText("Saturday").tagName).toBe("STRONG");
    fireEvent.click(within(form).getByRole("button", { name: "Tomorrow 11 am" }));
    expect((within(form).getByTestId("wrapup-due") as HTMLInputElement).value).toMatch(/T11:00$/);
    // The lead moves along the pipeline with the call; its present status is the default ("keep").
    const statusSelect = within(form).getByTestId("wrapup-status") as HTMLSelectElement;
    expect(statusSelect.value).toBe("");
    expect(statusSelect.options[0]!.textContent).toBe(`Keep: ${STATUS_LABELS[asha.status]}`);
    fireEvent.change(statusSelect, { target: { value: "visit_scheduled" } });
    // Outcome tags: a common one toggled on, and one typed.
    fireEvent.click(within(form).getByRole("button", { name: "gold rate" }));
    const tagField = within(form).getByTestId("wrapup-tag");
    fireEvent.change(tagField, { target: { value: " Akshaya Tritiya " } });
    fireEvent.keyDown(tagField, { key: "Enter" });
    expect(within(form).getByRole("button", { name: "Akshaya Tritiya" }).getAttribute("aria-pressed")).toBe("true");

    fireEvent.click(within(form).getByTestId("wrapup-save"));
    await waitFor(() => expect(screen.queryByTestId("wrapup")).toBeNull());
    expect(wrap.logged).toHaveLength(1);
    const [id, args] = wrap.logged[0]!;
    expect(id).toBe(ended.log_id);
    expect(args.disposition).toBe("visit_booked");
    expect(args.notes).toBe("Coming **Saturday** with 2 friends");
    expect(new Date(args.follow_up!.due_at).getHours()).toBe(11);
    expect(args.lead_status).toBe("visit_scheduled");
    expect(args.outcome_tags).toEqual(["gold rate", "Akshaya Tritiya"]);
    // Logged: sent at once when online.
    await waitFor(() => expect(app.syncs()).toBeGreaterThan(0));
  });

  it("shows the store's refusal and keeps the form", async () => {
    const wrap = fakeWrapUp([unloggedCall({ lead: asha })]);
    wrap.api.wrapUp = async () => {
      throw new IpcError("invalid_input", "\"Interested – send catalogue\" needs a follow-up time.");
    };
    appWith(wrap);
    const form = await screen.findByTestId("wrapup");
    fireEvent.click(within(form).getByTestId("disposition-interested"));
    fireEvent.click(within(form).getByTestId("wrapup-save"));
    expect((await screen.findByTestId("wrapup-error")).textContent).toContain("needs a follow-up time");
    expect(screen.getByTestId("wrapup")).toBeTruthy();
  });

  it("lists calls not yet logged in the header until they are, and asks the lead of an unknown caller", async () => {
    const stranger = unloggedCall({ direction: "inbound", remote: "+919800000002", lead: null });
    const wrap = fakeWrapUp([stranger, unloggedCall({ lead: asha }), unloggedCall({ ongoing: true, end: null, ended_at: null })]);
    appWith(wrap, undefined, { pending: 3 });
    // The first opens by itself; "Later" leaves it counted.
    const form = await screen.findByTestId("wrapup");
    expect(form.textContent).toContain("+91 98000 00002");
    fireEvent.click(within(form).getByRole("button", { name: "Later" }));
    // The next one opens by itself too, once.
    await waitFor(() => expect(screen.getByTestId("wrapup").textContent).toContain("Asha Rao"));
    fireEvent.click(within(screen.getByTestId("wrapup")).getByRole("button", { name: "Later" }));
    await waitFor(() => expect(screen.queryByTestId("wrapup")).toBeNull());
    // Two to log (the call still going is not counted); the header also counts what waits for the server.
    expect(screen.getByTestId("unlogged-count").textContent).toBe("2 calls to log");
    expect(screen.getByTestId("pending-count").textContent).toContain("3");

    fireEvent.click(screen.getByTestId("unlogged-count"));
    const again = await screen.findByTestId("wrapup");
    fireEvent.change(within(again).getByTestId("wrapup-lead-search"), { target: { value: "asha" } });
    fireEvent.click(await within(again).findByRole("button", { name: /Asha Rao/ }));
    fireEvent.keyDown(window, { key: "6" });
    fireEvent.click(within(again).getByTestId("wrapup-save"));
    await waitFor(() => expect(wrap.logged).toHaveLength(1));
    expect(wrap.logged[0]![1]).toMatchObject({ lead_id: asha.id, disposition: "not_interested" });
    expect(wrap.logged[0]![1].lead_status).toBeUndefined();
    await waitFor(() => expect(screen.getByTestId("unlogged-count").textContent).toBe("1 call to log"));
  });
});
