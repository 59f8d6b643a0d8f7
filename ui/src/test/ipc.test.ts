import { describe, expect, it } from "vitest";

import { IpcError, STATUS_EVENT, makeApi, toIpcError, type InvokeFn, type ListenFn } from "../ipc";
import { status } from "./fixtures";

const noListen: ListenFn = async () => () => {};

describe("toIpcError", () => {
  it("keeps the shell's code and message", () => {
    const e = toIpcError({ code: "invalid_credentials", message: "Wrong username or password" });
    expect(e).toBeInstanceOf(IpcError);
    expect(e.code).toBe("invalid_credentials");
    expect(e.message).toBe("Wrong username or password");
  });

  it("does not trust an unknown code", () => {
    const e = toIpcError({ code: "teleport", message: "beam me up" });
    expect(e.code).toBe("unknown");
    expect(e.message).toBe("beam me up");
  });

  it("turns a plain string rejection into an unknown error", () => {
    const e = toIpcError("command login not found");
    expect(e.code).toBe("unknown");
    expect(e.message).toBe("command login not found");
  });

  it("recognises a missing Tauri bridge", () => {
    const e = toIpcError(new TypeError("Cannot read properties of undefined (reading 'invoke')"));
    expect(e.code).toBe("ipc_unavailable");
  });

  it("never throws on junk", () => {
    for (const junk of [undefined, null, 42, {}, [], ""]) {
      const e = toIpcError(junk);
      expect(e).toBeInstanceOf(IpcError);
      expect(e.message.length).toBeGreaterThan(0);
    }
  });
});

describe("makeApi", () => {
  it("sends each command its name and wrapped arguments", async () => {
    const calls: Array<[string, unknown]> = [];
    const invoke: InvokeFn = async (cmd, args) => {
      calls.push([cmd, args]);
      return cmd === "list_leads" ? { leads: [], total: 0, truncated: false } : status();
    };
    const api = makeApi(invoke, noListen);
    await api.appStatus();
    await api.login({ server_url: "http://x", username: "priya", password: "pw" });
    await api.syncNow();
    const page = await api.listLeads({ search: "asha", limit: 10 });
    expect(page.total).toBe(0);
    expect(calls).toEqual([
      ["app_status", undefined],
      ["login", { args: { server_url: "http://x", username: "priya", password: "pw" } }],
      ["sync_now", undefined],
      ["list_leads", { query: { search: "asha", limit: 10 } }],
    ]);
  });

  it("rejects with an IpcError carrying the shell's code", async () => {
    const api = makeApi(async () => {
      throw { code: "network", message: "cannot reach http://x" };
    }, noListen);
    await expect(api.syncNow()).rejects.toMatchObject({ name: "IpcError", code: "network" });
  });

  it("subscribes to the status event and passes payloads through", async () => {
    let registered: string | null = null;
    let handler: ((p: unknown) => void) | null = null;
    const listen: ListenFn = async (event, h) => {
      registered = event;
      handler = h;
      return () => {
        handler = null;
      };
    };
    const api = makeApi(async () => null, listen);
    const seen: boolean[] = [];
    const unlisten = await api.onStatus((s) => seen.push(s.signed_in));
    expect(registered).toBe(STATUS_EVENT);
    handler!(status({ signed_in: false }));
    unlisten();
    expect(handler).toBeNull();
    expect(seen).toEqual([false]);
  });
});
