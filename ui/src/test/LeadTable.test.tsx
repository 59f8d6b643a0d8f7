import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";

import { LeadTable } from "../components/LeadTable";
import { lead } from "./fixtures";

afterEach(cleanup);

const now = new Date("2026-11-25T10:00:00Z");

it("renders one row per lead with formatted phone, badges and relative time", () => {
  const leads = [
    lead({ name: "Asha Rao", phone: "+919876543210", city: "Bengaluru", priority: "hot", status: "follow_up" }),
    lead({
      name: "Vikram Shah",
      phone: "+912226543210",
      city: null,
      interest: null,
      budget_inr: null,
      status: "visit_scheduled",
      updated_at: "2026-11-25T09:30:00Z",
    }),
  ];
  render(<LeadTable leads={leads} now={now} emptyText="none" />);

  const rows = screen.getAllByTestId("lead-row");
  expect(rows).toHaveLength(2);

  const first = within(rows[0]!);
  expect(first.getByText("Asha Rao")).toBeTruthy();
  expect(first.getByText("+91 98765 43210")).toBeTruthy();
  expect(first.getByText("Bengaluru")).toBeTruthy();
  expect(first.getByText("Hot")).toBeTruthy();
  expect(first.getByText("Follow-up").className).toContain("status-follow_up");
  expect(first.getByText("₹50,000")).toBeTruthy();

  const second = within(rows[1]!);
  expect(second.getByText("+91 22 2654 3210")).toBeTruthy();
  expect(second.getByText("Visit scheduled")).toBeTruthy();
  expect(second.getByText("30 min ago")).toBeTruthy();
  expect(second.getAllByText("—")).toHaveLength(2);
});

it("shows the empty text instead of a table when there are no leads", () => {
  render(<LeadTable leads={[]} now={now} emptyText="No leads match this search." />);
  expect(screen.queryByTestId("lead-table")).toBeNull();
  expect(screen.getByTestId("lead-empty").textContent).toBe("No leads match this search.");
});
