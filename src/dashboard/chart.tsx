import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Series {
  label: string;
  color: string;
}

/** A time-series line chart (uPlot); `data[0]` is epoch seconds, one array per series after it. */
export function LineChart({
  title,
  series,
  data,
  unit,
}: {
  title: string;
  series: Series[];
  data: number[][];
  unit: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  useEffect(() => {
    const element = box.current!;
    const width = () => Math.max(280, element.clientWidth);
    plot.current = new uPlot(
      {
        width: width(),
        height: 200,
        legend: { show: true },
        scales: { x: { time: true } },
        axes: [{}, { label: unit, size: 60 }],
        series: [
          {},
          ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: false })),
        ],
      },
      data as uPlot.AlignedData,
      element,
    );
    const onResize = () => plot.current?.setSize({ width: width(), height: 200 });
    addEventListener('resize', onResize);
    return () => {
      removeEventListener('resize', onResize);
      plot.current?.destroy();
    };
  }, []);
  useEffect(
    () =>
      plot.current?.setData(
        data.map((column) =>
          column.map((v) => (Number.isFinite(v) ? v : null)),
        ) as uPlot.AlignedData,
      ),
    [data],
  );
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title} chart`} />
    </figure>
  );
}
