import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { ChoiceSelect, EditorTable, NumberCell, SaveCell } from "../components/TeamParts";
import { IpcError } from "../ipc";

afterEach(cleanup);

describe("ChoiceSelect", () => {
  it("offers the blank choice first, then the choices, and gives back what is picked", () => {
    const picked = vi.fn();
    render(
      <ChoiceSelect
        value=""
        onChange={picked}
        blank="Any"
        choices={[
          ["hot", "Hot"],
          ["new", "New"],
        ]}
        required
        testId="pick"
      />,
    );
    const select = screen.getByTestId("pick") as HTMLSelectElement;
    expect(Array.from(select.options).map((o) => [o.value, o.textContent])).toEqual([
      ["", "Any"],
      ["hot", "Hot"],
      ["new", "New"],
    ]);
    expect(select.required).toBe(true);
    fireEvent.change(select, { target: { value: "new" } });
    expect(picked).toHaveBeenCalledWith("new");
  });
});

/** One editor row: a number, and its save cell. */
function Row({ onSave }: { onSave: (n: number) => Promise<void> }) {
  const [n, setN] = useState("5");
  return (
    <EditorTable columns={["Who", "Calls"]}>
      <tr data-testid="row">
        <th scope="row">Team</th>
        <NumberCell form="row-form" value={n} onChange={setN} label="Calls for Team" />
        <SaveCell formId="row-form" valid={/^\d+$/.test(n)} label="Save Team" onSave={() => onSave(Number(n))} />
      </tr>
    </EditorTable>
  );
}

describe("EditorTable and SaveCell", () => {
  it("heads the columns, with a save column named for screen readers", () => {
    render(<Row onSave={() => Promise.resolve()} />);
    expect(screen.getAllByRole("columnheader").map((h) => h.textContent)).toEqual(["Who", "Calls", "Save"]);
    expect(screen.getAllByRole("columnheader")[2]?.querySelector(".sr-only")).not.toBeNull();
  });

  it("saves the row, says so while saving and after", async () => {
    let finish: () => void = () => {};
    const onSave = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    render(<Row onSave={onSave} />);
    fireEvent.change(screen.getByRole("textbox", { name: "Calls for Team" }), { target: { value: " 80 " } });
    fireEvent.click(screen.getByRole("button", { name: "Save Team" }));
    expect(onSave).toHaveBeenCalledWith(80);
    const button = screen.getByRole("button", { name: "Save Team" }) as HTMLButtonElement;
    await waitFor(() => expect(button.textContent).toBe("Saving…"));
    expect(button.disabled).toBe(true);
    finish();
    expect((await within(screen.getByTestId("row")).findByRole("status")).textContent).toBe(" Saved.");
    expect(button.textContent).toBe("Save");
    expect(button.disabled).toBe(false);
  });

  it("will not save what is not valid", () => {
    const onSave = vi.fn(() => Promise.resolve());
    render(<Row onSave={onSave} />);
    fireEvent.change(screen.getByRole("textbox", { name: "Calls for Team" }), { target: { value: "lots" } });
    const button = screen.getByRole("button", { name: "Save Team" }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    fireEvent.submit(button.closest("form") as HTMLFormElement);
    expect(onSave).not.toHaveBeenCalled();
  });

  it("says why a save failed, and forgets it on the next try", async () => {
    const onSave = vi
      .fn<(n: number) => Promise<void>>()
      .mockRejectedValueOnce(new IpcError("server", "goal too high"))
      .mockResolvedValueOnce(undefined);
    render(<Row onSave={onSave} />);
    fireEvent.click(screen.getByRole("button", { name: "Save Team" }));
    expect((await screen.findByRole("alert")).textContent).toBe(" goal too high");
    expect(screen.queryByRole("status")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Save Team" }));
    await screen.findByRole("status");
    expect(screen.queryByRole("alert")).toBeNull();
  });
});
