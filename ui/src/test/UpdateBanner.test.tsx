import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { UpdateState } from "../bindings/UpdateState";
import { UpdateBanner } from "../components/UpdateBanner";
import { LanguageContext } from "../i18n";
import { type Api, IpcError } from "../ipc";

afterEach(cleanup);

/** An api with the update commands only; `push` plays the shell's update event. */
function fakeUpdates(initial: UpdateState, install?: (anyway: boolean) => Promise<void>) {
  let handler: ((s: UpdateState) => void) | undefined;
  const api = {
    updateState: vi.fn(async () => initial),
    onUpdate: vi.fn(async (h: (s: UpdateState) => void) => {
      handler = h;
      return () => {
        handler = undefined;
      };
    }),
    installUpdate: vi.fn(install ?? (async () => {})),
    syncNow: vi.fn(async () => ({}) as never),
  };
  return {
    api: api as unknown as Api,
    fns: api,
    push: (s: UpdateState) => act(() => handler?.(s)),
  };
}

describe("UpdateBanner", () => {
  it("shows nothing without an update, nor while a call is live", async () => {
    const { api, push, fns } = fakeUpdates({ kind: "none" });
    render(<UpdateBanner api={api} />);
    await waitFor(() => expect(fns.updateState).toHaveBeenCalled());
    expect(screen.queryByTestId("update-banner")).toBeNull();
    push({ kind: "waiting_for_call", version: "0.2.0" });
    expect(screen.queryByTestId("update-banner")).toBeNull();
    // The call ended with nothing pending: the offer comes.
    push({ kind: "ready", version: "0.2.0", notes: null, changes: 0 });
    expect(screen.getByTestId("update-banner").textContent).toContain("Leadline 0.2.0 is ready.");
  });

  it("with nothing pending offers Restart to update, and installs only when clicked", async () => {
    const { api, fns } = fakeUpdates({ kind: "ready", version: "0.2.0", notes: null, changes: 0 });
    render(<UpdateBanner api={api} />);
    const restart = await screen.findByRole("button", { name: "Restart to update" });
    expect(fns.installUpdate).not.toHaveBeenCalled();
    expect(screen.queryByRole("button", { name: "Update anyway" })).toBeNull();
    fireEvent.click(restart);
    await waitFor(() => expect(fns.installUpdate).toHaveBeenCalledWith(false));
  });

  it("with changes waiting says how many and asks: sync first, update anyway, or later", async () => {
    const { api, fns, push } = fakeUpdates({ kind: "ready", version: "0.2.0", notes: null, changes: 3 });
    render(<UpdateBanner api={api} />);
    const banner = await screen.findByTestId("update-banner");
    expect(banner.textContent).toContain("3 changes are still waiting for the server.");
    expect(screen.queryByRole("button", { name: "Restart to update" })).toBeNull();

    fireEvent.click(screen.getByRole("button", { name: "Sync first" }));
    await waitFor(() => expect(fns.syncNow).toHaveBeenCalledTimes(1));
    expect(fns.installUpdate).not.toHaveBeenCalled();

    fireEvent.click(screen.getByRole("button", { name: "Update anyway" }));
    await waitFor(() => expect(fns.installUpdate).toHaveBeenCalledWith(true));

    // Later hides this version; a newer one shows again.
    fireEvent.click(screen.getByRole("button", { name: "Later" }));
    expect(screen.queryByTestId("update-banner")).toBeNull();
    push({ kind: "ready", version: "0.2.0", notes: null, changes: 1 });
    expect(screen.queryByTestId("update-banner")).toBeNull();
    push({ kind: "ready", version: "0.3.0", notes: null, changes: 1 });
    expect(screen.getByTestId("update-banner").textContent).toContain("1 change is still waiting");
  });

  it("says the shell's refusal, in Hindi too", async () => {
    const refuse = async () => {
      throw new IpcError("invalid_input", "A call is in progress: the update waits until it ends.");
    };
    const { api } = fakeUpdates({ kind: "ready", version: "0.2.0", notes: null, changes: 0 }, refuse);
    render(
      <LanguageContext.Provider value="hi">
        <UpdateBanner api={api} />
      </LanguageContext.Provider>,
    );
    const banner = await screen.findByTestId("update-banner");
    expect(banner.textContent).toContain("Leadline 0.2.0 तैयार है।");
    fireEvent.click(screen.getByRole("button", { name: "अपडेट के लिए दोबारा शुरू करें" }));
    const error = await screen.findByTestId("update-error");
    expect(error.textContent).toContain("अभी कॉल चल रही है");
  });

  it("says it is installing, without buttons", async () => {
    const { api } = fakeUpdates({ kind: "installing", version: "0.2.0" });
    render(<UpdateBanner api={api} />);
    const banner = await screen.findByTestId("update-banner");
    expect(banner.textContent).toContain("Installing Leadline 0.2.0");
    expect(screen.queryAllByRole("button")).toEqual([]);
  });
});
