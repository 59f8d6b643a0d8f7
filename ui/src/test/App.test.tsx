import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";

import { App } from "../App";
import type { AppStatus } from "../bindings/AppStatus";
import type { LeadPage } from "../bindings/LeadPage";
import type { ListLeadsArgs } from "../bindings/ListLeadsArgs";
import { ErrorBoundary } from "../components/ErrorBoundary";
import { IpcError, type Api } from "../ipc";
import { fakePhone, fakeWrapUp, lead, status } from "./fixtures";

afterEach(cleanup);

/** An Api over plain data, recording the list queries it got. */
function fakeApi(initial: AppStatus, leads = [lead({ name: "Asha Rao" }), lead({ name: "Meena Iyer" })]) {
  const queries: ListLeadsArgs[] = [];
  const api: Api = {
    appStatus: async () => initial,
    login: async () => {
      throw new IpcError("invalid_credentials", "username or password is wrong");
    },
    syncNow: async () => initial,
    listLeads: async (q): Promise<LeadPage> => {
      queries.push(q);
      const needle = q.search?.toLowerCase();
      const hits = needle ? leads.filter((l) => l.name.toLowerCase().includes(needle)) : leads;
      return { leads: hits, total: leads.length, truncated: false };
    },
    onStatus: async () => () => {},
    ...fakePhone().api,
    ...fakeWrapUp().api,
  };
  return { api, queries };
}

it("asks to sign in when there is no session, and explains a refused password", async () => {
  const { api } = fakeApi(status({ signed_in: false, user: null, server_url: null }));
  render(<App api={api} />);
  await screen.findByTestId("login-form");

  fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
  expect((await screen.findByTestId("login-error")).textContent).toContain("Enter your server address");

  fireEvent.change(screen.getByTestId("login-server"), { target: { value: "http://127.0.0.1:9" } });
  fireEvent.change(screen.getByTestId("login-username"), { target: { value: "priya" } });
  fireEvent.change(screen.getByTestId("login-password"), { target: { value: "nope" } });
  fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
  await waitFor(() =>
    expect(screen.getByTestId("login-error").textContent).toContain("Wrong username or password"),
  );
});

it("shows the user's leads and filters them by search", async () => {
  const { api, queries } = fakeApi(status());
  render(<App api={api} />);

  expect((await screen.findByTestId("user-name")).textContent).toBe("Priya Raman");
  await waitFor(() => expect(screen.getAllByTestId("lead-row")).toHaveLength(2));
  expect(screen.getByTestId("lead-count").textContent).toBe("2");

  fireEvent.change(screen.getByTestId("search"), { target: { value: "meena" } });
  await waitFor(() => expect(screen.getAllByTestId("lead-row")).toHaveLength(1));
  expect(screen.getByText("Meena Iyer")).toBeTruthy();
  expect(screen.getByTestId("shown-count").textContent).toContain("1 of 2 leads match");
  expect(queries[queries.length - 1]).toMatchObject({ search: "meena" });
});

it("shows a sync failure in a banner and the header as offline", async () => {
  const { api } = fakeApi(status({ last_error: { code: "network", message: "cannot reach 127.0.0.1:9" } }));
  render(<App api={api} />);
  expect((await screen.findByRole("alert")).textContent).toContain("You're offline");
  expect(screen.getByTestId("sync-status").textContent).toContain("Offline");
});

it("shows a message, not a blank window, when rendering fails", () => {
  const Thrower = () => {
    throw new Error("render exploded");
  };
  const original = console.error;
  console.error = () => {};
  try {
    render(
      <ErrorBoundary>
        <Thrower />
      </ErrorBoundary>,
    );
  } finally {
    console.error = original;
  }
  expect(screen.getByRole("alert").textContent).toContain("render exploded");
  expect(screen.getByRole("button", { name: "Reload Leadline" })).toBeTruthy();
});
