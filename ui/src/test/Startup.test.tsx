import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";

import { App } from "../App";
import { startupMark } from "../startup";
import { fakeAppApi, lead, status } from "./fixtures";

afterEach(cleanup);

// Its own file: the marks are kept once per page load (module), like the app's one run.
it("the first screen sends the start-up's marks in order, once", async () => {
  startupMark("script");
  const { api, session } = fakeAppApi(status({ lead_count: 2 }), [lead({ name: "Asha Rao" }), lead({ name: "Meena Iyer" })]);
  await api.rememberScreen("leads");
  render(<App api={api} />);
  await waitFor(() => expect(screen.getAllByTestId("lead-row")).toHaveLength(2));
  await waitFor(() => expect(session.ready()).toEqual(["leads"]));

  const [marks] = session.readyMarks();
  const names = (marks ?? []).map((m) => m.name);
  for (const name of ["script", "app", "preferences", "status", "lead-screen", "page-asked", "page-came", "rows-dom", "committed", "painted"]) {
    expect(names).toContain(name);
  }
  const at = (name: string) => marks?.find((m) => m.name === name)?.at_ms ?? Number.NaN;
  expect(at("page-asked")).toBeLessThanOrEqual(at("page-came"));
  expect(at("page-came")).toBeLessThanOrEqual(at("rows-dom"));
  expect(at("rows-dom")).toBeLessThanOrEqual(at("painted"));
  const times = (marks ?? []).map((m) => m.at_ms);
  expect(times).toEqual([...times].sort((a, b) => a - b));

  // Another screen afterwards sends none.
  screen.getByTestId("tab-home").click();
  await waitFor(() => expect(session.ready()).toEqual(["leads", "today"]));
  expect(session.readyMarks()[1]).toEqual([]);
});
