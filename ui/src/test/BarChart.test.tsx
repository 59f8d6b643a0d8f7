import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { BarChart } from "../components/BarChart";

afterEach(cleanup);

describe("BarChart", () => {
  it("is an image named by its label, a bar a bucket, scaled to the largest", () => {
    render(
      <BarChart
        bars={[
          { key: 9, label: "9", value: 2 },
          { key: 10, label: "10", value: 4 },
          { key: 11, label: "11", value: 0 },
        ]}
        label="Calls by hour. 9 am: 2, 10 am: 4"
        testId="chart"
      />,
    );
    const chart = screen.getByRole("img", { name: "Calls by hour. 9 am: 2, 10 am: 4" });
    expect(chart.getAttribute("data-testid")).toBe("chart");
    expect(chart.getAttribute("viewBox")).toBe("0 0 84 130");
    const bars = Array.from(chart.querySelectorAll("rect.hour-bar"));
    expect(bars.map((b) => b.getAttribute("data-count"))).toEqual(["2", "4", "0"]);
    expect(bars.map((b) => b.getAttribute("height"))).toEqual(["50", "100", "0"]);
    // No count over an empty bar, by default; every bar has its label.
    expect(Array.from(chart.querySelectorAll(".hour-count")).map((c) => c.textContent)).toEqual(["2", "4"]);
    expect(Array.from(chart.querySelectorAll(".hour-label")).map((c) => c.textContent)).toEqual(["9", "10", "11"]);
    expect(chart.querySelector(".hour-bar-connected")).toBeNull();
  });

  it("draws a bar's part darker inside it, and counts empty bars when asked", () => {
    render(
      <BarChart
        bars={[
          { key: "a", label: "26/11", value: 20, part: 14 },
          { key: "b", label: "27/11", value: 0, part: 0 },
        ]}
        label="Team calls"
        zeroCounts
      />,
    );
    const chart = screen.getByRole("img", { name: "Team calls" });
    const parts = Array.from(chart.querySelectorAll("rect.hour-bar-connected"));
    expect(parts.map((p) => p.getAttribute("height"))).toEqual(["70", "0"]);
    expect(Array.from(chart.querySelectorAll(".hour-count")).map((c) => c.textContent)).toEqual(["20", "0"]);
  });

  it("keeps a width of one bar when there is none", () => {
    render(<BarChart bars={[]} label="Nothing" />);
    expect(screen.getByRole("img", { name: "Nothing" }).getAttribute("viewBox")).toBe("0 0 28 130");
  });
});
