import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { ErrorBanner } from "../components/ErrorBanner";
import { describeError } from "../errors";
import { LanguageContext } from "../i18n";
import { IpcError } from "../ipc";

afterEach(cleanup);

describe("ErrorBanner", () => {
  it("says what went wrong, in bold with a full stop, then the detail", () => {
    render(<ErrorBanner title="Could not save" detail="disk full" testId="banner" />);
    const banner = screen.getByRole("alert");
    expect(banner.getAttribute("data-testid")).toBe("banner");
    expect(banner.className).toBe("banner banner-error");
    expect(banner.textContent).toBe("Could not save. disk full");
    expect(banner.querySelector("strong")?.textContent).toBe("Could not save.");
    expect(screen.queryByRole("button")).toBeNull();
  });

  it("takes describeError's text as it is, in the language of the moment", () => {
    render(
      <LanguageContext.Provider value="hi">
        <ErrorBanner {...describeError(new IpcError("storage", "disk full"), "hi")} />
      </LanguageContext.Provider>,
    );
    expect(screen.getByRole("alert").textContent).toBe(
      "लोकल डेटाबेस में गड़बड़ी हुई। Leadline बंद करके फिर खोलें; समस्या बनी रहे तो यह संदेश सहायता टीम को बताएँ। संदेश: disk full",
    );
  });

  it("offers Try again (or another label) when given a retry, and more actions after it", () => {
    const retry = vi.fn();
    const { rerender } = render(<ErrorBanner title="Offline" detail="no network" onRetry={retry} className="wide" />);
    const banner = screen.getByRole("alert");
    expect(banner.className).toBe("banner banner-error wide");
    expect(banner.textContent).toBe("Offline. no network Try again");
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(retry).toHaveBeenCalledTimes(1);

    rerender(
      <ErrorBanner title="Offline" detail="no network" onRetry={retry} retryLabel="Reconnect">
        <button type="button">Close</button>
      </ErrorBanner>,
    );
    expect(screen.getAllByRole("button").map((b) => b.textContent)).toEqual(["Reconnect", "Close"]);
    fireEvent.click(screen.getByRole("button", { name: "Reconnect" }));
    expect(retry).toHaveBeenCalledTimes(2);
  });
});
