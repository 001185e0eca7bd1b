import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  /** [epoch seconds, value] points, sorted by time. */
  points: [number, number | null][];
  /** [epoch seconds, min, max] per bucket of a decimated series: drawn as a band behind the line. */
  band?: [number, number, number][];
}

/** The lines uPlot draws: each series, then its band's max and min edges. */
function lines(series: Series[]): { label: string; points: [number, number | null][]; color: string; edge: boolean }[] {
  const out = series.map((s, i) => ({ label: s.label, points: s.points, color: COLORS[i % COLORS.length], edge: false }));
  series.forEach((s, i) => {
    if (!s.band?.length) return;
    const color = COLORS[i % COLORS.length];
    out.push({ label: `${s.label} max`, points: s.band.map(([t, , high]) => [t, high]), color, edge: true });
    out.push({ label: `${s.label} min`, points: s.band.map(([t, low]) => [t, low]), color, edge: true });
  });
  return out;
}

const COLORS = ["#0b62c4", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#087f5b", "#5f3dc4", "#e67700"];

/** Put every series on one time axis (uPlot wants aligned columns); gaps are null. */
export function align(series: Pick<Series, "points">[]): uPlot.AlignedData {
  const times = Array.from(new Set(series.flatMap((s) => s.points.map((p) => p[0])))).sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = series.map((s) => {
    const column: (number | null)[] = new Array(times.length).fill(null);
    for (const [t, v] of s.points) column[index.get(t)!] = v;
    return column;
  });
  return [times, ...columns] as uPlot.AlignedData;
}

export function Chart(props: { title: string; unit: string; series: Series[]; stepped: boolean; start: number; end: number }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current!;
    const width = Math.max(280, element.clientWidth);
    const paths = props.stepped ? uPlot.paths.stepped!({ align: 1 }) : undefined;
    const drawn = lines(props.series);
    // uPlot fills between a band's max (upper) and min (lower) series; indexes count the x column.
    const bands: uPlot.Band[] = [];
    drawn.forEach((line, i) => {
      if (line.edge && line.label.endsWith(" max")) bands.push({ series: [i + 1, i + 2], fill: `${line.color}33` });
    });
    const plot = new uPlot(
      {
        width,
        height: width < 500 ? 220 : 300,
        // The x axis spans the chosen range, not just the recorded points.
        scales: { x: { time: true, range: [props.start, props.end] } },
        axes: [{}, { label: props.unit || undefined, size: 60 }],
        series: [
          {},
          ...drawn.map((line) => ({
            label: line.label,
            stroke: line.edge ? `${line.color}66` : line.color,
            width: line.edge ? 1 : 2,
            spanGaps: true,
            paths,
            show: true,
          })),
        ],
        bands,
        legend: { live: true },
      },
      align(drawn),
      element,
    );
    const observer = new ResizeObserver(() => {
      const next = Math.max(280, element.clientWidth);
      if (Math.abs(next - plot.width) > 2) plot.setSize({ width: next, height: next < 500 ? 220 : 300 });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [props.series, props.stepped, props.unit, props.start, props.end]);
  return (
    <figure class="card" aria-label={props.title} data-testid="chart">
      <figcaption>
        <h2>{props.title}</h2>
      </figcaption>
      <div class="chart" ref={host} />
    </figure>
  );
}
