// Line charts of run metrics, drawn by uPlot (a small canvas chart library): axes with labels, a legend that reads
// the values under the cursor, a tooltip, and full card width (redrawn when the card resizes).
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Columns } from "./runs";

const STEP_INCREMENTS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000];
export const COLORS = ["#2f5bea", "#d9480f", "#2b8a3e", "#862e9c", "#e8590c", "#0b7285"];

function tooltip(format: (v: number) => string): uPlot.Plugin {
  let box: HTMLDivElement;
  return {
    hooks: {
      init: (u) => {
        box = document.createElement("div");
        box.className = "chart-tooltip";
        box.hidden = true;
        u.over.appendChild(box);
      },
      setCursor: (u) => {
        const i = u.cursor.idx;
        if (i === null || i === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
          box.hidden = true;
          return;
        }
        const lines = u.series.slice(1).flatMap((s, k) => {
          const v = u.data[k + 1][i];
          return v === null || v === undefined ? [] : [`${s.label}: ${format(v)}`];
        });
        box.hidden = lines.length === 0;
        box.textContent = [`step ${u.data[0][i]}`, ...lines].join("\n");
        box.style.left = `${Math.min(u.cursor.left + 12, u.over.clientWidth - 160)}px`;
        box.style.top = `${Math.max((u.cursor.top ?? 0) - 10, 0)}px`;
      },
    },
  };
}

/** One chart: x is the optimizer step; `yLabel` names the metric and its unit. */
export function LineChart({ columns, yLabel, label, percent = false, height = 260 }: {
  columns: Columns; yLabel: string; label: string; percent?: boolean; height?: number;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const format = (v: number) => (percent ? `${(v * 100).toFixed(1)}%` : v.toPrecision(4));
  const shape = columns.curves.map((c) => `${c.label}:${c.kind}`).join("|");

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 300),
      height,
      scales: { x: { time: false } },
      axes: [
        // Steps are whole numbers: ticks at whole steps only.
        { label: "optimizer step", stroke: "#4b5563", grid: { stroke: "#eef0f3" }, incrs: STEP_INCREMENTS,
          values: (_u, ticks) => ticks.map((t) => t.toLocaleString("en-US")) },
        {
          label: yLabel, stroke: "#4b5563", grid: { stroke: "#eef0f3" }, size: 60,
          values: (_u, ticks) => ticks.map((t) => (percent ? `${Math.round(t * 100)}%` : String(+t.toPrecision(3)))),
        },
      ],
      series: [
        { label: "step" },
        ...columns.curves.map((c, i) => ({
          label: c.label,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          spanGaps: true,
          value: (_u: uPlot, v: number | null) => (v === null ? "–" : format(v)),
          ...(c.kind === "points"
            ? { paths: () => null, points: { show: true, size: 9, fill: COLORS[i % COLORS.length] } }
            : { points: { show: false } }),
        })),
      ],
      legend: { live: true },
      plugins: [tooltip(format)],
    };
    plot.current = new uPlot(opts, [columns.steps, ...columns.curves.map((c) => c.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(el.clientWidth, 300), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt when the curves (not their values) change; new points only update the data below.
  }, [shape, yLabel, percent, height]);

  useEffect(() => {
    plot.current?.setData([columns.steps, ...columns.curves.map((c) => c.values)] as uPlot.AlignedData);
  }, [columns]);

  return <div ref={host} className="chart" role="img" aria-label={label} data-points={columns.steps.length} />;
}
